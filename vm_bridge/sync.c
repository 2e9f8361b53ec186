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
** The semaphore is sema.c's; what both files share is sync.h.
**
** Contexts: every call that blocks takes a context as its last argument
** (lock, rlock, wg:wait, cond:wait, acquire after its weight). With one
** it waits with two select waiters (goroB_bg_block_ctx): the queue's
** and one on the context's done channel; it returns true, or nil, err
** when the context ended first (at once if it had ended already). A
** waiter whose context won stays on the sync queue, stale, until its G
** runs again: wakers pass over it (goroB_sync_grant_first claims; a semaphore or an
** rwmutex looks at its live head), and the G, when it leaves, redoes what
** its place decided (rw_settle, sema_grant). runtime/HACKING.md, "sync:
** who waits where" and "Contexts".
*/
#include <string.h>

#include "sync.h"


#define checkmutex(L) ((struct mutex *)goroB_checktag(L, 1, &mutex_tag, GORO_MUTEX_MT))
#define checkwg(L) ((struct waitgroup *)goroB_checktag(L, 1, &wg_tag, GORO_WG_MT))
#define checkrw(L) ((struct rwmutex *)goroB_checktag(L, 1, &rw_tag, GORO_RWMUTEX_MT))
#define checkonce(L) ((struct once *)goroB_checktag(L, 1, &once_tag, GORO_ONCE_MT))
#define checkcond(L) ((struct cond *)goroB_checktag(L, 1, &cond_tag, GORO_COND_MT))

static const char mutex_tag, wg_tag, rw_tag, once_tag, cond_tag;

/* A new object of one of the types here, zeroed (empty queues), with its
** tag and the constructor's metatable. */
void *goroB_sync_newobj(lua_State *L, size_t size, const void *tag, int nuv) {
  void *p = lua_newuserdatauv(L, size, nuv);
  memset(p, 0, size);
  *(const void **)p = tag;
  lua_pushvalue(L, CTOR_MT_UV);
  lua_setmetatable(L, -2);
  return p;
}

/* The continuation of every park here: the waker already did what the G
** waited for (a hand-off), so there is nothing left to do. */
int goroB_sync_granted_k(lua_State *L, int status, lua_KContext ctx) {
  (void)L;
  (void)status;
  (void)ctx;
  return 0;
}

/* The continuation of a park with a context at index kctx, for the
** types whose waiter leaves nothing to redo: true, or nil, err. */
int goroB_sync_ctx_k(lua_State *L, int status, lua_KContext kctx) {
  int ok;
  (void)status;
  if (goroB_bg_unblock_ctx(&goroB_R_of(L)->rt, goroB_bg_current(L), &ok) == 2)
    return goroB_ctx_push_err(L, lua_touserdata(L, (int)kctx));
  lua_pushboolean(L, 1);
  return 1;
}

/* Queue the running G on q and park it until a waker hands it what it
** waits for; with the context x (at index xi), also until x ends, then
** continue with k (goroB_sync_ctx_k or a type's own, given xi). fname names the call
** in errors, reason is the dump's. vidx: the index of a value the wakers
** read on our stack (a semaphore's weight), or 0. Raises outside a G.
** May park. */
int goroB_sync_wait(lua_State *L, struct goro_waitq *q, struct goro_context *x,
                       int xi, int vidx, const char *fname, const char *reason,
                       lua_KFunction k) {
  struct bg *b;
  struct goro_waiter *w;
  if (x == NULL)
    return goroB_sync_park(L, q, vidx, fname, reason, 0, goroB_sync_granted_k);
  b = goroB_bg_block(L, fname);
  w = goroB_bg_block_ctx(L, b, goroB_ctx_prepare(L, xi, x));
  w->vidx = vidx;
  if (q != NULL) goroR_waitq_push(q, w);  /* (NULL: only x can end it) */
  return goroB_bg_park(L, b, fname, reason, xi, k);
}

