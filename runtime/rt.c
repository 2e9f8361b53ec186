/*
** runtime/rt.c — a runtime's lifetime and the list of live runtimes; see
** rt.h and HACKING.md ("Extra M's", the run that is over).
**
** Owns: the live list (live_lock), rt->closing, quiescing, run_active,
** run_deadline; the order in which a runtime stops: refuse new entries,
** let callbacks and G's in C come back, stop sysmon, join the workers,
** abandon the G's, free the extra M's (leaving the live list in the same
** step), free the carriers.
** Locks: live_lock -> rt->lock (lock.h's ranks).
*/
#include "rt.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "extram.h"
#include "fork.h"
#include "frame.h"
#include "m.h"
#include "netpoll.h"
#include "p.h"
#include "sched.h"
#include "sysmon.h"
#include "worker.h"

/* ---- live runtimes ------------------------------------------------------------ */

struct live {
  struct goro_rt *rt;
  uint64_t gen;
  struct live *next;
};

static struct goro_lock live_lock = GORO_LOCK_INIT(GORO_RANK_LIVE);
static struct live *lives;    /* live_lock */
static uint64_t next_gen = 1; /* live_lock */

void goroR_live_lock(void) { goroR_lock(&live_lock); }
void goroR_live_unlock(void) { goroR_unlock(&live_lock); }
struct goro_lock *goroR_live_lockp(void) { return &live_lock; }

struct goro_rt *goroR_live_next(struct goro_rt *after) {
  struct live *l = lives;
  if (after != NULL) {
    while (l != NULL && l->rt != after) l = l->next;
    if (l != NULL) l = l->next;
  }
  return l != NULL ? l->rt : NULL;
}

/* Put rt on the list; its generation. */
static uint64_t live_add(struct goro_rt *rt) {
  struct live *l = malloc(sizeof *l);
  uint64_t gen;
  goroR_lock(&live_lock);
  gen = next_gen++;
  if (l != NULL) {
    l->rt = rt;
    l->gen = gen;
    l->next = lives;
    lives = l;
  }
  goroR_unlock(&live_lock);
  return gen;
}

/* Requires: live_lock. */
static void live_del_locked(struct goro_rt *rt) {
  for (struct live **pp = &lives; *pp != NULL; pp = &(*pp)->next) {
    if ((*pp)->rt == rt) {
      struct live *l = *pp;
      *pp = l->next;
      free(l);
      return;
    }
  }
}

int goroR_live_has_locked(struct goro_rt *rt, uint64_t gen) {
  for (struct live *l = lives; l != NULL; l = l->next)
    if (l->rt == rt && l->gen == gen) return 1;
  return 0;
}

/* ---- init and destroy ------------------------------------------------------------ */

int goroR_rt_init(struct goro_rt *rt, const struct goro_hooks *hooks, void *ud) {
  memset(rt, 0, sizeof *rt);
  if (goroR_lock_init(&rt->lock, GORO_RANK_RT) != 0) return GORO_ENOMEM;
  if (goroR_cond_init(&rt->wake) != 0) {
    goroR_lock_destroy(&rt->lock);
    return GORO_ENOMEM;
  }
  if (goroR_cond_init(&rt->sysmon_cv) != 0) {
    pthread_cond_destroy(&rt->wake);
    goroR_lock_destroy(&rt->lock);
    return GORO_ENOMEM;
  }
  rt->gen = live_add(rt);
  goroR_preempt_init();
  goroR_fork_init();
  rt->hooks = hooks;
  rt->ud = ud;
  rt->nextgid = 1;
  rt->max_workers = 4;
  rt->max_ms = GORO_MAX_MS;
  return 0;
}

/* Is a callback running on any M? Requires: rt->lock (for the lists). */
static int callbacks_active(struct goro_rt *rt) {
  for (struct goro_m *mp = rt->allextra; mp != NULL; mp = mp->xnext)
    if (RD(mp->ncallback) > 0) return 1;
  for (struct goro_m *mp = rt->transient; mp != NULL; mp = mp->tnext)
    if (RD(mp->ncallback) > 0) return 1;
  for (struct goro_m *mp = rt->stepms; mp != NULL; mp = mp->stepnext)
    if (RD(mp->ncallback) > 0) return 1;
  for (struct goro_m *mp = rt->allm; mp != NULL; mp = mp->allnext)
    if (RD(mp->ncallback) > 0) return 1;
  return 0;
}

