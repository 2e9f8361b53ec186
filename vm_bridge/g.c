/*
** vm_bridge/g.c — goroutines from Lua: goro.run, goro.go, G handles, yield,
** sleep and introspection. The hooks through which the scheduler runs a
** G's Lua code are in universe.c.
**
** Who touches a lua_State: the running G touches its own thread; wakers
** only move a value onto or off a parked G's stack, within room it reserved
** (lua_pushvalue, lua_xmove: they never raise); the
** scheduler side (hooks) uses only lua_resume (protected) and non-raising
** table operations. Anything that may raise on the scheduler side runs
** after the loop has returned, or inside lua_pcall.
*/
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../arch/ctx.h"
#include "../runtime/errors.h"
#include "../runtime/prof.h"
#include "bridge.h"

/* ---- G handles ------------------------------------------------------------ */

struct bg *goroB_bg_current(lua_State *L) {
  struct goro_m *mp = goroR_m_self();
  (void)L;
  if (mp == NULL || mp->curg == NULL) return NULL;
  return mp->curg->ud;
}

struct bg *goroB_bg_block(lua_State *L, const char *fname) {
  struct bg *b = goroB_bg_current(L);
  if (b == NULL)
    luaL_error(L, "goro: %s called outside a goroutine", fname);
  b->g->selected = -1;
  b->w.g = b->g;
  b->w.ok = 0;
  b->w.index = 1;
  b->w.vidx = 0;
  b->fname = fname;
  return b;
}

void goroB_bg_unqueue(struct goro_rt *rt, struct bg *b) {
  if (b->g != NULL) goroR_timer_del(rt, b->g);
  goroB_chan_leave(rt, &b->w);
  for (int i = 0; i < b->nsel; i++) goroB_chan_leave(rt, &b->sel[i]);
  free(b->sel);
  b->sel = NULL;
  b->nsel = 0;
}

/*
** Stackless when L is the G's own thread and can yield (and the G is not
** locked to its M: a callback's G parks by putting its M to sleep). A
** finalizer or a borrowed stack (call_on_stack) never can yield (both run
** under a non-yieldable C call), so their checks live on the stackful path
** only, off the fast path: a G must not park inside __gc (the collector
** would stay stopped for the whole universe), nor on a stack it does not
** own.
*/
int goroB_bg_park(lua_State *L, struct bg *b, const char *reason,
                 lua_KContext ctx, lua_KFunction k) {
  int rc;
  if (L == b->L && b->g->lockedm == NULL && lua_isyieldable(L)) {
    goroR_park_prepare(b->g, reason);
    return lua_yieldk(L, 0, ctx, k);
  }
  if (lua_gc(L, LUA_GCCOUNT, 0) < 0) {
    goroB_bg_unqueue(goroR_m_self()->rt, b);
    return luaL_error(L, "goro: %s would block inside a __gc finalizer",
                      b->fname);
  }
  if (b->g->lockedm == NULL && goroA_xrec_self()->depth > 0) {
    goroB_bg_unqueue(goroR_m_self()->rt, b);
    return luaL_error(L, "goro: %s would block on a borrowed stack "
                      "(call_on_stack)", b->fname);
  }
  if ((rc = goroR_park(b->g, reason)) != 0) {
    goroB_bg_unqueue(goroR_m_self()->rt, b);
    b->unwound = rc == GORO_EENDED;
    return luaL_error(L, "goro: %s while %s was blocked",
                      rc == GORO_EENDED ? "the run ended" : "runtime closed",
                      b->fname);
  }
  return k(L, LUA_OK, ctx);
}

