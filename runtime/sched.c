/*
** runtime/sched.c — G records, the run queue, carriers, parking and the
** scheduling loop; see sched.h and HACKING.md ("The scheduler: G, M, P").
**
** Owns: the P's run queue (runhead, runtail, runnext, nrunnable,
** nextstreak), its list of G's (allg, ng, nextgid), its carrier cache, and
** the G records the runtime allocates (goroR_g_new).
** Invariants (checked by goroR_assert):
**   - a G is on at most one of: the run queue (or runnext), an M, nowhere
**     (parked); its status says which;
**   - a G has a carrier iff it is RUNNING or parked stackfully;
**   - nrunnable counts the queue and runnext;
**   - only the M in rt->p_owner touches the P's state.
** Locks: none of its own; rt->lock only around the P's hand-overs and a
** locked G's sleep.
*/
#include "sched.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "errors.h"
#include "extram.h"
#include "fatal.h"
#include "m.h"
#include "netpoll.h"
#include "p.h"
#include "rt.h"
#include "timer.h"
#include "synctest.h"
#include "waitq.h"

#include "frame.h"
#include "locked.h"

/* What a carrier says when it switches back to the scheduler. */
enum {
  SW_RUN_END = GORO_SW_RUN_END,
  SW_PARK = GORO_SW_PARK,
  SW_GOSCHED = GORO_SW_GOSCHED,
};

void goroR_carrier_free(struct goro_carrier *c) {
  goroA_ctx_destroy(&c->ctx);
  goroR_stack_put(c->st);
  free(c);
}

/* gp has ended or is abandoned (status DEAD): take it off the P's list,
** free its carrier, then tell the bridge, whose look at the record is the
** last (the record may live in the bridge's memory, which it may then let
** go), and free the record if the runtime allocated it. */
static void g_end(struct goro_rt *rt, struct goro_g *gp) {
  int heap = gp->heap;
  if (gp->allprev) gp->allprev->allnext = gp->allnext;
  else rt->allg = gp->allnext;
  if (gp->allnext) gp->allnext->allprev = gp->allprev;
  rt->ng--;
  if (gp->bubble != NULL) goroR_bubble_leave(rt, gp);
  if (gp->carrier != NULL) {
    /* A G abandoned while parked stackfully: its frames die with it. */
    goroR_carrier_free(gp->carrier);
    gp->carrier = NULL;
    rt->carriers_in_use--;
  }
  if (rt->hooks->dead) rt->hooks->dead(rt, gp);
  if (heap) free(gp);
}

void goroR_g_abandon_all(struct goro_rt *rt) {
  goroR_bubble_abandon(rt);  /* (before any G ends: see synctest.h) */
  goroR_timers_drop(rt);  /* first: g_end frees the records goroR_g_new made */
  while (rt->allg != NULL) {
    struct goro_g *gp = rt->allg;
    goroR_waitq_remove_all(&gp->waiters);
    gp->status = GORO_GDEAD;
    g_end(rt, gp);
  }
  rt->runhead = rt->runtail = rt->runnext = NULL;
  WR(rt->nrunnable, 0);
  rt->homeq = NULL;
  WR(rt->nhome, 0);
  goroR_lock(&rt->lock);  /* (G's back from C wait there: gone too) */
  rt->cgoret = rt->cgorettail = NULL;
  atomic_store(&rt->ncgoret, 0);
  goroR_unlock(&rt->lock);
  rt->abort = 0;
  rt->until = NULL;
  rt->until_dead = 0;
}

/* ---- run queue ------------------------------------------------------------ */

void goroR_runq_put(struct goro_rt *rt, struct goro_g *gp) {
  if (goroR_g_home_locked(gp)) {  /* only its M may run it */
    goroR_homeq_put(rt, gp);
    return;
  }
  gp->schedlink = NULL;
  if (rt->runtail) rt->runtail->schedlink = gp;
  else rt->runhead = gp;
  rt->runtail = gp;
  WR(rt->nrunnable, rt->nrunnable + 1);
}

