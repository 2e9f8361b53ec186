/*
** vm_bridge/chan.h — private to chan.c, chanctx.c, select.c and timer.c
** (and context.c and run.c, which use a channel): what a channel is, and
** what each of these files gives the others.
**
** A channel is a userdata "goro.chan" with these user values (UV_*
** below): 1, the table of a large buffer (cap slots filled with false;
** cap above what a userdata can hold, CHAN_UVCAP), else nil; 2, its
** receive case, made on the first ch:case_recv() and shared after (cases
** are immutable); then, for a small buffer, its cap slots, born nil. A
** timer's channel (goro.after, goro.timer, goro.ticker) has no buffer: it
** is a struct tchan, the channel, then its timer (runtime/HACKING.md,
** "Timers"). chan.c owns plain channels and the receive path every
** channel shares; select.c owns select and its cases; timer.c owns what is
** particular to a timer's channel.
*/
#ifndef GORO_VM_BRIDGE_CHAN_H
#define GORO_VM_BRIDGE_CHAN_H

#include <limits.h>
#include <stddef.h>

#include "bridge.h"

/*
** A channel (chan.c). Every field is read and written with the P held.
** Invariants (those that need no walk of a queue are checked by
** goroB_chan_ok in -Dchecks builds):
**   - The buffered values are the slots [head, head+count) of the ring,
**     modulo cap; slot i is user value UV_SLOT1 + i of a small buffer, or
**     buffer[i + 1] of a large one, and every other slot holds nil (false
**     in a table). 0 <= count <= cap; 0 <= head < cap, and head is 0 if
**     cap is.
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

/* A channel's user values: a large buffer's table, the receive case, then
** a small buffer's slots. */
enum { UV_BUF = 1, UV_CASE = 2, UV_SLOT1 = 3 };
/* The largest buffer held in user values: Lua keeps their count in an
** unsigned short and wants it below USHRT_MAX (lua_newuserdatauv). */
#define CHAN_UVCAP ((lua_Integer)USHRT_MAX - UV_SLOT1)

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

/* ---- chan.c, for timer.c, select.c and chanctx.c ------------------------- */

/* Upvalues of every function chan.c registers (select.c's among them): 1,
** the runtime (goroB_R_of); 2, the channel metatable; 3, the case
** metatable (comparing metatables by identity is much cheaper than
** luaL_checkudata's lookup by name). */
#define CHAN_MT_UV lua_upvalueindex(2)
#define CASE_MT_UV lua_upvalueindex(3)

/* Every channel's tag (struct chan.tag): only its address matters. */
extern const char goroB_chan_tag;

/* The invariants of struct chan that need no walk of a queue. They hold
** between operations: at an operation's entry, and once it has queued its
** waiter or closed the channel. */
int goroB_chan_ok(const struct chan *c);

/* Make the userdata on top (c) a channel of capacity cap. Never raises. */
void goroB_chan_init(lua_State *L, struct chan *c, lua_Integer cap);

/* The channel at index i, or a "bad argument" error. (Inline: the first
** thing every method does.) */
static inline struct chan *goroB_checkchan(lua_State *L, int i) {
  struct chan *c = goroB_checktag(L, i, &goroB_chan_tag, GORO_CHAN_MT);
  goroR_assert(goroB_chan_ok(c));
  return c;
}

/* Push a new unbuffered channel that only the bridge may close (a
** context's done channel: sending on it or closing it raises), with nuv
** user values (at least 2: chan.c's). May raise (out of memory). */
struct chan *goroB_chan_push_recvonly(lua_State *L, int nuv);

/* Close c (not a timer's): its receivers get nil, false. Never raises.
** Requires: the P; c not closed. */
void goroB_chan_close(struct goro_rt *rt, struct chan *c);

/* A large buffer's put and take (goroB_chan_buf_put, _take), at slot
** (0-based) of the channel at ci > 0. Raise if the debug library replaced
** the table, before anything changed. */
void goroB_chan_tbuf_put(lua_State *L, int ci, lua_Integer slot);
void goroB_chan_tbuf_take(lua_State *L, int ci, lua_Integer slot);

/* ---- select.c, for chan.c ------------------------------------------------ */

/* ch:case_recv(), ch:case_send(v) and goro.select(...), which chan.c
** registers with its upvalues. */
int goroB_case_recv(lua_State *L);
int goroB_case_send(lua_State *L);
int goroB_select(lua_State *L);

/* ---- chanctx.c, for chan.c ----------------------------------------------- */

/* ch:send(v, ctx) for c at 1, v at 2 and the context x at 3: true, or nil,
** err if x ends first. May park. */
int goroB_chan_send_ctx(lua_State *L, struct chan *c, struct goro_context *x);

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

