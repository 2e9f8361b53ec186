/*
** vm_bridge/universe.c — the runtime of a Lua universe and its registry
** entries: the runtime userdata and its __gc, the hooks through which the
** scheduler runs a G's Lua code, the table that anchors every live G's
** handle and the pool of ended G's threads, the spare threads of
** callbacks, and extra G's handles.
**
** The runtime userdata (registry[rt_key]) has three user values: 1, the
** handle of the G whose unwaited error stops the run (R->failed); 2, LR;
** 3, a table whose keys anchor callback threads. The G table
** (registry[R->gsref], an integer key: Lua finds it in the registry's
** array part, where a light userdata key costs a hash lookup) is an
** array: slots 1 to GORO_TPOOL anchor the thread pool (slot i + 1 holds
** R->tpool[i], or false), then come pairs: for live G b, slot
** HANDLE_SLOT(b->ref) holds its handle and THREAD_SLOT(b->ref) its Lua
** thread (false until it has one). The handle's user value 1 names the
** thread too, but the debug
** library can change a user value, and a live G's thread must never be
** collected under the scheduler: this anchor is out of Lua's reach (but
** for debug.getregistry). A free pair holds the next free one in its
** first slot (R->gsfree heads the list, R->gsn counts the pairs), as
** luaL_ref's free list does, and false in its second.
**
** Who touches a lua_State here: the hooks run on the scheduler side, with
** the P held, and use only lua_resume (protected), non-raising table
** operations (reading an existing slot, writing one, removing a key), and
** lua_pcall on LR for anything that may allocate. Everything here runs
** with the P held, so nothing needs a lock.
*/
#include <stdatomic.h>
#include <string.h>

#include "../runtime/errors.h"
#include "../runtime/prof.h"
#include "bridge.h"

static char rt_key;  /* registry key (light userdata) */

const void *goroB_runtime_key(void) { return &rt_key; }

/* ---- the runtime of a universe ------------------------------------------- */

static void hook_resume(struct goro_rt *rt, struct goro_g *gp);
static void hook_dead(struct goro_rt *rt, struct goro_g *gp);
static const struct goro_hooks hooks = {hook_resume, hook_dead,
                                        goroB_hook_interrupt,
                                        goroB_timer_fire, goroB_timer_wakes};

static int rt_gc(lua_State *L) {
  struct goro_runtime *R = lua_touserdata(L, 1);
  if (R->rt.hooks == NULL || R->closed == GORO_RT_FINALIZED) return 0;
  R->closed = GORO_RT_FINALIZED;  /* hooks must not touch Lua from now on */
  goroR_rt_destroy(&R->rt);
  return 0;
}

struct goro_runtime *goroB_runtime_get(lua_State *L) {
  struct goro_runtime *R;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &rt_key) == LUA_TUSERDATA) {
    R = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return R;
  }
  lua_pop(L, 1);
  goroB_onecopy_check(L);  /* raises if another copy of goro is here */
  /* uv 1: the failed G's handle; 2: LR; 3: callback threads (keys) */
  R = lua_newuserdatauv(L, sizeof *R, 3);
  memset(R, 0, sizeof *R);
  R->LR = lua_newthread(L);
  lua_setiuservalue(L, -2, 2);
  lua_newtable(L);
  lua_setiuservalue(L, -2, 3);
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, rt_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  if (goroR_rt_init(&R->rt, &hooks, R) != 0) {
    R->rt.hooks = NULL;
    luaL_error(L, "goro: %s", goro_strerror(GORO_ENOMEM));
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
  R->L = lua_tothread(L, -1);
  lua_pop(L, 1);
  lua_createtable(L, GORO_TPOOL + 64, 0);  /* the G table */
  for (int i = 1; i <= GORO_TPOOL; i++) {  /* the pool's slots, written */
    lua_pushboolean(L, 0);                 /* so that a write to one */
    lua_rawseti(L, -2, i);                 /* never allocates */
  }
  R->gsref = luaL_ref(L, LUA_REGISTRYINDEX);
  R->rng = (uint64_t)(uintptr_t)R ^ (uint64_t)(goroR_now() * 1e9) ^
           0x9e3779b97f4a7c15ull;
  lua_rawsetp(L, LUA_REGISTRYINDEX, &rt_key);
  return R;
}

