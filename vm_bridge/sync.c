/*
** vm_bridge/sync.c — Go's sync package and x/sync's semaphore for Lua:
** goro.mutex(), goro.waitgroup(), goro.rwmutex(), goro.once(),
** goro.cond(mutex) and goro.semaphore(n). Each is a userdata holding
** runtime wait queues; every operation runs with the P held, so no G runs
** between two lines of one operation, and nothing here needs a lock.
**
** Every wait is FIFO and every wake-up is a hand-off: the waker does what
** the waiter asked for (gives it the mutex, the read lock, the tokens) and
** readies it, so a woken G never has to try again and cannot be overtaken
** forever. A G waits with its one waiter (b->w) on one queue; only the
** blocking functions here push it, and only wakers here pop it, except
** goroB_bg_unqueue, which takes a G that may not park off its queue before
** raising (runtime/HACKING.md, "sync: who waits where", has the rules).
** As in Go, no lock is tied to the G that took it.
**
** Contexts (issue 16): every call that blocks will take a context as its
** last argument (rlock, lock, cond:wait, acquire after its weight). Until
** then that slot must be nil (noctx), so that no program that works now
** changes meaning when contexts come.
*/
#include <string.h>

#include "bridge.h"

#define CTOR_MT_UV lua_upvalueindex(2)  /* a constructor's metatable */

#define checkmutex(L) ((struct mutex *)goroB_checktag(L, 1, &mutex_tag, GORO_MUTEX_MT))
#define checkwg(L) ((struct waitgroup *)goroB_checktag(L, 1, &wg_tag, GORO_WG_MT))
#define checkrw(L) ((struct rwmutex *)goroB_checktag(L, 1, &rw_tag, GORO_RWMUTEX_MT))
#define checkonce(L) ((struct once *)goroB_checktag(L, 1, &once_tag, GORO_ONCE_MT))
#define checkcond(L) ((struct cond *)goroB_checktag(L, 1, &cond_tag, GORO_COND_MT))
#define checksema(L) ((struct sema *)goroB_checktag(L, 1, &sema_tag, GORO_SEMA_MT))

static const char mutex_tag, wg_tag, rw_tag, once_tag, cond_tag, sema_tag;

/* A new object of one of the types here, zeroed (empty queues), with its
** tag and the constructor's metatable. */
static void *newobj(lua_State *L, size_t size, const void *tag, int nuv) {
  void *p = lua_newuserdatauv(L, size, nuv);
  memset(p, 0, size);
  *(const void **)p = tag;
  lua_pushvalue(L, CTOR_MT_UV);
  lua_setmetatable(L, -2);
  return p;
}

/* The argument slot where a blocking call will take a context: nil now. */
static void noctx(lua_State *L, int i) {
  luaL_argcheck(L, lua_isnoneornil(L, i), i, "contexts are not supported yet");
}

/* The continuation of every park here: the waker already did what the G
** waited for (a hand-off), so there is nothing left to do. */
static int granted_k(lua_State *L, int status, lua_KContext ctx) {
  (void)L;
  (void)status;
  (void)ctx;
  return 0;
}

/* Queue the running G on q and park it until a waker hands it what it
** waits for. fname names the call in errors, reason is the dump's. Raises
** outside a G. May park. */
static int wait_on(lua_State *L, struct goro_waitq *q, const char *fname,
                   const char *reason) {
  struct bg *b = goroB_bg_block(L, fname);
  goroR_waitq_push(q, &b->w);
  return goroB_bg_park(L, b, fname, reason, 0, granted_k);
}

/* Pop the first waiter of q and ready its G: what it waited for is
** granted. Sync waiters are never a select's, so the claim cannot fail.
** Requires: the P; q not empty. */
static void grant_first(struct goro_runtime *R, struct goro_waitq *q) {
  struct goro_waiter *w = goroR_waitq_claim(q);
  goroR_assert(w != NULL);
  w->ok = 1;
  goroR_ready(&R->rt, w->g, 0);
}

/* ---- goro.mutex ----------------------------------------------------------
** Invariant: q is empty unless locked (unlock hands the mutex to the first
** waiter, which leaves it locked). */

