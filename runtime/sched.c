/*
** runtime/sched.c — the scheduling loop, parking, run queue, timers.
**
** Owns: the P's state inside struct goro_rt, carriers, G records.
** Invariants (checked by goroR_assert):
**   - a G is on at most one of: the run queue (or runnext), an M, nowhere
**     (parked); its status says which;
**   - a G has a carrier iff it is RUNNING or parked stackfully;
**   - only the M in rt->p_owner touches the P's state.
** See runtime/HACKING.md for the model.
*/
#include "sched.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errors.h"
#include "fatal.h"
#include "prof.h"

/* What a carrier says when it switches back to the scheduler. */
enum { SW_RUN_END = 1, SW_PARK, SW_GOSCHED };

static __thread struct goro_m *m_self __attribute__((tls_model("initial-exec")));
static uint64_t next_mid = 1; /* protected by m_lock */
static pthread_mutex_t m_lock = PTHREAD_MUTEX_INITIALIZER;

__attribute__((noinline, noipa)) struct goro_m *goroR_m_self(void) {
  return m_self;
}

__attribute__((noinline, noipa)) struct goro_m *goroR_m_set(struct goro_m *mp) {
  struct goro_m *old = m_self;
  m_self = mp;
  return old;
}

void goroR_m_init(struct goro_m *mp) {
  pthread_condattr_t ca;
  memset(mp, 0, sizeof *mp);
  pthread_mutex_lock(&m_lock);
  mp->id = next_mid++;
  pthread_mutex_unlock(&m_lock);
  goroA_ctx_init_thread(&mp->g0);
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&mp->parkcv, &ca);
  pthread_condattr_destroy(&ca);
}

void goroR_m_destroy(struct goro_m *mp) {
  goroA_ctx_destroy(&mp->g0);
  pthread_cond_destroy(&mp->parkcv);
}

void goroR_m_register(struct goro_rt *rt, struct goro_m *mp) {
  pthread_mutex_lock(&rt->lock);
  mp->tnext = rt->transient;
  rt->transient = mp;
  pthread_mutex_unlock(&rt->lock);
  goroR_prof_thread_attach();
}

void goroR_m_unregister(struct goro_rt *rt, struct goro_m *mp) {
  pthread_mutex_lock(&rt->lock);
  for (struct goro_m **pp = &rt->transient; *pp != NULL; pp = &(*pp)->tnext)
    if (*pp == mp) {
      *pp = mp->tnext;
      break;
    }
  pthread_mutex_unlock(&rt->lock);
  goroR_prof_thread_detach();
}

double goroR_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct timespec goroR_timespec(double t) {
  struct timespec ts;
  if (!(t >= 0)) t = 0;            /* (NaN too) */
  if (t > 1e9) t = 1e9;            /* ~31 years: forever, and no overflow */
  ts.tv_sec = (time_t)t;
  ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
  return ts;
}

