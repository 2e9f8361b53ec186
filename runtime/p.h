/*
** runtime/p.h — the P: the right to run Lua in one universe, and who gets
** it when it is free.
**
** A universe has exactly one P; its state lives in struct goro_rt (state.h,
** "the P's two words"). Its states and the rules for handing it over are
** in runtime/HACKING.md ("P states", "Who gets a free P").
*/
#ifndef GORO_RUNTIME_P_H
#define GORO_RUNTIME_P_H

#include <stdatomic.h>

#include "state.h"

/* Take the P for the calling thread's M, waiting while another M holds it
** (a *caller*: back from C, a callback, goro_step). Returns 0 or
** GORO_ECLOSED. */
int goroR_p_acquire(struct goro_rt *rt, struct goro_m *mp);
/* goroR_p_acquire for a step M: wait only until `until`, asking the
** holder's G to yield meanwhile. 0, GORO_ECLOSED or GORO_ETIMEDOUT. */
int goroR_p_acquire_until(struct goro_rt *rt, struct goro_m *mp, double until);
/* Give the P back; wake (or start) a worker if G's are ready or sleeping.
** Requires: mp holds it. */
void goroR_p_release(struct goro_rt *rt, struct goro_m *mp);

/* Take the P from an owner whose G is in C, or that has it parked.
** Requires: rt->lock. */
int goroR_p_retake_locked(struct goro_rt *rt);

/* An extra M back in its host's C code: keep the P parked on mp if nothing
** needs it (its next callback takes it back with goroR_p_take_parked), else
** release it. Requires: mp holds the P. */
void goroR_p_park(struct goro_rt *rt, struct goro_m *mp);
/* Take back the P parked on mp, if nobody took it meanwhile: 1, or 0. */
int goroR_p_take_parked(struct goro_rt *rt, struct goro_m *mp);
/* If the P is parked on mp, free it. Requires: rt->lock. */
void goroR_p_unpark_locked(struct goro_rt *rt, struct goro_m *mp);

/* ---- inside the runtime ---------------------------------------------------- */

/* Wake whoever waits for the P's news: threads waiting on rt->wake, an
** owner blocked in the netpoller (HACKING.md, "The netpoller"), and as
** many idle workers as there is work for (goroR_workers_wake_locked). Every
** place that changes what an idle owner or waiter waits for calls it.
** Requires: rt->lock. */
void goroR_rt_wake_locked(struct goro_rt *rt);

/* Is the P free, or parked on a host thread idle in C? Changes nothing.
** Requires: rt->lock. */
int goroR_p_free_locked(struct goro_rt *rt);
/* Is the P held? A P parked on a host thread idle in C is not: it is taken
** back from there and left free. Requires: rt->lock. */
int goroR_p_held_locked(struct goro_rt *rt);
/* Take the P for mp as a caller would, without waiting: if it is free (or
** parked, or its owner is in C) and no owed scheduler comes first. 1 if
** taken, else 0. Requires: rt->lock. */
int goroR_p_try_take_locked(struct goro_rt *rt, struct goro_m *mp);
/* Make mp the P's owner. Requires: rt->lock, the P free. */
void goroR_p_take_locked(struct goro_rt *rt, struct goro_m *mp);
/* mp gives the P up and a worker is kicked. Requires: rt->lock, mp holds
** the P. */
void goroR_p_drop_locked(struct goro_rt *rt, struct goro_m *mp);
/* May a waiter of this kind (sched: a scheduler, else a caller) take the
** free P now? Requires: rt->lock. */
int goroR_p_may_take(struct goro_rt *rt, int sched);
/* Work the scheduler could do right now (runnable G's, a due timer), from
** the counts the P's owner publishes. */
int goroR_p_work_due(struct goro_rt *rt);
/* Is the scheduler owed a turn (HACKING.md, "Who gets a free P")? */
int goroR_p_owed(struct goro_rt *rt);
/* Does a thread wait for the P: one in goroR_p_acquire (pwaiters) or a
** step (step_waits)? A hint, read anywhere. */
static inline int goroR_p_wanted(struct goro_rt *rt) {
  return atomic_load(&rt->pwaiters) > 0 || atomic_load(&rt->step_waits) > 0;
}
/* Should a scheduler (a worker, if `worker`) let the threads that wait
** for the P have it first, rather than hold or take it? Callers go first
** unless the scheduler is owed a turn; a worker also lets a waiting step
** go first, since the step runs that turn itself. */
int goroR_p_waiters_first(struct goro_rt *rt, int worker);
/* Give the P to the threads waiting for it, then wait to get it back as a
** scheduler, until `until` at the latest (0: no limit). Requires: mp holds
** the P. Returns 0, GORO_ECLOSED, or GORO_ETIMEDOUT (mp has no P). */
int goroR_p_handoff(struct goro_rt *rt, struct goro_m *mp, double until);
/* Take the P back after C: fast if nobody retook it, else wait for it. */
void goroR_p_reclaim(struct goro_rt *rt, struct goro_m *mp);

#endif