/* runnext, then the queue head; after 64 runnext picks in a row the runnext
** G goes to the tail instead, so a ping-pong pair cannot starve the rest. */
static struct goro_g *runq_get(struct goro_rt *rt) {
  struct goro_g *gp = rt->runnext;
  if (gp != NULL) {
    rt->runnext = NULL;
    WR(rt->nrunnable, rt->nrunnable - 1);
    if (++rt->nextstreak <= 64 || rt->runhead == NULL) return gp;
    goroR_runq_put(rt, gp);
  }
  rt->nextstreak = 0;
  gp = rt->runhead;
  if (gp != NULL) {
    rt->runhead = gp->schedlink;
    if (rt->runhead == NULL) rt->runtail = NULL;
    gp->schedlink = NULL;
    WR(rt->nrunnable, rt->nrunnable - 1);
  }
  return gp;
}

void goroR_ready(struct goro_rt *rt, struct goro_g *gp, int next) {
  goroR_assert(gp->status == GORO_GWAITING);
  goroR_timer_del(rt, gp);
  if (gp->bcounted) {  /* it was durably blocked in its bubble */
    gp->bcounted = 0;
    gp->bubble->nblocked--;
  }
  gp->status = GORO_GRUNNABLE;
  gp->waitreason = NULL;
  if (goroR_g_sleeps_locked(gp)) {  /* its M sleeps: wake it, it takes the P */
    goroR_lock(&rt->lock);
    gp->lockedm->parkready = 1;
    pthread_cond_signal(&gp->lockedm->parkcv);
    goroR_unlock(&rt->lock);
    return;
  }
  if (next && !goroR_g_home_locked(gp)) {
    struct goro_g *old = rt->runnext;
    rt->runnext = gp;
    WR(rt->nrunnable, rt->nrunnable + 1);
    if (old != NULL) {  /* the G it displaces keeps its turn, at the tail */
      WR(rt->nrunnable, rt->nrunnable - 1);
      goroR_runq_put(rt, old);
    }
  } else {
    goroR_runq_put(rt, gp);
  }
}

struct goro_g *goroR_g_new(struct goro_rt *rt, void *ud) {
  struct goro_g *gp = calloc(1, sizeof *gp);
  if (gp == NULL) return NULL;
  gp->heap = 1;
  goroR_g_init(rt, gp, ud);
  return gp;
}

void goroR_g_init(struct goro_rt *rt, struct goro_g *gp, void *ud) {
  struct goro_m *mp = goroR_m_self();
  gp->id = rt->nextgid++;
  gp->ud = ud;
  gp->timer.heapidx = -1;
  gp->timer.kind = GORO_TIMER_G;
  gp->allnext = rt->allg;
  if (rt->allg) rt->allg->allprev = gp;
  rt->allg = gp;
  rt->ng++;
  gp->status = GORO_GRUNNABLE;
  gp->bubble = NULL;
  gp->waiters.bubble = 0;
  gp->bcounted = gp->durable = 0;
  /* A G made by a G in a bubble is in that bubble. */
  if (mp != NULL && goroR_bubble_id(mp->curg) != 0)
    goroR_bubble_join(rt, mp->curg->bubble, gp);
  goroR_runq_put(rt, gp);
}

/* ---- carriers and parking -------------------------------------------------- */

static void settle(struct goro_rt *rt, struct goro_m *mp, struct goro_g *gp);
static struct goro_g *next_inline(struct goro_rt *rt, struct goro_m *mp,
                                  struct goro_carrier *c);

/* The loop every carrier runs: resume the G it was handed; when that run
** ends (a stackless park, a yield, the end), settle it right here and, if
** the next G needs no carrier of its own, run it on this one without going
** through g0 (two switches saved per hand-off). Otherwise report to g0 and
** wait to be handed the next G. `c` is a local of this very stack, so it
** stays right when the carrier later runs on another thread; the M is
** re-read after every switch. */
static void carrier_main(goro_ctx *from, void *arg) {
  struct goro_g *gp = arg;
  struct goro_carrier *c = gp->carrier;
  (void)from;
  for (;;) {
    struct goro_m *mp;
    struct goro_rt *rt = goroR_m_self()->rt;
    rt->hooks->resume(rt, gp);
    mp = goroR_m_self();  /* a stackful park may have moved us to another M */
    settle(rt, mp, gp);
    if ((gp = next_inline(rt, mp, c)) != NULL) continue;
    gp = goroA_ctx_switch(&c->ctx, &mp->g0, (void *)(uintptr_t)SW_RUN_END);
  }
}

