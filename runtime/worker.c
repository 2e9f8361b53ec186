/*
** runtime/worker.c — worker M's; see worker.h and HACKING.md ("Worker
** M's").
**
** Owns: rt->allm, nworkers, nidle, max_workers, max_ms, workers_on (all under
** rt->lock), and each worker's M record, which lives from worker_start
** to goroR_workers_join.
** A worker is idle (on rt->idlem, asleep on its own parkcv), running (it
** holds the P and runs G's until none is ready), or exiting (it saw
** rt->closing). Wakers take an idle worker off rt->idlem and signal it,
** one per thing to do (HACKING.md, "Waking idle workers, one at a time").
*/
#include "worker.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "frame.h"
#include "m.h"
#include "netpoll.h"
#include "p.h"
#include "prof.h"
#include "sched.h"
#include "timer.h"

/* A worker done scheduling gives the P back (if it still holds it).
** Requires: rt->lock. */
static void release_locked(struct goro_rt *rt, struct goro_m *mp) {
  if (rt->p_owner == mp) {
    rt->p_owner = NULL;
    atomic_store(&rt->p_syscall, (uintptr_t)0);
  }
  mp->rt = NULL;
  goroR_rt_wake_locked(rt);
}

/* Take the first idle worker off rt->idlem and wake it; 0 if none is
** idle (or every idle one was claimed already). Requires: rt->lock. */
/* Take mp off rt->idlem and wake it. Requires: rt->lock, mp->onidle. */
static void idle_wake(struct goro_rt *rt, struct goro_m *mp) {
  struct goro_m **pp = &rt->idlem;
  while (*pp != mp) pp = &(*pp)->idlenext;
  *pp = mp->idlenext;
  mp->idlenext = NULL;
  mp->onidle = 0;
  pthread_cond_signal(&mp->parkcv);
}

static int idle_wake_one(struct goro_rt *rt) {
  if (rt->idlem == NULL) return 0;
  idle_wake(rt, rt->idlem);
  return 1;
}

/* mp, a worker, sleeps until a waker claims it, its timer is due (`when`,
** 0: none) or the runtime closes. Requires: rt->lock. */
static void idle_wait(struct goro_rt *rt, struct goro_m *mp, double when) {
  rt->nidle++;
  mp->state = GORO_M_IDLE;
  mp->idlenext = rt->idlem;
  rt->idlem = mp;
  mp->onidle = 1;
  if (when > 0) {
    struct timespec ts = goroR_timespec(when);
    goroR_cond_timedwait(&mp->parkcv, &rt->lock, &ts);
  } else {
    goroR_cond_wait(&mp->parkcv, &rt->lock);
  }
  if (mp->onidle) {  /* woke by itself: off the list */
    struct goro_m **pp = &rt->idlem;
    while (*pp != mp) pp = &(*pp)->idlenext;
    *pp = mp->idlenext;
    mp->idlenext = NULL;
    mp->onidle = 0;
  }
  if (rt->timerm == mp) rt->timerm = NULL;
  rt->nidle--;
}

void goroR_workers_wake_locked(struct goro_rt *rt) {
  int n;
  if (rt->idlem == NULL) return;
  if (rt->closing) {
    while (idle_wake_one(rt)) {}
    return;
  }
  n = rt->ncgoq;
  if (rt->workers_on && goroR_p_free_locked(rt) && !rt->abort) {
    double when = atomic_load(&rt->next_when);
    if (goroR_p_work_due(rt) || goroR_netpoll_waiting(rt)) {
      n++;
    } else if (when > 0 && (rt->timerm == NULL || rt->timerm_when > when)) {
      /* A timer nobody sleeps until: the timer worker (or a new one)
      ** sets its alarm again. */
      if (rt->timerm != NULL && rt->timerm->onidle)
        idle_wake(rt, rt->timerm);
      else
        n++;
    }
  }
  while (n-- > 0 && idle_wake_one(rt)) {}
}

static void *worker_main(void *arg) {
  struct goro_m *mp = arg;
  struct goro_rt *rt = mp->home;

  /* Nobody outside goro holds a worker's pthread_t, but C a G calls runs
  ** here: a cancellation (or pthread_exit) would wedge goro as a host
  ** thread's would (HACKING.md, "Host threads that end"). */
  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
  goroR_m_set(mp);
  goroA_ctx_init_thread(&mp->g0);  /* made on another thread: this one's now */
  goroR_stack_thread_init();
  goroR_m_learn_stack(mp);
  goroR_prof_thread_attach();
  goroR_lock(&rt->lock);
  for (;;) {
    struct goro_g *handed;
    if (rt->closing || mp->exiting) break;  /* (exiting: its locked G ended) */
    if ((handed = goroR_cgoq_pop_locked(rt)) != NULL) {  /* a step's C call */
      goroR_unlock(&rt->lock);
      goroR_cgocall_adopt(rt, mp, handed);
      if (mp->rt == rt) {  /* it took the P when C returned: schedule */
        goroR_sched_run(rt, mp, NULL, 0);
        goroR_lock(&rt->lock);
        release_locked(rt, mp);
      } else {
        goroR_lock(&rt->lock);
      }
      continue;
    }
    double when = atomic_load(&rt->next_when);
    /* (Not while its loop would give the P straight back: taking it
    ** again and again, it kept the lock from the waiters for ms.) */
    if (rt->workers_on && goroR_p_free_locked(rt) && rt->swaiters == 0 &&
        !goroR_p_waiters_first(rt, 1) && !rt->abort && !rt->until_dead &&
        (goroR_p_work_due(rt) || goroR_netpoll_waiting(rt)) &&
        !goroR_p_held_locked(rt)) {  /* (I/O: it becomes the poller) */
      goroR_p_take_locked(rt, mp);
      rt->st.worker_takes++;
      goroR_unlock(&rt->lock);
      goroR_sched_run(rt, mp, NULL, 0);
      goroR_lock(&rt->lock);
      release_locked(rt, mp);
      continue;
    }
    /* One idle worker sleeps until the earliest timer, and only while
    ** it is ahead: a due one waits for whoever takes the P, and whoever
    ** frees the P wakes a worker for it (goroR_workers_wake_locked). */
    if (rt->workers_on && goroR_p_free_locked(rt) && !rt->abort && when > goroR_now() &&
        (rt->timerm == NULL || rt->timerm == mp)) {
      rt->timerm = mp;
      rt->timerm_when = when;
    } else {
      when = 0;
    }
    idle_wait(rt, mp, when);
  }
  rt->nworkers--;
  goroR_rt_wake_locked(rt);
  goroR_unlock(&rt->lock);
  goroR_prof_thread_detach();
  goroR_stack_thread_fini();
  goroR_m_set(NULL);
  return NULL;
}

