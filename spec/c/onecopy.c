/*
** spec/c/onecopy.c — two copies of goro in one process are refused
** (vm_bridge/onecopy.c). This program links a static copy of goro
** (libgoro.a); the shared copy, libgoro.so.0, comes in through the build's
** goro/core.so (GORO_BUILDDIR), as `require "goro"` loads it.
**
** Built twice: test-onecopy keeps the static copy's symbols hidden, as a
** host normally does, so only a Lua state where both copies meet can tell
** (suite onecopy); test-onecopy-exported (-DONECOPY_EXPORTED) exports
** them (-rdynamic, as hosts that embed a static Lua do), so the shared
** copy finds the static one in the process's global scope even in a state
** of its own (suite onecopy_exported). Each test is its own process.
*/
#include <string.h>

#include "crit.h"
#include "luastate.h"

/* A state whose `require "goro"` finds the source tree's facade and, for
** the core: this program's copy (static) or the build's core.so (shared). */
static lua_State *state(int static_copy) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  lua_getglobal(L, "package");
  lua_pushstring(L, GORO_SRCDIR "/lua/?.lua;" GORO_SRCDIR "/lua/?/init.lua");
  lua_setfield(L, -2, "path");
  lua_pushstring(L, GORO_BUILDDIR "/lua/?.so");
  lua_setfield(L, -2, "cpath");
  lua_pop(L, 1);
  if (static_copy) {
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_goro_core);
    lua_setfield(L, -2, "goro.core");
    lua_pop(L, 1);
  }
  return L;
}

/* Runs chunk; returns its error text ("" when it succeeded). */
static const char *run(lua_State *L, const char *chunk) {
  if (luaL_dostring(L, chunk) == LUA_OK) return "";
  return lua_tostring(L, -1);
}

static const char use[] =
    "local goro = require 'goro'\n"
    "assert(goro.run(function()\n"
    "  local ch = goro.chan()\n"
    "  goro.go(function() ch:send(42) end)\n"
    "  return ch:recv()\n"
    "end) == 42)\n";

static void assert_refused(const char *msg) {
  cr_assert(strstr(msg, "goro: two copies of goro in one process") != NULL &&
                strstr(msg, "libgoro.so.0") != NULL &&
                strstr(msg, "link libgoro.so (pkg-config --libs goro)") != NULL,
            "not refused as two copies: \"%s\"", msg);
}

#ifndef ONECOPY_EXPORTED

/* The shared copy's core, loaded past package.preload. */
static const char load_shared[] =
    "local open = assert(package.loadlib(\n"
    "  '" GORO_BUILDDIR "/lua/goro/core.so', 'luaopen_goro_core'))\n"
    "open()\n";

/* A host that links a static copy and requires goro before goro_open:
** require loads libgoro.so, whose runtime the static copy must not join. */
Test(onecopy, goro_open_after_the_shared_copy_refuses, .timeout = 60) {
  lua_State *L = state(0);
  cr_assert_str_eq(run(L, "require 'goro'"), "");
  cr_assert_null(goro_open(L));
  assert_refused(goro_errmsg());
  lua_close(L);
}

/* The static copy owns the state; libgoro.so's luaopen_goro_core, reached
** past package.preload (a C module, package.loadlib), refuses it. */
Test(onecopy, shared_copy_after_the_static_one_refuses, .timeout = 60) {
  lua_State *L = state(1);
  cr_assert_str_eq(run(L, use), "");
  assert_refused(run(L, load_shared));
  cr_assert_str_eq(run(L, use), "", "the static copy still runs");
  lua_close(L);
}

/* One copy a state, each alone: goro_open's package.preload makes
** `require "goro"` use the host's copy, and a copy that never made a
** runtime (the static one, hidden, in the second state) is no obstacle. */
Test(onecopy, one_copy_a_state_runs, .timeout = 60) {
  lua_State *L = state(1), *L2 = state(0);
  goro_runtime *rt = goro_open(L);
  cr_assert_not_null(rt, "%s", goro_errmsg());
  cr_assert_eq(goro_close(rt), 0);
  lua_close(L);
  cr_assert_str_eq(run(L2, use), "");
  lua_close(L2);
}

#else

/* The static copy is in the global scope: libgoro.so refuses to make a
** runtime even for a state the static copy never saw. */
Test(onecopy_exported, shared_copy_refuses_in_a_state_of_its_own, .timeout = 60) {
  lua_State *L = state(0);
  assert_refused(run(L, "require 'goro'"));
  lua_close(L);
}

/* ... while the exported static copy, alone, runs. */
Test(onecopy_exported, static_copy_alone_runs, .timeout = 60) {
  lua_State *L = state(1);
  cr_assert_str_eq(run(L, use), "");
  lua_close(L);
}

#endif