/* ---- the G table --------------------------------------------------------- */

#define HANDLE_SLOT(ref) (GORO_TPOOL + 2 * (lua_Integer)(ref) - 1)
#define THREAD_SLOT(ref) (GORO_TPOOL + 2 * (lua_Integer)(ref))
#define POOL_SLOT(i) ((lua_Integer)(i) + 1)  /* of R->tpool[i] */

/* Push R's G table. */
static inline void push_gs(lua_State *L, struct goro_runtime *R) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, R->gsref);
}

void goroB_bg_push(lua_State *L, struct goro_runtime *R, struct bg *b) {
  goroR_assert(b->ref > 0);
  push_gs(L, R);
  lua_rawgeti(L, -1, HANDLE_SLOT(b->ref));
  lua_remove(L, -2);
}

/* As luaL_ref, but the free list's head and the table's length live in R:
** no length search, no list head to read. Both slots of a new pair are
** written, so that later writes to them never allocate; a free pair's
** thread slot holds false (unanchor), which stays when there is no thread
** yet. */
int goroB_bg_anchor(lua_State *L, struct goro_runtime *R, int hidx, int tidx) {
  int t, ref = R->gsfree, next = 0, h = lua_absindex(L, hidx);
  goroR_assert(0 <= R->gsfree && R->gsfree <= R->gsn);
  tidx = tidx != 0 ? lua_absindex(L, tidx) : 0;
  push_gs(L, R);
  t = lua_gettop(L);
  if (ref != 0) {
    lua_rawgeti(L, t, HANDLE_SLOT(ref));
    next = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
  } else {
    ref = R->gsn + 1;
  }
  lua_pushvalue(L, h);
  lua_rawseti(L, t, HANDLE_SLOT(ref));
  if (tidx != 0) {
    lua_pushvalue(L, tidx);
    lua_rawseti(L, t, THREAD_SLOT(ref));
  } else if (ref != R->gsfree) {  /* (a free pair's holds false already) */
    lua_pushboolean(L, 0);
    lua_rawseti(L, t, THREAD_SLOT(ref));
  }
  lua_pop(L, 1);
  if (ref == R->gsfree)
    R->gsfree = next;
  else
    R->gsn = ref;
  return ref;
}

/* Drop the anchors of b's handle and thread, in the G table at t. It only
** writes existing slots, so it never allocates and never raises. */
static void unanchor(lua_State *L, int t, struct goro_runtime *R, struct bg *b) {
  if (b->ref <= 0) return;
  goroR_assert(0 <= R->gsfree && R->gsfree <= R->gsn && b->ref <= R->gsn);
  lua_pushinteger(L, R->gsfree);
  lua_rawseti(L, t, HANDLE_SLOT(b->ref));
  lua_pushboolean(L, 0);
  lua_rawseti(L, t, THREAD_SLOT(b->ref));
  R->gsfree = b->ref;
  b->ref = 0;
}

int goroB_bg_thread_ok(lua_State *L, int hidx, struct bg *b) {
  int ok;
  if (b->L == NULL) return 0;
  lua_getiuservalue(L, hidx, 1);
  ok = lua_tothread(L, -1) == b->L;
  lua_pop(L, 1);
  return ok;
}

/* ---- callback threads and extra G's -------------------------------------- */

static int p_newthread(lua_State *L) {
  lua_State *T;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &rt_key);
  lua_getiuservalue(L, -1, 3);
  T = lua_newthread(L);
  lua_pushboolean(L, 1);
  lua_rawset(L, -3);  /* anchored by the runtime's thread table */
  lua_pushlightuserdata(L, T);
  return 1;
}

lua_State *goroB_cb_thread_get(struct goro_runtime *R) {
  lua_State *T;
  goroR_assert(0 <= R->ncbfree && R->ncbfree <= GORO_CB_KEEP);
  if (R->ncbfree > 0) return R->cbfree[--R->ncbfree];
  lua_pushcfunction(R->LR, p_newthread);
  if (lua_pcall(R->LR, 0, 1, 0) != LUA_OK) {
    lua_pop(R->LR, 1);
    return NULL;
  }
  T = lua_touserdata(R->LR, -1);
  lua_pop(R->LR, 1);
  return T;
}