/* Start one worker M; on failure the work waits for the next thread that
** takes the P. Requires: rt->lock. */
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
    goroR_m_destroy(mp);
    free(mp);
  } else {
    mp->allnext = rt->allm;
    rt->allm = mp;
    rt->nworkers++;
  }
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void goroR_workers_join(struct goro_rt *rt) {
  struct goro_m *list;
  goroR_lock(&rt->lock);
  goroR_rt_wake_locked(rt);
  list = rt->allm;
  rt->allm = NULL;
  goroR_unlock(&rt->lock);
  while (list != NULL) {
    struct goro_m *mp = list;
    list = mp->allnext;
    pthread_join(mp->thread, NULL);
    goroR_m_destroy(mp);
    free(mp);
  }
}

/* Work a worker could do now or later (G's waiting on I/O need a poller).
** Requires: rt->lock, the P free. */
static int work_pending(struct goro_rt *rt) {
  return RD(rt->nrunnable) > 0 || atomic_load(&rt->next_when) > 0 ||
         atomic_load(&rt->ncgoret) > 0 || goroR_netpoll_waiting(rt);
}

/* Workers busy for good or for a while: those whose G is in C, and the
** dedicated ones of locked G's. (nsyscall also counts M's that are no
** workers: the bound keeps the estimate to the workers.) Requires:
** rt->lock. */
static int workers_busy(struct goro_rt *rt) {
  int inc = atomic_load(&rt->nsyscall) + rt->nlockedw;
  return inc > rt->nworkers ? rt->nworkers : inc;
}

/* Workers that may run Lua now: those whose G is in C do not count (as in
** Go, an M in a syscall does not hold a P), up to the cap, max_ms.
** Requires: rt->lock. */
static int workers_below_max(struct goro_rt *rt) {
  return rt->nworkers - workers_busy(rt) < rt->max_workers &&
         rt->nworkers < rt->max_ms;
}

void goroR_rt_kick_locked(struct goro_rt *rt) {
  if (rt->workers_on && goroR_p_free_locked(rt) && work_pending(rt) &&
      rt->idlem == NULL && !rt->closing && !rt->abort && workers_below_max(rt) &&
      !goroR_p_held_locked(rt))
    worker_start(rt);
  goroR_rt_wake_locked(rt);  /* (an idle worker, if there is one) */
}

void goroR_rt_kick_cgo_locked(struct goro_rt *rt) {
  if (!rt->closing && !idle_wake_one(rt) && rt->nworkers < rt->max_ms)
    worker_start(rt);  /* (M's in C do not count against max_workers) */
}

void goroR_rt_kick(struct goro_rt *rt) {
  goroR_lock(&rt->lock);
  goroR_rt_kick_locked(rt);
  goroR_unlock(&rt->lock);
}

void goroR_rt_workers_on(struct goro_rt *rt, int on) {
  goroR_lock(&rt->lock);
  rt->workers_on = on;
  goroR_rt_wake_locked(rt);
  goroR_unlock(&rt->lock);
}

void goroR_rt_set_workers(struct goro_rt *rt, int n) {
  goroR_lock(&rt->lock);
  WR(rt->max_workers, n < 0 ? 0 : n);  /* (cgo.c glances at it) */
  goroR_unlock(&rt->lock);
}

void goroR_rt_set_max_ms(struct goro_rt *rt, int n) {
  goroR_lock(&rt->lock);
  rt->max_ms = n < 1 ? 1 : n > GORO_MAX_MS_LIMIT ? GORO_MAX_MS_LIMIT : n;
  goroR_unlock(&rt->lock);
  goroR_rt_kick(rt);  /* a higher cap: work that waited may start one now */
}

int goroR_rt_max_ms(struct goro_rt *rt) {
  int n;
  goroR_lock(&rt->lock);
  n = rt->max_ms;
  goroR_unlock(&rt->lock);
  return n;
}

int goroR_rt_waiting_for_m(struct goro_rt *rt) {
  int n = 0;
  goroR_lock(&rt->lock);
  if (rt->nworkers >= rt->max_ms && rt->nidle == 0 &&
      workers_busy(rt) >= rt->nworkers)
    n = (int)RD(rt->nrunnable);
  goroR_unlock(&rt->lock);
  return n;
}

int goroR_rt_max_workers(struct goro_rt *rt) {
  int n;
  goroR_lock(&rt->lock);
  n = rt->max_workers;
  goroR_unlock(&rt->lock);
  return n;
}