struct mutex {
  const void *tag;  /* &mutex_tag (goroB_checktag) */
  int locked;
  struct goro_waitq q;
};

static int l_mutex(lua_State *L) {
  newobj(L, sizeof(struct mutex), &mutex_tag, 0);
  return 1;
}

/* Take m for the running G, parking it until unlock hands m over if it is
** held. May park. */
static int mutex_acquire(lua_State *L, struct mutex *m) {
  goroR_assert(m->locked || m->q.head == NULL);
  if (!m->locked) {
    m->locked = 1;
    return 0;
  }
  return wait_on(L, &m->q, "lock", "mutex");
}

/* Unlock m: hand it to the first waiter, or leave it free. Requires: m
** locked. */
static void mutex_release(struct goro_runtime *R, struct mutex *m) {
  goroR_assert(m->locked);
  if (m->q.head != NULL) grant_first(R, &m->q);  /* stays locked: theirs */
  else m->locked = 0;
}

static int mu_lock(lua_State *L) { return mutex_acquire(L, checkmutex(L)); }

static int mu_trylock(lua_State *L) {
  struct mutex *m = checkmutex(L);
  lua_pushboolean(L, !m->locked);
  m->locked = 1;
  return 1;
}

static int mu_unlock(lua_State *L) {
  struct mutex *m = checkmutex(L);
  if (!m->locked) return luaL_error(L, "sync: unlock of unlocked mutex");
  mutex_release(goroB_R_of(L), m);
  return 0;
}

/* ---- goro.waitgroup ------------------------------------------------------ */

struct waitgroup {
  const void *tag;  /* &wg_tag */
  lua_Integer n;
  struct goro_waitq q;  /* empty while n == 0 */
};

