/*
** runtime/rt.h — a runtime's lifetime: made, run (goro.run's bracket),
** quiesced, closed, destroyed; and the process's list of live runtimes.
**
** This file is the only one that ends sysmon and the extra-M pool (their
** starts are lazy, where they are first needed).
*/
#ifndef GORO_RUNTIME_RT_H
#define GORO_RUNTIME_RT_H

#include "state.h"

/* 0, or GORO_ENOMEM. */
int goroR_rt_init(struct goro_rt *rt, const struct goro_hooks *hooks, void *ud);
/* Stops everything (as goroR_rt_close), frees every G record (calling
** hooks->dead), the extra M's and the cached carriers.
** Requires: the P is not held by any M, no G is running. */
void goroR_rt_destroy(struct goro_rt *rt);

/* Refuse the P to every later goroR_p_acquire, wait for its owner to give
** it back, then abandon every G. The runtime can still be destroyed after. */
void goroR_rt_close(struct goro_rt *rt);

/* goro.run begins (deadline 0: none), for sysmon, which unwinds the
** callbacks when the run fails or times out while its M is inside one;
** goroR_rt_quiesce ends it. */
void goroR_rt_run_begin(struct goro_rt *rt, double deadline);

/* Before abandoning every G (goro.run is over): let the G's that are in C
** on other M's come back (their stacks lie under the C frames), stopping
** each at its next park. A callback's G parked meanwhile (locked to its M)
** is woken, and its park fails with GORO_EENDED, so that its callback
** unwinds back to the C that waits for it. Requires: mp holds the P; holds
** it again after. */
void goroR_rt_quiesce(struct goro_rt *rt, struct goro_m *mp);

/* The run is over (its main G ended, it failed, its deadline passed, or
** goroR_rt_quiesce waits): the callbacks of G's in C (locked to M's that
** are not extra M's) unwind instead of waiting, each park failing with
** GORO_EENDED, so that their C returns and the run's M, or the quiescer,
** is not held up by a callback that waits for G's that will never run.
** Sets quiescing and wakes the M's of such parked G's. Requires: rt->lock. */
void goroR_rt_unwind_callbacks_locked(struct goro_rt *rt);

/* ---- live runtimes ----------------------------------------------------------
** A host thread may exit after its runtime was destroyed; its key
** destructor must then leave the runtime's memory alone. Runtimes are
** listed with a generation number that is never reused. */

void goroR_live_lock(void);
void goroR_live_unlock(void);
/* The live lock itself and the runtimes on the list, in order (fork.c). */
struct goro_lock *goroR_live_lockp(void);
struct goro_rt *goroR_live_next(struct goro_rt *after);
/* Is (rt, gen) a runtime that has not been destroyed? Requires: the live
** lock. */
int goroR_live_has_locked(struct goro_rt *rt, uint64_t gen);

#endif