/* Make a G running fn (at index fidx) with the nargs values after it. Leaves
** the handle on the stack. Raises only before the G exists. The handle's
** second user value is the function that called goro.go (for the dump's
** "created by ... at"), its line in b->line: cheaper than formatting a
** location for every G that is never dumped. Upvalue 2 of the calling
** function is the handle metatable. */
static struct bg *new_g(lua_State *L, struct goro_runtime *R, int fidx,
                        int nargs, int lazy) {
  struct bg *b;
  lua_State *T = NULL;
  lua_Debug ar;

  b = lua_newuserdatauv(L, sizeof *b, 2);
  memset(b, 0, sizeof *b);
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_setmetatable(L, -2);
  if (lazy && nargs == 0)
    lua_pushvalue(L, fidx);  /* its thread comes at its first run */
  else
    T = lua_newthread(L);
  lua_setiuservalue(L, -2, 1);
  if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "lf", &ar)) {
    b->line = ar.currentline;
    lua_setiuservalue(L, -2, 2);
  }
  b->ref = goroB_bg_anchor(L, R);
  if (T != NULL) {
    for (int i = 0; i <= nargs; i++) lua_pushvalue(L, fidx + i);
    lua_xmove(L, T, nargs + 1);
  }
  b->L = T;
  b->nargs = nargs;
  goroR_g_init(&R->rt, &b->rec, b);
  b->g = &b->rec;
  return b;
}

/* ---- goro.go, goro.self, g.id, g:status(), g:wait() ------------------------ */

static int l_go(lua_State *L) {
  struct goro_runtime *R = lua_touserdata(L, lua_upvalueindex(1));
  luaL_checktype(L, 1, LUA_TFUNCTION);
  if (R->closed) return luaL_error(L, "goro.go: runtime is closed");
  new_g(L, R, 1, lua_gettop(L) - 1, 1);
  return 1;
}

static int l_self(lua_State *L) {
  struct bg *b = goroB_bg_current(L);
  if (b == NULL) return 0;
  goroB_bg_push(L, b);
  return 1;
}

const char *goroB_g_status_name(struct bg *b) {
  if (b->g == NULL) return "dead";
  switch (b->g->status) {
    case GORO_GRUNNABLE: return "runnable";
    case GORO_GRUNNING: return "running";
    case GORO_GWAITING: return "waiting";
    case GORO_GSYSCALL: return "syscall";
    default: return "dead";
  }
}

static int g_status(lua_State *L) {
  struct bg *b = luaL_checkudata(L, 1, GORO_G_MT);
  lua_pushstring(L, goroB_g_status_name(b));
  return 1;
}

/* Push `true, results...` or `false, err` of an ended G (copies: many may
** wait for the same G). */
static int push_results(lua_State *L, struct bg *t) {
  int n = t->nres, top;
  luaL_checkstack(L, n + 1, "too many results");
  if (!t->done) {  /* abandoned by an earlier run */
    lua_pushboolean(L, 0);
    lua_pushliteral(L, "goroutine was abandoned when its run ended");
    return 2;
  }
  lua_pushboolean(L, !t->failed);
  if (t->L == NULL) {  /* it could not start: the error is user value 1 */
    lua_getiuservalue(L, 1, 1);  /* (t's handle is g:wait's self) */
    return 2;
  }
  top = lua_gettop(t->L);
  for (int i = top - n + 1; i <= top; i++) {
    if (!lua_checkstack(t->L, 1)) return luaL_error(L, "wait: out of memory");
    lua_pushvalue(t->L, i);
    lua_xmove(t->L, L, 1);
  }
  return n + 1;
}

static int g_wait_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  (void)ctx;
  return push_results(L, lua_touserdata(L, 1));
}

static int g_wait(lua_State *L) {
  struct bg *t = luaL_checkudata(L, 1, GORO_G_MT), *b;
  if (t->g == NULL) return push_results(L, t);
  b = goroB_bg_block(L, "wait");
  if (b == t) return luaL_error(L, "goro: a goroutine cannot wait for itself");
  goroR_waitq_push(&t->g->waiters, &b->w);
  lua_settop(L, 1);
  return goroB_bg_park(L, b, "wait", 0, g_wait_k);
}

