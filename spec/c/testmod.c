/*
** spec/c/testmod.c — goro_testmod, a Lua C module for the specs: C code
** that blocks (through goro_cgocall) and calls back into Lua (through
** goro_call), the way a real binding would. It links libgoro.so, so it
** shares the runtime with `require "goro"`.
*/
#include <lauxlib.h>
#include <lua.h>
#include <time.h>

#include "../../vm_bridge/goro.h"

struct nap {
  double s;
};

static void do_nap(void *p) {
  struct nap *n = p;
  struct timespec ts;
  ts.tv_sec = (time_t)n->s;
  ts.tv_nsec = (long)((n->s - (double)ts.tv_sec) * 1e9);
  nanosleep(&ts, NULL);
}

/* cgo_sleep(s): sleep in C with the P released. */
static int cgo_sleep(lua_State *L) {
  struct nap n = {luaL_checknumber(L, 1)};
  if (goro_cgocall(L, do_nap, &n) != 0) return luaL_error(L, "cgocall failed");
  return 0;
}

struct job {
  goro_runtime *rt;
  int ref;     /* registry: {f, args...}; the callback puts results there */
  int status;
};

/* The callback, on a Lua thread of the universe with the P held. */
static int call_packed(lua_State *L, void *ud) {
  struct job *j = ud;
  int n, top;
  lua_rawgeti(L, LUA_REGISTRYINDEX, j->ref);
  n = (int)luaL_len(L, -1);
  top = lua_gettop(L);
  for (int i = 1; i <= n; i++) lua_rawgeti(L, top, i);
  lua_call(L, n - 1, LUA_MULTRET);
  n = lua_gettop(L) - top;
  lua_createtable(L, n, 1);
  lua_insert(L, top + 1);
  for (int i = n; i >= 1; i--) lua_rawseti(L, top + 1, i);
  lua_pushinteger(L, n);
  lua_setfield(L, top + 1, "n");
  lua_rawseti(L, LUA_REGISTRYINDEX, j->ref);  /* results replace the job */
  return 0;
}

static void do_callback(void *p) {
  struct job *j = p;
  j->status = goro_call(j->rt, call_packed, j);
}

/* cgo_callback(f, ...) -> f's results: C (via goro_cgocall) calls f back
** (via goro_call), a callback nested in this G. An error in f comes back
** as an error here, with f's traceback in the message. */
static int cgo_callback(lua_State *L) {
  struct job j;
  int n = lua_gettop(L);
  luaL_checktype(L, 1, LUA_TFUNCTION);
  j.rt = goro_runtime_of(L);
  j.status = LUA_OK;
  lua_createtable(L, n, 0);
  for (int i = 1; i <= n; i++) {
    lua_pushvalue(L, i);
    lua_rawseti(L, -2, i);
  }
  j.ref = luaL_ref(L, LUA_REGISTRYINDEX);
  if (goro_cgocall(L, do_callback, &j) != 0) return luaL_error(L, "cgocall failed");
  lua_rawgeti(L, LUA_REGISTRYINDEX, j.ref);
  luaL_unref(L, LUA_REGISTRYINDEX, j.ref);
  if (j.status != LUA_OK) return luaL_error(L, "%s", goro_errmsg());
  lua_getfield(L, -1, "n");
  n = (int)lua_tointeger(L, -1);
  lua_pop(L, 1);
  luaL_checkstack(L, n, "too many results");
  {
    int t = lua_gettop(L);
    for (int i = 1; i <= n; i++) lua_rawgeti(L, t, i);
  }
  return n;
}

/* direct_call(f, ...): goro_call from C that Lua called on this thread
** (case (c): no cgocall around it). */
static int direct_call(lua_State *L) {
  struct job j;
  int n = lua_gettop(L);
  luaL_checktype(L, 1, LUA_TFUNCTION);
  j.rt = goro_runtime_of(L);
  lua_createtable(L, n, 0);
  for (int i = 1; i <= n; i++) {
    lua_pushvalue(L, i);
    lua_rawseti(L, -2, i);
  }
  j.ref = luaL_ref(L, LUA_REGISTRYINDEX);
  j.status = goro_call(j.rt, call_packed, &j);
  luaL_unref(L, LUA_REGISTRYINDEX, j.ref);
  if (j.status != LUA_OK) return luaL_error(L, "%s", goro_errmsg());
  return 0;
}

static int is_extra_in_c(lua_State *L) {
  lua_pushboolean(L, goro_is_extra_in_c());
  return 1;
}

static const luaL_Reg funcs[] = {
    {"cgo_sleep", cgo_sleep},
    {"cgo_callback", cgo_callback},
    {"direct_call", direct_call},
    {"is_extra_in_c", is_extra_in_c},
    {NULL, NULL},
};

__attribute__((visibility("default"))) int luaopen_goro_testmod(lua_State *L) {
  luaL_newlib(L, funcs);
  return 1;
}