int goroB_sync_park(lua_State *L, struct goro_waitq *q, int vidx, const char *fname,
                    const char *reason, lua_KContext kc, lua_KFunction k) {
  struct bg *b = goroB_bg_block(L, fname);
  b->w.data = L;
  b->w.vidx = vidx;
  goroR_waitq_push(q, &b->w);
  return goroB_bg_park(L, b, fname, reason, kc, k);
}

static int wait_on(lua_State *L, struct goro_waitq *q, const char *fname,
                   const char *reason) {
  return goroB_sync_wait(L, q, NULL, 0, 0, fname, reason, NULL);
}

/* The context slot i of a blocking call: NULL (none), or the context,
** with the stack cut to i. If it has ended already, *ended is set (the
** call then returns goroB_ctx_push_err at once). */
struct goro_context *goroB_sync_ctx_arg(lua_State *L, int i, int *ended) {
  struct goro_context *x = goroB_optctx(L, i);
  *ended = 0;
  if (x != NULL) {
    lua_settop(L, i);
    *ended = goroB_ctx_ended(x);
  }
  return x;
}

/* The result of a call with a context that did not wait: true. */
int goroB_sync_granted(lua_State *L, struct goro_context *x) {
  if (x == NULL) return 0;
  lua_pushboolean(L, 1);
  return 1;
}

/* Pop the first live waiter of q (passing over stale ones) and ready its
** G: what it waited for is goroB_sync_granted. 0 if none was left. Requires: the P. */
int goroB_sync_grant_first(struct goro_runtime *R, struct goro_waitq *q) {
  struct goro_waiter *w = goroR_waitq_claim(q);
  if (w == NULL) return 0;
  w->ok = 1;
  goroR_ready(&R->rt, w->g, 0);
  return 1;
}

/* ---- goro.mutex ----------------------------------------------------------
** Invariant: q holds no live waiter unless locked (unlock hands the mutex
** to the first live waiter, which leaves it locked). */

struct mutex {
  const void *tag;  /* &mutex_tag (goroB_checktag) */
  int locked;
  struct goro_waitq q;
};

static int l_mutex(lua_State *L) {
  struct mutex *m = goroB_sync_newobj(L, sizeof(struct mutex), &mutex_tag, 0);
  m->q.bubble = goroR_bubble_id(goroB_curg());  /* lock is durable there */
  return 1;
}

/* Take m for the running G, parking it until unlock hands m over if it is
** held. May park. */
static int mutex_acquire(lua_State *L, struct mutex *m) {
  goroR_assert(m->locked || !goroR_waitq_live(&m->q));
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
  if (!goroB_sync_grant_first(R, &m->q)) m->locked = 0;  /* else it stays: theirs */
}

/* mu:lock([ctx]) */
static int mu_lock(lua_State *L) {
  struct mutex *m = checkmutex(L);
  struct goro_context *x;
  int ended;
  if (lua_isnoneornil(L, 2)) return mutex_acquire(L, m);
  x = goroB_sync_ctx_arg(L, 2, &ended);
  if (ended) return goroB_ctx_push_err(L, x);
  if (!m->locked) {
    m->locked = 1;
    return goroB_sync_granted(L, x);
  }
  return goroB_sync_wait(L, &m->q, x, 2, 0, "lock", "mutex", goroB_sync_ctx_k);
}

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
  struct waitgroup *wg = goroB_sync_newobj(L, sizeof(struct waitgroup), &wg_tag, 0);
  wg->q.bubble = goroR_bubble_id(goroB_curg());  /* wait is durable there */
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