static struct goro_carrier *carrier_get(struct goro_rt *rt) {
  struct goro_carrier *c = rt->carriers;
  if (c != NULL) {
    rt->carriers = c->next;
    rt->ncarriers--;
    c->next = NULL;
    return c;
  }
  if ((c = calloc(1, sizeof *c)) == NULL) return NULL;
  if ((c->st = goroR_stack_get()) == NULL) {
    free(c);
    return NULL;
  }
  goroA_ctx_make(&c->ctx, &c->st->desc, carrier_main);
  return c;
}

/* Keep a few idle carriers, suspended at the top of their loop. */
static void carrier_put(struct goro_rt *rt, struct goro_carrier *c) {
  if (rt->ncarriers >= 8) {
    goroR_carrier_free(c);
    return;
  }
  c->next = rt->carriers;
  rt->carriers = c;
  rt->ncarriers++;
}

void goroR_park_prepare(struct goro_g *gp, const char *reason) {
  goroR_assert(gp->status == GORO_GRUNNING);
  gp->parking = 1;
  gp->waitreason = reason;
  gp->waitsince = goroR_stamp();
}

int goroR_park(struct goro_g *gp, const char *reason) {
  if (goroR_g_sleeps_locked(gp)) return goroR_park_locked(gp, reason);
  goroR_assert(gp->status == GORO_GRUNNING && gp->carrier != NULL);
  gp->waitreason = reason;
  gp->waitsince = goroR_stamp();
  goroA_ctx_switch(&gp->carrier->ctx, &goroR_m_self()->g0,
                  (void *)(uintptr_t)SW_PARK);
  goroR_assert(gp->status == GORO_GRUNNING);
  return 0;
}

void goroR_gosched(struct goro_g *gp) {
  if (goroR_g_sleeps_locked(gp)) {  /* it keeps its thread (locked.c) */
    goroR_locked_yield(gp);
    return;
  }
  goroR_assert(gp->status == GORO_GRUNNING && gp->carrier != NULL);
  goroA_ctx_switch(&gp->carrier->ctx, &goroR_m_self()->g0,
                  (void *)(uintptr_t)SW_GOSCHED);
}

/* ---- the loop ------------------------------------------------------------- */

/* A run of gp ended on its carrier (outcome set by the resume hook): the
** carrier is free; commit the park, requeue, or retire gp. Runs on the
** carrier itself. Requires: the P. */
static void settle(struct goro_rt *rt, struct goro_m *mp, struct goro_g *gp) {
  goroR_assert(gp->status == GORO_GRUNNING && mp->curg == gp);
  gp->carrier = NULL;
  rt->carriers_in_use--;
  mp->curg = NULL;
  switch (gp->outcome) {
    case GORO_RUN_PARKED:
      gp->parking = 0;
      goroR_park_commit(gp);
      rt->st.stackless_parks++;
      break;
    case GORO_RUN_YIELDED:
      gp->status = GORO_GRUNNABLE;
      goroR_runq_put(rt, gp);
      break;
    case GORO_RUN_DONE:
      gp->status = GORO_GDEAD;
      goroR_waitq_wake_all(rt, &gp->waiters, 1);
      if (gp == mp->until) mp->stop = GORO_SCHED_DONE;
      if (gp->lockedm != NULL) goroR_locked_end(rt, gp, mp);
      if (gp == rt->until) {  /* maybe on a worker: goro.run's M must know */
        rt->until = NULL;
        goroR_lock(&rt->lock);  /* and come back, even from a callback */
        rt->until_dead = 1;  /* (read under the lock by waiters and workers) */
        goroR_rt_unwind_callbacks_locked(rt);
        goroR_unlock(&rt->lock);
      }
      g_end(rt, gp);
      break;
    default:
      goroR_throw("settle: G %llu ended a run without an outcome",
                 (unsigned long long)gp->id);
  }
}

