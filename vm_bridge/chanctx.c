/*
** vm_bridge/chanctx.c — the channel operations that take a context:
** ch:send(v, ctx), ch:recv(ctx), and goro.sleep(s, ctx), which receives
** from a goro.after's channel. Each waits as a two-case select would: one
** waiter on the channel's queue, one on the context's done channel
** (goroB_bg_block_ctx); whichever side claims the G first wins, and the G
** leaves the other queue when it runs again, so no waiter is left behind
** for a later send or receive. A context that has ended already wins at
** once, before the channel is tried. Split from chan.c, whose invariants
** and rules of moving values hold here (chan.h). Every operation runs with
** the P held, so nothing here needs a lock.
*/
#include "chan.h"

/* ch:send(v, ctx): the continuation; ctx at 3. */
static int send_ctx_k(lua_State *L, int status, lua_KContext kctx) {
  struct bg *b = goroB_bg_current(L);
  int ok;
  (void)status;
  (void)kctx;
  if (goroB_bg_unblock_ctx(&goroB_R_of(L)->rt, b, &ok) == 2)
    return goroB_ctx_push_err(L, lua_touserdata(L, 3));
  if (!ok) return luaL_error(L, "send on closed channel");
  lua_pushboolean(L, 1);
  return 1;
}

/* ch:send(v, ctx) with a context x: true, or nil, err if x ends first. */
int goroB_chan_send_ctx(lua_State *L, struct chan *c, struct goro_context *x) {
  struct bg *b;
  struct goro_waiter *w;
  struct goro_waitq *dq;
  lua_settop(L, 3);
  if (goroB_ctx_ended(x)) return goroB_ctx_push_err(L, x);
  lua_pushvalue(L, 2);
  if (goroB_chan_try_send(L, c, 1)) {
    lua_pushboolean(L, 1);
    return 1;
  }
  lua_settop(L, 3);
  b = goroB_bg_block(L, "send");
  luaL_checkstack(L, 2, "goro: parking");
  dq = goroB_ctx_prepare(L, 3, x);
  w = goroB_bg_block_ctx(L, b, dq);
  w->vidx = 2;
  goroR_waitq_push(&c->sendq, w);
  return goroB_bg_park(L, b, "send", "chan send", 0, send_ctx_k);
}

/* The continuation of a receive with a context (ctx at 2); kctx: 1 for
** goro.sleep(s, ctx), whose channel is a goro.after's. */
static int recv_ctx_k(lua_State *L, int status, lua_KContext kctx) {
  struct bg *b = goroB_bg_current(L);
  int ok, won;
  (void)status;
  won = goroB_bg_unblock_ctx(&goroB_R_of(L)->rt, b, &ok);
  if (won == 2) {
    struct goro_context *x = lua_touserdata(L, 2);
    if (kctx) return goroB_ctx_push_err(L, x);
    lua_pushnil(L);
    lua_pushboolean(L, 0);
    goroB_ctx_push_err(L, x);
    lua_remove(L, -2);  /* nil, false, err */
    return 3;
  }
  if (kctx) {
    lua_pushboolean(L, 1);
    return 1;
  }
  if (ok) {  /* the sender put the value on top of our stack */
    lua_pushboolean(L, 1);
  } else {  /* woken by close */
    lua_pushnil(L);
    lua_pushboolean(L, 0);
  }
  return 2;
}

int goroB_chan_recv_ctx(lua_State *L, struct chan *c, struct goro_context *x,
                        int sleeping) {
  struct goro_runtime *R;
  struct bg *b;
  struct goro_waiter *w;
  struct goro_waitq *dq;
  /* (the results go on top, whatever lies above 2: the stack is cut to
  ** the two arguments only if the receive waits) */
  if (goroB_ctx_ended(x)) {
    if (sleeping) return goroB_ctx_push_err(L, x);
    lua_pushnil(L);
    lua_pushboolean(L, 0);
    goroB_ctx_push_err(L, x);
    lua_remove(L, -2);
    return 3;
  }
  if (goroB_chan_try_recv(L, c, 1)) {
    if (!sleeping) return 2;
    lua_pushboolean(L, 1);
    return 1;
  }
  R = goroB_R_of(L);
  lua_settop(L, 2);
  b = goroB_bg_block(L, sleeping ? "sleep" : "recv");
  luaL_checkstack(L, 2, "goro: parking");
  dq = goroB_ctx_prepare(L, 2, x);
  w = goroB_bg_block_ctx(L, b, dq);
  if (c->istimer) {
    if (goroB_tchan_watch(&R->rt, (struct tchan *)c) != 0) {
      goroB_bg_unqueue(&R->rt, b);
      return goroB_tchan_nomem(L);
    }
    w->kind = GORO_WAITER_TCHAN;
  }
  goroR_waitq_push(&c->recvq, w);
  return goroB_bg_park(L, b, sleeping ? "sleep" : "recv",
                       sleeping ? "sleep" : "chan receive", sleeping, recv_ctx_k);
}