/* wg:wait([ctx]) */
static int wg_wait(lua_State *L) {
  struct waitgroup *wg = checkwg(L);
  int ended;
  struct goro_context *x = goroB_sync_ctx_arg(L, 2, &ended);
  if (ended) return goroB_ctx_push_err(L, x);
  if (wg->n == 0) return goroB_sync_granted(L, x);
  return goroB_sync_wait(L, &wg->q, x, 2, 0, "wait", "waitgroup", goroB_sync_ctx_k);
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
** Invariants (rw_ok): a writer excludes readers; rq holds no live waiter
** unless a writer holds the lock or waits; a writer waits only for a held
** lock. A writer whose context ended may sit stale at the head of wq
** until rw_settle (at every rlock and lock, and when it leaves) drops it
** and lets in whom it held back. */

struct rwmutex {
  const void *tag;       /* &rw_tag */
  int writer;            /* a writer holds it */
  lua_Integer readers;   /* read locks held */
  struct goro_waitq rq;  /* readers waiting for the writers to be done */
  struct goro_waitq wq;  /* writers waiting; the first blocks new readers */
};

static int rw_ok(const struct rwmutex *rw) {
  return rw->readers >= 0 && !(rw->writer && rw->readers > 0) &&
         (!goroR_waitq_live(&rw->rq) || rw->writer || rw->wq.head != NULL) &&
         (!goroR_waitq_live(&rw->wq) || rw->writer || rw->readers > 0);
}

static int l_rwmutex(lua_State *L) {
  struct rwmutex *rw = goroB_sync_newobj(L, sizeof(struct rwmutex), &rw_tag, 0);
  rw->rq.bubble = rw->wq.bubble = goroR_bubble_id(goroB_curg());
  return 1;
}

static int can_rlock(const struct rwmutex *rw) {
  return !rw->writer && rw->wq.head == NULL;
}

static int can_lock(const struct rwmutex *rw) {
  return !rw->writer && rw->readers == 0 && rw->wq.head == NULL;
}

static void rw_settle(struct goro_runtime *R, struct rwmutex *rw);

static int rw_ctx_k(lua_State *L, int status, lua_KContext kctx) {
  int ok;
  (void)status;
  if (goroB_bg_unblock_ctx(&goroB_R_of(L)->rt, goroB_bg_current(L), &ok) == 2) {
    rw_settle(goroB_R_of(L), checkrw(L));  /* what our place held back */
    return goroB_ctx_push_err(L, lua_touserdata(L, (int)kctx));
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* rw:rlock([ctx]) */
static int rw_rlock(lua_State *L) {
  struct rwmutex *rw = checkrw(L);
  int ended;
  struct goro_context *x = goroB_sync_ctx_arg(L, 2, &ended);
  if (ended) return goroB_ctx_push_err(L, x);
  rw_settle(goroB_R_of(L), rw);
  goroR_assert(rw_ok(rw));
  if (can_rlock(rw)) {
    rw->readers++;
    return goroB_sync_granted(L, x);
  }
  return goroB_sync_wait(L, &rw->rq, x, 2, 0, "rlock", "rwmutex rlock", rw_ctx_k);
}

static int rw_tryrlock(lua_State *L) {
  struct rwmutex *rw = checkrw(L);
  int ok = can_rlock(rw);
  rw->readers += ok;
  lua_pushboolean(L, ok);
  return 1;
}

/* rw:lock([ctx]) */
static int rw_lock(lua_State *L) {
  struct rwmutex *rw = checkrw(L);
  int ended;
  struct goro_context *x = goroB_sync_ctx_arg(L, 2, &ended);
  if (ended) return goroB_ctx_push_err(L, x);
  rw_settle(goroB_R_of(L), rw);
  goroR_assert(rw_ok(rw));
  if (can_lock(rw)) {
    rw->writer = 1;
    return goroB_sync_granted(L, x);
  }
  return goroB_sync_wait(L, &rw->wq, x, 2, 0, "lock", "rwmutex lock", rw_ctx_k);
}

static int rw_trylock(lua_State *L) {
  struct rwmutex *rw = checkrw(L);
  int ok = can_lock(rw);
  rw->writer |= ok;
  lua_pushboolean(L, ok);
  return 1;
}

/* Hand the lock to whom it is due now: the first live writer if no one
** holds it; else, with no writer holding it or waiting (the one that
** waited may have left with its context), the readers that queued. Drops
** the stale writers at the head of wq either way. */
static void rw_settle(struct goro_runtime *R, struct rwmutex *rw) {
  if (rw->writer) return;
  if (rw->readers == 0 && goroB_sync_grant_first(R, &rw->wq)) {
    rw->writer = 1;
    return;
  }
  if (goroR_waitq_live_head(&rw->wq) == NULL)
    while (goroB_sync_grant_first(R, &rw->rq)) rw->readers++;
}

static int rw_runlock(lua_State *L) {
  struct rwmutex *rw = checkrw(L);
  if (rw->readers == 0) return luaL_error(L, "sync: RUnlock of unlocked RWMutex");
  rw->readers--;
  rw_settle(goroB_R_of(L), rw);
  goroR_assert(rw_ok(rw));
  return 0;
}

static int rw_unlock(lua_State *L) {
  struct rwmutex *rw = checkrw(L);
  struct goro_runtime *R = goroB_R_of(L);
  if (!rw->writer) return luaL_error(L, "sync: Unlock of unlocked RWMutex");
  rw->writer = 0;
  while (goroB_sync_grant_first(R, &rw->rq)) rw->readers++;  /* the readers that waited go first */
  rw_settle(R, rw);
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
  struct once *o = goroB_sync_newobj(L, sizeof(struct once), &once_tag, 0);
  o->q.bubble = goroR_bubble_id(goroB_curg());
  return 1;
}

static uint64_t self_id(lua_State *L) {
  struct bg *b = goroB_bg_current(L);
  return b != NULL && b->w.g != NULL ? b->w.g->id : 0;
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
  struct cond *c = goroB_sync_newobj(L, sizeof(struct cond), &cond_tag, 1);
  c->m = m;
  c->q.bubble = goroR_bubble_id(goroB_curg());  /* wait is durable there */
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1);
  return 1;
}

/* The end of cond:wait, the mutex held again: nothing; with a context
** (at 2), true, or nil, err if it ended first (kctx). */
static int cond_done_k(lua_State *L, int status, lua_KContext kctx) {
  (void)status;
  if (kctx) return goroB_ctx_push_err(L, lua_touserdata(L, 2));
  if (lua_gettop(L) < 2) return 0;
  lua_pushboolean(L, 1);
  return 1;
}

/* Woken (kctx: with a context): take the mutex again, parking on its
** queue if it is held; then cond_done_k, told whether the context won. */
static int cond_relock_k(lua_State *L, int status, lua_KContext kctx) {
  struct cond *c = lua_touserdata(L, 1);
  struct mutex *m = c->m;
  lua_KContext ended = 0;
  int ok;
  (void)status;
  if (kctx)
    ended = goroB_bg_unblock_ctx(&goroB_R_of(L)->rt, goroB_bg_current(L), &ok) == 2;
  if (!m->locked) {
    m->locked = 1;
    return cond_done_k(L, LUA_OK, ended);
  }
  {
    struct bg *b = goroB_bg_block(L, "wait");
    goroR_waitq_push(&m->q, &b->w);
    return goroB_bg_park(L, b, "wait", "mutex", ended, cond_done_k);
  }
}

/* c:wait([ctx]) */
static int cond_wait(lua_State *L) {
  struct cond *c = checkcond(L);
  const char *why;
  struct bg *b;
  int ended;
  struct goro_context *x = goroB_sync_ctx_arg(L, 2, &ended);
  if (!c->m->locked) return luaL_error(L, "sync: unlock of unlocked mutex");
  if (ended) return goroB_ctx_push_err(L, x);
  b = goroB_bg_block(L, "wait");
  if ((why = goroB_bg_cannot_park(L, b)) != NULL)
    return luaL_error(L, why, "wait");  /* the mutex still held */
  if (x == NULL) {
    lua_settop(L, 1);
    goroR_waitq_push(&c->q, &b->w);
  } else {  /* (may raise: nothing queued, the mutex still held) */
    goroR_waitq_push(&c->q, goroB_bg_block_ctx(L, b, goroB_ctx_prepare(L, 2, x)));
  }
  mutex_release(goroB_R_of(L), c->m);
  return goroB_bg_park(L, b, "wait", "cond wait", x != NULL, cond_relock_k);
}

static int cond_signal(lua_State *L) {
  struct cond *c = checkcond(L);
  goroB_sync_grant_first(goroB_R_of(L), &c->q);
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
    {GORO_SEMA_MT, "semaphore", goroB_sema_methods, goroB_sema_new},
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
