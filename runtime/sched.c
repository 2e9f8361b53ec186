/*
** runtime/sched.c — the scheduling loop, parking, run queue, timers.
**
** Owns: the P's state inside struct goro_rt, carriers, G records.
** Invariants (checked by goro_assert):
**   - a G is on at most one of: the run queue (or runnext), an M, nowhere
**     (parked); its status says which;
**   - a G has a carrier iff it is RUNNING or parked stackfully;
**   - only the M in rt->p_owner touches the P's state.
** See runtime/HACKING.md for the model.
*/
#include "sched.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errors.h"
#include "fatal.h"

/* What a carrier says when it switches back to the scheduler. */
enum { SW_RUN_END = 1, SW_PARK, SW_GOSCHED };

static __thread struct goro_m *m_self __attribute__((tls_model("initial-exec")));
static uint64_t next_mid = 1; /* protected by m_lock */
static pthread_mutex_t m_lock = PTHREAD_MUTEX_INITIALIZER;

__attribute__((noinline, noipa)) struct goro_m *goro_m_self(void) {
  return m_self;
}

__attribute__((noinline, noipa)) struct goro_m *goro_m_set(struct goro_m *mp) {
  struct goro_m *old = m_self;
  m_self = mp;
  return old;
}

void goro_m_init(struct goro_m *mp) {
  memset(mp, 0, sizeof *mp);
  pthread_mutex_lock(&m_lock);
  mp->id = next_mid++;
  pthread_mutex_unlock(&m_lock);
  goro_ctx_init_thread(&mp->g0);
}

