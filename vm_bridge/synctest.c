/*
** vm_bridge/synctest.c — goro.synctest's core: run a function in a bubble
** of virtual time, and wait for the bubble's other G's to block (Go's
** testing/synctest). The runtime side is runtime/synctest.c; the design
** is in runtime/HACKING.md, "Virtual time". The Lua facade
** (lua/goro/init.lua) wraps the root's function to keep its results.
**
** The bubble is a userdata (GORO_BUBBLE_MT) on the stack of the G in
** synctest.run, the waiter, from the bubble's start to its finish: the
** runtime points at it only in between (rt->bubble, gp->bubble), and a run
** that abandons its G's finishes it first (goroR_bubble_abandon).
**
** Locks: none; everything runs on a G, with the P.
*/
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "sync.h"

#define GORO_BUBBLE_MT "goro.bubble"

/* Its heap's array is the bubble's only allocation of its own. */
static int bubble_gc(lua_State *L) {
  struct goro_bubble *bub = luaL_checkudata(L, 1, GORO_BUBBLE_MT);
  free(bub->timers);
  bub->timers = NULL;
  bub->timercap = 0;
  return 0;
}

/* In protected mode: the dump of bubble 2's G's (runtime 1). */
static int pdump(lua_State *L) {
  goroB_push_dump_of(L, lua_touserdata(L, 1), lua_touserdata(L, 2));
  return 1;
}

/* The waiter is back: the bubble ended (its G's are done) or deadlocked.
** Stack: f, the bubble, the root's handle. */
static int run_k(lua_State *L, int status, lua_KContext kctx) {
  struct goro_runtime *R = goroB_R_of(L);
  struct goro_bubble *bub = lua_touserdata(L, 2);
  (void)status;
  (void)kctx;
  if (bub->state == GORO_BUBBLE_DEADLOCK) {
    lua_pushliteral(L, "goro.synctest.run: deadlock: all goroutines in the "
                    "bubble are durably blocked\n\n");
    lua_pushcfunction(L, pdump);
    lua_pushlightuserdata(L, R);
    lua_pushlightuserdata(L, bub);
    /* (even a failed dump leaves its error's text: the finish comes first) */
    (void)lua_pcall(L, 2, 1, 0);
    goroR_bubble_finish(&R->rt, bub);
    if (!lua_isstring(L, -1)) {
      lua_pop(L, 1);
      lua_pushliteral(L, "(no dump)");
    }
    lua_concat(L, 2);
    return lua_error(L);
  }
  goroR_assert(bub->state == GORO_BUBBLE_DONE);
  goroR_bubble_finish(&R->rt, bub);
  return 0;
}

/* core._synctest_run(f): run f in a new G, the root of a new bubble, and
** wait until every G of the bubble has ended. f's results are the
** facade's business (it passes a closure that keeps them). */
static int l_synctest_run(lua_State *L) {
  struct goro_runtime *R = goroB_R_of(L);
  struct bg *b, *root;
  struct goro_bubble *bub;
  const char *why;
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_settop(L, 1);
  b = goroB_bg_block(L, "synctest.run");
  /* (these raise without a position: the facade's line would be it) */
  if (b->w.g->bubble != NULL) {
    lua_pushliteral(L, "goro.synctest.run: called from within a synctest bubble");
    return lua_error(L);
  }
  if (R->rt.bubble != NULL) {
    lua_pushliteral(L, "goro.synctest.run: another bubble is running in this "
                    "runtime (one at a time)");
    return lua_error(L);
  }
  if ((why = goroB_bg_cannot_park(L, b)) != NULL)
    return luaL_error(L, why, "goro.synctest.run");
  bub = lua_newuserdatauv(L, sizeof *bub, 0);
  memset(bub, 0, sizeof *bub);
  luaL_setmetatable(L, GORO_BUBBLE_MT);
  root = goroB_bg_new(L, R, 1, 0, 1, 0);  /* (may raise: nothing started) */
  (void)goroR_bubble_start(&R->rt, bub, b->w.g);  /* (no bubble runs: above) */
  goroR_bubble_join(&R->rt, bub, root->w.g);
  bub->root = root->w.g;
  return goroB_bg_park(L, b, "goro.synctest.run", "synctest.run", 0, run_k);
}

/* goro.synctest.wait(): wait until every other G of the caller's bubble
** is durably blocked (the clock does not move meanwhile). */
static int l_synctest_wait(lua_State *L) {
  struct bg *b = goroB_bg_block(L, "synctest.wait");
  struct goro_bubble *bub = b->w.g->bubble;
  const char *why;
  if (goroR_bubble_id(b->w.g) == 0)
    return luaL_error(L, "goro.synctest.wait: not called from within a "
                      "synctest bubble");
  if (bub->waitg != NULL)
    return luaL_error(L, "goro.synctest.wait: goroutine %I of this bubble "
                      "is waiting already", (lua_Integer)bub->waitg->id);
  if ((why = goroB_bg_cannot_park(L, b)) != NULL)
    return luaL_error(L, why, "goro.synctest.wait");
  bub->waitg = b->w.g;
  /* (the one who readies it did all there was: nothing left to do) */
  return goroB_bg_park(L, b, "goro.synctest.wait", "synctest.wait", 0,
                       goroB_sync_granted_k);
}

/* goro.synctest.inside() -> is the calling G in a bubble? */
static int l_synctest_inside(lua_State *L) {
  lua_pushboolean(L, goroR_bubble_id(goroB_curg()) != 0);
  return 1;
}

static const luaL_Reg funcs[] = {
    {"_synctest_run", l_synctest_run},
    {"_synctest_wait", l_synctest_wait},
    {"_synctest_inside", l_synctest_inside},
    {NULL, NULL},
};

void goroB_open_synctest(lua_State *L) {
  if (luaL_newmetatable(L, GORO_BUBBLE_MT)) {
    lua_pushcfunction(L, bubble_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  lua_pushvalue(L, -2);          /* the runtime */
  luaL_getmetatable(L, "goro.g");
  luaL_setfuncs(L, funcs, 2);
}
