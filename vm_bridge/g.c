/*
** vm_bridge/g.c — G handles (userdata "goro.g"): goro.go, goro.self, g.id,
** g:status(), g:wait(); and what every blocking operation of the bridge
** does with the running G: find it (goroB_bg_current), reset its waiter
** (goroB_bg_block), park it (goroB_bg_park), and take it out of every
** queue when it may not park or has ended (goroB_bg_unqueue).
**
** A handle outlives its G: b->w.g (the G) is NULL once the G has ended,
** and g:wait() then copies the results the G left on its own thread
** (b->nres values on top of b->L), so that any number of G's may wait for
** it; or, once the thread went to the pool (b->pooled), its result from
** the handle's user value 1: never from a thread another G may run on now.
**
** Who touches a lua_State: the running G touches its own thread; wakers
** only move a value onto or off a parked G's stack, within room it reserved
** (lua_pushvalue, lua_xmove: they never raise). Everything here runs with
** the P held, so nothing needs a lock.
*/
#include <stdlib.h>
#include <string.h>

#include "../arch/ctx.h"
#include "../runtime/errors.h"
#include "bridge.h"

/* ---- G handles ----------------------------------------------------------- */

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
  goroR_assert(b->w.g != NULL && b->w.g->ud == b);
  goroR_assert(b->w.q == NULL && b->sel == NULL && b->nsel == 0);
  b->w.g->selected = -1;
  b->w.ok = 0;
  b->w.index = 1;
  b->w.vidx = 0;
  b->w.kind = GORO_WAITER_PLAIN;
  b->w.g->durable = 0;  /* (goroB_bg_park decides, if it parks) */
  return b;
}

void goroB_bg_unqueue(struct goro_rt *rt, struct bg *b) {
  if (b->w.g != NULL) goroR_timer_del(rt, b->w.g);
  goroB_chan_leave(rt, &b->w);
  for (int i = 0; i < b->nsel; i++) goroB_chan_leave(rt, &b->sel[i]);
  free(b->sel);
  b->sel = NULL;
  b->nsel = 0;
}

struct goro_waiter *goroB_bg_block_ctx(lua_State *L, struct bg *b,
                                       struct goro_waitq *dq) {
  struct goro_waiter *sel = calloc(2, sizeof *sel);
  if (sel == NULL) luaL_error(L, "goro: %s (context wait)", goro_strerror(GORO_ENOMEM));
  for (int i = 0; i < 2; i++) {
    sel[i].g = b->w.g;
    sel[i].index = i == 0 ? 1 : GOROB_CTX_INDEX;
    sel[i].data = L;
    sel[i].kind = GORO_WAITER_PLAIN;
  }
  b->sel = sel;
  b->nsel = 2;
  goroR_waitq_push(dq, &sel[1]);
  return &sel[0];
}

int goroB_bg_unblock_ctx(struct goro_rt *rt, struct bg *b, int *ok) {
  int won = b->w.g->selected;
  goroR_assert(b->nsel == 2 && won >= 0);
  /* (sel[0]'s index is 1, or a direction once it waits on a descriptor) */
  won = won == GOROB_CTX_INDEX ? 2 : won == 0 ? 0 : 1;
  *ok = b->sel[0].ok;
  goroB_chan_leave(rt, &b->sel[0]);
  goroB_chan_leave(rt, &b->sel[1]);
  free(b->sel);
  b->sel = NULL;
  b->nsel = 0;
  return won;
}

/* Is a __gc finalizer running on thread T? Lua names a finalizer's frame
** "__gc" (namewhat "metamethod"). */
/* Is frame `level` of T, which Lua names a hook's, really the debug
** library's hook function for T? (ldblib keeps it at
** registry._HOOKKEY[T].) A finalizer that the collector runs from a step
** taken while a hook is dispatched is named "hook" too: its caller frame
** is marked hooked, which Lua's naming looks at before the finalizer mark. */
static int is_hook_function(lua_State *T, lua_Debug *ar) {
  int is;
  if (!lua_checkstack(T, 4)) return 1;  /* (cannot tell: the safer guess) */
  lua_getinfo(T, "f", ar);
  if (lua_getfield(T, LUA_REGISTRYINDEX, "_HOOKKEY") != LUA_TTABLE) {
    lua_pop(T, 2);
    return 0;
  }
  lua_pushthread(T);
  lua_rawget(T, -2);
  is = lua_rawequal(T, -1, -3);
  lua_pop(T, 3);
  return is;
}