/* Stop everything that runs on its own: refuse new entries, wake locked
** M's so their callbacks unwind, wait until no callback is active, no G is
** in C (its stack must outlive the C call) and the P is free, then stop
** sysmon and join the workers. Idempotent. */
static void shutdown(struct goro_rt *rt) {
  goroR_lock(&rt->lock);
  rt->closing = 1;
  goroR_cgoq_drop_locked(rt);  /* C calls no worker began never run */
  goroR_rt_wake_locked(rt);
  for (struct goro_m *mp = rt->allextra; mp != NULL; mp = mp->xnext)
    pthread_cond_broadcast(&mp->parkcv);
  while (goroR_p_held_locked(rt) || callbacks_active(rt) ||
         atomic_load(&rt->nsyscall) > 0) {
    for (struct goro_m *mp = rt->transient; mp != NULL; mp = mp->tnext)
      pthread_cond_broadcast(&mp->parkcv);
    for (struct goro_m *mp = rt->stepms; mp != NULL; mp = mp->stepnext)
      pthread_cond_broadcast(&mp->parkcv);
    for (struct goro_m *mp = rt->allm; mp != NULL; mp = mp->allnext)
      pthread_cond_broadcast(&mp->parkcv);
    goroR_cond_wait(&rt->wake, &rt->lock);
  }
  goroR_unlock(&rt->lock);
  goroR_sysmon_stop(rt);
  goroR_workers_join(rt);
}

void goroR_rt_destroy(struct goro_rt *rt) {
  shutdown(rt);
  goroR_g_abandon_all(rt);
  /* Leave the live list and free the pooled extra M's in one step under
  ** live_lock: from then on an exiting host thread frees its own M. */
  goroR_lock(&live_lock);
  live_del_locked(rt);
  goroR_extram_free_all_locked(rt);
  goroR_unlock(&live_lock);
  while (rt->carriers != NULL) {
    struct goro_carrier *c = rt->carriers;
    rt->carriers = c->next;
    goroR_carrier_free(c);
  }
  goroR_netpoll_free(rt);  /* (the owners of its descriptors let go) */
  goroR_stepms_free(rt);
  free(rt->timers);
  pthread_cond_destroy(&rt->sysmon_cv);
  pthread_cond_destroy(&rt->wake);
  goroR_lock_destroy(&rt->lock);
}

void goroR_rt_close(struct goro_rt *rt) {
  shutdown(rt);
  goroR_g_abandon_all(rt);
}

/* ---- a goro.run's bracket ------------------------------------------------------- */

void goroR_rt_unwind_callbacks_locked(struct goro_rt *rt) {
  rt->quiescing = 1;
  for (struct goro_m *mp = rt->transient; mp != NULL; mp = mp->tnext)
    pthread_cond_signal(&mp->parkcv);  /* no waiter: a no-op */
  for (struct goro_m *mp = rt->stepms; mp != NULL; mp = mp->stepnext)
    pthread_cond_signal(&mp->parkcv);
  for (struct goro_m *mp = rt->allm; mp != NULL; mp = mp->allnext)
    pthread_cond_signal(&mp->parkcv);
  for (struct goro_m *mp = rt->allextra; mp != NULL; mp = mp->xnext)
    pthread_cond_signal(&mp->parkcv);  /* it decides (park_locked) */
}

void goroR_rt_run_begin(struct goro_rt *rt, double deadline) {
  goroR_lock(&rt->lock);
  rt->run_active = 1;
  rt->run_deadline = deadline;
  rt->quiescing = 0;
  goroR_unlock(&rt->lock);
}

void goroR_rt_quiesce(struct goro_rt *rt, struct goro_m *mp) {
  if (atomic_load(&rt->nsyscall) > 0) {
    rt->abort = 1;  /* no new runs; a G back from C stops at its next park */
    goroR_lock(&rt->lock);
    goroR_rt_unwind_callbacks_locked(rt);  /* callbacks unwind to their C */
    goroR_unlock(&rt->lock);
  }
  while (atomic_load(&rt->nsyscall) > 0) {
    goroR_lock(&rt->lock);
    goroR_p_drop_locked(rt, mp);
    while (atomic_load(&rt->nsyscall) > 0 || goroR_p_held_locked(rt))
      goroR_cond_wait(&rt->wake, &rt->lock);
    goroR_unlock(&rt->lock);
    goroR_p_acquire(rt, mp);
  }
  goroR_lock(&rt->lock);
  rt->quiescing = 0;
  rt->run_active = 0;
  rt->run_deadline = 0;
  goroR_unlock(&rt->lock);
}