/* For wait times in dumps: the coarse clock is a few ns, not ~20. */
static double now_coarse(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- runtime lifetime ----------------------------------------------------- */

int goroR_rt_init(struct goro_rt *rt, const struct goro_hooks *hooks, void *ud) {
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
  pthread_cond_init(&rt->sysmon_cv, &ca);
  pthread_condattr_destroy(&ca);
  rt->gen = goroR_live_add(rt);
  goroR_preempt_init();
  rt->hooks = hooks;
  rt->ud = ud;
  rt->nextgid = 1;
  rt->max_workers = 4;
  return 0;
}

static void workers_join(struct goro_rt *rt);

static void carrier_free(struct goro_carrier *c) {
  goroA_ctx_destroy(&c->ctx);
  goroR_stack_put(c->st);
  free(c);
}

/* gp has ended or is abandoned (status DEAD): take it off the P's list,
** free its carrier, then tell the bridge, whose look at the record is the
** last (the record may live in the bridge's memory, which it may then let
** go), and free the record if the runtime allocated it. */
static void g_end(struct goro_rt *rt, struct goro_g *gp) {
  int heap = gp->heap;
  if (gp->allprev) gp->allprev->allnext = gp->allnext;
  else rt->allg = gp->allnext;
  if (gp->allnext) gp->allnext->allprev = gp->allprev;
  rt->ng--;
  if (gp->carrier != NULL) {
    /* A G abandoned while parked stackfully: its frames die with it. */
    carrier_free(gp->carrier);
    gp->carrier = NULL;
    rt->carriers_in_use--;
  }
  if (rt->hooks->dead) rt->hooks->dead(rt, gp);
  if (heap) free(gp);
}

static void timers_drop(struct goro_rt *rt);

void goroR_g_abandon_all(struct goro_rt *rt) {
  timers_drop(rt);  /* first: g_end frees the records goroR_g_new made */
  while (rt->allg != NULL) {
    struct goro_g *gp = rt->allg;
    goroR_waitq_remove_all(&gp->waiters);
    gp->status = GORO_GDEAD;
    g_end(rt, gp);
  }
  rt->runhead = rt->runtail = rt->runnext = NULL;
  WR(rt->nrunnable, 0);
  rt->abort = 0;
  rt->until = NULL;
  rt->until_dead = 0;
}

static int p_held_locked(struct goro_rt *rt);

/* Is a callback running on any M? Requires: rt->lock (for the lists). */
static int callbacks_active(struct goro_rt *rt) {
  for (struct goro_m *mp = rt->allextra; mp != NULL; mp = mp->xnext)
    if (RD(mp->ncallback) > 0) return 1;
  for (struct goro_m *mp = rt->transient; mp != NULL; mp = mp->tnext)
    if (RD(mp->ncallback) > 0) return 1;
  for (struct goro_m *mp = rt->allm; mp != NULL; mp = mp->allnext)
    if (RD(mp->ncallback) > 0) return 1;
  return 0;
}

/* Stop everything that runs on its own: refuse new entries, wake locked
** M's so their callbacks unwind, wait until no callback is active, no G is
** in C (its stack must outlive the C call) and the P is free, then stop
** sysmon and join the workers. Idempotent. */
static void shutdown(struct goro_rt *rt) {
  pthread_mutex_lock(&rt->lock);
  rt->closing = 1;
  pthread_cond_broadcast(&rt->wake);
  for (struct goro_m *mp = rt->allextra; mp != NULL; mp = mp->xnext)
    pthread_cond_broadcast(&mp->parkcv);
  while (p_held_locked(rt) || callbacks_active(rt) ||
         atomic_load(&rt->nsyscall) > 0) {
    for (struct goro_m *mp = rt->transient; mp != NULL; mp = mp->tnext)
      pthread_cond_broadcast(&mp->parkcv);
    for (struct goro_m *mp = rt->allm; mp != NULL; mp = mp->allnext)
      pthread_cond_broadcast(&mp->parkcv);
    pthread_cond_wait(&rt->wake, &rt->lock);
  }
  pthread_mutex_unlock(&rt->lock);
  goroR_sysmon_stop(rt);
  workers_join(rt);
}

void goroR_rt_destroy(struct goro_rt *rt) {
  shutdown(rt);
  goroR_g_abandon_all(rt);
  /* Leave the live list and free the pooled extra M's in one step under
  ** live_lock: from then on an exiting host thread frees its own M. */
  goroR_extram_free_all(rt);
  while (rt->carriers != NULL) {
    struct goro_carrier *c = rt->carriers;
    rt->carriers = c->next;
    carrier_free(c);
  }
  free(rt->timers);
  pthread_cond_destroy(&rt->sysmon_cv);
  pthread_cond_destroy(&rt->wake);
  pthread_mutex_destroy(&rt->lock);
}

/* ---- the P ---------------------------------------------------------------- */

/* Requires: rt->lock. Take the P from an owner whose G is in C, or that
** has it parked (HACKING.md, "P states"). */
int goroR_p_retake_locked(struct goro_rt *rt) {
  uintptr_t owner = (uintptr_t)rt->p_owner;
  uintptr_t v = atomic_load(&rt->p_syscall);
  if (owner == 0 || (v != owner && v != (owner | 1)) ||
      !atomic_compare_exchange_strong(&rt->p_syscall, &v, (uintptr_t)0))
    return 0;
  rt->p_owner = NULL;
  if (!(v & 1)) atomic_fetch_add(&rt->nretake, 1);
  return 1;
}

/* Requires: rt->lock. Is the P free, or parked on a host thread idle in C?
** Changes nothing: the P's own fields may be read when it says so. */
static int p_free_locked(struct goro_rt *rt) {
  return rt->p_owner == NULL ||
         atomic_load(&rt->p_syscall) == ((uintptr_t)rt->p_owner | 1);
}

/* Requires: rt->lock. Is the P held? A P parked on a host thread idle in
** C is not: it is taken back from there and left free. */
static int p_held_locked(struct goro_rt *rt) {
  uintptr_t expect;
  if (rt->p_owner == NULL) return 0;
  expect = (uintptr_t)rt->p_owner | 1;
  if (!atomic_compare_exchange_strong(&rt->p_syscall, &expect, (uintptr_t)0))
    return 1;
  rt->p_owner = NULL;
  return 0;
}

void goroR_p_unpark_locked(struct goro_rt *rt, struct goro_m *mp) {
  if (rt->p_owner == mp) (void)p_held_locked(rt);
}

/* Requires: rt->lock, the P free. */
static void p_take_locked(struct goro_rt *rt, struct goro_m *mp) {
  mp->self = pthread_self();
  rt->p_owner = mp;
  atomic_store(&rt->p_syscall, (uintptr_t)0);
  mp->rt = rt;
  mp->state = GORO_M_RUNNING;
}

/* While closing, only an M already working for rt may take the P back, to
** unwind: it is in the middle of a run (it handed the P over and wants it
** back, or its locked G slept), its G is back from C, or a callback of its
** must return. New entries are refused. Requires: rt->lock. */
static int unwinding(struct goro_rt *rt, struct goro_m *mp) {
  return mp->rt == rt || mp->ncgo > 0 || mp->ncallback > 0;
}

/* Work the scheduler could do right now, from the counts the P's owner
** publishes (nrunnable counts runnext too). Requires: rt->lock, or the P. */
static int work_due(struct goro_rt *rt) {
  double when = atomic_load(&rt->next_when);
  return RD(rt->nrunnable) > 0 || (when > 0 && when <= goroR_now());
}

/* The scheduler is owed a turn: a thread coming back from C took the P
** while G's were runnable (HACKING.md, "Who gets a free P"). */
static int sched_owed(struct goro_rt *rt) {
  return atomic_load_explicit(&rt->owed, memory_order_relaxed) && work_due(rt);
}

/* An M that would run the scheduler if callers let it. Requires: rt->lock. */
static int sched_ready(struct goro_rt *rt) {
  return rt->swaiters > 0 ||
         (rt->workers_on && rt->nidle > 0 && !rt->abort && !rt->until_dead);
}

/* May the waiter take the free (or retakable) P now? A caller (back from
** C, or a host thread entering) goes first unless the scheduler is owed a
** turn and some M is there to take it; a scheduler only then, or when no
** caller waits. Requires: rt->lock. */
static int may_take(struct goro_rt *rt, int sched) {
  if (sched) return rt->cwaiters == 0 || sched_owed(rt);
  return !sched_owed(rt) || !sched_ready(rt);
}

static int p_acquire(struct goro_rt *rt, struct goro_m *mp, int sched) {
  int prev = mp->state;
  pthread_mutex_lock(&rt->lock);
  rt->pwaiters++;
  if (sched)
    rt->swaiters++;
  else
    rt->cwaiters++;
  pthread_cond_broadcast(&rt->wake);  /* an idle owner hands the P over */
  mp->state = GORO_M_WAITP;
  for (;;) {
    if (rt->closing && !unwinding(rt, mp)) break;
    if (may_take(rt, sched) && (rt->p_owner == NULL || goroR_p_retake_locked(rt)))
      break;
    pthread_cond_wait(&rt->wake, &rt->lock);
  }
  rt->pwaiters--;
  if (sched)
    rt->swaiters--;
  else
    rt->cwaiters--;
  if (rt->closing && !unwinding(rt, mp)) {
    mp->state = prev;
    pthread_mutex_unlock(&rt->lock);
    return GORO_ECLOSED;
  }
  if (!sched && work_due(rt))  /* G's wait while this thread runs Lua */
    atomic_store_explicit(&rt->owed, 1, memory_order_relaxed);
  p_take_locked(rt, mp);
  pthread_mutex_unlock(&rt->lock);
  return 0;
}

int goroR_p_acquire(struct goro_rt *rt, struct goro_m *mp) {
  return p_acquire(rt, mp, 0);
}

static void worker_start(struct goro_rt *rt);

/* Requires: rt->lock, the P free. Work a worker could do now or later. */
static int work_pending(struct goro_rt *rt) {
  return RD(rt->nrunnable) > 0 || atomic_load(&rt->next_when) > 0;
}

/* Workers that may run Lua now: those whose G is in C do not count (as in
** Go, an M in a syscall does not hold a P), up to a hard cap. Requires:
** rt->lock. */
static int workers_below_max(struct goro_rt *rt) {
  int inc = atomic_load(&rt->nsyscall);
  if (inc > rt->nworkers) inc = rt->nworkers;
  return rt->nworkers - inc < rt->max_workers && rt->nworkers < GORO_MAX_MS;
}

void goroR_rt_kick_locked(struct goro_rt *rt) {
  if (rt->workers_on && p_free_locked(rt) && work_pending(rt) && rt->nidle == 0 &&
      !rt->closing && !rt->abort && workers_below_max(rt) && !p_held_locked(rt))
    worker_start(rt);
  pthread_cond_broadcast(&rt->wake);
}

/* Requires: rt->lock and the P held by mp. */
static void p_drop_locked(struct goro_rt *rt, struct goro_m *mp) {
  if (rt->p_owner != mp)
    goroR_throw("goroR_p_release: M %llu does not hold the P",
               (unsigned long long)mp->id);
  rt->p_owner = NULL;
  atomic_store(&rt->p_syscall, (uintptr_t)0);
  goroR_rt_kick_locked(rt);
}

void goroR_p_release(struct goro_rt *rt, struct goro_m *mp) {
  pthread_mutex_lock(&rt->lock);
  p_drop_locked(rt, mp);
  mp->rt = NULL;
  pthread_mutex_unlock(&rt->lock);
}

/* Nothing needs the P but the thread that parks it: see HACKING.md, "P
** states". Requires: mp holds the P. */
void goroR_p_park(struct goro_rt *rt, struct goro_m *mp) {
  if (RD(rt->nrunnable) == 0 && atomic_load(&rt->next_when) == 0 &&
      !atomic_load(&rt->abort) && !atomic_load(&rt->closing)) {
    atomic_store(&rt->p_syscall, (uintptr_t)mp | 1);
    if (atomic_load(&rt->pwaiters) == 0 && !atomic_load(&rt->closing)) return;
    pthread_mutex_lock(&rt->lock);  /* someone may want it after all */
    if (!p_held_locked(rt)) goroR_rt_kick_locked(rt);  /* (else a waiter */
    mp->rt = NULL;                                     /* retook it) */
    pthread_mutex_unlock(&rt->lock);
    return;
  }
  goroR_p_release(rt, mp);
}

int goroR_p_take_parked(struct goro_rt *rt, struct goro_m *mp) {
  uintptr_t expect = (uintptr_t)mp | 1;
  if (!atomic_compare_exchange_strong(&rt->p_syscall, &expect, (uintptr_t)0))
    return 0;
  mp->rt = rt;  /* (the same thread parked it: dropm unparks) */
  mp->state = GORO_M_RUNNING;
  return 1;
}

/* Give the P to the threads waiting for it, then wait to get it back.
** Requires: mp holds the P. Returns 0 or GORO_ECLOSED. */
static int p_handoff(struct goro_rt *rt, struct goro_m *mp) {
  pthread_mutex_lock(&rt->lock);
  p_drop_locked(rt, mp);
  pthread_mutex_unlock(&rt->lock);
  return p_acquire(rt, mp, 1);  /* callers first (may_take) */
}

/* ---- worker M's ---------------------------------------------------------- */

static void *worker_main(void *arg) {
  struct goro_m *mp = arg;
  struct goro_rt *rt = mp->home;

  goroR_m_set(mp);
  goroA_ctx_init_thread(&mp->g0);  /* made on another thread: this one's now */
  goroR_stack_thread_init();
  goroR_m_learn_stack(mp);
  goroR_prof_thread_attach();
  pthread_mutex_lock(&rt->lock);
  for (;;) {
    if (rt->closing) break;
    double when = atomic_load(&rt->next_when);
    if (rt->workers_on && p_free_locked(rt) && rt->swaiters == 0 &&
        may_take(rt, 1) && !rt->abort && !rt->until_dead && work_due(rt) &&
        !p_held_locked(rt)) {
      p_take_locked(rt, mp);
      pthread_mutex_unlock(&rt->lock);
      goroR_sched_run(rt, mp, NULL, 0);
      pthread_mutex_lock(&rt->lock);
      if (rt->p_owner == mp) {
        rt->p_owner = NULL;
        atomic_store(&rt->p_syscall, (uintptr_t)0);
      }
      mp->rt = NULL;
      pthread_cond_broadcast(&rt->wake);
      continue;
    }
    rt->nidle++;
    mp->state = GORO_M_IDLE;
    if (rt->workers_on && p_free_locked(rt) && !rt->abort && when > 0) {
      struct timespec ts = goroR_timespec(when);
      pthread_cond_timedwait(&rt->wake, &rt->lock, &ts);
    } else {
      pthread_cond_wait(&rt->wake, &rt->lock);
    }
    rt->nidle--;
  }
  rt->nworkers--;
  pthread_cond_broadcast(&rt->wake);
  pthread_mutex_unlock(&rt->lock);
  goroR_prof_thread_detach();
  goroR_stack_thread_fini();
  goroR_m_set(NULL);
  return NULL;
}

/* Requires: rt->lock. Start one worker M; on failure the work waits for the
** next thread that takes the P. */
static void worker_start(struct goro_rt *rt) {
  struct goro_m *mp = malloc(sizeof *mp);
  sigset_t all, old;
  pthread_attr_t attr;
  if (mp == NULL) return;
  goroR_m_init(mp);
  mp->home = rt;
  mp->isworker = 1;
  sigfillset(&all);
  sigdelset(&all, SIGSEGV);  /* synchronous faults stay deliverable */
  sigdelset(&all, SIGBUS);
  sigdelset(&all, SIGFPE);
  sigdelset(&all, SIGILL);
  sigdelset(&all, SIGURG);   /* preemption */
  sigdelset(&all, SIGPROF);  /* the profiler */
  /* The new thread inherits this mask. SETMASK, not BLOCK: the creator
  ** may be sysmon, which blocks everything. */
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_attr_init(&attr);
  /* The default pthread stack (RLIMIT_STACK, 8 MiB, lazily touched): a
  ** worker's stack is the g0 where C called through goro_cgocall runs. */
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
    goroR_m_destroy(mp);
    free(mp);
  }
}

