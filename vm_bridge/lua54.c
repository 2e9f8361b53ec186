/*
** vm_bridge/lua54.c — refuse a Lua that is not 5.4, in words.
**
** libgoro binds the Lua API weakly (lua54.h says why): loaded by Lua 5.1,
** 5.2, 5.3 or LuaJIT, it loads, and the functions that Lua lacks are NULL.
** goroB_lua54_check, the first thing luaopen_goro_core does, finds them
** and raises "goro requires Lua 5.4 (this is Lua 5.1)", the message
** lua/goro/init.lua gives for `require "goro"`, now also for `require
** "goro.core"` and package.loadlib.
**
** Until the check has passed, only functions that every Lua since 5.1 has
** with the same calling convention are called: lua_getfield, lua_type,
** lua_tolstring, lua_settop, lua_pushfstring, lua_error.
**
** Locks: none; runs before there is a runtime.
*/
#include <stddef.h>

#include "../runtime/fatal.h"
#include "lua54.h"

/* Every function libgoro calls, as bound in this process. */
static const struct {
  const char *name;
  void (*fn)(void);  /* NULL: L's Lua lacks it */
} api[] = {
#define API_ENTRY(f) {#f, (void (*)(void))f},
    GORO_LUA_API(API_ENTRY)
#undef API_ENTRY
};

/* Lua 5.1's and LuaJIT's pseudo-index of the globals (LUA_GLOBALSINDEX in
** their lua.h; 5.2 made it a registry slot). */
#define LUA51_GLOBALSINDEX (-10002)

/*
** Which Lua this is, from what it lacks: LuaJIT (with jit.version) and
** 5.1 lack lua_absindex, 5.2 lua_rotate, 5.3 lua_newuserdatauv.
** May use only the functions this file's header names.
*/
static const char *which_lua(lua_State *L) {
  const char *v = NULL;
  if (lua_absindex == NULL) {
    lua_getfield(L, LUA51_GLOBALSINDEX, "jit");
    if (lua_type(L, -1) == LUA_TTABLE) {
      lua_getfield(L, -1, "version");
      v = lua_tolstring(L, -1, NULL);  /* anchored in jit: popped, still alive */
      lua_settop(L, -3);
    } else {
      lua_settop(L, -2);
    }
    return v != NULL ? v : "Lua 5.1";
  }
  if (lua_rotate == NULL) return "Lua 5.2";
  if (lua_newuserdatauv == NULL) return "Lua 5.3";
  return NULL;
}

void goroB_lua54_check(lua_State *L) {
  const char *missing = NULL, *this;
  size_t i;

  for (i = 0; i < sizeof api / sizeof api[0] && missing == NULL; i++)
    if (api[i].fn == NULL) missing = api[i].name;
  if (missing == NULL) return;
  if (lua_pushfstring == NULL || lua_error == NULL)
    goroR_throw("goroB_lua54_check: loaded by no Lua (%s is missing)", missing);
  this = which_lua(L);
  if (this != NULL)
    lua_pushfstring(L, "goro requires Lua 5.4 (this is %s)", this);
  else
    lua_pushfstring(L, "goro requires Lua 5.4 (this Lua lacks %s)", missing);
  lua_error(L);
}
