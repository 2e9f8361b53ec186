/*
** runtime/frame.c — the frame loop: goro_step within its budget, and C
** calls moved off a frame thread; see frame.h and HACKING.md ("The frame
** loop").
**
** Owns: rt->cgoq (G's whose C call waits for a worker) and rt->cgoret (G's
** back from it, waiting for the P), both under rt->lock; ncgoret, a hint
** that cgoret is not empty.
** Invariants: a G on cgoq is SYSCALL, counted in nsyscall, with its
** carrier saved (queued by g0 after the switch); a G on cgoret is
** RUNNABLE, not counted, its carrier saved.
** Locks: rt->lock around the two queues.
*/
#include "frame.h"

#include <stdatomic.h>
#include <string.h>

#include "cgo.h"
#include "errors.h"
#include "fatal.h"
#include "m.h"
#include "netpoll.h"
#include "p.h"
#include "sched.h"
#include "sysmon.h"
#include "timer.h"
#include "worker.h"

#define OVERRUN 1e-3 /* seconds past its deadline a step counts as late */
#define URGENT_EVERY 1000000L /* ns: how often the step timer asks again */
#define barrier() __asm__ volatile("" ::: "memory")

/* Arm mp's step timer for `deadline` (0: disarm): SIGURG to this thread
** then and every URGENT_EVERY after, until disarmed, for a G that was in
** C at the deadline and got back to Lua later. */
static void arm(struct goro_m *mp, double deadline) {
  struct itimerspec its;
  if (!mp->hassteptimer) return;
  memset(&its, 0, sizeof its);
  if (deadline > 0) {
    its.it_value = goroR_timespec(deadline);
    its.it_interval.tv_nsec = URGENT_EVERY;
  }
  timer_settime(mp->steptimer, TIMER_ABSTIME, &its, NULL);
}

void goroR_step(struct goro_rt *rt, struct goro_m *mp, double deadline,
                struct goro_step_result *r) {
  double late;
  int rc;
  goroR_sysmon_start(rt);
  rc = goroR_p_acquire_until(rt, mp, deadline);
  r->held = rc == 0;
  if (rc != 0) {
    r->sched = rc == GORO_ETIMEDOUT ? GORO_SCHED_LENT : GORO_SCHED_ABORT;
    return;
  }
  arm(mp, deadline);  /* a G still running then is asked to yield */
  r->sched = goroR_sched_run(rt, mp, NULL, deadline);
  arm(mp, 0);
  r->held = r->sched != GORO_SCHED_LENT;
  if (r->held && (late = goroR_now() - deadline) > OVERRUN) {
    rt->st.step_overruns++;
    if (late > rt->st.step_overrun_max) {
      rt->st.step_overrun_max = late;
      rt->st.step_overrun_g = rt->lastgid;
    }
  }
}

static void queue_put(struct goro_g **head, struct goro_g **tail, struct goro_g *gp) {
  gp->schedlink = NULL;
  if (*tail != NULL) (*tail)->schedlink = gp;
  else *head = gp;
  *tail = gp;
}

static struct goro_g *queue_get(struct goro_g **head, struct goro_g **tail) {
  struct goro_g *gp = *head;
  if (gp != NULL) {
    *head = gp->schedlink;
    if (*head == NULL) *tail = NULL;
    gp->schedlink = NULL;
  }
  return gp;
}

void goroR_sched_handoff(struct goro_g *gp) {
  goroR_assert(gp->status == GORO_GRUNNING && gp->carrier != NULL);
  goroA_ctx_switch(&gp->carrier->ctx, &goroR_m_self()->g0,
                   (void *)(uintptr_t)GORO_SW_HANDOFF);
}

void goroR_handoff_commit(struct goro_rt *rt, struct goro_m *mp, struct goro_g *gp) {
  goroR_assert(gp != NULL && gp->status == GORO_GRUNNING && rt->p_owner == mp);
  mp->curg = NULL;
  gp->status = GORO_GSYSCALL;
  rt->st.cgocalls++;
  rt->st.handoffs++;
  atomic_fetch_add(&rt->nsyscall, 1);
  goroR_lock(&rt->lock);
  queue_put(&rt->cgoq, &rt->cgoqtail, gp);
  rt->ncgoq++;
  goroR_rt_kick_cgo_locked(rt);
  goroR_unlock(&rt->lock);
}