static int l_waitgroup(lua_State *L) {
  newobj(L, sizeof(struct waitgroup), &wg_tag, 0);
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

static int wg_wait(lua_State *L) {
  struct waitgroup *wg = checkwg(L);
  if (wg->n == 0) return 0;
  return wait_on(L, &wg->q, "wait", "waitgroup");
}

static int wg_count(lua_State *L) {
  struct waitgroup *wg = checkwg(L);
  lua_pushinteger(L, wg->n);
  return 1;
}

/* ---- goro.rwmutex --------------------------------------------------------
** Go's sync.RWMutex, writer-preferring: a writer that waits stops new
** readers (rlock queues behind it) while the readers that hold the lock
** finish; the last runlock hands the lock to that writer. unlock admits
** every reader that queued meanwhile, all at once, before the next writer,
** which then waits for them in turn. So neither side starves.
** Invariants (rw_ok): a writer excludes readers; rq is empty unless a
** writer holds the lock or waits; a writer waits only for a held lock. */

struct rwmutex {
  const void *tag;       /* &rw_tag */
  int writer;            /* a writer holds it */
  lua_Integer readers;   /* read locks held */
  struct goro_waitq rq;  /* readers waiting for the writers to be done */
  struct goro_waitq wq;  /* writers waiting; the first blocks new readers */
};

static int rw_ok(const struct rwmutex *rw) {
  return rw->readers >= 0 && !(rw->writer && rw->readers > 0) &&
         (rw->rq.head == NULL || rw->writer || rw->wq.head != NULL) &&
         (rw->wq.head == NULL || rw->writer || rw->readers > 0);
}

static int l_rwmutex(lua_State *L) {
  newobj(L, sizeof(struct rwmutex), &rw_tag, 0);
  return 1;
}

static int can_rlock(const struct rwmutex *rw) {
  return !rw->writer && rw->wq.head == NULL;
}

static int can_lock(const struct rwmutex *rw) {
  return !rw->writer && rw->readers == 0 && rw->wq.head == NULL;
}

static int rw_rlock(lua_State *L) {
  struct rwmutex *rw = checkrw(L);
  noctx(L, 2);
  goroR_assert(rw_ok(rw));
  if (can_rlock(rw)) {
    rw->readers++;
    return 0;
  }
  return wait_on(L, &rw->rq, "rlock", "rwmutex rlock");
}

static int rw_tryrlock(lua_State *L) {
  struct rwmutex *rw = checkrw(L);
  int ok = can_rlock(rw);
  rw->readers += ok;
  lua_pushboolean(L, ok);
  return 1;
}

static int rw_lock(lua_State *L) {
  struct rwmutex *rw = checkrw(L);
  noctx(L, 2);
  goroR_assert(rw_ok(rw));
  if (can_lock(rw)) {
    rw->writer = 1;
    return 0;
  }
  return wait_on(L, &rw->wq, "lock", "rwmutex lock");
}

static int rw_trylock(lua_State *L) {
  struct rwmutex *rw = checkrw(L);
  int ok = can_lock(rw);
  rw->writer |= ok;
  lua_pushboolean(L, ok);
  return 1;
}

/* Hand the lock to the first waiting writer if no one holds it. */
static void rw_grant_writer(struct goro_runtime *R, struct rwmutex *rw) {
  if (rw->wq.head != NULL && !rw->writer && rw->readers == 0) {
    rw->writer = 1;
    grant_first(R, &rw->wq);
  }
}

static int rw_runlock(lua_State *L) {
  struct rwmutex *rw = checkrw(L);
  if (rw->readers == 0) return luaL_error(L, "sync: RUnlock of unlocked RWMutex");
  rw->readers--;
  rw_grant_writer(goroB_R_of(L), rw);
  goroR_assert(rw_ok(rw));
  return 0;
}

static int rw_unlock(lua_State *L) {
  struct rwmutex *rw = checkrw(L);
  struct goro_runtime *R = goroB_R_of(L);
  if (!rw->writer) return luaL_error(L, "sync: Unlock of unlocked RWMutex");
  rw->writer = 0;
  while (rw->rq.head != NULL) {  /* the readers that waited go first */
    rw->readers++;
    grant_first(R, &rw->rq);
  }
  rw_grant_writer(R, rw);
  goroR_assert(rw_ok(rw));
  return 0;
}

/* ---- goro.once -----------------------------------------------------------
** Go's sync.Once. The first call runs f in protected mode with a
** continuation (f may park, stacklessly or not); the others wait on q until
** it returns. An error in f still makes the once done, as a panic does in
** Go, and is raised again to the caller that ran f. A call from inside f
** (the same G) would wait for itself forever, as it does in Go: it raises
** instead. State: NEW -> RUNNING (runner is the G running f) -> DONE. */

enum { ONCE_NEW, ONCE_RUNNING, ONCE_DONE };

struct once {
  const void *tag;       /* &once_tag */
  int state;
  uint64_t runner;       /* RUNNING: id of the G running f (0: none) */
  struct goro_waitq q;   /* callers waiting for f; empty unless RUNNING */
};

static int l_once(lua_State *L) {
  newobj(L, sizeof(struct once), &once_tag, 0);
  return 1;
}

static uint64_t self_id(lua_State *L) {
  struct bg *b = goroB_bg_current(L);
  return b != NULL && b->g != NULL ? b->g->id : 0;
}

/* f returned or raised (status): done; wake the waiters, re-raise. The
** once is still at index 1. */
static int once_ran(lua_State *L, int status, lua_KContext ctx) {
  struct once *o = lua_touserdata(L, 1);
  (void)ctx;
  o->state = ONCE_DONE;
  o->runner = 0;
  goroR_waitq_wake_all(&goroB_R_of(L)->rt, &o->q, 1);
  if (status != LUA_OK && status != LUA_YIELD) return lua_error(L);
  return 0;
}

static int once_call(lua_State *L) {
  struct once *o = checkonce(L);
  if (!lua_isfunction(L, 2)) {  /* (a table with __call will do) */
    if (luaL_getmetafield(L, 2, "__call") == LUA_TNIL)
      luaL_typeerror(L, 2, "function");
    lua_pop(L, 1);
  }
  if (o->state == ONCE_DONE) return 0;
  if (o->state == ONCE_RUNNING) {
    if (o->runner == self_id(L))
      return luaL_error(L, "sync: once:call from inside its own function");
    return wait_on(L, &o->q, "call", "once");
  }
  o->state = ONCE_RUNNING;
  o->runner = self_id(L);
  return once_ran(L, lua_pcallk(L, lua_gettop(L) - 2, 0, 0, 0, once_ran), 0);
}

/* ---- goro.cond -----------------------------------------------------------
** Go's sync.Cond over a goro.mutex (user value 1 keeps it; m points into
** it). wait queues the G on q and unlocks the mutex in one step (no G runs
** in between: the P is held), so a signal after the unlock always finds
** it; once woken, it takes the mutex again before returning, waiting for
** it if need be (the dump then shows "mutex"). A wait that may not park
** (inside a finalizer) raises before it unlocks anything. */

struct cond {
  const void *tag;       /* &cond_tag */
  struct mutex *m;       /* immutable: the mutex, anchored by user value 1 */
  struct goro_waitq q;   /* G's in wait(), oldest first */
};

static int l_cond(lua_State *L) {
  struct mutex *m = goroB_checktag(L, 1, &mutex_tag, GORO_MUTEX_MT);
  struct cond *c = newobj(L, sizeof(struct cond), &cond_tag, 1);
  c->m = m;
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1);
  return 1;
}

