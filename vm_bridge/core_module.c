/*
** vm_bridge/core_module.c — goro/core.so, the module `require "goro.core"`
** loads. All of goro lives in libgoro.so, which this module links: the
** interpreter finds luaopen_goro_core there through this module's
** dependencies, and every C module or host that links libgoro.so shares
** the same copy (one runtime, one set of thread-local M's). This file only
** gives the module a body.
*/
#include "../include/goro.h"

/* Referenced so the linker keeps the dependency on libgoro.so. */
int (*const goro_core_module_open)(lua_State *L) = luaopen_goro_core;
