/*
** vm_bridge/chan.c — channels (userdata "goro.chan").
**
** Go's semantics: an unbuffered channel is a rendezvous, a buffered one a
** FIFO of `cap` values; receiving from a closed and drained channel gives
** nil, false; sending on a closed channel and closing twice raise.
**
** What a channel is: chan.h. Its buffer's slots are made with the
** channel, so that putting a value never allocates: user values of the
** channel (a small buffer: one lua_setiuservalue puts a value, where a
** table must be fetched first and its lua_rawseti costs more), or a table
** filled with false (a buffer larger than user values can hold).
** Waiting G's sit in recvq/sendq (runtime wait queues); each waiter names
** the lua_State that parked (w->data). A blocked sender's value stays on
** its own stack (at w->vidx); a receiver copies it from there. A sender
** that finds a blocked receiver pushes the value onto the receiver's
** stack, where its continuation finds it on top. Both are
** lua_pushvalue/lua_xmove within room the parked side reserved before it
** parked: they never allocate, so they never raise on a parked state.
** A timer's channel takes the same receive path, and select, but what is
** particular to it (its time, its place in the timer heap) is timer.c's.
** select.c tries and waits on channels by the same rules.
**
** Invariants: beside struct chan, in chan.h; goroB_chan_ok checks the cheap
** ones. Every operation runs with the P held, so nothing here needs a
** lock.
*/
#include <stdlib.h>

#include "../runtime/errors.h"
#include "chan.h"

#define CHAN_MAXCAP ((lua_Integer)1 << 24)

const char goroB_chan_tag;

/* A large buffer's slots: nil is kept as this sentinel (a nil would end the
** array). */
static char nilbox;
#define pushbox(L, idx)                                                    \
  (lua_isnil((L), (idx)) ? lua_pushlightuserdata((L), &nilbox)            \
                         : lua_pushvalue((L), (idx)))

/* Replace the boxed value on top of L with what it stands for. */
static void unbox(lua_State *L) {
  if (lua_touserdata(L, -1) == &nilbox) {
    lua_pop(L, 1);
    lua_pushnil(L);
  }
}

/* Before parking: room on our own stack for a value given to us, or for a
** receiver to copy ours. May raise: nothing is queued yet. */
static void reserve(lua_State *L) { luaL_checkstack(L, 2, "goro: parking"); }

/* Push the table of c's large buffer (user value 1 of the channel at ci).
** The debug library can replace it: then raise, before the operation has
** changed anything. (A small buffer's slots are user values too, but
** whatever the debug library puts in one is just a value: nothing to
** check.) */
static void push_buf(lua_State *L, int ci) {
  if (lua_getiuservalue(L, ci, UV_BUF) != LUA_TTABLE)
    luaL_error(L, "goro: a channel's buffer was replaced (debug.setuservalue)");
}

void goroB_chan_tbuf_put(lua_State *L, int ci, lua_Integer slot) {
  int vi = lua_gettop(L);
  push_buf(L, ci);
  pushbox(L, vi);
  lua_rawseti(L, -2, slot + 1);
  lua_pop(L, 2);  /* the buffer, and the value put */
}

void goroB_chan_tbuf_take(lua_State *L, int ci, lua_Integer slot) {
  push_buf(L, ci);
  lua_rawgeti(L, -1, slot + 1);
  lua_pushboolean(L, 0);
  lua_rawseti(L, -3, slot + 1);  /* let the value be collected */
  lua_replace(L, -2);  /* (the value over the buffer: cheaper than a remove) */
  unbox(L);
}

int goroB_chan_ok(const struct chan *c) {
  return 0 <= c->count && c->count <= c->cap &&
         (c->cap == 0 ? c->head == 0 : 0 <= c->head && c->head < c->cap) &&
         (c->count == 0 || c->recvq.head == NULL) &&
         (c->count == c->cap || c->sendq.head == NULL) &&
         (!c->closed || (c->recvq.head == NULL && c->sendq.head == NULL)) &&
         (!c->istimer || (c->count == 0 && c->sendq.head == NULL));
}

/* ---- what timer.c and the rest of the bridge share ----------------------- */