static int cond_relock_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  return mutex_acquire(L, (struct mutex *)ctx);
}

static int cond_wait(lua_State *L) {
  struct cond *c = checkcond(L);
  const char *why;
  struct bg *b;
  noctx(L, 2);
  if (!c->m->locked) return luaL_error(L, "sync: unlock of unlocked mutex");
  b = goroB_bg_block(L, "wait");
  if ((why = goroB_bg_cannot_park(L, b)) != NULL)
    return luaL_error(L, why, "wait");  /* the mutex still held */
  goroR_waitq_push(&c->q, &b->w);
  mutex_release(goroB_R_of(L), c->m);
  return goroB_bg_park(L, b, "wait", "cond wait", (lua_KContext)c->m,
                       cond_relock_k);
}

static int cond_signal(lua_State *L) {
  struct cond *c = checkcond(L);
  if (c->q.head != NULL) grant_first(goroB_R_of(L), &c->q);
  return 0;
}

static int cond_broadcast(lua_State *L) {
  struct cond *c = checkcond(L);
  goroR_waitq_wake_all(&goroB_R_of(L)->rt, &c->q, 1);
  return 0;
}

static int cond_locker(lua_State *L) {
  checkcond(L);
  lua_getiuservalue(L, 1, 1);
  return 1;
}

/* ---- goro.semaphore ------------------------------------------------------
** golang.org/x/sync/semaphore's Weighted: size tokens, cur of them held.
** Waiters are served strictly in order: a waiter that wants more than is
** free blocks every one behind it, even those that would fit, so a large
** acquire is never starved by small ones. A waiting G's weight stays on its
** own stack (w.data, at index w.vidx), where a releaser reads it
** (lua_tointeger: it never raises).
** Invariants (sema_ok): 0 <= cur <= size; the first waiter wants more than
** is free (release grants every waiter that fits, in order). */

struct sema {
  const void *tag;       /* &sema_tag */
  lua_Integer size, cur;
  struct goro_waitq q;   /* acquirers, oldest first */
};

static lua_Integer need(const struct goro_waiter *w) {
  return lua_tointeger((lua_State *)w->data, w->vidx);
}

static int sema_ok(const struct sema *s) {
  return 0 <= s->cur && s->cur <= s->size &&
         (s->q.head == NULL || need(s->q.head) > s->size - s->cur);
}

static int l_semaphore(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  struct sema *s;
  luaL_argcheck(L, n >= 0, 1, "negative size");
  s = newobj(L, sizeof(struct sema), &sema_tag, 0);
  s->size = n;
  return 1;
}

/* The weight argument (default 1). */
static lua_Integer weight(lua_State *L) {
  lua_Integer k = luaL_optinteger(L, 2, 1);
  luaL_argcheck(L, k >= 0, 2, "negative weight");
  return k;
}

