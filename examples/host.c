/*
** examples/host.c — the smallest host embedding goro, in C or C++.
**
** A Lua state, a script that starts two G's talking over a channel, and a
** frame loop of goro_step until they are done; then the result is read
** back through goro_call. Against an installed goro (README, "Install"):
**
**   cc  host.c $(pkg-config --cflags --libs goro) -o host
**   c++ -x c++ host.c $(pkg-config --cflags --libs goro) -o host
**
** The Lua half of goro (goro/init.lua) comes from Lua's module path; the
** C half is this program's own copy, libgoro.so. The meson build makes it
** too (build/examples/host), and the install lane builds it both ways
** against an installed goro (spec/install.sh).
*/
#ifdef __cplusplus
#include <lua.hpp> /* lua.h, lualib.h and lauxlib.h inside extern "C" */
#else
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#endif
#include <stdio.h>

#include <goro.h>

static const char script[] =
    "local goro = require 'goro'\n"
    "local ch = goro.chan()\n"
    "goro.go(function()\n"
    "  for i = 1, 10 do ch:send(i) end\n"
    "  ch:close()\n"
    "end)\n"
    "goro.go(function()\n"
    "  local sum = 0\n"
    "  for v in ch:iter() do sum = sum + v end\n"
    "  result = sum\n"
    "end)\n";

/* goro_call body: the script's result, or 0 while its G's are at work. */
static int read_result(lua_State *L, void *ud) {
  lua_getglobal(L, "result");
  *(lua_Integer *)ud = lua_tointeger(L, -1);
  return 0;
}

int main(void) {
  lua_State *L = luaL_newstate();
  goro_runtime *rt;
  lua_Integer result = 0;
  int frame;

  luaL_openlibs(L);
  /* `require "goro.core"` gives this program's copy of goro */
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_goro_core);
  lua_setfield(L, -2, "goro.core");
  lua_pop(L, 1);
  /* goro.h, goro_open: the host has L to itself until goro_open */
  if (luaL_dostring(L, script) != LUA_OK) { /* load scripts first, */
    fprintf(stderr, "script: %s\n", lua_tostring(L, -1));
    return 1;
  }
  rt = goro_open(L); /* then hand the state to goro */
  if (rt == NULL) {
    fprintf(stderr, "goro_open: %s\n", goro_errmsg());
    return 1;
  }
  for (frame = 0; frame < 1000 && result == 0; frame++) {
    if (goro_step(rt, 0.002) < 0) {
      fprintf(stderr, "goro_step: %s\n", goro_errmsg());
      return 1;
    }
    if (goro_call(rt, read_result, &result) != LUA_OK) {
      fprintf(stderr, "goro_call: %s\n", goro_errmsg());
      return 1;
    }
  }
  printf("goro %d.%d.%d: the sum of 1..10 is %lld after %d frames\n",
         GORO_VERSION_MAJOR, GORO_VERSION_MINOR, GORO_VERSION_PATCH,
         (long long)result, frame);
  goro_close(rt);
  lua_close(L);
  return result == 55 ? 0 : 1;
}
