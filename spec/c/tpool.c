/*
** spec/c/tpool.c — the pool of ended G's Lua threads, looked at from C
** (runtime/HACKING.md, "A G's Lua thread: escape and reuse"): what a
** pooled thread holds, and what goro_close does to the pool.
*/
#include <lauxlib.h>
#include <lua.h>

#include "../../vm_bridge/bridge.h"
#include "crit.h"
#include "luastate.h"

/* G's that leave all they can on their threads and still end by
** returning: a hook set and taken off, a to-be-closed variable, an
** upvalue of a local (kept in `leak`), a result; their handles in `gs`. */
static const char *leavers =
    "goro = require 'goro'\n"
    "closed, gs = 0, {}\n"
    "goro.run(function()\n"
    "  for i = 1, 5 do\n"
    "    gs[i] = goro.go(function()\n"
    "      debug.sethook(function() end, 'l'); debug.sethook()\n"
    "      local x <close> = setmetatable({}, {__close = function() closed = closed + 1 end})\n"
    "      local mine = 'local of ' .. i\n"
    "      leak = function() return mine end\n"
    "      goro.yield()  -- (so that the five hold a thread each at once)\n"
    "      return i\n"
    "    end)\n"
    "  end\n"
    "  local wg = goro.waitgroup()\n"  /* they end together: 5 threads pooled */
    "  for i = 1, 5 do wg:add(1); goro.go(function() gs[i]:wait(); wg:done() end) end\n"
    "  wg:wait()\n"
    "end)\n";

Test(tpool, a_pooled_thread_is_empty_with_no_hook_frame_upvalue_or_close, .timeout = 60) {
  lua_State *L = goro_test_state();
  struct goro_runtime *R;
  lua_Debug ar;
  int n;
  cr_assert_not_null(L);
  cr_assert_eq(luaL_dostring(L, leavers), LUA_OK, "%s", lua_tostring(L, -1));
  R = goro_runtime_of(L);
  cr_assert_not_null(R);
  n = R->ntpool;
  cr_assert_geq(n, 5, "the five leavers' threads (and their waiters') are pooled");
  lua_getglobal(L, "closed");
  cr_assert_eq(lua_tointeger(L, -1), 5, "each __close ran once, at its G's return");
  lua_pop(L, 1);
  for (int i = 0; i < n; i++) {
    lua_State *T = R->tpool[i];
    cr_assert_eq(lua_gettop(T), 0, "thread %d: no value", i);
    cr_assert_eq(lua_status(T), LUA_OK, "thread %d: status", i);
    cr_assert_null(lua_gethook(T), "thread %d: no hook", i);
    cr_assert_eq(lua_gethookmask(T), 0, "thread %d: no hook mask", i);
    cr_assert_eq(lua_getstack(T, 0, &ar), 0, "thread %d: no frame", i);
    /* Nothing to close: a reset would run a pending __close (it
    ** counts), and an upvalue still open on its stack would see the
    ** slots it overwrites (leak() would then return nil). */
    cr_assert(lua_checkstack(T, LUA_MINSTACK));
    lua_settop(T, LUA_MINSTACK);  /* nils over every slot a G used */
    cr_assert_eq(lua_resetthread(T), LUA_OK);
  }
  cr_assert_eq(luaL_dostring(L, "return closed, leak()"), LUA_OK, "%s", lua_tostring(L, -1));
  cr_assert_eq(lua_tointeger(L, -2), 5, "no __close was left to run");
  cr_assert_str_eq(lua_tostring(L, -1), "local of 5", "the upvalue was closed at the return");
  lua_pop(L, 2);
  /* The handles hold their results, not the threads. */
  cr_assert_eq(luaL_dostring(L,
      "for i = 1, 5 do\n"
      "  assert(type(debug.getuservalue(gs[i], 1)) ~= 'thread')\n"
      "  local ok, v = gs[i]:wait(); assert(ok and v == i)\n"
      "end"), LUA_OK, "%s", lua_tostring(L, -1));
  cr_assert_eq(goro_close(R), 0);
  cr_assert_eq(R->ntpool, 0, "goro_close empties the pool");
  lua_close(L);
}