/* Make gp the G running on mp, on carrier c. */
static void run_on(struct goro_rt *rt, struct goro_m *mp, struct goro_g *gp,
                   struct goro_carrier *c) {
  if (gp->carrier == NULL) {
    gp->carrier = c;
    rt->carriers_in_use++;
  }
  gp->status = GORO_GRUNNING;
  gp->outcome = 0;
  mp->curg = gp;
  rt->lastgid = gp->id;
  WR(rt->schedtick, rt->schedtick + 1);
}

#define POLL_EVERY 10e-3  /* seconds between polls while G's keep the P busy */

/* Poll without blocking if G's wait on I/O (or a host's poll fd was
** marked) and either `idle` (the run queue is empty) or nobody has polled
** for POLL_EVERY. Returns whether G's are runnable after. */
static int poll_now(struct goro_rt *rt, struct goro_netpoll *np, int idle) {
  if (!goroR_netpoll_waiting(rt) && !atomic_load(&np->broken)) return 0;
  if (!idle && goroR_now() - atomic_load(&np->lastpoll) < POLL_EVERY) return 0;
  goroR_netpoll(rt, 0);
  return rt->runhead != NULL || rt->runnext != NULL;
}

/* (Inline: a runtime that never did I/O pays one load per hand-off.) */
static inline int poll_if_due(struct goro_rt *rt, int idle) {
  struct goro_netpoll *np = atomic_load(&rt->np);
  return np != NULL && poll_now(rt, np, idle);
}

/* A step lends the P to the threads that wait for it and waits to get it
** back only with this much of its budget left (seconds); with less it
** gives the P up and returns: its wait would end at the deadline, and
** waking then, on a busy machine, is late (HACKING.md, "The frame loop"). */
#define LEND_AND_WAIT 1e-3

/* The next G to run on carrier c without a switch, or NULL to go back to
** g0: when the loop must stop, nothing is runnable, or the next G has a
** carrier of its own (it parked stackfully). Due timers fire here as they
** would on g0. Requires: the P. */
static struct goro_g *next_inline(struct goro_rt *rt, struct goro_m *mp,
                                  struct goro_carrier *c) {
  struct goro_g *gp;
  if (mp->stop || rt->abort || rt->closing || goroR_p_wanted(rt) ||
      rt->until_dead || mp->exiting)
    return NULL;
  if (mp->ishome && RD(rt->nhome) > 0 && goroR_homeq_has(rt, mp))
    return NULL;  /* G's locked to this M come first: g0 takes them */
  if (rt->ntimers > 0 || mp->deadline > 0) {
    double now = goroR_now();
    if (rt->ntimers > 0) goroR_timers_fire(rt, now);
    if (mp->deadline > 0 && now >= mp->deadline) return NULL;
  }
  goroR_bubble_poll(rt);  /* an idle bubble moves on (HACKING.md) */
  poll_if_due(rt, 0);  /* G's handed off inline never starve the poller */
  if (atomic_load_explicit(&rt->ncgoret, memory_order_relaxed))
    goroR_cgoret_drain(rt);
  gp = rt->runnext != NULL ? rt->runnext : rt->runhead;
  if (gp == NULL || gp->carrier != NULL) return NULL;
  gp = runq_get(rt);  /* the same G, unless the fairness bound moved it */
  if (gp->carrier != NULL) {
    gp->schedlink = rt->runhead;  /* back first in line, for g0 */
    rt->runhead = gp;
    if (rt->runtail == NULL) rt->runtail = gp;
    WR(rt->nrunnable, rt->nrunnable + 1);
    return NULL;
  }
  run_on(rt, mp, gp, c);
  rt->st.inline_runs++;
  return gp;
}