void goroB_chan_init(lua_State *L, struct chan *c, lua_Integer cap) {
  c->tag = &goroB_chan_tag;
  c->cap = cap;
  c->count = c->head = 0;
  c->closed = 0;
  c->istimer = 0;
  c->recvonly = 0;
  c->recvq.head = c->recvq.tail = NULL;
  c->sendq.head = c->sendq.tail = NULL;
  /* made in a synctest bubble: its waiters are durably blocked there */
  c->recvq.bubble = c->sendq.bubble = goroR_bubble_id(goroB_curg());
  luaL_setmetatable(L, GORO_CHAN_MT);
}

void goroB_chan_leave(struct goro_rt *rt, struct goro_waiter *w) {
  struct goro_waitq *q = w->q;
  if (w->kind == GORO_WAITER_PD) {
    goroR_pd_leave(rt, w);
    return;
  }
  goroR_waitq_remove(w);
  if (q != NULL && w->kind == GORO_WAITER_TCHAN)
    goroB_tchan_unwatch(rt, goroB_tchan_of_recvq(q));
}

/* ---- goro.chan, send, recv, close ---------------------------------------- */

/* Push a new channel of capacity cap with nuv user values (2 are ours),
** and those of a small buffer's slots if cap > 0 (after ours: then nuv
** must be 2). */
static struct chan *push_chan(lua_State *L, lua_Integer cap, int nuv) {
  struct chan *c;
  goroR_assert(cap == 0 || nuv == UV_SLOT1 - 1);
  if (cap <= CHAN_UVCAP) {  /* the slots are born nil */
    c = lua_newuserdatauv(L, sizeof(struct chan), nuv + (int)cap);
    goroB_chan_init(L, c, cap);
    return c;
  }
  c = lua_newuserdatauv(L, sizeof(struct chan), nuv);
  goroB_chan_init(L, c, cap);
  lua_createtable(L, (int)cap, 0);
  for (lua_Integer i = 1; i <= cap; i++) {
    lua_pushboolean(L, 0);
    lua_rawseti(L, -2, i);
  }
  lua_setiuservalue(L, -2, UV_BUF);
  return c;
}

static int l_chan(lua_State *L) {
  lua_Integer cap = luaL_optinteger(L, 1, 0);
  luaL_argcheck(L, cap >= 0 && cap <= CHAN_MAXCAP, 1, "capacity out of range");
  push_chan(L, cap, 2);
  return 1;
}

struct chan *goroB_chan_push_recvonly(lua_State *L, int nuv) {
  struct chan *c = push_chan(L, 0, nuv);
  c->recvonly = 1;
  return c;
}

static int send_k(lua_State *L, int status, lua_KContext ctx) {
  struct bg *b = goroB_bg_current(L);
  (void)status;
  (void)ctx;
  if (!b->w.ok) return luaL_error(L, "send on closed channel");
  return 0;
}

static int ch_send(lua_State *L) {
  struct chan *c = goroB_checkchan(L, 1);
  int top = lua_gettop(L);  /* (one call where luaL_checkany took two) */
  struct bg *b;
  struct goro_context *x;
  if (top < 2) return luaL_argerror(L, 2, "value expected");
  /* Only a context counts: anything else there is ignored, as before
  ** contexts, so that ch:send(other:recv()) (v, ok) still sends v. */
  if (top > 2) {
    if ((x = goroB_toctx(L, 3)) != NULL) return goroB_chan_send_ctx(L, c, x);
    lua_settop(L, 2);
  }
  if (goroB_chan_try_send(L, c, 1)) return 0;  /* (it took v from the top) */
  b = goroB_bg_block(L, "send");
  reserve(L);
  b->w.data = L;
  b->w.vidx = 2;
  goroR_waitq_push(&c->sendq, &b->w);
  goroR_assert(goroB_chan_ok(c));
  return goroB_bg_park(L, b, "send", "chan send", 0, send_k);
}

static int recv_k(lua_State *L, int status, lua_KContext ctx) {
  struct bg *b = goroB_bg_current(L);
  (void)status;
  (void)ctx;
  if (b->w.ok) {  /* the sender put the value on top of our stack */
    lua_pushboolean(L, 1);
  } else {  /* woken by close */
    lua_pushnil(L);
    lua_pushboolean(L, 0);
  }
  return 2;
}

