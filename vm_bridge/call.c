/*
** vm_bridge/call.c — crossings between C and Lua: goro_call (C -> Lua,
** from any thread) and goro_cgocall (Lua -> C, with the P released while
** the C function runs), and the trampoline through which a callback's
** function runs.
**
** goro_call has three cases (goro.h; runtime/HACKING.md, "The host
** machinery"): (a) from C inside a goro_cgocall, a callback nested in the
** same G, on the G's stack below the C frames; (b) from a host thread with
** no M, on the thread's extra M and its extra G; (c) from a thread that
** runs Lua with the P, a direct protected call. A callback's Lua runs on a
** spare thread of the universe (goroB_cb_thread_get), never on the caller's
** lua_State, except for a callback nested in a cgocall, which runs on the
** state that made the cgocall (mp->cgoL).
**
** The crossings themselves, and every change to an M's counters and
** stacks, are the runtime's (runtime/cgo.c: goroR_cgocall,
** goroR_callback_enter/call/exit); it checks that each crossing comes back
** as it went. A Lua error never crosses into the caller's C frames: fn
** runs under lua_pcall on the far side.
**
** Locks: none held here. Taking the P is the runtime's (callback_enter,
** syscall_exit), and every Lua API call runs with the P held.
*/
#include "bridge.h"

/* ---- goro_call: C -> Lua ------------------------------------------------- */

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

/* (a) and (b): a real crossing from the M's g0 onto the G's stack, made
** by the runtime (goroR_callback_call); this side picks the Lua thread
** and tells the profiler where the G's Lua runs meanwhile. */
static int callback(struct goro_runtime *R, struct goro_m *mp, struct cbargs *a) {
  int nested = mp->ncgo > 0;
  struct goro_g *gp;

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
  if (a->L == NULL) {
    goroB_seterr("goro_call: not enough memory");
    goto out;
  }
  {
    struct bg *b = gp->ud;
    lua_State *runL = RD(b->runL);
    if (a->L != runL) goroB_bg_run_on(b, a->L);  /* nested: the same thread */
    if (goroR_callback_call(mp, run_cb, a) != 0)
      goroB_seterr("goro_call: not enough memory (no stack)");
    if (a->L != runL) goroB_bg_run_on(b, runL);
  }
  if (!nested) goroB_cb_thread_put(R, a->L);
out:
  goroR_callback_exit(&R->rt, mp);
  return a->status;
}

static int call(goro_runtime *R, goro_fn fn, void *ud) {
  struct cbargs a = {fn, ud, NULL, LUA_OK};
  struct goro_m *mp, *old;
  int rc;

  if (R == NULL || R->closed != GORO_RT_OPEN || R->rt.closing) {
    goroB_seterr("goro_call: runtime is closed");
    return GORO_CLOSED;
  }
  if (fn == NULL) {
    goroB_seterr("goro_call: no function");
    return LUA_ERRRUN;
  }
  mp = goroR_m_self();
  if (mp != NULL && (mp->rt != NULL ? mp->rt : mp->home) != &R->rt &&
      (mp->curg != NULL || mp->ncgo > 0)) {  /* (a worker running a C call
                                               handed off to it has no P) */
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
    goroR_callback_direct_enter(mp);
    goroB_bg_run_on(b, a.L);
    run_cb(&a);
    goroB_bg_run_on(b, runL);
    goroR_callback_direct_exit(mp);
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

/* A host thread is never cancelled inside goro: it would unwind holding
** the P, the runtime's lock or a G in C (HACKING.md, "Host threads that
** end"). A cancellation sent meanwhile waits for the thread's next
** cancellation point after the call. A thread that is an M is inside goro
** already (goro.run, goro_step, an outer goro_call, a worker), which
** disabled it: a callback made from C on a G does not pay for it again. */
GORO_EXPORT int goro_call(goro_runtime *R, goro_fn fn, void *ud) {
  int cancel, rc;
  if (goroR_m_self() != NULL) return call(R, fn, ud);
  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
  rc = call(R, fn, ud);
  pthread_setcancelstate(cancel, NULL);
  return rc;
}

/* ---- goro_cgocall: Lua -> C ---------------------------------------------- */

GORO_EXPORT int goro_cgocall(lua_State *L, void (*fn)(void *arg), void *arg) {
  struct goro_m *mp = goroR_m_self();
  struct goro_rt *rt;
  struct goro_cgo_samples smp;

  if (fn == NULL) return GORO_BADARG;
  if (mp == NULL || mp->curg == NULL || mp->curg->status != GORO_GRUNNING ||
      (rt = mp->rt) == NULL) {
    fn(arg);  /* not on a G: there is no P to lend */
    return 0;
  }
  goroR_cgocall(rt, mp, fn, arg, L, &smp);
  mp = goroR_m_self();  /* (maybe another M: a frame thread's C call ran on
                           a worker) */
  /* Samples taken in C: the G's stack is readable again (we hold the P). */
  for (int i = 0; i < smp.kept; i++)
    goroB_prof_record(L, mp->curg->id, smp.sess, smp.counts[i], smp.pcs[i]);
  /* A G locked to this thread waits for it: let it run (runtime/locked.c),
  ** where a yield may switch away. */
  if (goroR_home_wanted(rt, mp) && mp->curg->lockedm == NULL) {
    struct bg *b = goroB_bg_current(L);
    if (b != NULL && !goroB_in_finalizer(L, b) && goroA_xrec_self()->depth == 0)
      goroR_gosched(b->w.g);
  }
  return 0;
}
