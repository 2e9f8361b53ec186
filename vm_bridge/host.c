/*
** vm_bridge/host.c — the C API for hosts that embed Lua: goro_open,
** goro_runtime_of, goro_step, goro_close, goro_is_extra_in_c. The calls
** between C and Lua (goro_call, goro_cgocall) are in call.c; the error
** text (goro_errmsg) in util.c.
**
** Ownership (runtime/HACKING.md, "Who may touch a lua_State"): after
** goro_open the host touches its lua_State only inside goro_step (which
** takes the P for the calling thread) or from G's. Errors are status
** codes plus the calling thread's goro_errmsg(): no Lua error leaves a
** function here.
**
** Locks: none held here; goro_step takes the P through the runtime
** (goroR_p_acquire) for the calling thread, and gives it back before it
** returns.
*/
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
  if (R->closed != GORO_RT_OPEN) {
    goroB_seterr("goro_open: runtime is closed");
    return NULL;
  }
  R->hostmode = 1;
  (void)goroR_stepm_get(&R->rt);  /* this is the frame thread (lockthread) */
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

static int step(goro_runtime *R, double budget_s) {
  /* The budget starts now: finding this thread's M counts against it. */
  double deadline = goroR_now() + (budget_s > 0 ? budget_s : 0);
  struct goro_m *mp, *old;
  struct goro_step_result r;
  int result;

  if (R == NULL || R->closed != GORO_RT_OPEN) {
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
  if ((mp = goroR_stepm_get(&R->rt)) == NULL) {
    goroB_seterr("goro_step: not enough memory");
    return LUA_ERRMEM;
  }
  goroR_m_learn_stack(mp);
  old = goroR_m_set(mp);
  goroR_stepm_enter(mp);
  goroR_step(&R->rt, mp, deadline, &r);
  result = (int)(RD(R->rt.nrunnable) + RD(R->rt.nhome));
  if (r.sched == GORO_SCHED_ABORT && !r.held) {  /* the P never came */
    goroR_stepm_leave(mp);
    goroR_m_set(old);
    goroB_seterr("goro_step: runtime is closed");
    return GORO_STEP_CLOSED;
  }
  if (!r.held) {  /* the budget ended without the P: next frame */
  } else if (R->failed != NULL) {
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
  } else if (r.sched == GORO_SCHED_NOMEM) {
    goroB_seterr("goro_step: not enough memory for a goroutine stack");
    result = LUA_ERRMEM;
  }
  if (r.held) goroR_p_release(&R->rt, mp);
  goroR_stepm_leave(mp);
  goroR_m_set(old);
  return result;
}

/* Not cancelled inside: see goro_call (call.c). */
GORO_EXPORT int goro_step(goro_runtime *R, double budget_s) {
  int cancel, rc;
  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
  rc = step(R, budget_s);
  pthread_setcancelstate(cancel, NULL);
  return rc;
}

GORO_EXPORT int goro_close(goro_runtime *R) {
  if (R == NULL) {
    goroB_seterr("goro_close: no runtime");
    return GORO_EINVAL;
  }
  if (R->closed != GORO_RT_OPEN) return 0;
  if (goroR_m_self() != NULL) {  /* from inside the runtime: it would wait */
    goroB_seterr("goro_close: called from inside the runtime (a goroutine, "
                 "a callback or goro_step), which it would wait for");
    return GORO_ESTATE;
  }
  {
    int cancel;  /* not cancelled while it waits: see goro_call */
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
    goroR_rt_close(&R->rt);
    pthread_setcancelstate(cancel, NULL);
  }
  R->closed = GORO_RT_CLOSED;
  goroB_tpool_drain(R->LR, R);  /* (the state is the host's again) */
  return 0;
}

GORO_EXPORT int goro_is_extra_in_c(void) {
  struct goro_m *mp = goroR_m_self();
  if (mp == NULL) mp = goroR_extram_bound();
  return mp != NULL && mp->isextra && mp->isExtraInC;
}

/* ---- hosts that own the loop: goro_pollfd, goro_timeout ------------------ */

/* A goro_call body: make the poller (only the P's owner may) and mark it
** polled by the host; its fd into *ud (-1 on failure). */
static int pollfd_with_p(lua_State *T, void *ud) {
  struct goro_runtime *R = goroB_runtime_get(T);
  int err = 0;
  struct goro_netpoll *np = goroR_netpoll_get(&R->rt, &err);
  if (np == NULL) {
    *(int *)ud = -1;
    return 0;
  }
  WR(np->hostpoll, 1);
  *(int *)ud = np->epfd;
  return 0;
}

GORO_EXPORT int goro_pollfd(goro_runtime *R) {
  struct goro_netpoll *np;
  int fd = -1;
  if (R == NULL || R->closed != GORO_RT_OPEN) {
    goroB_seterr("goro_pollfd: runtime is closed");
    return -1;
  }
  if ((np = atomic_load(&R->rt.np)) != NULL && np->hostpoll) return np->epfd;
  if (goro_call(R, pollfd_with_p, &fd) != LUA_OK) return -1;
  if (fd < 0) goroB_seterr("goro_pollfd: cannot make the poller");
  return fd;
}

GORO_EXPORT double goro_timeout(goro_runtime *R) {
  double when, now;
  if (R == NULL || R->closed != GORO_RT_OPEN) return -1;
  if (RD(R->rt.nrunnable) > 0 || RD(R->rt.nhome) > 0 ||
      atomic_load(&R->rt.ncgoret) > 0)
    return 0;  /* (nhome: G's locked to a frame thread wait for a step) */
  when = atomic_load(&R->rt.next_when);
  if (when == 0) return -1;
  now = goroR_now();
  return when > now ? when - now : 0;
}