double goro_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* For wait times in dumps: the coarse clock is a few ns, not ~20. */
static double now_coarse(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- runtime lifetime ----------------------------------------------------- */

int goro_rt_init(struct goro_rt *rt, const struct goro_hooks *hooks, void *ud) {
  pthread_condattr_t ca;
  memset(rt, 0, sizeof *rt);
  if (pthread_mutex_init(&rt->lock, NULL)) return GORO_ENOMEM;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  if (pthread_cond_init(&rt->wake, &ca)) {
    pthread_condattr_destroy(&ca);
    pthread_mutex_destroy(&rt->lock);
    return GORO_ENOMEM;
  }
  pthread_condattr_destroy(&ca);
  rt->hooks = hooks;
  rt->ud = ud;
  rt->nextgid = 1;
  rt->max_workers = 4;
  return 0;
}

static void workers_join(struct goro_rt *rt);

static void carrier_free(struct goro_carrier *c) {
  goro_ctx_destroy(&c->ctx);
  goro_stack_put(c->st);
  free(c);
}

static void g_free(struct goro_rt *rt, struct goro_g *gp) {
  if (gp->allprev) gp->allprev->allnext = gp->allnext;
  else rt->allg = gp->allnext;
  if (gp->allnext) gp->allnext->allprev = gp->allprev;
  rt->ng--;
  if (gp->carrier != NULL) {
    /* A G abandoned while parked stackfully: its frames die with it. */
    carrier_free(gp->carrier);
    rt->carriers_in_use--;
  }
  free(gp);
}

void goro_g_abandon_all(struct goro_rt *rt) {
  while (rt->allg != NULL) {
    struct goro_g *gp = rt->allg;
    goro_waitq_remove_all(&gp->waiters);
    gp->status = GORO_GDEAD;
    if (rt->hooks->dead) rt->hooks->dead(rt, gp);
    g_free(rt, gp);
  }
  rt->runhead = rt->runtail = rt->runnext = NULL;
  rt->nrunnable = 0;
  rt->ntimers = 0;
  rt->abort = 0;
}

void goro_rt_destroy(struct goro_rt *rt) {
  pthread_mutex_lock(&rt->lock);
  rt->closing = 1;
  while (rt->p_owner != NULL) pthread_cond_wait(&rt->wake, &rt->lock);
  pthread_mutex_unlock(&rt->lock);
  workers_join(rt);
  goro_g_abandon_all(rt);
  while (rt->carriers != NULL) {
    struct goro_carrier *c = rt->carriers;
    rt->carriers = c->next;
    carrier_free(c);
  }
  free(rt->timers);
  pthread_cond_destroy(&rt->wake);
  pthread_mutex_destroy(&rt->lock);
}

/* ---- the P ---------------------------------------------------------------- */

int goro_p_acquire(struct goro_rt *rt, struct goro_m *mp) {
  pthread_mutex_lock(&rt->lock);
  rt->pwaiters++;
  while (rt->p_owner != NULL && !rt->closing)
    pthread_cond_wait(&rt->wake, &rt->lock);
  rt->pwaiters--;
  if (rt->closing) {
    pthread_mutex_unlock(&rt->lock);
    return GORO_ECLOSED;
  }
  rt->p_owner = mp;
  mp->rt = rt;
  pthread_mutex_unlock(&rt->lock);
  return 0;
}

static void worker_start(struct goro_rt *rt);

/* Requires: rt->lock, the P free. Work a worker could do now or later. */
static int work_pending(struct goro_rt *rt) {
  return rt->nrunnable > 0 || rt->ntimers > 0;
}

void goro_p_release(struct goro_rt *rt, struct goro_m *mp) {
  pthread_mutex_lock(&rt->lock);
  if (rt->p_owner != mp) goro_throw("goro_p_release: M %llu does not hold the P",
                                    (unsigned long long)mp->id);
  rt->p_owner = NULL;
  mp->rt = NULL;
  if (work_pending(rt) && rt->nidle == 0 && !rt->closing &&
      rt->nworkers < rt->max_workers)
    worker_start(rt);
  pthread_cond_broadcast(&rt->wake);
  pthread_mutex_unlock(&rt->lock);
}

/* ---- worker M's ---------------------------------------------------------- */

static void *worker_main(void *arg) {
  struct goro_m *mp = arg;
  struct goro_rt *rt = mp->home;

  goro_m_set(mp);
  goro_stack_thread_init();
  pthread_mutex_lock(&rt->lock);
  for (;;) {
    if (rt->closing) break;
    if (rt->p_owner == NULL && rt->pwaiters == 0 && !rt->abort &&
        (rt->nrunnable > 0 ||
         (rt->ntimers > 0 && rt->timers[0]->when <= goro_now()))) {
      rt->p_owner = mp;
      mp->rt = rt;
      pthread_mutex_unlock(&rt->lock);
      goro_sched_run(rt, mp, NULL, 0);
      pthread_mutex_lock(&rt->lock);
      rt->p_owner = NULL;
      mp->rt = NULL;
      pthread_cond_broadcast(&rt->wake);
      continue;
    }
    rt->nidle++;
    if (rt->p_owner == NULL && rt->pwaiters == 0 && !rt->abort &&
        rt->ntimers > 0) {
      struct timespec ts;
      double when = rt->timers[0]->when;
      ts.tv_sec = (time_t)when;
      ts.tv_nsec = (long)((when - (double)ts.tv_sec) * 1e9);
      pthread_cond_timedwait(&rt->wake, &rt->lock, &ts);
    } else {
      pthread_cond_wait(&rt->wake, &rt->lock);
    }
    rt->nidle--;
  }
  rt->nworkers--;
  pthread_cond_broadcast(&rt->wake);
  pthread_mutex_unlock(&rt->lock);
  goro_stack_thread_fini();
  goro_m_set(NULL);
  return NULL;
}

/* Requires: rt->lock. Start one worker M; on failure the work waits for the
** next thread that takes the P. */
static void worker_start(struct goro_rt *rt) {
  struct goro_m *mp = malloc(sizeof *mp);
  sigset_t all, old;
  pthread_attr_t attr;
  if (mp == NULL) return;
  goro_m_init(mp);
  mp->home = rt;
  mp->isworker = 1;
  sigfillset(&all);
  sigdelset(&all, SIGSEGV);  /* synchronous faults stay deliverable */
  sigdelset(&all, SIGBUS);
  sigdelset(&all, SIGFPE);
  sigdelset(&all, SIGILL);
  pthread_sigmask(SIG_BLOCK, &all, &old);  /* the new thread inherits it */
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  if (pthread_create(&mp->thread, &attr, worker_main, mp) != 0) {
    free(mp);
  } else {
    mp->allnext = rt->allm;
    rt->allm = mp;
    rt->nworkers++;
  }
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* Tell every worker to exit and join them. Requires: rt->closing set. */
static void workers_join(struct goro_rt *rt) {
  struct goro_m *list;
  pthread_mutex_lock(&rt->lock);
  pthread_cond_broadcast(&rt->wake);
  list = rt->allm;
  rt->allm = NULL;
  pthread_mutex_unlock(&rt->lock);
  while (list != NULL) {
    struct goro_m *mp = list;
    list = mp->allnext;
    pthread_join(mp->thread, NULL);
    goro_ctx_destroy(&mp->g0);
    free(mp);
  }
}

void goro_rt_kick(struct goro_rt *rt) {
  pthread_mutex_lock(&rt->lock);
  if (rt->p_owner == NULL && work_pending(rt) && rt->nidle == 0 &&
      !rt->closing && rt->nworkers < rt->max_workers)
    worker_start(rt);
  pthread_cond_broadcast(&rt->wake);
  pthread_mutex_unlock(&rt->lock);
}

void goro_rt_set_workers(struct goro_rt *rt, int n) {
  pthread_mutex_lock(&rt->lock);
  rt->max_workers = n < 0 ? 0 : n;
  pthread_mutex_unlock(&rt->lock);
}

void goro_rt_get_ms(struct goro_rt *rt, int *ms, int *idle) {
  pthread_mutex_lock(&rt->lock);
  *ms = rt->nworkers + (rt->p_owner != NULL && !rt->p_owner->isworker);
  *idle = rt->nidle;
  pthread_mutex_unlock(&rt->lock);
}

/* ---- run queue ------------------------------------------------------------ */

static void runq_put(struct goro_rt *rt, struct goro_g *gp) {
  gp->schedlink = NULL;
  if (rt->runtail) rt->runtail->schedlink = gp;
  else rt->runhead = gp;
  rt->runtail = gp;
  rt->nrunnable++;
}

/* runnext, then the queue head; after 64 runnext picks in a row the runnext
** G goes to the tail instead, so a ping-pong pair cannot starve the rest. */
static struct goro_g *runq_get(struct goro_rt *rt) {
  struct goro_g *gp = rt->runnext;
  if (gp != NULL) {
    rt->runnext = NULL;
    rt->nrunnable--;
    if (++rt->nextstreak <= 64 || rt->runhead == NULL) return gp;
    runq_put(rt, gp);
  }
  rt->nextstreak = 0;
  gp = rt->runhead;
  if (gp != NULL) {
    rt->runhead = gp->schedlink;
    if (rt->runhead == NULL) rt->runtail = NULL;
    gp->schedlink = NULL;
    rt->nrunnable--;
  }
  return gp;
}

void goro_ready(struct goro_rt *rt, struct goro_g *gp, int next) {
  goro_assert(gp->status == GORO_GWAITING);
  goro_timer_del(rt, gp);
  gp->status = GORO_GRUNNABLE;
  gp->waitreason = NULL;
  if (next) {
    struct goro_g *old = rt->runnext;
    rt->runnext = gp;
    rt->nrunnable++;
    if (old != NULL) {  /* the G it displaces keeps its turn, at the tail */
      rt->nrunnable--;
      runq_put(rt, old);
    }
  } else {
    runq_put(rt, gp);
  }
}

struct goro_g *goro_g_new(struct goro_rt *rt, void *ud) {
  struct goro_g *gp = calloc(1, sizeof *gp);
  if (gp == NULL) return NULL;
  gp->id = rt->nextgid++;
  gp->ud = ud;
  gp->heapidx = -1;
  gp->allnext = rt->allg;
  if (rt->allg) rt->allg->allprev = gp;
  rt->allg = gp;
  rt->ng++;
  gp->status = GORO_GRUNNABLE;
  runq_put(rt, gp);
  return gp;
}

/* ---- timers: a binary min-heap of sleeping G's on `when` ------------------ */

static void heap_swap(struct goro_rt *rt, int i, int j) {
  struct goro_g *a = rt->timers[i], *b = rt->timers[j];
  rt->timers[i] = b;
  b->heapidx = i;
  rt->timers[j] = a;
  a->heapidx = j;
}

static void heap_up(struct goro_rt *rt, int i) {
  while (i > 0) {
    int p = (i - 1) / 2;
    if (rt->timers[p]->when <= rt->timers[i]->when) break;
    heap_swap(rt, i, p);
    i = p;
  }
}

static void heap_down(struct goro_rt *rt, int i) {
  for (;;) {
    int l = 2 * i + 1, r = l + 1, m = i;
    if (l < rt->ntimers && rt->timers[l]->when < rt->timers[m]->when) m = l;
    if (r < rt->ntimers && rt->timers[r]->when < rt->timers[m]->when) m = r;
    if (m == i) break;
    heap_swap(rt, i, m);
    i = m;
  }
}

void goro_timer_add(struct goro_rt *rt, struct goro_g *gp, double when) {
  goro_assert(gp->heapidx < 0);
  if (rt->ntimers == rt->timercap) {
    int cap = rt->timercap ? rt->timercap * 2 : 64;
    struct goro_g **t = realloc(rt->timers, (size_t)cap * sizeof *t);
    if (t == NULL) goro_throw("goro_timer_add: out of memory");
    rt->timers = t;
    rt->timercap = cap;
  }
  gp->when = when;
  gp->heapidx = rt->ntimers;
  rt->timers[rt->ntimers++] = gp;
  heap_up(rt, gp->heapidx);
}

void goro_timer_del(struct goro_rt *rt, struct goro_g *gp) {
  int i = gp->heapidx, last;
  if (i < 0) return;
  last = --rt->ntimers;
  if (i != last) {
    heap_swap(rt, i, last);
    heap_down(rt, i);
    heap_up(rt, i);
  }
  gp->heapidx = -1;
}

/* Ready every G whose time has come; returns the earliest remaining wake
** time, or 0 if none. Requires: the P. */
static double timers_fire(struct goro_rt *rt, double now) {
  while (rt->ntimers > 0) {
    struct goro_g *gp = rt->timers[0];
    if (gp->when > now) return gp->when;
    goro_timer_del(rt, gp);
    goro_ready(rt, gp, 0);
  }
  return 0;
}

/* ---- wait queues ---------------------------------------------------------- */

void goro_waitq_push(struct goro_waitq *q, struct goro_waiter *w) {
  w->q = q;
  w->next = NULL;
  w->prev = q->tail;
  if (q->tail) q->tail->next = w;
  else q->head = w;
  q->tail = w;
}

void goro_waitq_remove(struct goro_waiter *w) {
  struct goro_waitq *q = w->q;
  if (q == NULL) return;
  if (w->prev) w->prev->next = w->next;
  else q->head = w->next;
  if (w->next) w->next->prev = w->prev;
  else q->tail = w->prev;
  w->q = NULL;
  w->next = w->prev = NULL;
}

struct goro_waiter *goro_waitq_pop(struct goro_waitq *q) {
  struct goro_waiter *w = q->head;
  if (w != NULL) goro_waitq_remove(w);
  return w;
}

void goro_waitq_remove_all(struct goro_waitq *q) {
  while (goro_waitq_pop(q) != NULL) {
  }
}

int goro_waiter_claim(struct goro_waiter *w) {
  if (w->g->selected != -1) return 0;
  w->g->selected = w->index;
  return 1;
}

struct goro_waiter *goro_waitq_claim(struct goro_waitq *q) {
  struct goro_waiter *w;
  while ((w = goro_waitq_pop(q)) != NULL)
    if (goro_waiter_claim(w)) return w;
  return NULL;
}

void goro_waitq_wake_all(struct goro_rt *rt, struct goro_waitq *q) {
  struct goro_waiter *w;
  while ((w = goro_waitq_claim(q)) != NULL) {
    w->ok = 1;
    goro_ready(rt, w->g, 0);
  }
}

/* ---- carriers and parking -------------------------------------------------- */

static void settle(struct goro_rt *rt, struct goro_m *mp, struct goro_g *gp);
static struct goro_g *next_inline(struct goro_rt *rt, struct goro_m *mp,
                                  struct goro_carrier *c);

/* The loop every carrier runs: resume the G it was handed; when that run
** ends (a stackless park, a yield, the end), settle it right here and, if
** the next G needs no carrier of its own, run it on this one without going
** through g0 (two switches saved per hand-off). Otherwise report to g0 and
** wait to be handed the next G. `c` is a local of this very stack, so it
** stays right when the carrier later runs on another thread; the M is
** re-read after every switch. */
static void carrier_main(goro_ctx *from, void *arg) {
  struct goro_g *gp = arg;
  struct goro_carrier *c = gp->carrier;
  (void)from;
  for (;;) {
    struct goro_m *mp;
    struct goro_rt *rt = goro_m_self()->rt;
    rt->hooks->resume(rt, gp);
    mp = goro_m_self();  /* a stackful park may have moved us to another M */
    settle(rt, mp, gp);
    if ((gp = next_inline(rt, mp, c)) != NULL) continue;
    gp = goro_ctx_switch(&c->ctx, &mp->g0, (void *)(uintptr_t)SW_RUN_END);
  }
}

static struct goro_carrier *carrier_get(struct goro_rt *rt) {
  struct goro_carrier *c = rt->carriers;
  if (c != NULL) {
    rt->carriers = c->next;
    rt->ncarriers--;
    c->next = NULL;
    return c;
  }
  if ((c = calloc(1, sizeof *c)) == NULL) return NULL;
  if ((c->st = goro_stack_get()) == NULL) {
    free(c);
    return NULL;
  }
  goro_ctx_make(&c->ctx, &c->st->desc, carrier_main);
  return c;
}

/* Keep a few idle carriers, suspended at the top of their loop. */
static void carrier_put(struct goro_rt *rt, struct goro_carrier *c) {
  if (rt->ncarriers >= 8) {
    carrier_free(c);
    return;
  }
  c->next = rt->carriers;
  rt->carriers = c;
  rt->ncarriers++;
}

void goro_park_prepare(struct goro_g *gp, const char *reason) {
  goro_assert(gp->status == GORO_GRUNNING);
  gp->parking = 1;
  gp->waitreason = reason;
  gp->waitsince = now_coarse();
}

void goro_park(struct goro_g *gp, const char *reason) {
  goro_assert(gp->status == GORO_GRUNNING && gp->carrier != NULL);
  gp->waitreason = reason;
  gp->waitsince = now_coarse();
  goro_ctx_switch(&gp->carrier->ctx, &goro_m_self()->g0,
                  (void *)(uintptr_t)SW_PARK);
  goro_assert(gp->status == GORO_GRUNNING);
}

void goro_gosched(struct goro_g *gp) {
  goro_assert(gp->status == GORO_GRUNNING && gp->carrier != NULL);
  goro_ctx_switch(&gp->carrier->ctx, &goro_m_self()->g0,
                  (void *)(uintptr_t)SW_GOSCHED);
}

/* ---- the loop ------------------------------------------------------------- */

/* A run of gp ended on its carrier (outcome set by the resume hook): the
** carrier is free; commit the park, requeue, or retire gp. Runs on the
** carrier itself. Requires: the P. */
static void settle(struct goro_rt *rt, struct goro_m *mp, struct goro_g *gp) {
  goro_assert(gp->status == GORO_GRUNNING && mp->curg == gp);
  gp->carrier = NULL;
  rt->carriers_in_use--;
  mp->curg = NULL;
  switch (gp->outcome) {
    case GORO_RUN_PARKED:
      gp->parking = 0;
      gp->status = GORO_GWAITING;
      rt->st.stackless_parks++;
      break;
    case GORO_RUN_YIELDED:
      gp->status = GORO_GRUNNABLE;
      runq_put(rt, gp);
      break;
    case GORO_RUN_DONE:
      gp->status = GORO_GDEAD;
      goro_waitq_wake_all(rt, &gp->waiters);
      if (gp == mp->until) mp->stop = GORO_SCHED_DONE;
      if (rt->hooks->dead) rt->hooks->dead(rt, gp);
      g_free(rt, gp);
      break;
    default:
      goro_throw("settle: G %llu ended a run without an outcome",
                 (unsigned long long)gp->id);
  }
}

/* Make gp the G running on mp, on carrier c. */
static void run_on(struct goro_rt *rt, struct goro_m *mp, struct goro_g *gp,
                   struct goro_carrier *c) {
  if (gp->carrier == NULL) {
    gp->carrier = c;
    rt->carriers_in_use++;
  }
  gp->status = GORO_GRUNNING;
  gp->outcome = 0;
  mp->curg = gp;
}

/* The next G to run on carrier c without a switch, or NULL to go back to
** g0: when the loop must stop, nothing is runnable, or the next G has a
** carrier of its own (it parked stackfully). Due timers fire here as they
** would on g0. Requires: the P. */
static struct goro_g *next_inline(struct goro_rt *rt, struct goro_m *mp,
                                  struct goro_carrier *c) {
  struct goro_g *gp;
  if (mp->stop || rt->abort || (mp->isworker && rt->pwaiters > 0)) return NULL;
  if (rt->ntimers > 0 || mp->deadline > 0) {
    double now = goro_now();
    if (rt->ntimers > 0) timers_fire(rt, now);
    if (mp->deadline > 0 && now >= mp->deadline) return NULL;
  }
  gp = rt->runnext != NULL ? rt->runnext : rt->runhead;
  if (gp == NULL || gp->carrier != NULL) return NULL;
  gp = runq_get(rt);  /* the same G, unless the fairness bound moved it */
  if (gp->carrier != NULL) {
    gp->schedlink = rt->runhead;  /* back first in line, for g0 */
    rt->runhead = gp;
    if (rt->runtail == NULL) rt->runtail = gp;
    rt->nrunnable++;
    return NULL;
  }
  run_on(rt, mp, gp, c);
  rt->st.inline_runs++;
  return gp;
}

/* Run gp (and whatever its carrier runs inline after it) until the carrier
** comes back to g0. Returns 0, or GORO_ENOMEM if no carrier could be had
** (gp stays runnable, first in line). */
static int execute(struct goro_rt *rt, struct goro_m *mp, struct goro_g *gp) {
  struct goro_carrier *c = gp->carrier;
  uintptr_t msg;
  goro_assert(gp->status == GORO_GRUNNABLE);
  if (c == NULL && (c = carrier_get(rt)) == NULL) {
    gp->schedlink = rt->runhead;
    rt->runhead = gp;
    if (rt->runtail == NULL) rt->runtail = gp;
    rt->nrunnable++;
    return GORO_ENOMEM;
  }
  run_on(rt, mp, gp, c);
  rt->st.switches++;
  msg = (uintptr_t)goro_ctx_switch(&mp->g0, &c->ctx, gp);
  /* Back on g0. The G that came back is mp->curg (the carrier may have run
  ** other G's inline since gp). */
  gp = mp->curg;
  switch (msg) {
    case SW_PARK:  /* stackful: commit the park, the carrier stays with it */
      goro_assert(gp != NULL && gp->status == GORO_GRUNNING);
      mp->curg = NULL;
      gp->status = GORO_GWAITING;
      rt->st.stackful_parks++;
      return 0;
    case SW_GOSCHED:
      goro_assert(gp != NULL && gp->status == GORO_GRUNNING);
      mp->curg = NULL;
      gp->status = GORO_GRUNNABLE;
      runq_put(rt, gp);
      return 0;
    case SW_RUN_END:  /* settled on the carrier, which is free now */
      goro_assert(gp == NULL);
      carrier_put(rt, c);
      return 0;
    default:
      goro_throw("execute: bad message %lu from a carrier", (unsigned long)msg);
  }
}

/* Sleep until `when` (0: no timer) or until another thread signals. */
static void idle_wait(struct goro_rt *rt, double when) {
  struct timespec ts;
  pthread_mutex_lock(&rt->lock);
  if (when > 0) {
    ts.tv_sec = (time_t)when;
    ts.tv_nsec = (long)((when - (double)ts.tv_sec) * 1e9);
    pthread_cond_timedwait(&rt->wake, &rt->lock, &ts);
  }
  pthread_mutex_unlock(&rt->lock);
}

int goro_sched_run(struct goro_rt *rt, struct goro_m *mp, struct goro_g *until,
                   double deadline) {
  goro_assert(rt->p_owner == mp);
  mp->until = until;
  mp->deadline = deadline;
  mp->stop = 0;
  for (;;) {
    struct goro_g *gp;
    double next = 0;

    if (mp->stop) return mp->stop;
    if (rt->abort) return GORO_SCHED_ABORT;
    if (mp->isworker && rt->pwaiters > 0) return GORO_SCHED_IDLE;
    if (rt->ntimers > 0) next = timers_fire(rt, goro_now());
    if (deadline > 0 && goro_now() >= deadline) return GORO_SCHED_BUDGET;
    gp = runq_get(rt);
    if (gp == NULL) {
      if (until == NULL) return GORO_SCHED_IDLE;
      if (next == 0) return GORO_SCHED_DEADLOCK;  /* nothing can wake anyone */
      idle_wait(rt, deadline > 0 && deadline < next ? deadline : next);
      continue;
    }
    if (execute(rt, mp, gp) == GORO_ENOMEM) return GORO_SCHED_NOMEM;
  }
}

void goro_sched_get_stats(struct goro_rt *rt, struct goro_sched_stats *out) {
  *out = rt->st;
  out->gs = rt->ng;
  out->runnable = rt->nrunnable;
  out->carriers = (uint64_t)rt->carriers_in_use;
  out->carriers_cached = (uint64_t)rt->ncarriers;
  out->sleeping = (uint64_t)rt->ntimers;
}

void goro_rt_close(struct goro_rt *rt) {
  pthread_mutex_lock(&rt->lock);
  rt->closing = 1;
  pthread_cond_broadcast(&rt->wake);
  while (rt->p_owner != NULL) pthread_cond_wait(&rt->wake, &rt->lock);
  pthread_mutex_unlock(&rt->lock);
  workers_join(rt);
  goro_g_abandon_all(rt);
}