static int g_index(lua_State *L) {
  struct bg *b = luaL_checkudata(L, 1, GORO_G_MT);
  const char *k = luaL_checkstring(L, 2);
  if (strcmp(k, "id") == 0) {
    lua_pushinteger(L, (lua_Integer)b->rec.id);
    return 1;
  }
  lua_getmetatable(L, 1);
  lua_getfield(L, -1, k);
  return 1;
}

static int g_tostring(lua_State *L) {
  struct bg *b = luaL_checkudata(L, 1, GORO_G_MT);
  lua_pushfstring(L, "goroutine %I (%s)", (lua_Integer)b->rec.id, goroB_g_status_name(b));
  return 1;
}

/* ---- yield, sleep, now ------------------------------------------------------ */

/* A locked G (in a callback) cannot leave its thread, so its yield is a
** no-op; inside a finalizer (the whole universe's collector would wait) or
** on a borrowed stack (call_on_stack: a switch would strand the crossing)
** it raises, as blocking does. */
static int l_yield(lua_State *L) {
  struct bg *b = goroB_bg_current(L);  /* (no wait queue: not bg_block) */
  if (b == NULL) return luaL_error(L, "goro: yield called outside a goroutine");
  if (b->g->lockedm != NULL) return 0;
  if (L == b->L && lua_isyieldable(L)) return lua_yield(L, 0);
  if (lua_gc(L, LUA_GCCOUNT, 0) < 0)  /* the collector waits for us */
    return luaL_error(L, "goro: yield would switch away inside a __gc finalizer");
  if (goroA_xrec_self()->depth > 0)
    return luaL_error(L, "goro: yield would switch away from a borrowed stack "
                      "(call_on_stack)");
  goroR_gosched(b->g);
  return 0;
}

static int sleep_k(lua_State *L, int status, lua_KContext ctx) {
  (void)L;
  (void)status;
  (void)ctx;
  return 0;
}

static int l_sleep(lua_State *L) {
  double s = luaL_checknumber(L, 1);
  struct bg *b = goroB_bg_block(L, "sleep");
  if (!(s > 0)) return 0;  /* as Go: a non-positive duration returns at once */
  goroR_timer_add(goroR_m_self()->rt, b->g, goroR_now() + s);
  return goroB_bg_park(L, b, "sleep", 0, sleep_k);
}

static int l_now(lua_State *L) {
  lua_pushnumber(L, goroR_now());
  return 1;
}

/* In protected mode: push the dump of the runtime at argument 1. */
static int pdump(lua_State *L) {
  goroB_push_dump(L, lua_touserdata(L, 1));
  return 1;
}

/* ---- goro.run ----------------------------------------------------------------- */

/* Push the error of failed G b as the run reports it: a string error gets
** the G's id and its traceback. The main G's other values pass unchanged
** (goro.run(f) fails as pcall(f) would); another G's are made text first,
** as lua.c does: through __tostring, or naming their type. */
void goroB_push_gerror(lua_State *L, struct bg *b, int hidx) {
  if (b->L == NULL) {  /* it could not start: the error is user value 1 */
    lua_getiuservalue(L, hidx, 1);
    if (lua_type(L, -1) == LUA_TSTRING) {
      lua_pushfstring(L, "goroutine %I: %s", (lua_Integer)b->rec.id,
                      lua_tostring(L, -1));
      lua_remove(L, -2);
    }
    return;
  }
  lua_pushvalue(b->L, -1);
  lua_xmove(b->L, L, 1);
  if (!b->ismain && lua_type(L, -1) != LUA_TSTRING) {
    int e = lua_gettop(L);
    if (lua_isstring(L, e)) {
      lua_tostring(L, e);  /* a number: in place */
    } else {
      if (!luaL_callmeta(L, e, "__tostring") || lua_type(L, -1) != LUA_TSTRING) {
        lua_settop(L, e);
        lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, e));
      }
      lua_replace(L, e);
    }
  }
  if (lua_type(L, -1) == LUA_TSTRING) {
    const char *msg = lua_pushfstring(L, "goroutine %I: %s", (lua_Integer)b->rec.id,
                                      lua_tostring(L, -1));
    luaL_traceback(L, b->L, msg, 0);
    lua_replace(L, -3);
    lua_pop(L, 1);
  }
}

