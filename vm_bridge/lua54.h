/*
** vm_bridge/lua54.h — private to vm_bridge/: the Lua API as libgoro binds
** it, weakly, so that another Lua can be told what is wrong.
**
** libgoro takes the Lua API from whoever loads it. Every Lua (5.1 to 5.4,
** LuaJIT) loads a C module with dlopen(RTLD_NOW): all of goro/core.so's
** and libgoro.so.0's symbols are bound at load time, lazy binding (-z
** lazy) or not, so under Lua 5.1 or LuaJIT the load failed in the dynamic
** linker ("undefined symbol: lua_absindex"), under 5.3 on
** lua_getiuservalue, before any of goro's code ran. A weak reference that
** finds no definition is bound to NULL instead of failing the load:
** luaopen_goro_core then asks goroB_lua54_check (lua54.c) whether every
** function below is there, and refuses another Lua in words ("goro
** requires Lua 5.4 (this is Lua 5.1)").
**
** GORO_LUA_API lists every lua_ and luaL_ function that libgoro calls
** (macros such as lua_pcall name lua_pcallk). A function missing here is
** bound strongly again: the install lane checks that libgoro.so.0 has no
** strong undefined lua* symbol (`nm -D`), and spec 01 that lua5.1, lua5.3
** and luajit get the message from `require "goro.core"`.
** (Weak references do not pull members out of an archive: a host that
** links a static liblua gets lapi.o and lauxlib.o through its own calls,
** as every host that makes a state does.)
*/
#ifndef GORO_VM_BRIDGE_LUA54_H
#define GORO_VM_BRIDGE_LUA54_H

#include <lauxlib.h>
#include <lua.h>

#define GORO_LUA_API(X) \
  X(luaL_addlstring) \
  X(luaL_addvalue) \
  X(luaL_argerror) \
  X(luaL_buffinit) \
  X(luaL_buffinitsize) \
  X(luaL_callmeta) \
  X(luaL_checkany) \
  X(luaL_checkinteger) \
  X(luaL_checklstring) \
  X(luaL_checknumber) \
  X(luaL_checkoption) \
  X(luaL_checkstack) \
  X(luaL_checktype) \
  X(luaL_checkudata) \
  X(luaL_error) \
  X(luaL_getmetafield) \
  X(luaL_getsubtable) \
  X(luaL_newmetatable) \
  X(luaL_optinteger) \
  X(luaL_optlstring) \
  X(luaL_optnumber) \
  X(luaL_pushresult) \
  X(luaL_pushresultsize) \
  X(luaL_ref) \
  X(luaL_setfuncs) \
  X(luaL_setmetatable) \
  X(luaL_tolstring) \
  X(luaL_traceback) \
  X(luaL_typeerror) \
  X(lua_absindex) \
  X(lua_callk) \
  X(lua_checkstack) \
  X(lua_concat) \
  X(lua_copy) \
  X(lua_createtable) \
  X(lua_error) \
  X(lua_gc) \
  X(lua_getfield) \
  X(lua_gethook) \
  X(lua_gethookcount) \
  X(lua_gethookmask) \
  X(lua_getinfo) \
  X(lua_getiuservalue) \
  X(lua_getmetatable) \
  X(lua_getstack) \
  X(lua_gettop) \
  X(lua_isinteger) \
  X(lua_isstring) \
  X(lua_isyieldable) \
  X(lua_newthread) \
  X(lua_newuserdatauv) \
  X(lua_next) \
  X(lua_pcallk) \
  X(lua_pushboolean) \
  X(lua_pushcclosure) \
  X(lua_pushfstring) \
  X(lua_pushinteger) \
  X(lua_pushlightuserdata) \
  X(lua_pushlstring) \
  X(lua_pushnil) \
  X(lua_pushnumber) \
  X(lua_pushstring) \
  X(lua_pushthread) \
  X(lua_pushvalue) \
  X(lua_rawequal) \
  X(lua_rawget) \
  X(lua_rawgeti) \
  X(lua_rawgetp) \
  X(lua_rawlen) \
  X(lua_rawset) \
  X(lua_rawseti) \
  X(lua_rawsetp) \
  X(lua_resetthread) \
  X(lua_resume) \
  X(lua_rotate) \
  X(lua_setfield) \
  X(lua_sethook) \
  X(lua_setiuservalue) \
  X(lua_setmetatable) \
  X(lua_settop) \
  X(lua_status) \
  X(lua_stringtonumber) \
  X(lua_toboolean) \
  X(lua_tocfunction) \
  X(lua_tointegerx) \
  X(lua_tolstring) \
  X(lua_tonumberx) \
  X(lua_topointer) \
  X(lua_tothread) \
  X(lua_touserdata) \
  X(lua_type) \
  X(lua_typename) \
  X(lua_xmove) \
  X(lua_yieldk)

#define GORO_LUA54_PRAGMA(x) _Pragma(#x)
#define GORO_LUA54_WEAK(f) GORO_LUA54_PRAGMA(weak f)
GORO_LUA_API(GORO_LUA54_WEAK)

/* Raises, with the functions of every Lua, unless L's Lua has every
** function of GORO_LUA_API. */
void goroB_lua54_check(lua_State *L);

#endif