static int ch_recv(lua_State *L) {
  struct chan *c = goroB_checkchan(L, 1);
  struct goro_runtime *R;
  struct bg *b;
  if (lua_gettop(L) >= 2) {  /* a context, or nil (what goroB_optctx takes) */
    struct goro_context *x = goroB_toctx(L, 2);  /* (one check for the */
    if (x != NULL) return goroB_chan_recv_ctx(L, c, x, 0);  /* common case) */
    if (!lua_isnil(L, 2)) return luaL_typeerror(L, 2, GORO_CTX_MT);
  }
  if (goroB_chan_try_recv(L, c, 1)) return 2;  /* v, ok: the top two, whatever lies below */
  R = goroB_R_of(L);
  b = goroB_bg_block(L, "recv");
  reserve(L);
  if (c->istimer) {
    if (goroB_tchan_watch(&R->rt, (struct tchan *)c) != 0)
      return goroB_tchan_nomem(L);
    b->w.kind = GORO_WAITER_TCHAN;
  }
  b->w.data = L;
  goroR_waitq_push(&c->recvq, &b->w);
  goroR_assert(goroB_chan_ok(c));
  return goroB_bg_park(L, b, "recv", "chan receive", 0, recv_k);
}

static int ch_close(lua_State *L) {
  struct goro_runtime *R = goroB_R_of(L);
  struct chan *c = goroB_checkchan(L, 1);
  if (c->istimer) return luaL_error(L, "close of a timer's channel");
  if (c->recvonly) return luaL_error(L, "close of a context's done channel");
  if (c->closed) return luaL_error(L, "close of closed channel");
  goroB_chan_close(&R->rt, c);
  return 0;
}

void goroB_chan_close(struct goro_rt *rt, struct chan *c) {
  goroR_assert(!c->closed && !c->istimer);
  c->closed = 1;
  goroR_waitq_wake_all(rt, &c->recvq, 0);  /* they get nil, false */
  goroR_waitq_wake_all(rt, &c->sendq, 0);  /* they raise */
  goroR_assert(goroB_chan_ok(c));
}

/* A timer's channel has length and capacity 0, as in Go 1.23: its time is
** not a buffered value one could count. */
static int ch_len(lua_State *L) {
  struct chan *c = goroB_checkchan(L, 1);
  lua_pushinteger(L, c->istimer ? 0 : c->count);
  return 1;
}

static int ch_cap(lua_State *L) {
  struct chan *c = goroB_checkchan(L, 1);
  lua_pushinteger(L, c->istimer ? 0 : c->cap);
  return 1;
}

static int ch_tostring(lua_State *L) {
  struct chan *c = goroB_checkchan(L, 1);
  if (c->istimer)
    lua_pushfstring(L, "goro.chan(timer, %s): %p",
                    ((struct tchan *)c)->armed ? "armed" : "stopped", (void *)c);
  else
    lua_pushfstring(L, "goro.chan(%I/%I%s): %p", c->count, c->cap,
                    c->closed ? ", closed" : "", (void *)c);
  return 1;
}

/* ---- registration -------------------------------------------------------- */

static const luaL_Reg chan_methods[] = {
    {"send", ch_send},
    {"recv", ch_recv},
    {"close", ch_close},
    {"cap", ch_cap},
    {"case_recv", goroB_case_recv},
    {"case_send", goroB_case_send},
    {"__len", ch_len},
    {"__tostring", ch_tostring},
    {NULL, NULL},
};

static const luaL_Reg chan_funcs[] = {
    {"chan", l_chan},
    {"select", goroB_select},
    {NULL, NULL},
};

/* Push the upvalues every function registered here gets (chan.h; runtime
** at index r). */
static void push_upvalues(lua_State *L, int r) {
  lua_pushvalue(L, r);
  luaL_newmetatable(L, GORO_CHAN_MT);
  luaL_newmetatable(L, GORO_CASE_MT);
}

/* Expects the runtime userdata on top. */
void goroB_open_chan(lua_State *L) {
  int r = lua_gettop(L);
  luaL_newmetatable(L, GORO_CHAN_MT);
  push_upvalues(L, r);
  luaL_setfuncs(L, chan_methods, 3);
  lua_pushvalue(L, -1);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}

/* Add chan and select to the module table on top (the runtime below it). */
void goroB_open_chan_funcs(lua_State *L) {
  push_upvalues(L, lua_gettop(L) - 1);
  luaL_setfuncs(L, chan_funcs, 3);
}
