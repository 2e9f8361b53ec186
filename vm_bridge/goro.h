/*
** goro.h — goro's public C interface.
**
** goro gives Lua 5.4 the concurrency model of Go. This header is for Lua C
** modules and for hosts that embed Lua. Its declarations are plain C that
** LuaJIT's ffi.cdef accepts once the preprocessor lines are removed: no
** macros inside declarations, no bit-fields, fixed-size types.
*/
#ifndef GORO_H
#define GORO_H

#include <lua.h>

#define GORO_VERSION "0.1.0"

/* The Lua module: `require "goro.core"` (the facade `require "goro"` loads
** it for you). */
int luaopen_goro_core(lua_State *L);

/* One runtime per Lua universe (the one `require "goro"` uses). */
typedef struct goro_runtime goro_runtime;

/* Error statuses of goro_step (LUA_OK and Lua's error codes are also used). */
enum {
  GORO_STEP_GFAILED = -100, /* a G failed and nobody waited: goro_errmsg() */
  GORO_STEP_CLOSED = -101   /* the runtime is closed */
};

/* Attach the runtime to a host-created state and register the linked-in
** core as package.preload["goro.core"], so that `require "goro"` in Lua
** uses this copy of goro. Returns with the calling thread NOT holding the
** P: from now on every thread touches L only inside goro_step (and, with
** the host machinery, goro_call) or from G's. NULL on error (goro_errmsg). */
goro_runtime *goro_open(lua_State *L);

/* The runtime attached to L's universe, or NULL. */
goro_runtime *goro_runtime_of(lua_State *L);

/* Run ready G's on the calling thread until none is ready or budget_s
** seconds have passed. Returns how many G's are still runnable (>= 0), or
** GORO_STEP_GFAILED / GORO_STEP_CLOSED. */
int goro_step(goro_runtime *rt, double budget_s);

/* The last error text of the calling thread ("" if none). */
const char *goro_errmsg(void);

/* Stop the runtime: every G is abandoned, and later calls from any thread
** return an error status. The host owns L again afterwards. */
void goro_close(goro_runtime *rt);

#endif
