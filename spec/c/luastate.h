/*
** spec/c/luastate.h — a Lua state for the C tests that embed goro: its
** `require "goro"` finds the source tree's facade (GORO_SRCDIR) and this
** binary's linked-in core, registered as package.preload["goro.core"].
*/
#ifndef GORO_SPEC_LUASTATE_H
#define GORO_SPEC_LUASTATE_H

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../include/goro.h"
#include "crit.h"

/* Under a Lua built with LUA_USE_APICHECK (the apicheck lane; meson sets
** GORO_LUA_APICHECK), a misuse of Lua's C API aborts the test. A test that
** reaches a known one is skipped there, naming the bug (Criterion prints
** no skip unless --verbose, so the `[SKIP] ` line scripts/tally.py counts
** is written here; minicrit writes its own):
**   GORO_TEST_APICHECK_BUG(GORO_BUG_GERROR);
** Remove those lines with the bug. */
#define GORO_BUG_GERROR                                                     \
  "goroB_push_gerror (vm_bridge/run.c) copies a failed G's error with "     \
  "lua_pushvalue on the G's dead thread, whose frame lua_resume left full, " \
  "without lua_checkstack (LUA_USE_APICHECK: lua_pushvalue: stack overflow)"
#ifdef GORO_MINICRIT
#define GORO_SKIP_LINE(bug) ((void)0)
#else
#define GORO_SKIP_LINE(bug) \
  fprintf(stderr, "[SKIP] %s: known bug: %s\n", __func__, (bug))
#endif
#define GORO_TEST_APICHECK_BUG(bug)                                         \
  do {                                                                      \
    if (getenv("GORO_LUA_APICHECK") != NULL) {                              \
      GORO_SKIP_LINE(bug);                                                  \
      cr_skip_test("known bug: %s", (bug));                                 \
    }                                                                       \
  } while (0)

/* Make L (a fresh state, from any allocator) such a state; NULL if L is. */
static inline lua_State *goro_test_prepare(lua_State *L) {
  if (L == NULL) return NULL;
  luaL_openlibs(L);
  lua_getglobal(L, "package");
  lua_pushstring(L, GORO_SRCDIR "/lua/?.lua;" GORO_SRCDIR "/lua/?/init.lua");
  lua_setfield(L, -2, "path");
  lua_pop(L, 1);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_goro_core);
  lua_setfield(L, -2, "goro.core");
  lua_pop(L, 1);
  return L;
}

static inline lua_State *goro_test_state(void) {
  return goro_test_prepare(luaL_newstate());
}

/* A goro_call body that runs the Lua chunk ud (a C string). */
static inline int goro_test_run_chunk(lua_State *T, void *ud) {
  if (luaL_loadstring(T, (const char *)ud) != LUA_OK) return lua_error(T);
  lua_call(T, 0, 0);
  return 0;
}

/* For suites linked with spec/c/testmod.c: a state whose globals `goro`
** and `tm` (goro_testmod: C that blocks and calls back) are loaded. NULL
** if that fails. */
int luaopen_goro_testmod(lua_State *L);

static inline lua_State *goro_test_state_tm(void) {
  lua_State *L = goro_test_state();
  if (L == NULL) return NULL;
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_goro_testmod);
  lua_setfield(L, -2, "goro_testmod");
  lua_pop(L, 1);
  if (luaL_dostring(L, "goro = require 'goro'; tm = require 'goro_testmod'") != LUA_OK) {
    lua_close(L);
    return NULL;
  }
  return L;
}

#endif
