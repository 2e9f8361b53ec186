/*
** vm_bridge/sync.c — goro.mutex() and goro.waitgroup(), Go's sync.Mutex and
** sync.WaitGroup. Both are userdata holding a runtime wait queue; every
** operation runs with the P held.
**
** Mutex: unlock hands the lock straight to the first waiter (FIFO), so a
** waiter cannot be overtaken forever. As in Go, a mutex is not tied to the
** G that locked it.
*/
#include "bridge.h"

/* Upvalues of every function here: the runtime and the two metatables. */
#define MUTEX_MT_UV lua_upvalueindex(2)
#define WG_MT_UV lua_upvalueindex(3)
#define checkmutex(L) ((struct mutex *)goroB_checktag(L, 1, &mutex_tag, GORO_MUTEX_MT))
#define checkwg(L) ((struct waitgroup *)goroB_checktag(L, 1, &wg_tag, GORO_WG_MT))

static const char mutex_tag, wg_tag;

struct mutex {
  const void *tag;  /* &mutex_tag (goroB_checktag) */
  int locked;
  struct goro_waitq q;
};

struct waitgroup {
  const void *tag;  /* &wg_tag */
  lua_Integer n;
  struct goro_waitq q;
};

static int l_mutex(lua_State *L) {
  struct mutex *m = lua_newuserdatauv(L, sizeof *m, 0);
  m->tag = &mutex_tag;
  m->locked = 0;
  m->q.head = m->q.tail = NULL;
  lua_pushvalue(L, MUTEX_MT_UV);
  lua_setmetatable(L, -2);
  return 1;
}

static int lock_k(lua_State *L, int status, lua_KContext ctx) {
  (void)L;
  (void)status;
  (void)ctx;
  return 0;  /* unlock handed the mutex to us */
}

static int mu_lock(lua_State *L) {
  struct mutex *m = checkmutex(L);
  struct bg *b;
  if (!m->locked) {
    m->locked = 1;
    return 0;
  }
  b = goroB_bg_block(L, "lock");
  goroR_waitq_push(&m->q, &b->w);
  return goroB_bg_park(L, b, "lock", "mutex", 0, lock_k);
}

static int mu_trylock(lua_State *L) {
  struct mutex *m = checkmutex(L);
  lua_pushboolean(L, !m->locked);
  m->locked = 1;
  return 1;
}

static int mu_unlock(lua_State *L) {
  struct mutex *m = checkmutex(L);
  struct goro_waiter *w;
  if (!m->locked) return luaL_error(L, "sync: unlock of unlocked mutex");
  if ((w = goroR_waitq_claim(&m->q)) != NULL) {
    w->ok = 1;
    goroR_ready(&goroB_R_of(L)->rt, w->g, 0);  /* stays locked: it is theirs now */
  } else {
    m->locked = 0;
  }
  return 0;
}

static int l_waitgroup(lua_State *L) {
  struct waitgroup *wg = lua_newuserdatauv(L, sizeof *wg, 0);
  wg->tag = &wg_tag;
  wg->n = 0;
  wg->q.head = wg->q.tail = NULL;
  lua_pushvalue(L, WG_MT_UV);
  lua_setmetatable(L, -2);
  return 1;
}

static int wg_addn(lua_State *L, lua_Integer d) {
  struct waitgroup *wg = checkwg(L);
  if (d > 0 && wg->n > LUA_MAXINTEGER - d)
    return luaL_error(L, "sync: WaitGroup counter overflow");
  if (wg->n + d < 0) return luaL_error(L, "sync: negative WaitGroup counter");
  wg->n += d;
  if (wg->n == 0) goroR_waitq_wake_all(&goroB_R_of(L)->rt, &wg->q, 1);
  return 0;
}

static int wg_add(lua_State *L) { return wg_addn(L, luaL_checkinteger(L, 2)); }
static int wg_done(lua_State *L) { return wg_addn(L, -1); }

static int wg_wait_k(lua_State *L, int status, lua_KContext ctx) {
  (void)L;
  (void)status;
  (void)ctx;
  return 0;
}

static int wg_wait(lua_State *L) {
  struct waitgroup *wg = checkwg(L);
  struct bg *b;
  if (wg->n == 0) return 0;
  b = goroB_bg_block(L, "wait");
  goroR_waitq_push(&wg->q, &b->w);
  return goroB_bg_park(L, b, "wait", "waitgroup", 0, wg_wait_k);
}

static int wg_count(lua_State *L) {
  struct waitgroup *wg = checkwg(L);
  lua_pushinteger(L, wg->n);
  return 1;
}

static const luaL_Reg mutex_methods[] = {
    {"lock", mu_lock},
    {"unlock", mu_unlock},
    {"trylock", mu_trylock},
    {NULL, NULL},
};

static const luaL_Reg wg_methods[] = {
    {"add", wg_add},
    {"done", wg_done},
    {"wait", wg_wait},
    {"count", wg_count},
    {NULL, NULL},
};

static const luaL_Reg goroB_sync_funcs[] = {
    {"mutex", l_mutex},
    {"waitgroup", l_waitgroup},
    {NULL, NULL},
};

/* Push the upvalues every function here gets (runtime at index r). */
static void push_upvalues(lua_State *L, int r) {
  lua_pushvalue(L, r);
  luaL_newmetatable(L, GORO_MUTEX_MT);
  luaL_newmetatable(L, GORO_WG_MT);
}

static void open_methods(lua_State *L, const char *tname, const luaL_Reg *l, int r) {
  luaL_newmetatable(L, tname);
  push_upvalues(L, r);
  luaL_setfuncs(L, l, 3);
  lua_pushvalue(L, -1);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}

/* Expects the runtime userdata on top. */
void goroB_open_sync(lua_State *L) {
  int r = lua_gettop(L);
  open_methods(L, GORO_MUTEX_MT, mutex_methods, r);
  open_methods(L, GORO_WG_MT, wg_methods, r);
}

/* Add mutex and waitgroup to the module table on top (the runtime below). */
void goroB_open_sync_funcs(lua_State *L) {
  push_upvalues(L, lua_gettop(L) - 1);
  luaL_setfuncs(L, goroB_sync_funcs, 3);
}
