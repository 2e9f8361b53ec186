/*
** vm_bridge/module.c — luaopen_goro_core: the Lua face of goro's C core.
**
** This is the only layer that includes lua.h. It turns the runtime's error
** codes into Lua errors and never lets a Lua error cross a stack switch: Lua
** code run on another stack runs in protected mode there, and its error is
** raised again only after the switch back.
*/
#include <lauxlib.h>
#include <lua.h>

#include "../arch/ctx.h"
#include "../runtime/errors.h"
#include "../runtime/stack.h"
#include "bridge.h"
#include "lua54.h"
#include "../include/goro.h"

#if defined(__x86_64__)
#define GORO_ARCH "x86_64"
#else
#define GORO_ARCH "aarch64"
#endif

/* core.stackstats() -> {live=, pooled=, pooled_hot=, reserved_bytes=, ...} */
static int l_stackstats(lua_State *L) {
  struct goro_stack_stats s;
  goroR_stack_get_stats(&s);
  lua_createtable(L, 0, 7);
  goroB_setint(L, "live", s.live);
  goroB_setint(L, "pooled", s.pooled);
  goroB_setint(L, "pooled_hot", s.pooled_hot);
  goroB_setint(L, "reserved_bytes", s.reserved_bytes);
  goroB_setint(L, "created", s.created);
  goroB_setint(L, "released", s.released);
  goroB_setint(L, "stack_size", goroR_stack_size());
  return 1;
}

struct oncall {
  lua_State *L;
  int nargs, status;
};

/* Runs on the other stack: a protected call, so no error leaves it. */
static void *run_protected(void *p) {
  struct oncall *c = p;
  c->status = lua_pcall(c->L, c->nargs, LUA_MULTRET, 0);
  return NULL;
}

/*
** core.call_on_stack(f, ...) -> f's results. Calls f on a fresh G stack from
** the pool (through arch's call-on-other-stack primitive) and comes back; an
** error in f is raised again here, on the calling stack.
*/
static int l_call_on_stack(lua_State *L) {
  struct oncall c;
  struct goro_stack *st;
  int rc;

  luaL_checktype(L, 1, LUA_TFUNCTION);
  if ((rc = goroR_stack_thread_init()) != 0 || (st = goroR_stack_get()) == NULL)
    return luaL_error(L, "call_on_stack: %s",
                      goro_strerror(rc ? rc : GORO_ENOMEM));
  c.L = L;
  c.nargs = lua_gettop(L) - 1;
  c.status = LUA_OK;
  {
    goro_ctx to;
    goroA_ctx_init_stack(&to, &st->desc);
    goroA_ctx_call((char *)st->desc.lo + st->desc.size, &to, run_protected, &c);
    goroA_ctx_destroy(&to);
  }
  goroR_stack_put(st);
  if (c.status != LUA_OK) return lua_error(L);
  return lua_gettop(L);
}

static const luaL_Reg funcs[] = {
    {"stackstats", l_stackstats},
    {"call_on_stack", l_call_on_stack},
    {NULL, NULL},
};

/*
** The module table. Every function gets the universe's runtime (a userdata
** in the registry) as upvalue 1.
*/
GORO_EXPORT int luaopen_goro_core(lua_State *L) {
  goroB_lua54_check(L);  /* first: raises under another Lua (lua54.c) */
  goroB_runtime_get(L);  /* made on first use; lives until the state closes */
  lua_rawgetp(L, LUA_REGISTRYINDEX, goroB_runtime_key());
  goroB_open_g(L);
  goroB_open_chan(L);
  goroB_open_sync(L);
  lua_createtable(L, 0, 32);
  lua_pushvalue(L, -2);
  luaL_setfuncs(L, funcs, 1);
  lua_pushvalue(L, -2);
  luaL_getmetatable(L, "goro.g");
  luaL_setfuncs(L, goroB_g_funcs, 2);
  lua_pushvalue(L, -2);
  luaL_getmetatable(L, "goro.g");
  luaL_setfuncs(L, goroB_run_funcs, 2);
  goroB_open_chan_funcs(L);
  goroB_open_timer_funcs(L);
  lua_pushvalue(L, -2);
  luaL_setfuncs(L, goroB_introspect_funcs, 1);
  lua_pushvalue(L, -2);
  luaL_setfuncs(L, goroB_io_funcs, 1);
  goroB_open_sync_funcs(L);
  goroB_open_context(L);
  goroB_open_scope(L);
  goroB_open_synctest(L);
  goroB_open_net(L);
  goroB_open_file(L);
  luaL_setfuncs(L, goroB_prof_funcs, 0);
  goroB_push_default(L);
  lua_setfield(L, -2, "default");
  lua_pushliteral(L, GORO_VERSION);
  lua_setfield(L, -2, "version");
  lua_pushliteral(L, GORO_ARCH);
  lua_setfield(L, -2, "arch");
  goroB_open_coro(L);
  goroB_prof_env();
  return 1;
}
