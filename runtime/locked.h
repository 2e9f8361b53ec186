/*
** runtime/locked.h — locked G's: a G pinned to its M by goro.lockthread()
** (Go's LockOSThread) or by a callback, how such a G parks and yields, and
** the home queue of the threads that run the scheduler themselves
** (HACKING.md, "Locked G's").
*/
#ifndef GORO_RUNTIME_LOCKED_H
#define GORO_RUNTIME_LOCKED_H

#include "state.h"

/* Does a G locked to mp wait for mp to run it? Then mp's current G,
** back from C, should yield: a G that loops through C is never preempted
** and would keep it from its locked G. Requires: the P. */
int goroR_home_wanted(struct goro_rt *rt, struct goro_m *mp);

/* gp calls goro.lockthread(): it runs only on mp (its own M, or the frame
** thread's step M) until as many goroR_unlockthread. A G locked to a home
** M other than the one it runs on must then yield to get there. 0,
** GORO_ESTATE (gp is pinned to another M already) or GORO_EINVAL (nested
** 65,535 deep). Requires: the P; gp RUNNING. */
int goroR_lockthread(struct goro_rt *rt, struct goro_g *gp, struct goro_m *mp);
/* One goro.unlockthread(); more than were locked is a no-op. */
void goroR_unlockthread(struct goro_rt *rt, struct goro_g *gp);

/* Is gp locked to a home M (goro.run's thread, a step M) by the user: it
** parks as any G and waits on rt->homeq when ready? (Inline: every
** requeue, park and yield asks.) */
static inline int goroR_g_home_locked(const struct goro_g *gp) {
  return gp->lockedm != NULL && gp->lockcount == 0 && gp->lockedm->ishome;
}
/* Is gp locked anywhere else (a worker; any callback): it keeps its
** thread, parking by putting the M to sleep and yielding in place? */
static inline int goroR_g_sleeps_locked(const struct goro_g *gp) {
  return gp->lockedm != NULL && !goroR_g_home_locked(gp);
}

/* ---- inside the runtime ------------------------------------------------------ */

/* gp, ending on mp, drops its user locks; returns 1 when a worker must
** go with it (Go's rule for a G that ends locked: mp->exiting is set). */
int goroR_locked_end(struct goro_rt *rt, struct goro_g *gp, struct goro_m *mp);

/* The home queue (the P's). */
void goroR_homeq_put(struct goro_rt *rt, struct goro_g *gp);
/* The first G there locked to mp, taken off; NULL if none. */
struct goro_g *goroR_homeq_get(struct goro_rt *rt, struct goro_m *mp);
int goroR_homeq_has(struct goro_rt *rt, struct goro_m *mp);

/* gp keeps its thread: park by putting its M to sleep (the P given back)
** until readied; 0, GORO_ECLOSED or GORO_EENDED as goroR_park. */
int goroR_park_locked(struct goro_g *gp, const char *reason);
/* gp keeps its thread: give the P up until another G has started a run
** (or nothing else is runnable), then take it back. */
void goroR_locked_yield(struct goro_g *gp);

#endif
