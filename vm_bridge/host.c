/*
** vm_bridge/host.c — the C API for hosts that embed Lua: goro_open,
** goro_runtime_of, goro_step, goro_close.
**
** Ownership (runtime/HACKING.md, "Who may touch a lua_State"): after
** goro_open the host touches its lua_State only inside goro_step (which
** takes the P for the calling thread) or from G's.
*/
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../arch/ctx.h"
#include "../runtime/errors.h"
#include "../runtime/fatal.h"
#include "bridge.h"

static int p_open(lua_State *L) {
  struct goro_runtime *R = goroB_runtime_get(L);
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
    goroB_seterr(lua_tostring(L, -1));
    lua_pop(L, 1);
    return NULL;
  }
  R = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (R->running) {
    goroB_seterr("goro_open: goro.run is running in this state");
    return NULL;
  }
  if (R->closed) {
    goroB_seterr("goro_open: runtime is closed");
    return NULL;
  }
  R->hostmode = 1;
  goroR_rt_workers_on(&R->rt, 1);
  goroR_rt_kick(&R->rt);  /* G's made before now may run on workers */
  return R;
}

GORO_EXPORT goro_runtime *goro_runtime_of(lua_State *L) {
  goro_runtime *R = NULL;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, goroB_runtime_key()) == LUA_TUSERDATA)
    R = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return R;
}

/* In protected mode: the failed G's error as text. */
static int p_failmsg(lua_State *L) {
  struct goro_runtime *R = lua_touserdata(L, 1);
  struct bg *f = goroB_take_failed(L, R);
  if (f == NULL) return 0;
  goroB_push_gerror(L, f, lua_gettop(L));  /* its handle is on top */
  if (lua_type(L, -1) != LUA_TSTRING) luaL_tolstring(L, -1, NULL);
  return 1;
}

GORO_EXPORT int goro_step(goro_runtime *R, double budget_s) {
  struct goro_m m, *old;
  int rc, result;

  if (R == NULL || R->closed) {
    goroB_seterr("goro_step: runtime is closed");
    return GORO_STEP_CLOSED;
  }
  if (goroR_m_self() != NULL) {
    goroB_seterr("goro_step: called while this thread runs the scheduler");
    return LUA_ERRRUN;
  }
  if (goroR_stack_thread_init() != 0) {
    goroB_seterr("goro_step: not enough memory");
    return LUA_ERRMEM;
  }
  goroR_m_init(&m);
  goroR_m_learn_stack(&m);
  old = goroR_m_set(&m);
  goroR_m_register(&R->rt, &m);
  if (goroR_p_acquire(&R->rt, &m) != 0) {
    goroR_m_unregister(&R->rt, &m);
    goroR_m_set(old);
    goroR_m_destroy(&m);
    goroB_seterr("goro_step: runtime is closed");
    return GORO_STEP_CLOSED;
  }
  goroR_sysmon_start(&R->rt);
  R->stepping = 1;
  rc = goroR_sched_run(&R->rt, &m, NULL,
                      goroR_now() + (budget_s > 0 ? budget_s : 0));
  R->stepping = 0;
  result = (int)R->rt.nrunnable;
  if (R->failed != NULL) {
    lua_State *L = R->LR;
    lua_pushcfunction(L, p_failmsg);
    lua_pushlightuserdata(L, R);
    if (lua_pcall(L, 1, 1, 0) == LUA_OK || lua_isstring(L, -1))
      goroB_seterr(lua_tostring(L, -1));
    else
      goroB_seterr("goro_step: a goroutine failed");
    lua_pop(L, 1);
    R->failed = NULL;
    R->rt.abort = 0;
    result = GORO_STEP_GFAILED;
  } else if (rc == GORO_SCHED_NOMEM) {
    goroB_seterr("goro_step: not enough memory for a goroutine stack");
    result = LUA_ERRMEM;
  }
  goroR_p_release(&R->rt, &m);
  goroR_m_unregister(&R->rt, &m);
  goroR_m_set(old);
  goroR_m_destroy(&m);
  return result;
}

GORO_EXPORT void goro_close(goro_runtime *R) {
  if (R == NULL || R->closed) return;
  if (goroR_m_self() != NULL) {  /* from inside the runtime: it would wait */
    goroB_seterr("goro_close: called from inside the runtime");  /* for itself */
    return;
  }
  goroR_rt_close(&R->rt);
  R->closed = 1;
}

/* ---- goro_call: C -> Lua ----------------------------------------------------- */

struct cbargs {
  goro_fn fn;
  void *ud;
  lua_State *L;
  int status;
};

