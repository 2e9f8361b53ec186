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

#endif