void goroR_sched_switch(struct goro_rt *rt, struct goro_m *mp,
                        struct goro_carrier *c) {
  struct goro_g *gp;
  uintptr_t msg = (uintptr_t)goroA_ctx_switch(&mp->g0, &c->ctx, mp->curg);
  /* Back on g0, maybe on another M than the one that switched (a handed-
  ** off G's carrier came back to its worker): re-read it. The G that came
  ** back is mp->curg (the carrier may have run other G's inline). */
  mp = goroR_m_self();
  gp = mp->curg;
  switch (msg) {
    case SW_PARK:  /* stackful: commit the park, the carrier stays with it */
      goroR_assert(gp != NULL && gp->status == GORO_GRUNNING);
      mp->curg = NULL;
      goroR_park_commit(gp);
      rt->st.stackful_parks++;
      return;
    case SW_GOSCHED:
      goroR_assert(gp != NULL && gp->status == GORO_GRUNNING);
      mp->curg = NULL;
      gp->status = GORO_GRUNNABLE;
      goroR_runq_put(rt, gp);
      return;
    case SW_RUN_END:  /* settled on the carrier, which is free now */
      goroR_assert(gp == NULL);
      carrier_put(rt, c);
      return;
    case GORO_SW_HANDOFF:  /* its C call goes to a worker */
      goroR_handoff_commit(rt, mp, gp);
      return;
    case GORO_SW_CGORET:  /* back from C on a worker, the P busy elsewhere */
      goroR_handoff_returned(rt, mp, gp);
      mp->stop = GORO_SCHED_IDLE;  /* (a worker's loop ends: no P) */
      return;
    default:
      goroR_throw("execute: bad message %lu from a carrier", (unsigned long)msg);
  }
}

/* Run gp (and whatever its carrier runs inline after it) until the carrier
** comes back to g0. Returns 0, or GORO_ENOMEM if no carrier could be had
** (gp stays runnable, first in line). */
static int execute(struct goro_rt *rt, struct goro_m *mp, struct goro_g *gp) {
  struct goro_carrier *c = gp->carrier;
  goroR_assert(gp->status == GORO_GRUNNABLE);
  if (c == NULL && (c = carrier_get(rt)) == NULL) {
    gp->schedlink = rt->runhead;
    rt->runhead = gp;
    if (rt->runtail == NULL) rt->runtail = gp;
    WR(rt->nrunnable, rt->nrunnable + 1);
    return GORO_ENOMEM;
  }
  run_on(rt, mp, gp, c);
  rt->st.switches++;
  goroR_sched_switch(rt, mp, c);
  return 0;
}

/* Can something outside the run queue and the timers still make a G
** runnable? A G in C, a host thread holding an extra M, a locked G whose
** M sleeps. Then a quiet run queue is not a deadlock. */
static int outside_hope(struct goro_rt *rt) {
  int hope;
  goroR_lock(&rt->lock);
  hope = atomic_load(&rt->nsyscall) > 0 || rt->nextram_inuse > 0 ||
         rt->nlocked > 0 || goroR_p_wanted(rt);
  goroR_unlock(&rt->lock);
  return hope;
}

/* Sleep until `when` (0: no limit) or until another thread signals (a
** thread wants the P, a locked M left, ...): in the netpoller if the
** runtime has one (I/O then ends the sleep too; every signal breaks it),
** else on rt->wake. */
static void idle_wait(struct goro_rt *rt, double when) {
  if (atomic_load(&rt->np) != NULL) {
    goroR_netpoll(rt, when > 0 ? when : -1);
    return;
  }
  goroR_lock(&rt->lock);
  if (!goroR_p_wanted(rt) && !rt->closing) {
    rt->owner_idle = 1;  /* (a thread that comes to wait for the P wakes it) */
    if (when > 0) {
      struct timespec ts = goroR_timespec(when);
      goroR_cond_timedwait(&rt->wake, &rt->lock, &ts);
    } else {
      goroR_cond_wait(&rt->wake, &rt->lock);
    }
    rt->owner_idle = 0;
  }
  goroR_unlock(&rt->lock);
}

