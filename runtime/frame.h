/*
** runtime/frame.h — the frame loop: a host thread's goro_step, which
** returns within its budget (HACKING.md, "The frame loop"). A step runs on
** the thread's step M; a G there that enters goro_cgocall has its C
** function run by a worker and comes back through the run queue.
**
** goroR_cgocall (cgo.h) decides to hand a call off; these are the
** scheduler's side of it, and the step itself.
*/
#ifndef GORO_RUNTIME_FRAME_H
#define GORO_RUNTIME_FRAME_H

#include "state.h"

/* What a step did. */
struct goro_step_result {
  int sched;       /* goroR_sched_run's result, or GORO_SCHED_LENT when the
                      P never came */
  int held;        /* the step M still holds the P (it must release it) */
};

/* One step on mp (the calling thread's step M, registered and made its
** M): take the P, waiting no later than `deadline` (goroR_now() when
** goro_step was called, plus the budget: time spent finding the M counts),
** run G's until none is ready or the deadline, with the step M's timer
** preempting a G still running then; count an overrun past it. The caller
** reads what it needs with the P held, then gives it back if r->held. */
void goroR_step(struct goro_rt *rt, struct goro_m *mp, double deadline,
                struct goro_step_result *r);

/* ---- inside the runtime: C calls handed off ---------------------------------- */

/* On gp's carrier, on a step M: switch to the step M's g0, which queues
** gp's C call for a worker. Returns on that worker, with the call counted
** on it (ncgo, SYSCALL) and no P. */
void goroR_sched_handoff(struct goro_g *gp);

/* On g0, after gp's carrier said GORO_SW_HANDOFF: gp SYSCALL on rt->cgoq,
** counted in nsyscall; a worker is woken or started for it. Requires: the
** P (mp holds it and goes on scheduling). */
void goroR_handoff_commit(struct goro_rt *rt, struct goro_m *mp, struct goro_g *gp);

/* On gp's carrier, on the worker whose C call for gp just returned (a
** handed-off call, or any unlocked G's outermost cgocall on a worker;
** mp->ncgo already back down): take the P if it is free and go on running
** gp here; else queue gp on rt->cgoret and let whoever holds the P resume
** it (the worker's scheduling loop, if it was in one, then ends). Returns
** with gp RUNNING on an M that holds the P. */
void goroR_sched_cgo_return(struct goro_rt *rt, struct goro_m *mp, struct goro_g *gp);

/* A worker runs the C call of gp, a G handed off by a step M (popped from
** rt->cgoq); if it then holds the P, gp ran on with it (mp->rt says so).
** Requires: mp idle, no P. */
void goroR_cgocall_adopt(struct goro_rt *rt, struct goro_m *mp, struct goro_g *gp);

/* Move the G's back from handed-off C calls to the run queue. Requires:
** the P. */
void goroR_cgoret_drain(struct goro_rt *rt);

/* Forget the G's whose C call no worker has started (rt->cgoq): they are
** abandoned with the rest. Requires: rt->lock, rt->closing. */
void goroR_cgoq_drop_locked(struct goro_rt *rt);

/* The next G whose C call waits for a worker, or NULL. Requires: rt->lock. */
struct goro_g *goroR_cgoq_pop_locked(struct goro_rt *rt);

/* On the worker's g0, after gp's carrier said GORO_SW_CGORET: gp RUNNABLE
** on rt->cgoret, out of nsyscall, the P's holder told. */
void goroR_handoff_returned(struct goro_rt *rt, struct goro_m *mp, struct goro_g *gp);

#endif