struct bg *goroB_take_failed(lua_State *L, struct goro_runtime *R) {
  struct bg *f = R->failed;
  if (f == NULL) return NULL;
  R->failed = NULL;
  R->rt.abort = 0;
  lua_rawgetp(L, LUA_REGISTRYINDEX, goroB_runtime_key());
  lua_getiuservalue(L, -1, 1);  /* f's handle: keep it while it is read */
  lua_pushnil(L);
  lua_setiuservalue(L, -3, 1);
  lua_remove(L, -2);
  return f;
}

/* After the loop: turn the outcome into results or an error on L. */
static int run_finish(lua_State *L, struct goro_runtime *R, struct bg *mb,
                      int rc, double timeout, int withdump) {
  int dumpidx = lua_gettop(L);  /* valid when withdump */
  struct bg *f = goroB_take_failed(L, R);
  int hidx = lua_gettop(L);  /* f's handle, if f */
  if (f != NULL) {
    mb = f;
    rc = GORO_SCHED_DONE;
  }
  switch (rc) {
    case GORO_SCHED_DONE:
      if (mb->failed) {
        goroB_push_gerror(L, mb, hidx);  /* (the main G has a thread) */
        if (withdump && lua_type(L, -1) == LUA_TSTRING) {
          lua_pushliteral(L, "\n\nall goroutines at the failure:\n\n");
          lua_pushvalue(L, dumpidx);
          lua_concat(L, 3);
        }
        return lua_error(L);
      }
      lua_settop(L, 0);
      luaL_checkstack(L, mb->nres, "too many results");
      lua_xmove(mb->L, L, mb->nres);
      return mb->nres;
    case GORO_SCHED_NOMEM:
      return luaL_error(L, "goro.run: %s (no stack for a goroutine)",
                        goro_strerror(GORO_ENOMEM));
    case GORO_SCHED_BUDGET:
      lua_pushfstring(L, "goro.run: timed out after %f s\n\n", timeout);
      break;
    case GORO_SCHED_DEADLOCK:
      lua_pushliteral(L, "all goroutines are asleep - deadlock!\n\n");
      break;
    default:
      return luaL_error(L, "goro.run: stopped (scheduler result %d, closing %d)",
                        rc, (int)R->rt.closing);
  }
  lua_insert(L, -2);  /* the dump, made before the G's were abandoned */
  lua_concat(L, 2);
  return lua_error(L);
}