static int sema_acquire(lua_State *L) {
  struct sema *s = checksema(L);
  lua_Integer k = weight(L);
  struct bg *b;
  noctx(L, 3);
  goroR_assert(sema_ok(s));
  /* x/sync waits for the context here; with none, it would be forever */
  if (k > s->size)
    return luaL_error(L, "semaphore: acquire of %I exceeds the size %I: it "
                      "could never succeed", (lua_Integer)k, (lua_Integer)s->size);
  if (s->size - s->cur >= k && s->q.head == NULL) {
    s->cur += k;
    return 0;
  }
  lua_settop(L, 1);
  lua_pushinteger(L, k);  /* index 2: the weight, for the releasers */
  b = goroB_bg_block(L, "acquire");
  b->w.data = L;
  b->w.vidx = 2;
  goroR_waitq_push(&s->q, &b->w);
  return goroB_bg_park(L, b, "acquire", "semaphore acquire", 0, granted_k);
}

static int sema_try_acquire(lua_State *L) {
  struct sema *s = checksema(L);
  lua_Integer k = weight(L);
  int ok = s->size - s->cur >= k && s->q.head == NULL;
  if (ok) s->cur += k;
  lua_pushboolean(L, ok);
  return 1;
}

static int sema_release(lua_State *L) {
  struct sema *s = checksema(L);
  lua_Integer k = weight(L);
  struct goro_runtime *R = goroB_R_of(L);
  if (k > s->cur) return luaL_error(L, "semaphore: released more than held");
  s->cur -= k;
  while (s->q.head != NULL && need(s->q.head) <= s->size - s->cur) {
    s->cur += need(s->q.head);
    grant_first(R, &s->q);
  }
  goroR_assert(sema_ok(s));
  return 0;
}

/* ---- registration -------------------------------------------------------- */

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

static const luaL_Reg rw_methods[] = {
    {"rlock", rw_rlock},
    {"runlock", rw_runlock},
    {"tryrlock", rw_tryrlock},
    {"lock", rw_lock},
    {"unlock", rw_unlock},
    {"trylock", rw_trylock},
    {NULL, NULL},
};

static const luaL_Reg once_methods[] = {
    {"call", once_call},
    {NULL, NULL},
};

static const luaL_Reg cond_methods[] = {
    {"wait", cond_wait},
    {"signal", cond_signal},
    {"broadcast", cond_broadcast},
    {"locker", cond_locker},
    {NULL, NULL},
};

static const luaL_Reg sema_methods[] = {
    {"acquire", sema_acquire},
    {"try_acquire", sema_try_acquire},
    {"release", sema_release},
    {NULL, NULL},
};

/* Each type: its metatable, its methods, its constructor's name. */
static const struct {
  const char *tname, *ctor;
  const luaL_Reg *methods;
  lua_CFunction make;
} types[] = {
    {GORO_MUTEX_MT, "mutex", mutex_methods, l_mutex},
    {GORO_WG_MT, "waitgroup", wg_methods, l_waitgroup},
    {GORO_RWMUTEX_MT, "rwmutex", rw_methods, l_rwmutex},
    {GORO_ONCE_MT, "once", once_methods, l_once},
    {GORO_COND_MT, "cond", cond_methods, l_cond},
    {GORO_SEMA_MT, "semaphore", sema_methods, l_semaphore},
};

/* Register the types' metatables (the runtime userdata on top); every
** method gets the runtime as upvalue 1. */
void goroB_open_sync(lua_State *L) {
  int r = lua_gettop(L);
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
    luaL_newmetatable(L, types[i].tname);
    lua_pushvalue(L, r);
    luaL_setfuncs(L, types[i].methods, 1);
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
  }
}

/* Add the constructors to the module table on top (the runtime below it);
** each gets the runtime and its type's metatable as upvalues. */
void goroB_open_sync_funcs(lua_State *L) {
  int r = lua_gettop(L) - 1;
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
    lua_pushvalue(L, r);
    luaL_getmetatable(L, types[i].tname);
    lua_pushcclosure(L, types[i].make, 2);
    lua_setfield(L, -2, types[i].ctor);
  }
}
