/*
** runtime/worker.h — worker M's: threads the runtime starts to run ready
** G's whenever the P is free (HACKING.md, "Worker M's").
*/
#ifndef GORO_RUNTIME_WORKER_H
#define GORO_RUNTIME_WORKER_H

#include "state.h"

/* The P is free and G's may be ready: wake or start a worker for them. */
void goroR_rt_kick(struct goro_rt *rt);
/* The same, with rt->lock held. */
void goroR_rt_kick_locked(struct goro_rt *rt);
/* A G's C call waits on rt->cgoq: wake an idle worker, or start one (M's
** in C do not count against max_workers). Requires: rt->lock. */
void goroR_rt_kick_cgo_locked(struct goro_rt *rt);

/* Wake the idle workers there is something for right now: one per C call
** waiting on rt->cgoq, one more if the P is free with work for it, all
** while closing (HACKING.md, "Waking idle workers, one at a time"). Part
** of goroR_rt_wake_locked. Requires: rt->lock. */
void goroR_workers_wake_locked(struct goro_rt *rt);

/* Let workers take the P (host mode; during goro.run) or not (between
** runs in script mode, when the interpreter's thread owns the state). */
void goroR_rt_workers_on(struct goro_rt *rt, int on);
/* At most n worker M's from now on (0: only the host's threads run G's). */
void goroR_rt_set_workers(struct goro_rt *rt, int n);
/* The bound set by goroR_rt_set_workers (default 4). */
int goroR_rt_max_workers(struct goro_rt *rt);
/* Never more than n worker M's, those in C included (1..GORO_MAX_MS_LIMIT,
** clamped; default GORO_MAX_MS). */
void goroR_rt_set_max_ms(struct goro_rt *rt, int n);
int goroR_rt_max_ms(struct goro_rt *rt);
/* The G's ready to run while max_ms workers exist and every one is in C
** (or dedicated to a locked G): no worker is left to run them, and unless
** the thread in goro.run or goro_step does, they wait for one to come
** back. 0 otherwise. */
int goroR_rt_waiting_for_m(struct goro_rt *rt);

/* Inside the runtime: tell every worker to exit and join them.
** Requires: rt->closing set. */
void goroR_workers_join(struct goro_rt *rt);

#endif