/* The call run_cb is making on this thread, for the trampoline: cheaper
** than an argument it would have to pop. The trampoline takes it; run_cb
** restores the one before, so a callback made from a call hook between the
** two leaves the outer one in place. */
static __thread struct cbargs *cb_next __attribute__((tls_model("initial-exec")));

int goroB_cb_trampoline(lua_State *L) {
  struct cbargs *a = cb_next;
  if (a == NULL || a->L != L)  /* called from Lua, say through debug */
    return luaL_error(L, "goro_call: trampoline called out of turn");
  cb_next = NULL;  /* fn may block and move the G to another thread */
  a->fn(L, a->ud);
  return 0;
}

static int cb_msgh(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
      msg = lua_tostring(L, -1);
    else
      msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* Runs fn protected on a->L (on whatever stack we are on now). */
static void *run_cb(void *p) {
  struct cbargs *a = p;
  lua_State *L = a->L;
  int top = lua_gettop(L);
  if (!lua_checkstack(L, 4)) {
    a->status = LUA_ERRMEM;
    goroB_seterr("goro_call: Lua stack overflow");
    return NULL;
  }
  struct cbargs *prev = cb_next;
  lua_pushcfunction(L, cb_msgh);
  lua_pushcfunction(L, goroB_cb_trampoline);
  cb_next = a;
  a->status = lua_pcall(L, 0, 0, top + 1);
  cb_next = prev;
  if (a->status != LUA_OK) goroB_seterr(lua_tostring(L, -1));
  lua_settop(L, top);
  return NULL;
}

/* The stack a callback's Lua frames go on: the extra G's own, or the
** stack of the G that made the cgocall. */
static goro_ctx *g_stack(struct goro_m *mp, struct goro_g *gp) {
  if (gp->isextra) {
    if (mp->xstack == NULL) {
      if ((mp->xstack = goroR_stack_get()) == NULL) return NULL;
      goroA_ctx_init_stack(&mp->xctx, &mp->xstack->desc);
    }
    return &mp->xctx;
  }
  return &gp->carrier->ctx;
}

/* (a) and (b): a real crossing from the M's g0 onto the G's stack. */
static int callback(struct goro_runtime *R, struct goro_m *mp, struct cbargs *a) {
  int nested = mp->ncgo > 0;
  goro_ctx *d;
  struct goro_g *gp;
  struct goro_xrec *xr = goroA_xrec_self();

  if (goroR_callback_enter(&R->rt, mp) != 0) {
    goroB_seterr("goro_call: runtime is closed");
    return GORO_CLOSED;
  }
  gp = mp->curg;
  a->status = LUA_ERRMEM;
  if (gp->isextra && gp->ud == NULL && !goroB_bg_extra(R, gp)) {
    goroB_seterr("goro_call: not enough memory");
    goto out;
  }
  a->L = nested ? mp->cgoL : goroB_cb_thread_get(R);
  if (a->L == NULL || (d = g_stack(mp, gp)) == NULL) {
    goroB_seterr("goro_call: not enough memory");
    goto out;
  }
  if (xr->depth == 0) xr->stack = &mp->g0.stack;  /* a host on its own stack */
  {
#ifdef GORO_CHECKS
    uintptr_t depth = xr->depth;
    int ncgo = mp->ncgo, ncb = mp->ncallback;
#endif
    struct bg *b = gp->ud;
    lua_State *runL = RD(b->runL);
    if (a->L != runL) goroB_bg_run_on(b, a->L);  /* nested: the same thread */
    goroA_ctx_call(goroR_crossing_target(mp, &d->stack), d, run_cb, a);
    if (a->L != runL) goroB_bg_run_on(b, runL);
#ifdef GORO_CHECKS
    if (xr->depth != depth || mp->ncgo != ncgo || mp->ncallback != ncb ||
        goroR_m_self() != mp)
      goroR_throw("goro_call: crossing not restored (depth %lu/%lu, ncgo %d/%d, "
                 "ncallback %d/%d)", (unsigned long)xr->depth,
                 (unsigned long)depth, mp->ncgo, ncgo, mp->ncallback, ncb);
#endif
  }
  if (!nested) goroB_cb_thread_put(R, a->L);
out:
  goroR_callback_exit(&R->rt, mp);
  return a->status;
}

GORO_EXPORT int goro_call(goro_runtime *R, goro_fn fn, void *ud) {
  struct cbargs a = {fn, ud, NULL, LUA_OK};
  struct goro_m *mp, *old;
  int rc;

  if (R == NULL || R->closed || R->rt.closing) {
    goroB_seterr("goro_call: runtime is closed");
    return GORO_CLOSED;
  }
  if (fn == NULL) {
    goroB_seterr("goro_call: no function");
    return LUA_ERRRUN;
  }
  mp = goroR_m_self();
  if (mp != NULL && mp->rt != &R->rt && (mp->curg != NULL || mp->ncgo > 0)) {
    goroB_seterr("goro_call: this thread runs another runtime's goroutine");
    return LUA_ERRRUN;
  }
  if (mp != NULL && mp->curg != NULL && mp->curg->status == GORO_GRUNNING) {
    /* (c) this thread runs Lua with the P: a direct protected call */
    if ((a.L = goroB_cb_thread_get(R)) == NULL) {
      goroB_seterr("goro_call: not enough memory");
      return LUA_ERRMEM;
    }
    struct bg *b = mp->curg->ud;
    lua_State *runL = RD(b->runL);
    WR(mp->ncallback, mp->ncallback + 1);
    goroB_bg_run_on(b, a.L);
    run_cb(&a);
    goroB_bg_run_on(b, runL);
    WR(mp->ncallback, mp->ncallback - 1);
    goroB_cb_thread_put(R, a.L);
    return a.status;
  }
  if (mp != NULL && mp->ncgo > 0) return callback(R, mp, &a);  /* (a) */
  if (mp != NULL) {
    goroB_seterr("goro_call: this thread runs the scheduler, not a goroutine");
    return LUA_ERRRUN;
  }
  if ((mp = goroR_extram_get(&R->rt)) == NULL) {  /* (b) a host thread */
    goroB_seterr(R->rt.closing ? "goro_call: runtime is closed"
                          : "goro_call: no extra M (out of memory)");
    return R->rt.closing ? GORO_CLOSED : LUA_ERRMEM;
  }
  old = goroR_m_set(mp);
  rc = callback(R, mp, &a);
  goroR_m_set(old);
  return rc;
}

/* ---- goro_cgocall: Lua -> C ------------------------------------------------------ */

struct cgoargs {
  void (*fn)(void *);
  void *arg;
};

static void *run_c(void *p) {
  struct cgoargs *c = p;
  c->fn(c->arg);
  return NULL;
}

GORO_EXPORT int goro_cgocall(lua_State *L, void (*fn)(void *arg), void *arg) {
  struct goro_m *mp = goroR_m_self();
  struct cgoargs c = {fn, arg};
  struct goro_rt *rt;
  void *savedL;

  if (fn == NULL) return GORO_BADARG;
  if (mp == NULL || mp->curg == NULL || mp->curg->status != GORO_GRUNNING ||
      (rt = mp->rt) == NULL) {
    fn(arg);  /* not on a G: there is no P to lend */
    return 0;
  }
  savedL = mp->cgoL;
  mp->cgoL = L;
  {
#ifdef GORO_CHECKS
    struct goro_xrec *xr = goroA_xrec_self();
    uintptr_t depth = xr->depth;
    int ncb = mp->ncallback;
#endif
    goroR_syscall_enter(rt, mp);
    goroA_ctx_call(goroR_crossing_target(mp, &mp->g0.stack), &mp->g0, run_c, &c);
#ifdef GORO_CHECKS
    if (xr->depth != depth || mp->ncallback != ncb || goroR_m_self() != mp)
      goroR_throw("goro_cgocall: crossing not restored (depth %lu/%lu, "
                 "ncallback %d/%d)", (unsigned long)xr->depth,
                 (unsigned long)depth, mp->ncallback, ncb);
#endif
    goroR_syscall_exit(rt, mp);
  }
  mp->cgoL = savedL;
  if (atomic_load_explicit(&mp->prof_cgo, memory_order_relaxed) > 0) {
    /* Samples taken in C: the G's stack is readable again (we hold the P).
    ** The handler no longer touches these (the G is RUNNING). */
    int n = atomic_exchange(&mp->prof_cgo, 0);
    int kept = n < GORO_PROF_CGO_PCS ? n : GORO_PROF_CGO_PCS;
    uint32_t sess = atomic_load(&mp->prof_cgo_sess);
    for (int i = 0; i < kept; i++)  /* each kept PC stands for n/kept samples */
      goroB_prof_record(L, mp->curg->id, sess, n / kept + (i < n % kept),
                       mp->prof_cgo_pcs[i]);
  }
  return 0;
}

GORO_EXPORT int goro_is_extra_in_c(void) {
  struct goro_m *mp = goroR_m_self();
  if (mp == NULL) mp = goroR_extram_bound();
  return mp != NULL && mp->isextra && mp->isExtraInC;
}