int goroR_sched_run(struct goro_rt *rt, struct goro_m *mp, struct goro_g *until,
                   double deadline) {
  goroR_assert(rt->p_owner == mp);
  mp->until = until;
  mp->deadline = deadline;
  mp->stop = 0;
  if (until != NULL) {
    rt->until = until;
    rt->until_dead = 0;
  }
  for (;;) {
    struct goro_g *gp;
    double next = 0;

    if (mp->stop) return mp->stop;
    if (mp->exiting) return GORO_SCHED_IDLE;  /* its locked G took it along */
    if (rt->until_dead) {  /* the run's main G ended on another M */
      if (until != NULL) return GORO_SCHED_DONE;
      return GORO_SCHED_IDLE;  /* give the P to the run's M */
    }
    if (rt->abort || rt->closing) return GORO_SCHED_ABORT;
    if (goroR_p_waiters_first(rt, mp->isworker)) {  /* (a step: at once) */
      if (mp->isworker) return GORO_SCHED_IDLE;
      if (mp->isstep && deadline - goroR_now() < LEND_AND_WAIT) {
        goroR_p_release(rt, mp);  /* too late to get it back in time */
        return GORO_SCHED_LENT;
      }
      int rc = goroR_p_handoff(rt, mp, mp->isstep ? deadline : 0);
      if (rc == GORO_ETIMEDOUT) return GORO_SCHED_LENT;  /* (a step's end) */
      if (rc != 0) return GORO_SCHED_ABORT;
      continue;
    }
    if (rt->needextram) goroR_extram_refill(rt);
    if (atomic_load_explicit(&rt->ncgoret, memory_order_relaxed))
      goroR_cgoret_drain(rt);
    if (rt->ntimers > 0) next = goroR_timers_fire(rt, goroR_now());
    if (deadline > 0 && goroR_now() >= deadline) return GORO_SCHED_BUDGET;
    /* An idle bubble moves on, its clock jumping from timer to timer
    ** until one of its G's is runnable (HACKING.md, "Virtual time"). */
    while (goroR_bubble_poll(rt) && rt->runhead == NULL && rt->runnext == NULL) {}
    poll_if_due(rt, 0);  /* while busy: at least every POLL_EVERY */
    gp = mp->ishome && RD(rt->nhome) > 0 ? goroR_homeq_get(rt, mp) : NULL;
    if (gp == NULL) gp = runq_get(rt);
    /* The scheduler had its turn: timers fired and the queue's head taken,
    ** if any (a channel timer readies no G, yet it was the owed work). */
    atomic_store_explicit(&rt->owed, 0, memory_order_relaxed);
    if (gp == NULL) {
      if (poll_if_due(rt, 1)) continue;  /* I/O readied a G */
      /* A step returns; a worker stays, as the poller, while G's wait on
      ** I/O (a thread that wants the P breaks its poll). */
      if (until == NULL && !(mp->isworker && goroR_netpoll_waiting(rt)))
        return GORO_SCHED_IDLE;
      if (until != NULL && !goroR_timers_hope(rt) && !outside_hope(rt) &&
          !goroR_netpoll_waiting(rt))
        return GORO_SCHED_DEADLOCK;  /* nothing can wake anyone */
      idle_wait(rt, deadline > 0 && (next == 0 || deadline < next) ? deadline : next);
      continue;
    }
    if (execute(rt, mp, gp) == GORO_ENOMEM) return GORO_SCHED_NOMEM;
  }
}

void goroR_sched_get_stats(struct goro_rt *rt, struct goro_sched_stats *out) {
  *out = rt->st;
  out->preempts = atomic_load(&rt->npreempt);
  out->retakes = atomic_load(&rt->nretake);
  out->gs = rt->ng;
  out->runnable = rt->nrunnable;
  out->carriers = (uint64_t)rt->carriers_in_use;
  out->carriers_cached = (uint64_t)rt->ncarriers;
  out->sleeping = (uint64_t)rt->nsleeping;
  out->timers = (uint64_t)(rt->ntimers - rt->nsleeping);
  goroR_lock(&rt->lock);
  out->extra_ms = (uint64_t)rt->nextram;
  out->extra_ms_in_use = (uint64_t)rt->nextram_inuse;
  goroR_unlock(&rt->lock);
}