void goroR_rt_kick(struct goro_rt *rt) {
  pthread_mutex_lock(&rt->lock);
  goroR_rt_kick_locked(rt);
  pthread_mutex_unlock(&rt->lock);
}

void goroR_rt_workers_on(struct goro_rt *rt, int on) {
  pthread_mutex_lock(&rt->lock);
  rt->workers_on = on;
  pthread_cond_broadcast(&rt->wake);
  pthread_mutex_unlock(&rt->lock);
}

void goroR_rt_set_workers(struct goro_rt *rt, int n) {
  pthread_mutex_lock(&rt->lock);
  rt->max_workers = n < 0 ? 0 : n;
  pthread_mutex_unlock(&rt->lock);
}

void goroR_rt_get_ms(struct goro_rt *rt, int *ms, int *idle) {
  pthread_mutex_lock(&rt->lock);
  *ms = rt->nworkers + rt->nextram_inuse;
  for (struct goro_m *mp = rt->transient; mp != NULL; mp = mp->tnext) (*ms)++;
  *idle = rt->nidle;
  pthread_mutex_unlock(&rt->lock);
}

/* ---- run queue ------------------------------------------------------------ */

static void runq_put(struct goro_rt *rt, struct goro_g *gp) {
  gp->schedlink = NULL;
  if (rt->runtail) rt->runtail->schedlink = gp;
  else rt->runhead = gp;
  rt->runtail = gp;
  WR(rt->nrunnable, rt->nrunnable + 1);
}