/* Does T run a finalizer: a frame Lua names "__gc", or one it names
** "hook" that is not T's hook function? Asked only while the collector
** is stopped, that is while some finalizer runs. */
static int runs_finalizer(lua_State *T) {
  lua_Debug ar;
  for (int level = 0; lua_getstack(T, level, &ar); level++) {
    if (!lua_getinfo(T, "n", &ar) || ar.namewhat == NULL) continue;
    if (ar.name != NULL && ar.namewhat[0] == 'm' && strcmp(ar.name, "__gc") == 0)
      return 1;
    if (strcmp(ar.namewhat, "hook") == 0 && !is_hook_function(T, &ar)) return 1;
  }
  return 0;
}

int goroB_in_finalizer(lua_State *L, struct bg *b) {
  /* The collector stays stopped while any finalizer runs, in any G (one
  ** may be in C through goro_cgocall): only a stopped collector makes us
  ** look, and then only at this G's threads. */
  if (lua_gc(L, LUA_GCCOUNT, 0) >= 0) return 0;
  return runs_finalizer(L) || (b->L != NULL && b->L != L && runs_finalizer(b->L));
}

/*
** Stackless when L is the G's own thread and can yield (and the G is not
** locked to its M: a callback's G parks by putting its M to sleep). A
** finalizer or a borrowed stack (call_on_stack) never can yield (both run
** under a non-yieldable C call), so their checks live on the stackful path
** only, off the fast path: a G must not park inside __gc (the collector
** would stay stopped for the whole universe), nor on a stack it does not
** own. Another G's finalizer that is in C meanwhile (the collector stopped
** for everyone) is not this G's business.
*/
static int stackless(lua_State *L, struct bg *b) {
  return L == b->L && !goroR_g_sleeps_locked(b->w.g) && lua_isyieldable(L);
}

const char *goroB_bg_cannot_park(lua_State *L, struct bg *b) {
  if (stackless(L, b)) return NULL;
  if (goroB_in_finalizer(L, b))
    return "goro: %s would block inside a __gc finalizer";
  if (!goroR_g_sleeps_locked(b->w.g) && goroA_xrec_self()->depth > 0)
    return "goro: %s would block on a borrowed stack (call_on_stack)";
  return NULL;
}

/* Is b's coming park durable in its bubble: can only a G of the bubble
** end it (HACKING.md, "Virtual time")? Every queue it waits on was made
** in the bubble (I/O's never is), or it sleeps on the bubble's clock
** with no queue, or it is the bubble's synctest.wait. */
static int durable(struct bg *b) {
  struct goro_g *gp = b->w.g;
  uint64_t id = goroR_bubble_id(gp);
  int queued = 0;
  if (id == 0) return 0;
  if (gp->bubble->waitg == gp) return 1;
  if (b->w.q != NULL) {
    if (b->w.kind == GORO_WAITER_PD || b->w.q->bubble != id) return 0;
    queued = 1;
  }
  for (int i = 0; i < b->nsel; i++) {
    if (b->sel[i].q == NULL) continue;
    if (b->sel[i].kind == GORO_WAITER_PD || b->sel[i].q->bubble != id) return 0;
    queued = 1;
  }
  return queued || (gp->timer.heapidx >= 0 && gp->timer.bubbled);
}

