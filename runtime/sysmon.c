/*
** runtime/sysmon.c — the monitor thread and preemption; see sysmon.h.
**
** Owns: rt->sysmon, sysmon_on, sysmon_cv, sysmon_now, npreempt and the
** process's SIGURG handler. sysmon sleeps 20 us at first, doubling to 5 ms
** while there is nothing to do (as Go's does), and reads the P's state
** under rt->lock.
** Locks: rt->lock (held while it looks; released while it sleeps).
*/
#include "sysmon.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>

#include "m.h"
#include "netpoll.h"
#include "p.h"
#include "rt.h"
#include "signals.h"
#include "timer.h"
#include "worker.h"

#define RETAKE_AFTER 20e-6 /* seconds in C before sysmon retakes the P */
#define POLL_OVERDUE 10e-3 /* seconds since a poll, with events pending */
#define PREEMPT_AFTER 10e-3 /* seconds a G may run before it is asked to yield */
#define URGENT_EVERY 1e-3   /* how often a step's urgent request is repeated */

/* SIGURG on an M: if it runs a G now, arm that G's preemption hook. */
static struct sigaction old_urg;

static void on_urg(int sig, siginfo_t *si, void *uc) {
  struct goro_m *mp = goroR_m_self();
  int saved = errno;
  /* sysmon's request, or a step M's deadline timer (frame.c) */
  if (mp != NULL && (atomic_exchange(&mp->preempt, 0) ||
                     (si != NULL && si->si_code == SI_TIMER && mp->isstep &&
                      si->si_value.sival_ptr == mp))) {
    struct goro_g *gp = mp->curg;
    struct goro_rt *rt = mp->rt;
    if (gp != NULL && rt != NULL && gp->status == GORO_GRUNNING &&
        gp->lockcount == 0 && rt->hooks->interrupt != NULL)
      rt->hooks->interrupt(rt, gp, GORO_INT_PREEMPT);
  } else {
    goroR_sig_forward(&old_urg, sig, si, uc);
  }
  errno = saved;
}

static void preempt_install(void) {
  goroR_sig_install(SIGURG, on_urg, SIGPROF, &old_urg);  /* the two arm the */
}                                                       /* same hook */

void goroR_preempt_init(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, preempt_install);
}

/* Retakes the P from an M whose G has been in C longer than RETAKE_AFTER
** while there is work for it, and asks a G that has run Lua for
** PREEMPT_AFTER to yield. Sleeps 20 us at first, doubling to 10 ms while
** there is nothing to do (as Go's sysmon does). */
void goroR_preempt_m(struct goro_rt *rt, struct goro_m *owner) {
  atomic_store(&owner->preempt, 1);
  pthread_kill(owner->self, SIGURG);
  atomic_fetch_add(&rt->npreempt, 1);
}

static void *sysmon_main(void *arg) {
  struct goro_rt *rt = arg;
  double delay = 20e-6, tick_since = goroR_now(), urgent_at = 0;
  uint64_t tick_seen = RD(rt->schedtick);
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  goroR_lock(&rt->lock);
  while (!rt->closing) {
    struct timespec ts = goroR_timespec(goroR_now() + delay);
    double now;
    int acted = 0;
    goroR_cond_timedwait(&rt->sysmon_cv, &rt->lock, &ts);
    if (rt->closing) break;
    now = goroR_now();
    atomic_store_explicit(&rt->sysmon_now, now, memory_order_relaxed);
    if (atomic_exchange(&rt->stepkick, 0)) {  /* a step left without the lock: */
      goroR_rt_wake_locked(rt);  /* those that let it go first look again */
      acted = 1;
    }
    double when = atomic_load(&rt->next_when);
    if (atomic_load(&rt->p_syscall) != 0 &&
        now - atomic_load_explicit(&rt->syscall_since, memory_order_relaxed) >
            RETAKE_AFTER &&
        (RD(rt->nrunnable) > 0 || goroR_p_wanted(rt) || atomic_load(&rt->ncgoret) > 0 ||
         (when > 0 && when <= now) ||
         goroR_netpoll_overdue(rt, now, POLL_OVERDUE))) {
      if (goroR_p_retake_locked(rt)) {
        goroR_rt_kick_locked(rt);
        acted = 1;
      }
    }
    /* Preemption: the same run on the P for PREEMPT_AFTER; at once (and
    ** again every URGENT_EVERY) while a step waits for the P, for the
    ** frame's sake. (A step's own G is asked at the step's deadline by
    ** the step M's timer: frame.c.) */
    {
      struct goro_m *owner = rt->p_owner;
      uint64_t tick = RD(rt->schedtick);
      int insys = atomic_load(&rt->p_syscall) != 0;
      if (owner == NULL || insys || tick != tick_seen) {
        tick_seen = tick;
        tick_since = now;
      } else if (now - tick_since >= PREEMPT_AFTER) {
        goroR_preempt_m(rt, owner);
        tick_since = now;  /* ask again in PREEMPT_AFTER if it ignores us */
        acted = 1;
      }
      if (owner != NULL && !insys && now - urgent_at >= URGENT_EVERY &&
          atomic_load(&rt->step_waits) > 0) {
        goroR_preempt_m(rt, owner);
        urgent_at = now;
        acted = 1;
      }
    }
    /* goro.run failed or timed out: if its M is inside a callback that
    ** waits, it cannot come back to its loop to see that. */
    if (rt->run_active && !rt->quiescing &&
        (atomic_load(&rt->abort) ||
         (rt->run_deadline > 0 && now >= rt->run_deadline))) {
      goroR_rt_unwind_callbacks_locked(rt);
      acted = 1;
    }
    delay = acted ? 20e-6 : (delay * 2 > 5e-3 ? 5e-3 : delay * 2);
  }
  goroR_unlock(&rt->lock);
  return NULL;
}

void goroR_sysmon_start(struct goro_rt *rt) {
  int on, closing;
  if (atomic_load(&rt->sysmon_on)) return;  /* (every step asks) */
  goroR_lock(&rt->lock);
  on = atomic_load_explicit(&rt->sysmon_on, memory_order_relaxed);
  closing = atomic_load_explicit(&rt->closing, memory_order_relaxed);
  if (!on && !closing && pthread_create(&rt->sysmon, NULL, sysmon_main, rt) == 0)
    atomic_store(&rt->sysmon_on, 1);
  goroR_unlock(&rt->lock);
}

void goroR_sysmon_stop(struct goro_rt *rt) {
  int on;
  goroR_lock(&rt->lock);
  on = rt->sysmon_on;
  rt->sysmon_on = 0;
  pthread_cond_broadcast(&rt->sysmon_cv);
  goroR_unlock(&rt->lock);
  if (on) pthread_join(rt->sysmon, NULL);
}