/* ---- what does not wait: inline, for chan.c, select.c and chanctx.c ------ */

/* Every send and receive that does not wait goes through
** goroB_chan_try_send or goroB_chan_try_recv, on the hot paths of three
** files: these are inline, as Lua keeps luaV_fastget in lvm.h, since a
** call from one file to another costs as much as their tests. */

/* Pop the value on top of L into the tail of c's buffer (c at ci > 0).
** Never raises (but for a large buffer the debug library replaced).
** Requires: a free slot. */
static inline void goroB_chan_buf_put(lua_State *L, struct chan *c, int ci) {
  lua_Integer slot = c->head + c->count;
  if (slot >= c->cap) slot -= c->cap;  /* (no division: head < cap) */
  if (c->cap <= CHAN_UVCAP)
    lua_setiuservalue(L, ci, UV_SLOT1 + (int)slot);
  else
    goroB_chan_tbuf_put(L, ci, slot);
  c->count++;
}

/* Push the value at the head of c's buffer (c at ci > 0) and drop it from
** there. Never raises (but as goroB_chan_buf_put). Requires: a buffered
** value. */
static inline void goroB_chan_buf_take(lua_State *L, struct chan *c, int ci) {
  if (c->cap <= CHAN_UVCAP) {
    lua_getiuservalue(L, ci, UV_SLOT1 + (int)c->head);
    lua_pushnil(L);  /* (the slot lets go of the value) */
    lua_setiuservalue(L, ci, UV_SLOT1 + (int)c->head);
  } else {
    goroB_chan_tbuf_take(L, ci, c->head);
  }
  if (++c->head == c->cap) c->head = 0;
  c->count--;
}

/* Hand the value on top of L to a parked receiver: onto its own stack. */
static inline void goroB_chan_give(lua_State *L, struct goro_waiter *w) {
  lua_xmove(L, w->data, 1);
}

/* Push the value a parked sender offers. */
static inline void goroB_chan_take(lua_State *L, struct goro_waiter *w) {
  lua_State *S = w->data;
  lua_pushvalue(S, w->vidx);
  lua_xmove(S, L, 1);
}

/* Send the value on top of L on c (at ci > 0) without blocking: 1 if
** done (the value popped: where it was is where a plain ch:send(v) has
** it, so the value needs no copy), 0 if it would block (the value left
** there); raises on a closed channel (before changing anything).
** (Neither this nor goroB_chan_try_recv calls goroR_waitq_claim on an empty
** queue, nor fetches the runtime, a call, unless it wakes a G: a buffered
** value needs neither.) */
static inline int goroB_chan_try_send(lua_State *L, struct chan *c, int ci) {
  struct goro_waiter *w;
  if (c->istimer) return luaL_error(L, "send on a timer's channel");
  if (c->recvonly) return luaL_error(L, "send on a context's done channel");
  if (c->closed) return luaL_error(L, "send on closed channel");
  if (c->recvq.head != NULL && (w = goroR_waitq_claim(&c->recvq)) != NULL) {
    goroB_chan_give(L, w);
    w->ok = 1;
    goroR_ready(&goroB_R_of(L)->rt, w->g, 1);
    return 1;
  }
  if (c->count < c->cap) {
    goroB_chan_buf_put(L, c, ci);
    return 1;
  }
  return 0;
}

/* Receive from c (at ci > 0) without blocking: push v, ok and return 1, or
** return 0. Never raises (but for a large buffer the debug library
** replaced): the caller has room for two values. */
static inline int goroB_chan_try_recv(lua_State *L, struct chan *c, int ci) {
  struct goro_waiter *w;
  if (c->istimer)
    return goroB_tchan_try_recv(L, &goroB_R_of(L)->rt, (struct tchan *)c);
  if (c->sendq.head != NULL && (w = goroR_waitq_claim(&c->sendq)) != NULL) {
    if (c->cap == 0) {
      goroB_chan_take(L, w);
    } else {  /* full buffer: take the head, the sender's value joins the tail */
      goroB_chan_buf_take(L, c, ci);
      goroB_chan_take(L, w);
      goroB_chan_buf_put(L, c, ci);
    }
    w->ok = 1;
    goroR_ready(&goroB_R_of(L)->rt, w->g, 1);
    lua_pushboolean(L, 1);
    return 1;
  }
  if (c->count > 0) {
    goroB_chan_buf_take(L, c, ci);
    lua_pushboolean(L, 1);
    return 1;
  }
  if (c->closed) {
    lua_pushnil(L);
    lua_pushboolean(L, 0);
    return 1;
  }
  return 0;
}

#endif