/* runnext, then the queue head; after 64 runnext picks in a row the runnext
** G goes to the tail instead, so a ping-pong pair cannot starve the rest. */
static struct goro_g *runq_get(struct goro_rt *rt) {
  struct goro_g *gp = rt->runnext;
  if (gp != NULL) {
    rt->runnext = NULL;
    WR(rt->nrunnable, rt->nrunnable - 1);
    if (++rt->nextstreak <= 64 || rt->runhead == NULL) return gp;
    runq_put(rt, gp);
  }
  rt->nextstreak = 0;
  gp = rt->runhead;
  if (gp != NULL) {
    rt->runhead = gp->schedlink;
    if (rt->runhead == NULL) rt->runtail = NULL;
    gp->schedlink = NULL;
    WR(rt->nrunnable, rt->nrunnable - 1);
  }
  return gp;
}

void goroR_ready(struct goro_rt *rt, struct goro_g *gp, int next) {
  goroR_assert(gp->status == GORO_GWAITING);
  goroR_timer_del(rt, gp);
  gp->status = GORO_GRUNNABLE;
  gp->waitreason = NULL;
  if (gp->lockedm != NULL) {  /* its M sleeps: wake it, it takes the P */
    pthread_mutex_lock(&rt->lock);
    gp->lockedm->parkready = 1;
    pthread_cond_signal(&gp->lockedm->parkcv);
    pthread_mutex_unlock(&rt->lock);
    return;
  }
  if (next) {
    struct goro_g *old = rt->runnext;
    rt->runnext = gp;
    WR(rt->nrunnable, rt->nrunnable + 1);
    if (old != NULL) {  /* the G it displaces keeps its turn, at the tail */
      WR(rt->nrunnable, rt->nrunnable - 1);
      runq_put(rt, old);
    }
  } else {
    runq_put(rt, gp);
  }
}