void goroB_cb_thread_put(struct goro_runtime *R, lua_State *T) {
  if (lua_gettop(T) != 0) lua_settop(T, 0);
  if (R->ncbfree < GORO_CB_KEEP) {
    R->cbfree[R->ncbfree++] = T;
    return;
  }
  lua_rawgetp(R->LR, LUA_REGISTRYINDEX, &rt_key);  /* drop the anchor */
  lua_getiuservalue(R->LR, -1, 3);
  lua_pushthread(T);
  lua_xmove(T, R->LR, 1);
  lua_pushnil(R->LR);
  lua_rawset(R->LR, -3);  /* removing a key never allocates */
  lua_pop(R->LR, 2);
}

static int p_newextra(lua_State *L) {
  struct goro_runtime *R = lua_touserdata(L, 1);
  struct goro_g *gp = lua_touserdata(L, 2);
  struct bg *b = lua_newuserdatauv(L, sizeof *b, 2);
  memset(b, 0, sizeof *b);
  luaL_setmetatable(L, GORO_G_MT);
  b->ref = goroB_bg_anchor(L, R, -1, 0);
  b->w.g = gp;
  b->rec.id = gp->id = R->rt.nextgid++;
  gp->ud = b;
  return 0;
}

int goroB_bg_extra(struct goro_runtime *R, struct goro_g *gp) {
  int ok;
  lua_pushcfunction(R->LR, p_newextra);
  lua_pushlightuserdata(R->LR, R);
  lua_pushlightuserdata(R->LR, gp);
  ok = lua_pcall(R->LR, 2, 0, 0) == LUA_OK;
  if (!ok) lua_pop(R->LR, 1);
  return ok;
}

/* ---- the thread pool -----------------------------------------------------
** runtime/HACKING.md, "A G's Lua thread". R->tpool[i] is anchored at
** POOL_SLOT(i) of the G table; a slot out of use holds false. */

/* Take the most recently pooled thread (the pool is not empty) and push
** it on L; t is the G table's index. Never raises. */
static lua_State *take(lua_State *L, int t, struct goro_runtime *R) {
  lua_State *T = R->tpool[--R->ntpool];
  goroR_assert(lua_gettop(T) == 0 && lua_status(T) == LUA_OK);
  lua_pushthread(T);  /* (room: an empty thread has LUA_MINSTACK slots) */
  lua_xmove(T, L, 1);
  lua_pushboolean(L, 0);
  lua_rawseti(L, t, POOL_SLOT(R->ntpool));
  R->tpool[R->ntpool] = NULL;
  R->nreused++;
  return T;
}

lua_State *goroB_tpool_take(lua_State *L, struct goro_runtime *R) {
  lua_State *T;
  goroR_assert(0 <= R->ntpool && R->ntpool <= GORO_TPOOL);
  if (R->ntpool == 0) return NULL;
  push_gs(L, R);
  T = take(L, lua_gettop(L), R);
  lua_copy(L, -1, -2);  /* the thread where the G table was */
  lua_pop(L, 1);
  return T;
}

void goroB_tpool_drain(lua_State *L, struct goro_runtime *R) {
  push_gs(L, R);
  while (R->ntpool > 0) {
    R->tpool[--R->ntpool] = NULL;
    lua_pushboolean(L, 0);
    lua_rawseti(L, -2, POOL_SLOT(R->ntpool));
  }
  lua_pop(L, 1);
}

/* May ended G b's thread go to the pool? It ended by returning, it is not
** the main G's, nothing outside goro may hold it, and no user's hook is
** set on it (goro's own was taken off when the G's run ended; the debug
** library keys a user's by the thread). */
static int reusable(struct goro_runtime *R, struct bg *b) {
  lua_State *T = b->L;
  return T != NULL && !R->noreuse && R->ntpool < GORO_TPOOL && b->done &&
         !b->failed && !b->ismain && !b->escaped &&
         lua_gettop(T) == b->nres && lua_status(T) == LUA_OK &&
         lua_gethook(T) == NULL && R->closed == GORO_RT_OPEN;
}