int goroB_bg_park(lua_State *L, struct bg *b, const char *fname,
                  const char *reason, lua_KContext ctx, lua_KFunction k) {
  const char *why;
  int rc;
  if (b->w.g->bubble != NULL) b->w.g->durable = (uint8_t)durable(b);
  if (stackless(L, b)) {
    goroR_park_prepare(b->w.g, reason);
    return lua_yieldk(L, 0, ctx, k);
  }
  if ((why = goroB_bg_cannot_park(L, b)) != NULL) {
    goroB_bg_unqueue(goroR_m_self()->rt, b);
    return luaL_error(L, why, fname);
  }
  if ((rc = goroR_park(b->w.g, reason)) != 0) {
    goroB_bg_unqueue(goroR_m_self()->rt, b);
    return goroB_bg_park_failed(L, b, rc, fname);
  }
  return k(L, LUA_OK, ctx);
}

int goroB_bg_park_failed(lua_State *L, struct bg *b, int rc, const char *fname) {
  b->unwound = rc == GORO_EENDED;
  return luaL_error(L, "goro: %s while %s was blocked",
                    rc == GORO_EENDED ? "the run ended" : "runtime closed", fname);
}

/* Make a G running fn (at index fidx) with the nargs values after it. Leaves
** the handle on the stack. Raises only before the G exists. The handle's
** second user value is the function that called goro.go (for the dump's
** "created by ... at"), its line in b->line: cheaper than formatting a
** location for every G that is never dumped. Upvalue 2 of the calling
** function is the handle metatable. A G of a scope (scopeidx > 0) has a
** third user value, its scope, for the dump. */
struct bg *goroB_bg_new(lua_State *L, struct goro_runtime *R, int fidx,
                        int nargs, int lazy, int scopeidx) {
  struct bg *b;
  lua_State *T = NULL;
  lua_Debug ar;

  b = lua_newuserdatauv(L, sizeof *b, scopeidx > 0 ? 3 : 2);
  memset(b, 0, sizeof *b);
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_setmetatable(L, -2);
  if (lazy && nargs == 0) {
    lua_pushvalue(L, fidx);  /* its thread comes at its first run */
  } else if (lazy && (T = goroB_tpool_take(L, R)) != NULL) {
    /* (lazy is 0 only for goro.run's main G, whose thread is new) */
    if (lua_gethook(L) != NULL)  /* as lua_newthread would have done */
      lua_sethook(T, lua_gethook(L), lua_gethookmask(L), lua_gethookcount(L));
  } else {
    T = lua_newthread(L);
  }
  lua_setiuservalue(L, -2, 1);
  if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "lf", &ar)) {
    b->line = ar.currentline;
    lua_setiuservalue(L, -2, 2);
  }
  if (scopeidx > 0) {
    lua_pushvalue(L, scopeidx);
    lua_setiuservalue(L, -2, 3);
  }
  if (T != NULL) lua_getiuservalue(L, -1, 1);
  b->ref = goroB_bg_anchor(L, R, T != NULL ? -2 : -1, T != NULL ? -1 : 0);
  if (T != NULL) lua_pop(L, 1);
  if (T != NULL) {
    for (int i = 0; i <= nargs; i++) lua_pushvalue(L, fidx + i);
    lua_xmove(L, T, nargs + 1);
  }
  b->L = T;
  b->nargs = nargs;
  goroR_g_init(&R->rt, &b->rec, b);
  b->w.g = &b->rec;
  return b;
}

/* ---- goro.go, goro.self, g.id, g:status(), g:wait() ---------------------- */

static int l_go(lua_State *L) {
  struct goro_runtime *R = lua_touserdata(L, lua_upvalueindex(1));
  luaL_checktype(L, 1, LUA_TFUNCTION);
  if (R->closed != GORO_RT_OPEN)
    return luaL_error(L, "goro.go: runtime is closed");
  goroB_bg_new(L, R, 1, lua_gettop(L) - 1, 1, 0);
  return 1;
}

static int l_self(lua_State *L) {
  struct bg *b = goroB_bg_current(L);
  if (b == NULL) return 0;
  goroB_bg_push(L, lua_touserdata(L, lua_upvalueindex(1)), b);
  return 1;
}

