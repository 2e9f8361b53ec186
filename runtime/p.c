/*
** runtime/p.c — the P's ownership; see p.h and HACKING.md ("P states",
** "Who gets a free P").
**
** Owns: rt->p_owner, p_syscall, pwaiters, cwaiters, swaiters, owed,
** pstarving.
** Invariants: p_owner changes only under rt->lock; p_syscall leaves the
** owner's values (owner, owner | 1) only by a CAS to 0, after which the
** one who won the CAS may clear p_owner; a thread counted in pwaiters is
** asleep on rt->wake or about to look at the P again; while pstarving
** names a caller, no other caller takes the P.
** Locks: rt->lock; everything else here is an atomic.
*/
#include "p.h"

#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "errors.h"
#include "fatal.h"
#include "netpoll.h"
#include "sysmon.h"
#include "timer.h"
#include "worker.h"

/* Waiting steps sleep on rt->stepseq, not on rt->wake (step_acquire). */
static void wake_steps(struct goro_rt *rt) {
  if (atomic_load(&rt->step_waits) == 0) return;
  atomic_fetch_add(&rt->stepseq, 1);
  syscall(SYS_futex, &rt->stepseq, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, INT_MAX, NULL,
          NULL, 0);
}

void goroR_rt_wake_locked(struct goro_rt *rt) {
  pthread_cond_broadcast(&rt->wake);
  wake_steps(rt);
  goroR_netpoll_break(rt);
  goroR_workers_wake_locked(rt);
}

/* A thread comes to wait for the P: the owner must look if it sleeps in
** its idle wait (on rt->wake, or in the poller), and a worker if the P is
** free for an owed turn; the other waiters need not (each arrival used to
** wake them all, who then queued on rt->lock). Requires: rt->lock. */
static void wake_for_waiter_locked(struct goro_rt *rt) {
  if (rt->owner_idle) pthread_cond_broadcast(&rt->wake);
  goroR_netpoll_break(rt);
  goroR_workers_wake_locked(rt);
}

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

int goroR_p_free_locked(struct goro_rt *rt) {
  return rt->p_owner == NULL ||
         atomic_load(&rt->p_syscall) == ((uintptr_t)rt->p_owner | 1);
}

int goroR_p_held_locked(struct goro_rt *rt) {
  uintptr_t expect;
  if (rt->p_owner == NULL) return 0;
  expect = (uintptr_t)rt->p_owner | 1;
  if (!atomic_compare_exchange_strong(&rt->p_syscall, &expect, (uintptr_t)0))
    return 1;
  rt->p_owner = NULL;
  /* A waiter that looked while the P was parked may sleep untimed (the
  ** starving caller does): it must look again now that the P is free. */
  if (goroR_p_wanted(rt)) goroR_rt_wake_locked(rt);
  return 0;
}

void goroR_p_unpark_locked(struct goro_rt *rt, struct goro_m *mp) {
  if (rt->p_owner == mp) (void)goroR_p_held_locked(rt);
}