/* In protected mode on LR: push a table of the nres > 1 results on top of
** ended G b's thread (argument 1), which stay there: a memory error
** leaves the thread as it was. */
static int p_pack(lua_State *L) {
  struct bg *b = lua_touserdata(L, 1);
  lua_State *T = b->L;
  int n = b->nres, top = lua_gettop(T);
  lua_createtable(L, n, 0);
  if (!lua_checkstack(T, 1))  /* (never luaL_checkstack: it would raise on T,
                                 which runs nothing to catch it) */
    return luaL_error(L, "not enough memory");
  for (int i = 1; i <= n; i++) {
    lua_pushvalue(T, top - n + i);
    lua_xmove(T, L, 1);
    lua_rawseti(L, -2, i);  /* (an array slot made above) */
  }
  return 1;
}

/*
** Give ended G b's thread to the pool; t is the G table's index on L (LR),
** and b is still anchored there (its pair holds the thread until
** unanchor). Its result, if any, moves to user value 1 of its handle
** (several: a table of them, which may fail for want of memory, and then
** the thread stays with its G), replacing the thread, so that nothing
** reads the thread through the handle again. Then the thread is emptied.
**
** That is all the reset a thread needs whose G returned (the only ones
** pooled, see reusable): lua_resume has unwound it to its base frame, with
** status LUA_OK, and the returns closed every upvalue and to-be-closed
** variable of its frames, so lua_resetthread (lua_closethread from 5.4.6)
** would only reallocate its stack, to LUA_MINSTACK + 1 slots: half a
** fresh thread's, so the next G's first C call grew it back (callgrind:
** about 990 instructions a spawn, shrink and growth). Its stack keeps
** the size the G needed instead, and the collector shrinks it as any
** thread's, at each cycle's atomic step (luaD_shrinkstack: to twice the
** part in use, at least LUA_MINSTACK, once it is over three times that),
** so a pooled thread holds about what a fresh one does. The slots above
** its top may still hold values of the G, as any thread's do after a call
** returns: Lua writes a slot before it reads it, the debug library sees
** none above a frame's top, and the collector neither marks them nor
** keeps what they point to (it clears them at that atomic step). Never
** raises.
*/
static void tpool_put(lua_State *L, int t, struct goro_runtime *R, struct bg *b) {
  lua_State *T = b->L;
  if (b->nres > 1) {  /* its results, in a table first (that may fail) */
    lua_pushcfunction(L, p_pack);
    lua_pushlightuserdata(L, b);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
      lua_pop(L, 1);  /* (no memory: the thread stays with its G) */
      return;
    }
  } else if (b->nres == 1) {
    lua_xmove(T, L, 1);
  } else {
    lua_pushnil(L);
  }
  lua_rawgeti(L, t, HANDLE_SLOT(b->ref));
  lua_insert(L, -2);
  lua_setiuservalue(L, -2, 1);  /* (a user value's slot: never allocates) */
  lua_pop(L, 1);
  b->L = NULL;
  b->pooled = 1;
  lua_settop(T, 0);  /* (nothing to close: see above) */
  lua_pushthread(T);
  lua_xmove(T, L, 1);
  lua_rawseti(L, t, POOL_SLOT(R->ntpool));
  R->tpool[R->ntpool++] = T;
}

/* ---- hooks: the scheduler side ------------------------------------------- */

/* Give G b its thread T, on top of L (popped), with its function (user
** value 1 until now) on it; t is the G table's index. Never raises. */
static void give_thread(lua_State *L, int t, struct bg *b, lua_State *T) {
  lua_rawgeti(L, t, HANDLE_SLOT(b->ref));  /* the handle */
  lua_getiuservalue(L, -1, 1);  /* the function */
  lua_xmove(L, T, 1);
  lua_pushvalue(L, -2);
  lua_setiuservalue(L, -2, 1);  /* the thread replaces it */
  lua_pop(L, 1);
  b->L = T;
  lua_rawseti(L, t, THREAD_SLOT(b->ref));  /* (an existing slot) */
}