/*
** goro.run([opts,] f, ...) -> f's results. Runs f as the main G on this
** thread, which becomes M0 and holds the P until f returns; G's still alive
** then are abandoned. opts: stack_size (bytes), timeout (seconds), dump
** (true: a failure's message also lists every G).
*/
static int l_run(lua_State *L) {
  struct goro_runtime *R = lua_touserdata(L, lua_upvalueindex(1));
  struct goro_m m0, *oldm;
  struct bg *mb;
  int fidx = 1, rc, dump = 0, withdump = 0;
  double timeout = 0, deadline = 0;

  if (lua_istable(L, 1)) {
    fidx = 2;
    if (lua_getfield(L, 1, "stack_size") != LUA_TNIL) {
      lua_Integer sz = lua_tointeger(L, -1);
      if (!lua_isinteger(L, -1))
        return luaL_error(L, "goro.run: stack_size must be an integer");
      if (sz < 0 || goroR_stack_configure((size_t)sz, 16, 1024) != 0)
        return luaL_error(L, "goro.run: stack_size must be at least %d bytes",
                          (int)GORO_STACK_MIN);
    }
    if (lua_getfield(L, 1, "timeout") != LUA_TNIL) {
      if (lua_type(L, -1) != LUA_TNUMBER)
        return luaL_error(L, "goro.run: timeout must be a number");
      timeout = lua_tonumber(L, -1);
      if (!(timeout > 0)) return luaL_error(L, "goro.run: timeout must be > 0");
    }
    dump = lua_getfield(L, 1, "dump") != LUA_TNIL && lua_toboolean(L, -1);
    lua_pop(L, 3);
  }
  luaL_checktype(L, fidx, LUA_TFUNCTION);
  if (R->closed) return luaL_error(L, "goro.run: runtime is closed");
  if (R->running || goroB_bg_current(L) != NULL)
    return luaL_error(L, "goro.run: already running (nested goro.run?)");
  if (R->hostmode)
    return luaL_error(L, "goro.run: the host drives this runtime (goro_open)");
  if (goroR_stack_thread_init() != 0)
    return luaL_error(L, "goro.run: %s", goro_strerror(GORO_ENOMEM));
  mb = new_g(L, R, fidx, lua_gettop(L) - fidx, 0);  /* handle stays on L */
  mb->ismain = 1;
  if (timeout > 0) deadline = goroR_now() + timeout;

  goroR_m_init(&m0);
  goroR_m_learn_stack(&m0);
  oldm = goroR_m_set(&m0);
  goroR_m_register(&R->rt, &m0);
  goroR_p_acquire(&R->rt, &m0);
  goroR_rt_workers_on(&R->rt, 1);  /* they may serve while M0's G is in C */
  goroR_sysmon_start(&R->rt);
  goroR_rt_run_begin(&R->rt, deadline);
  R->running = 1;
  rc = goroR_sched_run(&R->rt, &m0, mb->g, deadline);
  R->running = 0;
  /* The main G ended only because sysmon unwound its callback at the
  ** deadline (a failed G would be in R->failed): the run timed out. */
  if (rc == GORO_SCHED_DONE && mb->unwound && R->failed == NULL)
    rc = GORO_SCHED_BUDGET;
  if (rc == GORO_SCHED_DEADLOCK || rc == GORO_SCHED_BUDGET ||
      (dump && (R->failed != NULL || mb->failed))) {
    withdump = rc != GORO_SCHED_DEADLOCK && rc != GORO_SCHED_BUDGET;
    lua_pushcfunction(L, pdump);
    lua_pushlightuserdata(L, R);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
      lua_pop(L, 1);
      lua_pushliteral(L, "(no dump: out of memory)");
    }
  }
  goroR_rt_quiesce(&R->rt, &m0);  /* G's in C on other M's come back first */
  if (mb->g != NULL) lua_resetthread(mb->L);  /* close its to-be-closed vars */
  goroR_g_abandon_all(&R->rt);
  goroR_rt_workers_on(&R->rt, 0);  /* between runs this thread owns the state */
  goroR_p_release(&R->rt, &m0);
  goroR_m_unregister(&R->rt, &m0);
  goroR_m_set(oldm);
  goroR_m_destroy(&m0);
  return run_finish(L, R, mb, rc, timeout, withdump);
}

/* ---- registration ------------------------------------------------------------- */

const luaL_Reg goroB_g_funcs[] = {
    {"run", l_run},     {"go", l_go},       {"self", l_self},
    {"yield", l_yield}, {"sleep", l_sleep}, {"now", l_now},
    {NULL, NULL},
};

static const luaL_Reg g_methods[] = {
    {"status", g_status},
    {"wait", g_wait},
    {"__index", g_index},
    {"__tostring", g_tostring},
    {NULL, NULL},
};

void goroB_open_g(lua_State *L) {
  luaL_newmetatable(L, GORO_G_MT);
  luaL_setfuncs(L, g_methods, 0);
  lua_pop(L, 1);
}