struct goro_g *goroR_cgoq_pop_locked(struct goro_rt *rt) {
  struct goro_g *gp = queue_get(&rt->cgoq, &rt->cgoqtail);
  if (gp != NULL) rt->ncgoq--;
  return gp;
}

void goroR_cgoq_drop_locked(struct goro_rt *rt) {
  while (goroR_cgoq_pop_locked(rt) != NULL)
    atomic_fetch_sub(&rt->nsyscall, 1);  /* its C never ran */
}

void goroR_cgocall_adopt(struct goro_rt *rt, struct goro_m *mp, struct goro_g *gp) {
  struct goro_carrier *c = gp->carrier;
  goroR_assert(gp->status == GORO_GSYSCALL && c != NULL && mp->curg == NULL);
  mp->curg = gp;
  mp->ncgo++;
  barrier();
  mp->state = GORO_M_SYSCALL;
  goroR_sched_switch(rt, mp, c);  /* the C call, and the G's run after */
}

void goroR_sched_cgo_return(struct goro_rt *rt, struct goro_m *mp, struct goro_g *gp) {
  uintptr_t self = (uintptr_t)mp;
  int took;
  /* A callback inside the C call took the P and left it retakable on
  ** this M: take it back as any cgocall does. Else ask for it. */
  if (!(took = atomic_compare_exchange_strong(&rt->p_syscall, &self, (uintptr_t)0))) {
    goroR_lock(&rt->lock);
    took = !rt->closing && goroR_p_try_take_locked(rt, mp);
    goroR_unlock(&rt->lock);
  }
  mp->state = took ? GORO_M_RUNNING : mp->state;
  if (took) {  /* run on here, as a worker whose own G came back from C */
    rt->lastgid = gp->id;
    WR(rt->schedtick, rt->schedtick + 1);  /* (a new run, for sysmon) */
    if (atomic_fetch_sub(&rt->nsyscall, 1) == 1 && (rt->closing || rt->abort)) {
      goroR_lock(&rt->lock);
      goroR_rt_wake_locked(rt);
      goroR_unlock(&rt->lock);
    }
    gp->status = GORO_GRUNNING;
    return;
  }
  goroA_ctx_switch(&gp->carrier->ctx, &mp->g0, (void *)(uintptr_t)GORO_SW_CGORET);
  /* Resumed by the M that holds the P now (run_on made gp RUNNING). */
  goroR_assert(gp->status == GORO_GRUNNING);
}

void goroR_handoff_returned(struct goro_rt *rt, struct goro_m *mp, struct goro_g *gp) {
  goroR_assert(gp != NULL && gp->status == GORO_GSYSCALL && mp->ncgo == 0);
  mp->curg = NULL;
  mp->state = GORO_M_IDLE;
  mp->rt = NULL;  /* (it may have held the P before this C call: no more) */
  gp->status = GORO_GRUNNABLE;
  goroR_lock(&rt->lock);
  queue_put(&rt->cgoret, &rt->cgorettail, gp);
  atomic_store(&rt->ncgoret, 1);
  atomic_fetch_sub(&rt->nsyscall, 1);
  goroR_rt_wake_locked(rt);  /* a holder asleep in its idle wait looks */
  goroR_netpoll_notify(rt);  /* and so does a host polling goro_pollfd */
  goroR_unlock(&rt->lock);
}

void goroR_cgoret_drain(struct goro_rt *rt) {
  struct goro_g *gp;
  goroR_lock(&rt->lock);
  while ((gp = queue_get(&rt->cgoret, &rt->cgorettail)) != NULL)
    goroR_runq_put(rt, gp);
  atomic_store(&rt->ncgoret, 0);
  goroR_unlock(&rt->lock);
}