struct goro_g *goroR_g_new(struct goro_rt *rt, void *ud) {
  struct goro_g *gp = calloc(1, sizeof *gp);
  if (gp == NULL) return NULL;
  gp->heap = 1;
  goroR_g_init(rt, gp, ud);
  return gp;
}

void goroR_g_init(struct goro_rt *rt, struct goro_g *gp, void *ud) {
  gp->id = rt->nextgid++;
  gp->ud = ud;
  gp->timer.heapidx = -1;
  gp->timer.isg = 1;
  gp->allnext = rt->allg;
  if (rt->allg) rt->allg->allprev = gp;
  rt->allg = gp;
  rt->ng++;
  gp->status = GORO_GRUNNABLE;
  runq_put(rt, gp);
}

/* ---- timers: a binary min-heap on `when` ------------------------------------ */

static void heap_swap(struct goro_rt *rt, int i, int j) {
  struct goro_timer *a = rt->timers[i], *b = rt->timers[j];
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

int goroR_timer_stop(struct goro_rt *rt, struct goro_timer *t) {
  int i = t->heapidx, last;
  if (i < 0) return 0;
  last = --rt->ntimers;
  if (i != last) {
    heap_swap(rt, i, last);
    heap_down(rt, i);
    heap_up(rt, i);
  }
  t->heapidx = -1;
  if (t->isg) rt->nsleeping--;
  atomic_store(&rt->next_when, rt->ntimers > 0 ? rt->timers[0]->when : 0.0);
  return 1;
}

int goroR_timer_start(struct goro_rt *rt, struct goro_timer *t, double when) {
  goroR_timer_stop(rt, t);
  if (rt->ntimers == rt->timercap) {
    int cap = rt->timercap ? rt->timercap * 2 : 64;
    struct goro_timer **h = realloc(rt->timers, (size_t)cap * sizeof *h);
    if (h == NULL) return GORO_ENOMEM;
    rt->timers = h;
    rt->timercap = cap;
  }
  t->when = when;
  t->heapidx = rt->ntimers;
  rt->timers[rt->ntimers++] = t;
  if (t->isg) rt->nsleeping++;
  heap_up(rt, t->heapidx);
  atomic_store(&rt->next_when, rt->timers[0]->when);
  return 0;
}

void goroR_timer_add(struct goro_rt *rt, struct goro_g *gp, double when) {
  goroR_assert(gp->timer.heapidx < 0 && gp->timer.isg);
  if (goroR_timer_start(rt, &gp->timer, when) != 0)
    goroR_throw("goroR_timer_add: out of memory");
}

void goroR_timer_del(struct goro_rt *rt, struct goro_g *gp) {
  goroR_timer_stop(rt, &gp->timer);
}

#define G_OF_TIMER(t) \
  ((struct goro_g *)(void *)((char *)(t) - offsetof(struct goro_g, timer)))

/* Drop every timer, disarmed (a run abandons its G's). */
static void timers_drop(struct goro_rt *rt) {
  for (int i = 0; i < rt->ntimers; i++) rt->timers[i]->heapidx = -1;
  rt->ntimers = rt->nsleeping = 0;
  atomic_store(&rt->next_when, 0.0);
}

/* Ready every G whose time has come and fire every other due timer;
** returns the earliest remaining time, or 0 if none. Requires: the P. */
static double timers_fire(struct goro_rt *rt, double now) {
  while (rt->ntimers > 0) {
    struct goro_timer *t = rt->timers[0];
    if (t->when > now) return t->when;
    goroR_timer_stop(rt, t);
    if (t->isg)
      goroR_ready(rt, G_OF_TIMER(t), 0);
    else
      rt->hooks->fire(rt, t);
  }
  return 0;
}

/* ---- wait queues ---------------------------------------------------------- */

void goroR_waitq_push(struct goro_waitq *q, struct goro_waiter *w) {
  w->q = q;
  w->next = NULL;
  w->prev = q->tail;
  if (q->tail) q->tail->next = w;
  else q->head = w;
  q->tail = w;
}

void goroR_waitq_remove(struct goro_waiter *w) {
  struct goro_waitq *q = w->q;
  if (q == NULL) return;
  if (w->prev) w->prev->next = w->next;
  else q->head = w->next;
  if (w->next) w->next->prev = w->prev;
  else q->tail = w->prev;
  w->q = NULL;
  w->next = w->prev = NULL;
}

struct goro_waiter *goroR_waitq_pop(struct goro_waitq *q) {
  struct goro_waiter *w = q->head;
  if (w != NULL) goroR_waitq_remove(w);
  return w;
}

void goroR_waitq_remove_all(struct goro_waitq *q) {
  while (goroR_waitq_pop(q) != NULL) {
  }
}

int goroR_waiter_claim(struct goro_waiter *w) {
  if (w->g->selected != -1) return 0;
  w->g->selected = w->index;
  return 1;
}

struct goro_waiter *goroR_waitq_claim(struct goro_waitq *q) {
  struct goro_waiter *w;
  while ((w = goroR_waitq_pop(q)) != NULL)
    if (goroR_waiter_claim(w)) return w;
  return NULL;
}

void goroR_waitq_wake_all(struct goro_rt *rt, struct goro_waitq *q, int ok) {
  struct goro_waiter *w;
  while ((w = goroR_waitq_claim(q)) != NULL) {
    w->ok = ok;
    goroR_ready(rt, w->g, 0);
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
    struct goro_rt *rt = goroR_m_self()->rt;
    rt->hooks->resume(rt, gp);
    mp = goroR_m_self();  /* a stackful park may have moved us to another M */
    settle(rt, mp, gp);
    if ((gp = next_inline(rt, mp, c)) != NULL) continue;
    gp = goroA_ctx_switch(&c->ctx, &mp->g0, (void *)(uintptr_t)SW_RUN_END);
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
  if ((c->st = goroR_stack_get()) == NULL) {
    free(c);
    return NULL;
  }
  goroA_ctx_make(&c->ctx, &c->st->desc, carrier_main);
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

void goroR_park_prepare(struct goro_g *gp, const char *reason) {
  goroR_assert(gp->status == GORO_GRUNNING);
  gp->parking = 1;
  gp->waitreason = reason;
  gp->waitsince = now_coarse();
}

/* A locked G parks by putting its M to sleep: see HACKING.md, Locked G's.
** While the P is free the sleeping M fires due timers itself, so a
** callback that sleeps wakes up even with no worker and no step. */
static int park_locked(struct goro_g *gp, const char *reason) {
  struct goro_m *mp = gp->lockedm;
  struct goro_rt *rt = mp->rt;
  int held = 0;

  gp->waitreason = reason;
  gp->waitsince = now_coarse();
  gp->status = GORO_GWAITING;
  rt->st.stackful_parks++;
  pthread_mutex_lock(&rt->lock);
  mp->parkready = 0;
  rt->nlocked++;
  p_drop_locked(rt, mp);
  mp->state = GORO_M_PARKED;
  /* An extra M's own callbacks are the host's, but one nested in a
  ** cgocall holds nsyscall, which goroR_rt_quiesce waits for. */
  while (!mp->parkready && !rt->closing &&
         !(rt->quiescing && (!mp->isextra || mp->ncgo > 0))) {
    double when = atomic_load(&rt->next_when);
    if (when > 0 && !rt->abort) {
      double now = goroR_now();
      if (when <= now && !p_held_locked(rt)) {
        p_take_locked(rt, mp);
        pthread_mutex_unlock(&rt->lock);
        timers_fire(rt, goroR_now());
        pthread_mutex_lock(&rt->lock);
        if (mp->parkready) {
          held = 1;
          break;
        }
        p_drop_locked(rt, mp);
        mp->state = GORO_M_PARKED;
        continue;
      }
      /* Always timed while a timer is pending: whoever holds the P now
      ** may give it up before the timer is due. */
      struct timespec ts = goroR_timespec(when > now ? when : now + 1e-3);
      pthread_cond_timedwait(&mp->parkcv, &rt->lock, &ts);
    } else {
      pthread_cond_wait(&mp->parkcv, &rt->lock);
    }
  }
  rt->nlocked--;
  {
    int ready = mp->parkready;
    int ended = !ready && !rt->closing;  /* (read under the lock) */
    pthread_mutex_unlock(&rt->lock);
    if (!held && goroR_p_acquire(rt, mp) != 0) return GORO_ECLOSED;
    gp->status = GORO_GRUNNING;
    if (ready) return 0;
    return ended ? GORO_EENDED : GORO_ECLOSED;  /* woken to unwind */
  }
}

int goroR_park(struct goro_g *gp, const char *reason) {
  if (gp->lockedm != NULL) return park_locked(gp, reason);
  goroR_assert(gp->status == GORO_GRUNNING && gp->carrier != NULL);
  gp->waitreason = reason;
  gp->waitsince = now_coarse();
  goroA_ctx_switch(&gp->carrier->ctx, &goroR_m_self()->g0,
                  (void *)(uintptr_t)SW_PARK);
  goroR_assert(gp->status == GORO_GRUNNING);
  return 0;
}

void goroR_gosched(struct goro_g *gp) {
  goroR_assert(gp->status == GORO_GRUNNING && gp->carrier != NULL);
  goroA_ctx_switch(&gp->carrier->ctx, &goroR_m_self()->g0,
                  (void *)(uintptr_t)SW_GOSCHED);
}

/* ---- the loop ------------------------------------------------------------- */

/* A run of gp ended on its carrier (outcome set by the resume hook): the
** carrier is free; commit the park, requeue, or retire gp. Runs on the
** carrier itself. Requires: the P. */
static void settle(struct goro_rt *rt, struct goro_m *mp, struct goro_g *gp) {
  goroR_assert(gp->status == GORO_GRUNNING && mp->curg == gp);
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
      goroR_waitq_wake_all(rt, &gp->waiters, 1);
      if (gp == mp->until) mp->stop = GORO_SCHED_DONE;
      if (gp == rt->until) {  /* maybe on a worker: goro.run's M must know */
        rt->until = NULL;
        pthread_mutex_lock(&rt->lock);  /* and come back, even from a callback */
        rt->until_dead = 1;  /* (read under the lock by waiters and workers) */
        goroR_rt_unwind_callbacks_locked(rt);
        pthread_mutex_unlock(&rt->lock);
      }
      g_end(rt, gp);
      break;
    default:
      goroR_throw("settle: G %llu ended a run without an outcome",
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
  WR(rt->schedtick, rt->schedtick + 1);
}

/* The next G to run on carrier c without a switch, or NULL to go back to
** g0: when the loop must stop, nothing is runnable, or the next G has a
** carrier of its own (it parked stackfully). Due timers fire here as they
** would on g0. Requires: the P. */
static struct goro_g *next_inline(struct goro_rt *rt, struct goro_m *mp,
                                  struct goro_carrier *c) {
  struct goro_g *gp;
  if (mp->stop || rt->abort || rt->closing || rt->pwaiters > 0 ||
      rt->until_dead)
    return NULL;
  if (rt->ntimers > 0 || mp->deadline > 0) {
    double now = goroR_now();
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
    WR(rt->nrunnable, rt->nrunnable + 1);
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
  goroR_assert(gp->status == GORO_GRUNNABLE);
  if (c == NULL && (c = carrier_get(rt)) == NULL) {
    gp->schedlink = rt->runhead;
    rt->runhead = gp;
    if (rt->runtail == NULL) rt->runtail = gp;
    WR(rt->nrunnable, rt->nrunnable + 1);
    return GORO_ENOMEM;
  }
  run_on(rt, mp, gp, c);
  rt->st.switches++;
  msg = (uintptr_t)goroA_ctx_switch(&mp->g0, &c->ctx, gp);
  /* Back on g0. The G that came back is mp->curg (the carrier may have run
  ** other G's inline since gp). */
  gp = mp->curg;
  switch (msg) {
    case SW_PARK:  /* stackful: commit the park, the carrier stays with it */
      goroR_assert(gp != NULL && gp->status == GORO_GRUNNING);
      mp->curg = NULL;
      gp->status = GORO_GWAITING;
      rt->st.stackful_parks++;
      return 0;
    case SW_GOSCHED:
      goroR_assert(gp != NULL && gp->status == GORO_GRUNNING);
      mp->curg = NULL;
      gp->status = GORO_GRUNNABLE;
      runq_put(rt, gp);
      return 0;
    case SW_RUN_END:  /* settled on the carrier, which is free now */
      goroR_assert(gp == NULL);
      carrier_put(rt, c);
      return 0;
    default:
      goroR_throw("execute: bad message %lu from a carrier", (unsigned long)msg);
  }
}

/* Can something outside the run queue and the timers still make a G
** runnable? A G in C, a host thread holding an extra M, a locked G whose
** M sleeps. Then a quiet run queue is not a deadlock. */
static int outside_hope(struct goro_rt *rt) {
  int hope;
  pthread_mutex_lock(&rt->lock);
  hope = atomic_load(&rt->nsyscall) > 0 || rt->nextram_inuse > 0 ||
         rt->nlocked > 0 || rt->pwaiters > 0;
  pthread_mutex_unlock(&rt->lock);
  return hope;
}

/* Can a timer still make a G runnable: a G sleeps, or a G waits on the
** channel of a channel timer? Requires: the P. */
static int timers_hope(struct goro_rt *rt) {
  if (rt->nsleeping > 0) return 1;
  for (int i = 0; i < rt->ntimers; i++) {
    struct goro_timer *t = rt->timers[i];
    if (t->isg || rt->hooks->wakes == NULL || rt->hooks->wakes(rt, t)) return 1;
  }
  return 0;
}

/* Sleep until `when` (0: no limit) or until another thread signals (a
** thread wants the P, a locked M left, ...). */
static void idle_wait(struct goro_rt *rt, double when) {
  pthread_mutex_lock(&rt->lock);
  if (rt->pwaiters == 0 && !rt->closing) {
    if (when > 0) {
      struct timespec ts = goroR_timespec(when);
      pthread_cond_timedwait(&rt->wake, &rt->lock, &ts);
    } else {
      pthread_cond_wait(&rt->wake, &rt->lock);
    }
  }
  pthread_mutex_unlock(&rt->lock);
}

int goroR_sched_run(struct goro_rt *rt, struct goro_m *mp, struct goro_g *until,
                   double deadline) {
  goroR_assert(rt->p_owner == mp);
  mp->until = until;
  mp->deadline = deadline;
  mp->stop = 0;
  if (until != NULL) {
    rt->until = until;
    rt->until_dead = 0;
  }
  for (;;) {
    struct goro_g *gp;
    double next = 0;

    if (mp->stop) return mp->stop;
    if (rt->until_dead) {  /* the run's main G ended on another M */
      if (until != NULL) return GORO_SCHED_DONE;
      return GORO_SCHED_IDLE;  /* give the P to the run's M */
    }
    if (rt->abort || rt->closing) return GORO_SCHED_ABORT;
    if (rt->pwaiters > 0 && !sched_owed(rt)) {  /* serve threads waiting */
      if (mp->isworker) return GORO_SCHED_IDLE;
      if (p_handoff(rt, mp) != 0) return GORO_SCHED_ABORT;
      continue;
    }
    if (rt->needextram) goroR_extram_refill(rt);
    if (rt->ntimers > 0) next = timers_fire(rt, goroR_now());
    if (deadline > 0 && goroR_now() >= deadline) return GORO_SCHED_BUDGET;
    gp = runq_get(rt);
    /* The scheduler had its turn: timers fired and the queue's head taken,
    ** if any (a channel timer readies no G, yet it was the owed work). */
    atomic_store_explicit(&rt->owed, 0, memory_order_relaxed);
    if (gp == NULL) {
      if (until == NULL) return GORO_SCHED_IDLE;
      if (!timers_hope(rt) && !outside_hope(rt))
        return GORO_SCHED_DEADLOCK;  /* nothing can wake anyone */
      idle_wait(rt, deadline > 0 && (next == 0 || deadline < next) ? deadline : next);
      continue;
    }
    if (execute(rt, mp, gp) == GORO_ENOMEM) return GORO_SCHED_NOMEM;
  }
}

void goroR_sched_get_stats(struct goro_rt *rt, struct goro_sched_stats *out) {
  *out = rt->st;
  out->preempts = atomic_load(&rt->npreempt);
  out->retakes = atomic_load(&rt->nretake);
  out->gs = rt->ng;
  out->runnable = rt->nrunnable;
  out->carriers = (uint64_t)rt->carriers_in_use;
  out->carriers_cached = (uint64_t)rt->ncarriers;
  out->sleeping = (uint64_t)rt->nsleeping;
  out->timers = (uint64_t)(rt->ntimers - rt->nsleeping);
}

void goroR_rt_unwind_callbacks_locked(struct goro_rt *rt) {
  rt->quiescing = 1;
  for (struct goro_m *mp = rt->transient; mp != NULL; mp = mp->tnext)
    pthread_cond_signal(&mp->parkcv);  /* no waiter: a no-op */
  for (struct goro_m *mp = rt->allm; mp != NULL; mp = mp->allnext)
    pthread_cond_signal(&mp->parkcv);
  for (struct goro_m *mp = rt->allextra; mp != NULL; mp = mp->xnext)
    pthread_cond_signal(&mp->parkcv);  /* it decides (park_locked) */
}

void goroR_rt_run_begin(struct goro_rt *rt, double deadline) {
  pthread_mutex_lock(&rt->lock);
  rt->run_active = 1;
  rt->run_deadline = deadline;
  rt->quiescing = 0;
  pthread_mutex_unlock(&rt->lock);
}

void goroR_rt_quiesce(struct goro_rt *rt, struct goro_m *mp) {
  if (atomic_load(&rt->nsyscall) > 0) {
    rt->abort = 1;  /* no new runs; a G back from C stops at its next park */
    pthread_mutex_lock(&rt->lock);
    goroR_rt_unwind_callbacks_locked(rt);  /* callbacks unwind to their C */
    pthread_mutex_unlock(&rt->lock);
  }
  while (atomic_load(&rt->nsyscall) > 0) {
    pthread_mutex_lock(&rt->lock);
    p_drop_locked(rt, mp);
    while (atomic_load(&rt->nsyscall) > 0 || p_held_locked(rt))
      pthread_cond_wait(&rt->wake, &rt->lock);
    pthread_mutex_unlock(&rt->lock);
    goroR_p_acquire(rt, mp);
  }
  pthread_mutex_lock(&rt->lock);
  rt->quiescing = 0;
  rt->run_active = 0;
  rt->run_deadline = 0;
  pthread_mutex_unlock(&rt->lock);
}

void goroR_rt_close(struct goro_rt *rt) {
  shutdown(rt);
  goroR_g_abandon_all(rt);
}
