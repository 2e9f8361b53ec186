/*
** vm_bridge/chan.h — private to chan.c and timer.c: what a channel is.
**
** A channel is a userdata "goro.chan" with two user values: its buffer (a
** table of `cap` pre-filled slots; none for a timer's channel) and its
** receive case, made on the first ch:case_recv() and shared after (cases
** are immutable). A timer's channel (goro.after, goro.timer, goro.ticker)
** is a struct tchan: the channel, then its timer (runtime/HACKING.md,
** "Timers").
*/
#ifndef GORO_VM_BRIDGE_CHAN_H
#define GORO_VM_BRIDGE_CHAN_H

#include "bridge.h"

struct chan {
  const void *tag;              /* the channel type's tag (goroB_checktag) */
  lua_Integer cap, count, head; /* ring of cap slots; head is 0-based */
  int closed;
  int istimer;                  /* a struct tchan */
  struct goro_waitq recvq, sendq;
};

struct tchan {
  struct chan c;                /* first: a tchan is a channel */
  struct goro_timer t;          /* in the P's heap only while a G waits */
  double period;                /* a ticker's; 0 for a one-shot timer */
  double at;                    /* the time that is due (what is sent) */
  int armed;                    /* t.when is the next time to deliver */
  int due;                      /* a time waits to be received */
};

/* Push a new timer's channel, armed for `when` (monotonic seconds); a
** ticker if period > 0. May raise (out of memory). */
struct tchan *goroB_tchan_new(lua_State *L, double when, double period);

/* Disarm tc and drop a due time; out of the heap. 1 if that stopped a
** delivery (it was armed, or a time was due). Never raises. */
int goroB_tchan_stop(struct goro_rt *rt, struct tchan *tc);

/* Stop tc, then arm it for `when` (a ticker with a new period if period >
** 0), in the heap if G's wait on it; returns what the stop returned. May
** raise (out of memory). */
int goroB_tchan_arm(lua_State *L, struct goro_rt *rt, struct tchan *tc,
                   double when, double period);

/* The timer's channel at index i, or a "bad argument" error. */
struct tchan *goroB_checktchan(lua_State *L, int i);

#endif
