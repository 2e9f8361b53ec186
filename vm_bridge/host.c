/*
** vm_bridge/host.c — the C API for hosts that embed Lua: goro_open,
** goro_runtime_of, goro_step, goro_errmsg, goro_close.
**
** Ownership (runtime/HACKING.md, "Who may touch a lua_State"): after
** goro_open the host touches its lua_State only inside goro_step (which
** takes the P for the calling thread) or from G's.
*/
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/errors.h"
#include "bridge.h"

/* The last error of each thread: a heap buffer behind an 8-byte TLS
** pointer (the module uses static TLS, which has little room), freed by a
** key destructor when the thread exits. */
#define ERRMSG_SIZE 4096
static __thread char *errmsg __attribute__((tls_model("initial-exec")));
static pthread_key_t errmsg_key;
static pthread_once_t errmsg_once = PTHREAD_ONCE_INIT;

static void errmsg_key_make(void) { pthread_key_create(&errmsg_key, free); }

static void set_err(const char *msg) {
  if (errmsg == NULL) {
    pthread_once(&errmsg_once, errmsg_key_make);
    if ((errmsg = malloc(ERRMSG_SIZE)) == NULL) return;
    pthread_setspecific(errmsg_key, errmsg);
  }
  snprintf(errmsg, ERRMSG_SIZE, "%s", msg ? msg : "(error is not a string)");
}

GORO_EXPORT const char *goro_errmsg(void) {
  return errmsg != NULL ? errmsg : "";
}

static int p_open(lua_State *L) {
  struct goro_runtime *R = goro_rt_get(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_goro_core);
  lua_setfield(L, -2, "goro.core");
  lua_pushlightuserdata(L, R);
  return 1;
}

GORO_EXPORT goro_runtime *goro_open(lua_State *L) {
  struct goro_runtime *R;
  lua_pushcfunction(L, p_open);
  if (lua_pcall(L, 0, 1, 0) != LUA_OK) {
    set_err(lua_tostring(L, -1));
    lua_pop(L, 1);
    return NULL;
  }
  R = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (R->running) {
    set_err("goro_open: goro.run is running in this state");
    return NULL;
  }
  if (R->closed) {
    set_err("goro_open: runtime is closed");
    return NULL;
  }
  R->hostmode = 1;
  goro_rt_kick(&R->rt);  /* G's made before now may run on workers */
  return R;
}

GORO_EXPORT goro_runtime *goro_runtime_of(lua_State *L) {
  goro_runtime *R = NULL;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, goro_rt_key()) == LUA_TUSERDATA)
    R = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return R;
}

/* In protected mode: the failed G's error as text. */
static int p_failmsg(lua_State *L) {
  struct goro_runtime *R = lua_touserdata(L, 1);
  struct bg *f = goro_take_failed(L, R);
  if (f == NULL) return 0;
  goro_push_gerror(L, f);
  if (lua_type(L, -1) != LUA_TSTRING) luaL_tolstring(L, -1, NULL);
  return 1;
}

GORO_EXPORT int goro_step(goro_runtime *R, double budget_s) {
  struct goro_m m, *old;
  int rc, result;

  if (R == NULL || R->closed) {
    set_err("goro_step: runtime is closed");
    return GORO_STEP_CLOSED;
  }
  if (goro_m_self() != NULL) {
    set_err("goro_step: called while this thread runs the scheduler");
    return LUA_ERRRUN;
  }
  if (goro_stack_thread_init() != 0) {
    set_err("goro_step: not enough memory");
    return LUA_ERRMEM;
  }
  goro_m_init(&m);
  old = goro_m_set(&m);
  if (goro_p_acquire(&R->rt, &m) != 0) {
    goro_m_set(old);
    set_err("goro_step: runtime is closed");
    return GORO_STEP_CLOSED;
  }
  R->stepping = 1;
  rc = goro_sched_run(&R->rt, &m, NULL,
                      goro_now() + (budget_s > 0 ? budget_s : 0));
  R->stepping = 0;
  result = (int)R->rt.nrunnable;
  if (R->failed != NULL) {
    lua_State *L = R->L;
    lua_pushcfunction(L, p_failmsg);
    lua_pushlightuserdata(L, R);
    if (lua_pcall(L, 1, 1, 0) == LUA_OK || lua_isstring(L, -1))
      set_err(lua_tostring(L, -1));
    else
      set_err("goro_step: a goroutine failed");
    lua_pop(L, 1);
    R->failed = NULL;
    R->rt.abort = 0;
    result = GORO_STEP_GFAILED;
  } else if (rc == GORO_SCHED_NOMEM) {
    set_err("goro_step: not enough memory for a goroutine stack");
    result = LUA_ERRMEM;
  }
  goro_p_release(&R->rt, &m);
  goro_m_set(old);
  goro_ctx_destroy(&m.g0);
  return result;
}

GORO_EXPORT void goro_close(goro_runtime *R) {
  if (R == NULL || R->closed) return;
  goro_rt_close(&R->rt);
  R->closed = 1;
}
