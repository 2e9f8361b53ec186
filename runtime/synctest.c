/*
** runtime/synctest.c — bubbles of virtual time (goro.synctest); see
** synctest.h and HACKING.md, "Virtual time".
**
** Owns: rt->bubble, rt->nextbubble, and the fields of the running
** bubble other than its heap (timer.c): its clock, its G counts, its
** waiter and its G in synctest.wait; gp->bubble and gp->bcounted.
** Invariants (goroR_assert): nblocked <= ng; nblocked counts the G's of
** the bubble with bcounted set; while a bubble is RUNNING its clock only
** moves forward, and only when it is idle (nblocked == ng).
** Locks: none; everything here runs with the P held.
*/
#include "synctest.h"

#include "fatal.h"
#include "errors.h"
#include "sched.h"
#include "timer.h"

int goroR_bubble_start(struct goro_rt *rt, struct goro_bubble *b,
                       struct goro_g *waiter) {
  if (rt->bubble != NULL) return GORO_ESTATE;
  b->id = ++rt->nextbubble;
  b->now = GORO_BUBBLE_EPOCH;
  b->state = GORO_BUBBLE_RUNNING;
  b->waiter = waiter;
  rt->bubble = b;
  return 0;
}

void goroR_bubble_join(struct goro_rt *rt, struct goro_bubble *b,
                       struct goro_g *gp) {
  (void)rt;
  goroR_assert(gp->bubble == NULL && b->state == GORO_BUBBLE_RUNNING);
  gp->bubble = b;
  gp->waiters.bubble = b->id;  /* g:wait on it is durable inside */
  b->ng++;
}

/* b is done or deadlocked: its timers go, its waiter is readied. It stays
** rt->bubble until the waiter finishes it. */
static void bubble_end(struct goro_rt *rt, struct goro_bubble *b, int state) {
  b->state = state;
  goroR_bubble_timers_drop(b);
  if (b->waiter != NULL && b->waiter->status == GORO_GWAITING)
    goroR_ready(rt, b->waiter, 0);
}

static void detach(struct goro_bubble *b, struct goro_g *gp) {
  if (gp->bcounted) {
    gp->bcounted = 0;
    b->nblocked--;
  }
  gp->bubble = NULL;
  b->ng--;
  if (b->root == gp) b->root = NULL;
  if (b->waitg == gp) b->waitg = NULL;
  goroR_assert(b->nblocked <= b->ng);
}

void goroR_bubble_leave(struct goro_rt *rt, struct goro_g *gp) {
  struct goro_bubble *b = gp->bubble;
  detach(b, gp);
  if (b->ng == 0 && b->state == GORO_BUBBLE_RUNNING)
    bubble_end(rt, b, GORO_BUBBLE_DONE);
}

void goroR_bubble_finish(struct goro_rt *rt, struct goro_bubble *b) {
  for (struct goro_g *gp = rt->allg; gp != NULL && b->ng > 0; gp = gp->allnext)
    if (gp->bubble == b) detach(b, gp);
  goroR_assert(b->ng == 0 && b->nblocked == 0);
  goroR_bubble_timers_drop(b);
  b->waiter = NULL;
  if (rt->bubble == b) rt->bubble = NULL;
}

void goroR_bubble_abandon(struct goro_rt *rt) {
  struct goro_bubble *b = rt->bubble;
  if (b == NULL) return;
  if (b->state == GORO_BUBBLE_RUNNING) b->state = GORO_BUBBLE_DONE;
  goroR_bubble_finish(rt, b);
}

int goroR_bubble_step(struct goro_rt *rt) {
  struct goro_bubble *b = rt->bubble;
  goroR_assert(b->nblocked == b->ng);
  if (b->state != GORO_BUBBLE_RUNNING || b->ng == 0) return 0;
  if (b->waitg != NULL) {  /* every other G is durably blocked */
    struct goro_g *gp = b->waitg;
    b->waitg = NULL;
    goroR_ready(rt, gp, 0);
    return 1;
  }
  if (b->ntimers > 0) {  /* the clock jumps to the next timer */
    if (b->timers[0]->when > b->now) b->now = b->timers[0]->when;
    goroR_bubble_timers_fire(rt, b);
    return 1;
  }
  bubble_end(rt, b, GORO_BUBBLE_DEADLOCK);
  return 1;
}