/* In protected mode on LR: give G b (argument 1) a new thread. */
static int p_start(lua_State *L) {
  struct bg *b = lua_touserdata(L, 1);
  push_gs(L, lua_touserdata(L, 2));  /* 3 */
  give_thread(L, 3, b, lua_newthread(L));
  return 0;
}

/* A G made without arguments gets its Lua thread at its first run, so a
** burst of goro.go costs a handle a G until the G runs (and the thread is
** still warm when it does): a pooled one if there is one (nothing that
** can raise, so no protected call), else a new one. If no thread can be
** made, the G ends at once with that error, kept in user value 1. */
static int start(struct goro_runtime *R, struct bg *b) {
  lua_State *LR = R->LR;
  if (R->ntpool > 0) {
    int t;
    push_gs(LR, R);
    t = lua_gettop(LR);
    give_thread(LR, t, b, take(LR, t, R));
    lua_pop(LR, 1);
    return 1;
  }
  lua_pushcfunction(LR, p_start);
  lua_pushlightuserdata(LR, b);
  lua_pushlightuserdata(LR, R);
  if (lua_pcall(LR, 2, 0, 0) == LUA_OK) return 1;
  goroB_bg_push(LR, R, b);
  lua_insert(LR, -2);
  lua_setiuservalue(LR, -2, 1);
  lua_pop(LR, 1);
  return 0;
}

/* On a carrier: run the G's Lua code until it parks, yields or ends. */
static void hook_resume(struct goro_rt *rt, struct goro_g *gp) {
  struct bg *b = gp->ud;
  int nres, nargs = b->nargs, st, waited;
  goroR_assert(b->w.g == gp && !b->done);
  if (b->L == NULL && !start(rt->ud, b)) {
    b->done = b->failed = 1;
    b->nres = 1;
    b->waited = goroR_waitq_live(&gp->waiters);
    gp->outcome = GORO_RUN_DONE;
    return;
  }
  b->nargs = 0;
  goroB_bg_run_on(b, b->L);
  st = lua_resume(b->L, NULL, nargs, &nres);
  goroB_bg_run_on(b, NULL);
  if (st == LUA_YIELD) {
    if (gp->parking) {
      gp->outcome = GORO_RUN_PARKED;
    } else {  /* goro.yield(), or a plain coroutine.yield at top level */
      if (nres > 0) lua_pop(b->L, nres);
      gp->outcome = GORO_RUN_YIELDED;
    }
    return;
  }
  waited = st != LUA_OK && goroR_waitq_live(&gp->waiters);
  b->done = 1;  /* (three bits with no call between: one write of a byte) */
  b->failed = st != LUA_OK;
  b->waited = waited;
  b->nres = st != LUA_OK ? 1 : nres;
  gp->outcome = GORO_RUN_DONE;
}

/* The G has ended (or is abandoned): unanchor its handle. An error nobody
** waited for stops the run (as an unrecovered panic stops a Go program). */
static void hook_dead(struct goro_rt *rt, struct goro_g *gp) {
  struct goro_runtime *R = rt->ud;
  struct bg *b = gp->ud;
  lua_State *L = R->LR;
  int t;

  goroR_assert(b != NULL && b->w.g == gp);
  goroB_bg_unqueue(rt, b);
  goroB_bg_run_on(b, NULL);
  if (atomic_load(&gp->prof_pending) > 0)  /* it never reached its hook */
    goroR_prof_lost(atomic_load(&gp->prof_sess),
                   atomic_exchange(&gp->prof_pending, 0));
  b->w.g = NULL;  /* (w is off every queue: goroB_bg_unqueue above) */
  if (R->closed == GORO_RT_FINALIZED) return;  /* the registry is going away */
  push_gs(L, R);
  t = lua_gettop(L);
  if (b->done && b->failed && !b->waited && !b->unwound && R->failed == NULL &&
      (R->running || R->hostmode)) {
    R->failed = b;
    rt->abort = 1;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &rt_key);
    lua_rawgeti(L, t, HANDLE_SLOT(b->ref));
    lua_setiuservalue(L, -2, 1);  /* keep its handle: the slot exists */
    lua_pop(L, 1);
  }
  if (reusable(R, b)) tpool_put(L, t, R, b);
  unanchor(L, t, R, b);
  lua_pop(L, 1);
}