const char *goroB_g_status_name(struct bg *b) {
  if (b->w.g == NULL) return "dead";
  switch (b->w.g->status) {
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
  luaL_checkstack(L, n + 2, "too many results");
  if (!t->done) {  /* abandoned by an earlier run */
    lua_pushboolean(L, 0);
    lua_pushliteral(L, "goroutine was abandoned when its run ended");
    return 2;
  }
  lua_pushboolean(L, !t->failed);
  if (t->pooled) {  /* its thread went to the pool: its result is uv 1 */
    if (t->nres == 0) return 1;
    lua_getiuservalue(L, 1, 1);  /* (t's handle is g:wait's self) */
    if (t->nres == 1) return 2;
    top = lua_gettop(L);  /* several: a table of them */
    if (lua_type(L, top) != LUA_TTABLE) {  /* (debug.setuservalue) */
      lua_settop(L, top - 2);
      lua_pushboolean(L, 0);
      lua_pushliteral(L, "goroutine's results are gone (its handle's user "
                         "value was replaced)");
      return 2;
    }
    for (int i = 1; i <= n; i++) lua_rawgeti(L, top, i);
    lua_remove(L, top);
    return n + 1;
  }
  if (t->L == NULL) {  /* it could not start: the error is user value 1 */
    lua_getiuservalue(L, 1, 1);  /* (t's handle is g:wait's self) */
    return 2;
  }
  if (!goroB_bg_thread_ok(L, 1, t)) {  /* no more anchored but by it */
    lua_pop(L, 1);
    lua_pushboolean(L, 0);
    lua_pushliteral(L, "goroutine's results are gone (its handle's user "
                       "value was replaced)");
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

/* g:wait(ctx)'s continuation: the context at 2. */
static int g_wait_ctx_k(lua_State *L, int status, lua_KContext kctx) {
  int ok;
  (void)status;
  (void)kctx;
  if (goroB_bg_unblock_ctx(&goroB_R_of(L)->rt, goroB_bg_current(L), &ok) == 2)
    return goroB_ctx_push_err(L, lua_touserdata(L, 2));
  return push_results(L, lua_touserdata(L, 1));
}

/* g:wait(ctx): as g:wait(), or nil, err if the context ends first. */
static int g_wait_ctx(lua_State *L, struct bg *t, struct goro_context *x) {
  struct bg *b;
  lua_settop(L, 2);
  if (goroB_ctx_ended(x)) return goroB_ctx_push_err(L, x);
  if (t->w.g == NULL) return push_results(L, t);
  b = goroB_bg_block(L, "wait");
  if (b == t) return luaL_error(L, "goro: a goroutine cannot wait for itself");
  goroR_waitq_push(&t->w.g->waiters,
                   goroB_bg_block_ctx(L, b, goroB_ctx_prepare(L, 2, x)));
  return goroB_bg_park(L, b, "wait", "wait", 0, g_wait_ctx_k);
}

static int g_wait(lua_State *L) {
  struct bg *t = luaL_checkudata(L, 1, GORO_G_MT), *b;
  if (lua_gettop(L) >= 2 && !lua_isnil(L, 2))
    return g_wait_ctx(L, t, goroB_optctx(L, 2));
  if (t->w.g == NULL) return push_results(L, t);
  b = goroB_bg_block(L, "wait");
  if (b == t) return luaL_error(L, "goro: a goroutine cannot wait for itself");
  goroR_waitq_push(&t->w.g->waiters, &b->w);
  lua_settop(L, 1);
  return goroB_bg_park(L, b, "wait", "wait", 0, g_wait_k);
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
  lua_pushfstring(L, "goroutine %I (%s)", (lua_Integer)b->rec.id,
                  goroB_g_status_name(b));
  return 1;
}

/* ---- registration -------------------------------------------------------- */

const luaL_Reg goroB_g_funcs[] = {
    {"go", l_go},
    {"self", l_self},
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
