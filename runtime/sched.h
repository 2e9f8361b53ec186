/*
** runtime/sched.h — G's, the run queue, parking, and the scheduling loop.
**
** The model (carriers, stackless and stackful parks, the inline hand-off,
** fairness) is in runtime/HACKING.md ("The scheduler: G, M, P"). This
** layer knows nothing about Lua: the bridge plugs in how a G's code is
** resumed (struct goro_hooks) and keeps its own record per G in `ud`.
*/
#ifndef GORO_RUNTIME_SCHED_H
#define GORO_RUNTIME_SCHED_H

#include "state.h"

/* ---- G's ---------------------------------------------------------------- */

/* A new runnable G (status RUNNABLE, at the tail of the run queue).
** Requires: the P. NULL if out of memory. */
struct goro_g *goroR_g_new(struct goro_rt *rt, void *ud);
/* The same in zeroed memory of the caller's, which must outlive the G
** (hooks->dead is its last use by the runtime). Cannot fail. */
void goroR_g_init(struct goro_rt *rt, struct goro_g *gp, void *ud);

/* End every G without running it again (goro.run is over, or the runtime
** closes): its carrier is freed, then it gets hooks->dead.
** Requires: the P, and no G running. */
void goroR_g_abandon_all(struct goro_rt *rt);

/* Make a waiting G runnable. `next`: run it right after the current G
** (Go's runnext), for hand-offs from the running G. Requires: the P. */
void goroR_ready(struct goro_rt *rt, struct goro_g *gp, int next);

/* ---- parking -------------------------------------------------------------- */

/* Stackless park, step 1: mark the coming yield as a park. The caller then
** returns lua_yieldk(...). Requires: gp is running. */
void goroR_park_prepare(struct goro_g *gp, const char *reason);

/* Stackful park: switch to the scheduler; returns when gp is readied. A
** locked G's M sleeps instead (no switch). Returns 0, or GORO_ECLOSED if
** the runtime closed while a locked G slept, or GORO_EENDED if its run
** ended (goroR_rt_quiesce): the caller must unwind.
** Requires: gp is running. May park. */
int goroR_park(struct goro_g *gp, const char *reason);

/* Stackful yield: back to the tail of the run queue. May park. */
void goroR_gosched(struct goro_g *gp);

/* ---- the loop ------------------------------------------------------------- */

enum goro_sched_result {
  GORO_SCHED_DONE = 1, /* `until` is dead */
  GORO_SCHED_IDLE,     /* step mode: nothing ready now */
  GORO_SCHED_BUDGET,   /* the deadline passed */
  GORO_SCHED_DEADLOCK, /* run mode: nothing can ever run again */
  GORO_SCHED_ABORT,    /* rt->abort was set */
  GORO_SCHED_NOMEM,    /* no stack for a G */
  GORO_SCHED_LENT,     /* step mode: the budget ended while the P was lent
                          to a waiting thread; mp no longer holds it */
};

/* Run G's on the calling M, which holds the P. With `until`, run until that
** G is dead, sleeping for timers; without, run until nothing is ready.
** Either way stop once the monotonic clock passes `deadline` (0: none). A G
** running Lua is preempted after 10 ms (sysmon.c); one inside a plain C
** call cannot be. */
int goroR_sched_run(struct goro_rt *rt, struct goro_m *mp, struct goro_g *until,
                    double deadline);

void goroR_sched_get_stats(struct goro_rt *rt, struct goro_sched_stats *out);

/* Inside the runtime: free a carrier's stack and record (an abandoned G's,
** or the cache's when the runtime goes). */
void goroR_carrier_free(struct goro_carrier *c);

/* ---- inside the runtime: what a carrier says to g0 --------------------------- */

enum goro_switch_msg {
  GORO_SW_RUN_END = 1, /* the carrier settled its G(s) and is free */
  GORO_SW_PARK,        /* its G parks stackfully (the carrier stays) */
  GORO_SW_GOSCHED,     /* its G yields stackfully */
  GORO_SW_HANDOFF,     /* its G's C call moves to a worker (frame.c) */
  GORO_SW_CGORET,      /* its G is back from C and waits for the P */
};

/* Switch from mp's g0 into carrier c, whose G (mp->curg) was made ready
** to run or to call C on mp, and handle what c says when it comes back.
** Returns 0 (GORO_ENOMEM is execute's). */
void goroR_sched_switch(struct goro_rt *rt, struct goro_m *mp,
                        struct goro_carrier *c);
/* Put gp (RUNNABLE) at the tail of the run queue. Requires: the P. */
void goroR_runq_put(struct goro_rt *rt, struct goro_g *gp);

#endif