void goroR_p_take_locked(struct goro_rt *rt, struct goro_m *mp) {
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

int goroR_p_work_due(struct goro_rt *rt) {
  double when = atomic_load(&rt->next_when);
  return RD(rt->nrunnable) > 0 || atomic_load(&rt->ncgoret) > 0 ||
         (when > 0 && when <= goroR_now());
}

int goroR_p_owed(struct goro_rt *rt) {
  return atomic_load_explicit(&rt->owed, memory_order_relaxed) &&
         goroR_p_work_due(rt);
}

int goroR_p_waiters_first(struct goro_rt *rt, int worker) {
  return goroR_p_wanted(rt) &&
         (!goroR_p_owed(rt) || (worker && atomic_load(&rt->step_waits) > 0));
}

/* An M that would run the scheduler if callers let it. Requires: rt->lock. */
static int sched_ready(struct goro_rt *rt) {
  return rt->swaiters > 0 ||
         (rt->workers_on && rt->nidle > 0 && !rt->abort && !rt->until_dead);
}

/* A caller (back from C, or a host thread entering) goes first unless the
** scheduler is owed a turn and some M is there to take it; a scheduler
** only then, or when no caller waits. */
int goroR_p_may_take(struct goro_rt *rt, int sched) {
  if (sched)
    return (rt->cwaiters == 0 && atomic_load(&rt->step_waits) == 0) ||
           goroR_p_owed(rt);
  return !goroR_p_owed(rt) || !sched_ready(rt);
}

#define STARVE_AFTER 1e-3 /* seconds a caller waits before it is served next */

/* Whether the caller mp may take the P: no other caller is starving. */
static int caller_turn(struct goro_rt *rt, struct goro_m *mp) {
  uintptr_t s = atomic_load(&rt->pstarving);
  return s == 0 || s == (uintptr_t)mp;
}

/* Wait for the P as a scheduler or a caller. A caller that waits over
** STARVE_AFTER is served next (HACKING.md, "Who gets a free P"). 0 or
** GORO_ECLOSED. */
static int p_acquire(struct goro_rt *rt, struct goro_m *mp, int sched) {
  int prev = mp->state;
  double since = sched ? 0 : goroR_now();
  struct timespec ts;
  goroR_lock(&rt->lock);
  rt->pwaiters++;
  if (sched)
    rt->swaiters++;
  else
    rt->cwaiters++;
  wake_for_waiter_locked(rt);  /* an idle owner hands the P over */
  mp->state = GORO_M_WAITP;
  for (;;) {
    if (rt->closing && !unwinding(rt, mp)) break;
    if (goroR_p_may_take(rt, sched) && (sched || caller_turn(rt, mp)) &&
        (rt->p_owner == NULL || goroR_p_retake_locked(rt)))
      break;
    if (!sched && atomic_load(&rt->pstarving) == 0 &&
        goroR_now() - since > STARVE_AFTER)
      atomic_store(&rt->pstarving, (uintptr_t)mp);  /* served next */
    if (!sched) {  /* in slices: HACKING.md, "Who gets a free P" */
      ts = goroR_timespec(goroR_now() + STARVE_AFTER);
      goroR_cond_timedwait(&rt->wake, &rt->lock, &ts);
    } else {
      goroR_cond_wait(&rt->wake, &rt->lock);
    }
  }
  if (atomic_load(&rt->pstarving) == (uintptr_t)mp) {  /* served, or gone */
    atomic_store(&rt->pstarving, (uintptr_t)0);
    if (rt->closing) goroR_rt_wake_locked(rt);  /* (the others) */
  }
  rt->pwaiters--;
  if (sched)
    rt->swaiters--;
  else
    rt->cwaiters--;
  if (rt->closing && !unwinding(rt, mp)) {
    mp->state = prev;
    goroR_rt_wake_locked(rt);  /* (a waiter behind it may go first now) */
    goroR_unlock(&rt->lock);
    return GORO_ECLOSED;
  }
  if (!sched && goroR_p_work_due(rt))  /* G's wait while this thread runs Lua */
    atomic_store_explicit(&rt->owed, 1, memory_order_relaxed);
  goroR_p_take_locked(rt, mp);
  goroR_unlock(&rt->lock);
  return 0;
}

/* Sleep until *word is no longer `seen`, a wake, or `until` (monotonic). */
static void futex_wait_until(_Atomic uint32_t *word, uint32_t seen, double until) {
  struct timespec ts = goroR_timespec(until);
  syscall(SYS_futex, word, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, seen, &ts, NULL,
          FUTEX_BITSET_MATCH_ANY);
}

/* A step M waits for the P until `until` at the latest, and for rt->lock
** too: a holder of the lock that the kernel descheduled would keep a step
** waiting a whole time slice past its deadline (HACKING.md, "The frame
** loop"). So a step is not counted in pwaiters (whose count needs the lock
** to undo) but in the atomic step_waits, which holders, workers and sysmon
** read; it sleeps on the futex rt->stepseq outside the lock, and takes the
** lock with a time limit. It runs the owed turn itself, so it ignores
** `owed`; after it lent the P (`lent`) callers go first, as for any
** scheduler. While it waits it asks the holder's G to yield, at once and
** each ms. 0, GORO_ECLOSED or GORO_ETIMEDOUT. */
static int step_acquire(struct goro_rt *rt, struct goro_m *mp, int lent, double until) {
  int prev = mp->state, rc, first = 1;
  atomic_fetch_add(&rt->step_waits, 1);
  mp->state = GORO_M_WAITP;
  for (;;) {
    uint32_t seen;
    double now;
    if (goroR_lock_until(&rt->lock, until) != 0) {  /* owes the others a look */
      atomic_fetch_sub(&rt->step_waits, 1);
      atomic_store(&rt->stepkick, 1);  /* (sysmon does it, within 5 ms) */
      mp->state = prev;
      return GORO_ETIMEDOUT;
    }
    if (rt->closing && !unwinding(rt, mp)) {
      rc = GORO_ECLOSED;
      break;
    }
    if ((lent ? rt->cwaiters == 0 || goroR_p_owed(rt) : caller_turn(rt, mp)) &&
        (rt->p_owner == NULL || goroR_p_retake_locked(rt))) {
      rc = 0;
      break;
    }
    if ((now = goroR_now()) >= until) {
      rc = GORO_ETIMEDOUT;
      break;
    }
    if (rt->p_owner != NULL && atomic_load(&rt->p_syscall) == 0)
      goroR_preempt_m(rt, rt->p_owner);
    if (first) wake_for_waiter_locked(rt);  /* an idle owner hands it over */
    first = 0;
    seen = atomic_load(&rt->stepseq);
    goroR_unlock(&rt->lock);
    futex_wait_until(&rt->stepseq, seen, now + 1e-3 < until ? now + 1e-3 : until);
  }
  atomic_fetch_sub(&rt->step_waits, 1);
  if (rc != 0) {
    mp->state = prev;
    goroR_rt_wake_locked(rt);  /* (those that let it go first look again) */
  } else {
    goroR_p_take_locked(rt, mp);
  }
  goroR_unlock(&rt->lock);
  return rc;
}

int goroR_p_try_take_locked(struct goro_rt *rt, struct goro_m *mp) {
  if (!goroR_p_may_take(rt, 0) || !caller_turn(rt, mp) ||
      (rt->p_owner != NULL && !goroR_p_retake_locked(rt)))
    return 0;
  if (goroR_p_work_due(rt))  /* as p_acquire: the scheduler is owed a turn */
    atomic_store_explicit(&rt->owed, 1, memory_order_relaxed);
  goroR_p_take_locked(rt, mp);
  return 1;
}

int goroR_p_acquire(struct goro_rt *rt, struct goro_m *mp) {
  return p_acquire(rt, mp, 0);
}

int goroR_p_acquire_until(struct goro_rt *rt, struct goro_m *mp, double until) {
  return step_acquire(rt, mp, 0, until);
}

void goroR_p_drop_locked(struct goro_rt *rt, struct goro_m *mp) {
  if (rt->p_owner != mp)
    goroR_throw("goroR_p_release: M %llu does not hold the P",
               (unsigned long long)mp->id);
  rt->p_owner = NULL;
  atomic_store(&rt->p_syscall, (uintptr_t)0);
  goroR_rt_kick_locked(rt);
}

void goroR_p_release(struct goro_rt *rt, struct goro_m *mp) {
  goroR_netpoll_publish(rt);  /* (for a host that polls goro_pollfd) */
  goroR_lock(&rt->lock);
  goroR_p_drop_locked(rt, mp);
  mp->rt = NULL;
  goroR_unlock(&rt->lock);
}

/* Nothing needs the P but the thread that parks it: see HACKING.md, "P
** states". Requires: mp holds the P. */
void goroR_p_park(struct goro_rt *rt, struct goro_m *mp) {
  goroR_netpoll_publish(rt);
  if (RD(rt->nrunnable) == 0 && atomic_load(&rt->next_when) == 0 &&
      !goroR_netpoll_waiting(rt) &&  /* (then a worker must poll) */
      !atomic_load(&rt->abort) && !atomic_load(&rt->closing)) {
    atomic_store(&rt->p_syscall, (uintptr_t)mp | 1);
    if (!goroR_p_wanted(rt) && !atomic_load(&rt->closing)) return;
    goroR_lock(&rt->lock);  /* someone may want it after all */
    if (!goroR_p_held_locked(rt)) goroR_rt_kick_locked(rt);  /* (else a */
    mp->rt = NULL;                                  /* waiter retook it) */
    goroR_unlock(&rt->lock);
    return;
  }
  goroR_p_release(rt, mp);
}

int goroR_p_take_parked(struct goro_rt *rt, struct goro_m *mp) {
  uintptr_t expect = (uintptr_t)mp | 1;
  if (atomic_load(&rt->pstarving) != 0 ||  /* (another caller waits its turn) */
      !atomic_compare_exchange_strong(&rt->p_syscall, &expect, (uintptr_t)0))
    return 0;
  mp->rt = rt;  /* (the same thread parked it: dropm unparks) */
  mp->state = GORO_M_RUNNING;
  return 1;
}

int goroR_p_handoff(struct goro_rt *rt, struct goro_m *mp, double until) {
  goroR_lock(&rt->lock);
  goroR_p_drop_locked(rt, mp);
  goroR_unlock(&rt->lock);
  if (until > 0) return step_acquire(rt, mp, 1, until);
  return p_acquire(rt, mp, 1);  /* callers first (goroR_p_may_take) */
}

/* The CAS on our own M is the fast path (nobody retook the P; had someone,
** a later owner's cgocall would name its own M, not ours); if it fails we
** wait for the P like any thread. */
void goroR_p_reclaim(struct goro_rt *rt, struct goro_m *mp) {
  uintptr_t expect = (uintptr_t)mp;
  if (atomic_compare_exchange_strong(&rt->p_syscall, &expect, (uintptr_t)0)) {
    mp->state = GORO_M_RUNNING;
    return;
  }
  goroR_p_acquire(rt, mp);
}
