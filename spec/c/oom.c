/*
** spec/c/oom.c — goro.run when memory runs out at its end: the state's
** allocator is told by the script itself (arm_oom) to fail every
** allocation that grows from that point on, as Lua's own allocator may.
** Each case runs over a range of points, since where the first failure
** lands decides which path fails. The ASan lane turns a use after free
** into a failure; every lane checks the runtime is usable afterwards.
*/
#include <stdlib.h>
#include <string.h>

#include "crit.h"
#include "luastate.h"

static long budget = -1;  /* allocations that may still grow; -1: no limit */

static void *alloc(void *ud, void *p, size_t osize, size_t nsize) {
  (void)ud;
  if (nsize == 0) {
    free(p);
    return NULL;
  }
  if (p == NULL || nsize > osize) {  /* Lua lets only growth fail */
    if (budget == 0) return NULL;
    if (budget > 0) budget--;
  }
  return realloc(p, nsize);
}

/* arm_oom(k): from now on, only k more allocations succeed. */
static int l_arm(lua_State *L) {
  budget = (long)luaL_checkinteger(L, 1);
  return 0;
}

static lua_State *state(void) {
  lua_State *L;
  budget = -1;
  L = goro_test_prepare(lua_newstate(alloc, NULL));
  cr_assert_not_null(L);
  lua_register(L, "arm_oom", l_arm);
  cr_assert_eq(luaL_dostring(L, "goro = require 'goro'"), LUA_OK);
  return L;
}

/* The run times out while its main G waits on a timer's channel that only
** its own stack holds and another G waits on a channel: ending the run
** resets the main G's thread (closing its to-be-closed variables), which
** may need memory and run an emergency collection; nothing queued or in
** the timer heap may point into what that frees. */
static const char *timeout_run =
    "local k = ...\n"
    "return pcall(goro.run, {timeout = 0.02, dump = true}, function()\n"
    "  local c2 = goro.chan()\n"
    "  goro.go(function() c2:recv() end)\n"
    "  local ch = goro.after(10)\n"
    "  arm_oom(k)\n"
    "  ch:recv()\n"
    "end)\n";

Test(oom, a_run_that_ends_out_of_memory_frees_nothing_still_queued,
     .timeout = 120) {
  GORO_TEST_APICHECK_BUG(GORO_BUG_GERROR);
  for (int k = 0; k < 40; k++) {
    lua_State *L = state();
    cr_assert_eq(luaL_loadstring(L, timeout_run), LUA_OK);
    lua_pushinteger(L, k);
    lua_call(L, 1, 2);
    budget = -1;
    cr_assert(!lua_toboolean(L, -2), "k=%d: the run failed", k);
    lua_settop(L, 0);
    /* The runtime is whole: a new run works, and so does closing. */
    cr_assert_eq(luaL_dostring(L, "return goro.run(function() return 42 end)"),
                 LUA_OK, "k=%d: %s", k, lua_tostring(L, -1));
    cr_assert_eq(lua_tointeger(L, -1), 42);
    lua_close(L);
  }
}

/* A G fails with {dump = true} and memory runs out: even the dump's
** fallback text cannot be made. goro.run must give the P back before it
** raises, so that the next run works and lua_close does not hang. */
static const char *failing_run =
    "local k = ...\n"
    "return pcall(goro.run, {dump = true}, function()\n"
    "  goro.go(function() goro.sleep(1) end)\n"
    "  arm_oom(k)\n"
    "  error('boom', 0)\n"
    "end)\n";

Test(oom, a_run_that_fails_out_of_memory_gives_the_p_back, .timeout = 120) {
  GORO_TEST_APICHECK_BUG(GORO_BUG_GERROR);
  for (int k = 0; k < 40; k++) {
    lua_State *L = state();
    cr_assert_eq(luaL_loadstring(L, failing_run), LUA_OK);
    lua_pushinteger(L, k);
    lua_call(L, 1, 2);
    budget = -1;
    cr_assert(!lua_toboolean(L, -2), "k=%d: the run failed", k);
    lua_settop(L, 0);
    cr_assert_eq(luaL_dostring(L, "return goro.run(function() return 42 end)"),
                 LUA_OK, "k=%d: %s", k, lua_tostring(L, -1));
    cr_assert_eq(lua_tointeger(L, -1), 42);
    lua_close(L);
  }
}
