/*
** vm_bridge/chan.h — private to chan.c and timer.c: what a channel is, and
** what each of the two files gives the other.
**
** A channel is a userdata "goro.chan" with two user values: its buffer (a
** table of `cap` pre-filled slots; none for a timer's channel) and its
** receive case, made on the first ch:case_recv() and shared after (cases
** are immutable). A timer's channel (goro.after, goro.timer, goro.ticker)
** is a struct tchan: the channel, then its timer (runtime/HACKING.md,
** "Timers"). chan.c owns plain channels, select and the receive path every
** channel shares; timer.c owns what is particular to a timer's channel.
*/
#ifndef GORO_VM_BRIDGE_CHAN_H
#define GORO_VM_BRIDGE_CHAN_H

#include <stddef.h>

#include "bridge.h"

/*
** A channel (chan.c). Every field is read and written with the P held.
** Invariants (those that need no walk of a queue are checked by chan_ok,
** chan.c, in -Dchecks builds):
**   - The buffered values are the slots [head, head+count) of the ring,
**     modulo cap; slot i is buffer[i + 1], and every other slot holds
**     false. 0 <= count <= cap; 0 <= head < cap, and head is 0 if cap is.
**   - Receivers wait only on an empty buffer, senders only on a full one:
**     count > 0 implies recvq is empty, count < cap that sendq is.
**   - A closed channel has no waiter, receiver or sender: close wakes them
**     all, and none queues after (a send raises, a receive returns).
**   - An unbuffered channel never holds a claimable receiver and a
**     claimable sender of two different G's: whichever came second would
**     have taken the first. (One G's select, with a receive and a send
**     case on the same channel, may sit in both queues; not checked: it
**     would walk them.)
**   - A waiter in recvq or sendq may be stale (its G's select was won
**     through another case): it is dropped when a claim passes over it, or
**     when its G leaves (goroB_chan_leave).
*/
struct chan {
  const void *tag;              /* the channel type's tag (goroB_checktag) */
  lua_Integer cap, count, head; /* ring of cap slots; head is 0-based */
  int closed;                   /* close ran; never cleared */
  int istimer;                  /* a struct tchan; immutable */
  int recvonly;                 /* a context's done channel: only its
                                   context closes it; immutable */
  struct goro_waitq recvq, sendq;
};

/*
** A timer's channel (timer.c). Every field is read and written with the P
** held. Invariants (checked by tchan_ok, timer.c, in -Dchecks builds):
**   - It has no buffer (no buffer table; count stays 0; cap is 1 inside,
**     and #ch and ch:cap() say 0) and no sender (a send raises): only
**     recvq is used.
**   - Its timer is in the P's heap (t.heapidx >= 0) only while it is armed
**     and its recvq is not empty: the heap holds only timers someone waits
**     on, each reachable from the waiting G's stack, so an unreachable
**     timer's channel is collected like any channel.
**   - t is the bridge's kind of timer (GORO_TIMER_BRIDGE).
*/
struct tchan {
  struct chan c;                /* first: a tchan is a channel */
  struct goro_timer t;          /* in the P's heap only while a G waits */
  double period;                /* a ticker's; 0 for a one-shot timer */
  double at;                    /* the time that is due (what is sent) */
  int armed;                    /* t.when is the next time to deliver */
  int due;                      /* a time waits to be received */
};

/* The timer's channel that holds recvq q, or timer t (container_of). Only
** for what is known to be part of one: the queue a GORO_WAITER_TCHAN
** waiter was on, or a timer the runtime hands to the bridge's hooks
** (hooks->fire, hooks->wakes: never a G's own timer). */
static inline struct tchan *goroB_tchan_of_recvq(struct goro_waitq *q) {
  struct tchan *tc =
      (struct tchan *)(void *)((char *)q - offsetof(struct tchan, c.recvq));
  goroR_assert(tc->c.istimer);
  return tc;
}
static inline struct tchan *goroB_tchan_of_timer(struct goro_timer *t) {
  struct tchan *tc =
      (struct tchan *)(void *)((char *)t - offsetof(struct tchan, t));
  goroR_assert(t->kind == GORO_TIMER_BRIDGE && tc->c.istimer);
  return tc;
}

/* ---- chan.c, for timer.c ------------------------------------------------- */

/* Make the userdata on top (c) a channel of capacity cap. Never raises. */
void goroB_chan_init(lua_State *L, struct chan *c, lua_Integer cap);

/* The channel at index i, or a "bad argument" error. */
struct chan *goroB_checkchan(lua_State *L, int i);

/* Push a new unbuffered channel that only the bridge may close (a
** context's done channel: sending on it or closing it raises), with nuv
** user values (at least 2: chan.c's). May raise (out of memory). */
struct chan *goroB_chan_push_recvonly(lua_State *L, int nuv);

/* Close c (not a timer's): its receivers get nil, false. Never raises.
** Requires: the P; c not closed. */
void goroB_chan_close(struct goro_rt *rt, struct chan *c);

/* Send the value at vi on c (at ci) without blocking: 1 if done, 0 if it
** would block; raises on a closed channel (before changing anything). */
int goroB_chan_try_send(lua_State *L, struct goro_runtime *R, struct chan *c,
                        int ci, int vi);
/* Receive from c (at ci) without blocking: push v, ok and return 1, or
** return 0. Never raises: the caller has room for two values. */
int goroB_chan_try_recv(lua_State *L, struct goro_runtime *R, struct chan *c,
                        int ci);

/* ---- chanctx.c, for chan.c ----------------------------------------------- */

/* ch:send(v, ctx) for c at 1, v at 2 and the context x at 3: true, or nil,
** err if x ends first. May park. */
int goroB_chan_send_ctx(lua_State *L, struct goro_runtime *R, struct chan *c,
                        struct goro_context *x);

/* ---- timer.c, for chan.c ------------------------------------------------- */

/* Receive from tc without blocking: bring it up to date, then push its due
** time and true and return 1, or return 0 if no time is due. Never raises:
** the caller has room for two values. */
int goroB_tchan_try_recv(lua_State *L, struct goro_rt *rt, struct tchan *tc);

/* A G is about to park receiving on tc: the heap must wake it. 0, or
** GORO_ENOMEM (nothing changed). Requires: the P. */
int goroB_tchan_watch(struct goro_rt *rt, struct tchan *tc);

/* Out of the heap if no G waits on tc any more. Requires: the P. */
void goroB_tchan_unwatch(struct goro_rt *rt, struct tchan *tc);

/* Raise the error of a failed goroB_tchan_watch. */
int goroB_tchan_nomem(lua_State *L);

#endif
