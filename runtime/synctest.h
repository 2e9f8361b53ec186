/*
** runtime/synctest.h — bubbles of virtual time for goro.synctest (Go's
** testing/synctest). Design: runtime/HACKING.md, "Virtual time".
*/
#ifndef GORO_RUNTIME_SYNCTEST_H
#define GORO_RUNTIME_SYNCTEST_H

#include "state.h"

/* Where every bubble's clock starts: 2000-01-01 00:00:00 UTC in Unix
** seconds, as Go's bubbles do. */
#define GORO_BUBBLE_EPOCH 946684800.0

/* Start bubble b (zeroed by the caller, who keeps it until
** goroR_bubble_finish) as the running bubble, with `waiter` (outside
** it) the G that waits for its end: 0, or GORO_ESTATE if a bubble runs
** already. Requires: the P. */
int goroR_bubble_start(struct goro_rt *rt, struct goro_bubble *b,
                       struct goro_g *waiter);
/* Put gp, a G just made, in bubble b (goroR_g_init does it for a G made
** by a bubble G). Requires: the P. */
void goroR_bubble_join(struct goro_rt *rt, struct goro_bubble *b,
                       struct goro_g *gp);
/* gp, in a bubble, ends (g_end). The bubble's last G ends it (DONE) and
** readies its waiter. Requires: the P. */
void goroR_bubble_leave(struct goro_rt *rt, struct goro_g *gp);
/* The waiter is done with b (DONE or DEADLOCK): b's G's still parked
** become ordinary G's and b is no longer the running bubble. Requires:
** the P. */
void goroR_bubble_finish(struct goro_rt *rt, struct goro_bubble *b);
/* The run abandons its G's: end the running bubble, if any, first.
** Requires: the P. */
void goroR_bubble_abandon(struct goro_rt *rt);

/* If the running bubble is idle (every G of it durably blocked), move
** it on one step: ready its G in synctest.wait, or move its clock to its
** earliest timer and fire what is due, or end it as a deadlock (readying
** its waiter). Returns whether it did something. Requires: the P. */
int goroR_bubble_step(struct goro_rt *rt);
/* At a scheduling point: one load when no bubble runs. */
static inline int goroR_bubble_poll(struct goro_rt *rt) {
  struct goro_bubble *b = rt->bubble;
  return b != NULL && b->nblocked == b->ng && goroR_bubble_step(rt);
}

/* gp's park is committed (status WAITING): count it in its bubble if the
** bridge said it is durable (gp->durable, consumed here). Requires: the
** P. */
static inline void goroR_park_commit(struct goro_g *gp) {
  gp->status = GORO_GWAITING;
  if (gp->bubble != NULL && gp->durable) {
    gp->bcounted = 1;
    gp->bubble->nblocked++;
  }
  gp->durable = 0;
}

/* The id of the bubble gp runs in (0: none), for stamping the queues of
** what it makes. */
static inline uint64_t goroR_bubble_id(const struct goro_g *gp) {
  return gp != NULL && gp->bubble != NULL &&
                 gp->bubble->state == GORO_BUBBLE_RUNNING
             ? gp->bubble->id
             : 0;
}

/* The id of the running bubble (0: none, or it has ended). */
static inline uint64_t goroR_bubble_running(const struct goro_rt *rt) {
  return rt->bubble != NULL && rt->bubble->state == GORO_BUBBLE_RUNNING
             ? rt->bubble->id
             : 0;
}

#endif
