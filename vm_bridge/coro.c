/*
** vm_bridge/coro.c — Lua's coroutine library as seen from G's.
**
** A G's Lua thread belongs to the scheduler: resuming it with
** coroutine.resume (it can be had from coroutine.running() inside the G)
** would run the G's continuation on the wrong G, and coroutine.close would
** reset it under the runtime. So when goro is loaded it replaces three
** functions of the coroutine library:
**   - running() marks the thread it returns as *escaped* when it is the
**     calling G's own thread (as goro_escape_thread does for C): the G
**     will not give it back to the thread pool when it ends, and a
**     registry table with weak keys maps such a thread to its G's handle;
**   - resume(co, ...) and close(co) refuse an escaped thread with
**     "cannot resume a goroutine's thread" (close: "cannot close ...") and
**     otherwise do what Lua's own do.
** A thread can reach Lua code in no other way (goro hands none out), but
** through C that calls lua_pushthread on it (which must then call
** goro_escape_thread) or the debug library. Plain coroutines keep their
** meaning; the check costs one table lookup a resume.
**
** Locks: none. Everything runs on the calling Lua thread.
*/
#include <lualib.h>

#include "bridge.h"

static const char escaped_key = 'e';  /* registry: thread -> G handle (weak) */

/* Push the table of escaped threads (made on first use). */
static void push_escaped(lua_State *L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &escaped_key) == LUA_TTABLE) return;
  lua_pop(L, 1);
  lua_newtable(L);
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "k");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &escaped_key);
}

/* Is the thread at index i a G's (escaped) thread? Leaves the stack. */
static int is_g_thread(lua_State *L, int i) {
  int found;
  i = lua_absindex(L, i);
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &escaped_key) != LUA_TTABLE) {
    lua_pop(L, 1);
    return 0;
  }
  lua_pushvalue(L, i);
  found = lua_rawget(L, -2) != LUA_TNIL;
  lua_pop(L, 2);
  return found;
}

void goroB_bg_escape(lua_State *L, struct bg *b) {
  goroR_assert(b->L == L);
  b->escaped = 1;  /* first: its thread never goes to the pool */
  lua_pushthread(L);
  push_escaped(L);
  lua_pushvalue(L, -2);
  if (lua_rawget(L, -2) == LUA_TNIL) {
    lua_pop(L, 1);
    lua_pushvalue(L, -2);
    goroB_bg_push(L, goroB_R_of(L), b);
    lua_rawset(L, -3);
  } else {
    lua_pop(L, 1);
  }
  lua_pop(L, 2);
}

/* coroutine.running() -> thread, ismain. A G's own thread escapes: the G
** will not give it back to the pool (runtime/HACKING.md, "A G's Lua
** thread"). */
static int co_running(lua_State *L) {
  struct bg *b = goroB_bg_current(L);
  int ismain;
  if (b != NULL && b->L == L && !b->escaped) goroB_bg_escape(L, b);
  ismain = lua_pushthread(L);
  lua_pushboolean(L, ismain);
  return 2;
}

/* goro.h: for C that keeps a G's thread (lua_pushthread). */
GORO_EXPORT int goro_escape_thread(lua_State *L) {
  struct bg *b = goroB_bg_current(L);
  if (b == NULL || b->L != L) return 0;
  if (!b->escaped) goroB_bg_escape(L, b);
  return 1;
}

/* Lua's auxresume (lcorolib.c): resume co with narg values from L. Returns
** how many results it moved to L, or -1 with the error on L. */
static int auxresume(lua_State *L, lua_State *co, int narg) {
  int status, nres;
  if (!lua_checkstack(co, narg)) {
    lua_pushliteral(L, "too many arguments to resume");
    return -1;
  }
  lua_xmove(L, co, narg);
  status = lua_resume(co, L, narg, &nres);
  if (status == LUA_OK || status == LUA_YIELD) {
    if (!lua_checkstack(L, nres + 1)) {
      lua_pop(co, nres);
      lua_pushliteral(L, "too many results to resume");
      return -1;
    }
    lua_xmove(co, L, nres);
    return nres;
  }
  lua_xmove(co, L, 1);
  return -1;
}

/* coroutine.resume(co, ...) -> true, ... | false, err */
static int co_resume(lua_State *L) {
  lua_State *co = lua_tothread(L, 1);
  int r;
  luaL_argexpected(L, co, 1, "coroutine");
  if (is_g_thread(L, 1)) {
    lua_pushboolean(L, 0);
    lua_pushliteral(L, "cannot resume a goroutine's thread");
    return 2;
  }
  r = auxresume(L, co, lua_gettop(L) - 1);
  if (r < 0) {
    lua_pushboolean(L, 0);
    lua_insert(L, -2);
    return 2;
  }
  lua_pushboolean(L, 1);
  lua_insert(L, -(r + 1));
  return r + 1;
}

/* coroutine.close(co): Lua's own (upvalue 1), but not for a G's thread. */
static int co_close(lua_State *L) {
  luaL_argexpected(L, lua_tothread(L, 1) != NULL, 1, "coroutine");
  if (is_g_thread(L, 1)) return luaL_error(L, "cannot close a goroutine's thread");
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

void goroB_open_coro(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  if (lua_getfield(L, -1, LUA_COLIBNAME) == LUA_TTABLE) {
    lua_pushcfunction(L, co_running);
    lua_setfield(L, -2, "running");
    lua_pushcfunction(L, co_resume);
    lua_setfield(L, -2, "resume");
    if (lua_getfield(L, -1, "close") == LUA_TFUNCTION &&
        lua_tocfunction(L, -1) != co_close) {
      lua_pushcclosure(L, co_close, 1);
      lua_setfield(L, -2, "close");
    } else {
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 2);
}
