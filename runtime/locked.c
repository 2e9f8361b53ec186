/*
** runtime/locked.c — locked G's: goro.lockthread(), callbacks' G's, and
** the home queue; see locked.h and HACKING.md ("Locked G's").
**
** Owns: gp->userlocks and, for user locks, gp->lockedm; rt->homeq and
** rt->nhome (the P's); rt->nlockedw (lock).
** Two kinds of lock, by the M: on a *home* M (the thread of goro.run, a
** step M), which runs the scheduler itself, a locked G parks as any G
** and, readied, waits on rt->homeq for that M alone; anywhere else (a
** worker, an M inside a callback) the G keeps the thread: it parks by
** putting the M to sleep, and yields without leaving it.
** Locks: rt->lock around the P's hand-overs and the M's sleep.
*/
#include "locked.h"

#include <stdatomic.h>

#include "errors.h"
#include "fatal.h"
#include "m.h"
#include "p.h"
#include "sched.h"
#include "timer.h"

int goroR_lockthread(struct goro_rt *rt, struct goro_g *gp, struct goro_m *mp) {
  if (gp->userlocks == UINT16_MAX) return GORO_EINVAL;  /* nested too deep */
  if (gp->lockedm != NULL && gp->lockedm != mp)
    return GORO_ESTATE;  /* pinned elsewhere already (a callback, a lock) */
  if (gp->userlocks++ > 0) return 0;
  if (gp->lockedm == NULL) gp->lockedm = mp;  /* (a callback's G: already) */
  if (gp->lockedm->isworker) {
    goroR_lock(&rt->lock);
    rt->nlockedw++;  /* a dedicated worker: not one of max_workers */
    goroR_unlock(&rt->lock);
  }
  return 0;
}

/* The lock ends: gp runs anywhere again (unless a callback still holds
** it), and a worker it held is one of the pool again. */
static void unlock_user(struct goro_rt *rt, struct goro_g *gp) {
  struct goro_m *mp = gp->lockedm;
  gp->userlocks = 0;
  if (mp != NULL && mp->isworker) {
    goroR_lock(&rt->lock);
    rt->nlockedw--;
    goroR_unlock(&rt->lock);
  }
  if (gp->lockcount == 0 && !gp->isextra) gp->lockedm = NULL;
}

void goroR_unlockthread(struct goro_rt *rt, struct goro_g *gp) {
  if (gp->userlocks == 0) return;  /* (as Go's: unlocking more is a no-op) */
  if (gp->userlocks > 1) {
    gp->userlocks--;
    return;
  }
  unlock_user(rt, gp);
}

int goroR_locked_end(struct goro_rt *rt, struct goro_g *gp, struct goro_m *mp) {
  int take = gp->userlocks > 0 && gp->lockedm == mp && mp->isworker;
  if (gp->userlocks > 0) unlock_user(rt, gp);
  if (take) mp->exiting = 1;
  return take;
}

/* ---- the home queue ------------------------------------------------------- */

void goroR_homeq_put(struct goro_rt *rt, struct goro_g *gp) {
  struct goro_g **pp = &rt->homeq;
  while (*pp != NULL) pp = &(*pp)->schedlink;  /* FIFO; a few G's at most */
  gp->schedlink = NULL;
  *pp = gp;
  WR(rt->nhome, rt->nhome + 1);
}

struct goro_g *goroR_homeq_get(struct goro_rt *rt, struct goro_m *mp) {
  for (struct goro_g **pp = &rt->homeq; *pp != NULL; pp = &(*pp)->schedlink)
    if ((*pp)->lockedm == mp) {
      struct goro_g *gp = *pp;
      *pp = gp->schedlink;
      gp->schedlink = NULL;
      WR(rt->nhome, rt->nhome - 1);
      return gp;
    }
  return NULL;
}

int goroR_home_wanted(struct goro_rt *rt, struct goro_m *mp) {
  return mp->ishome && RD(rt->nhome) > 0 && goroR_homeq_has(rt, mp);
}

int goroR_homeq_has(struct goro_rt *rt, struct goro_m *mp) {
  for (struct goro_g *gp = rt->homeq; gp != NULL; gp = gp->schedlink)
    if (gp->lockedm == mp) return 1;
  return 0;
}

/* ---- a G that keeps its thread ----------------------------------------------- */

void goroR_locked_yield(struct goro_g *gp) {
  struct goro_m *mp = gp->lockedm;
  struct goro_rt *rt = mp->rt;
  double until = goroR_now() + 10e-3;
  goroR_lock(&rt->lock);
  rt->nlocked++;  /* (it will want the P again: no deadlock meanwhile) */
  goroR_p_drop_locked(rt, mp);  /* (wakes the waiters; kicks a worker) */
  mp->state = GORO_M_PARKED;
  /* Let someone else have it: wait until another M took the P, or nobody
  ** wants it (no thread waits for it, no G is runnable or due), or 10 ms
  ** went by with nobody able to take it. Then wait for it as a caller. */
  while (rt->p_owner == NULL && (goroR_p_wanted(rt) || goroR_p_work_due(rt)) &&
         !rt->closing && !rt->abort && goroR_now() < until) {
    struct timespec ts = goroR_timespec(goroR_now() + 1e-3);
    goroR_cond_timedwait(&rt->wake, &rt->lock, &ts);
  }
  goroR_unlock(&rt->lock);
  goroR_p_acquire(rt, mp);  /* (a closing runtime lets its own M's back) */
  goroR_lock(&rt->lock);
  rt->nlocked--;
  goroR_unlock(&rt->lock);
}

/* A locked G parks by putting its M to sleep: see HACKING.md, Locked G's.
** While the P is free the sleeping M fires due timers itself, so a
** callback that sleeps wakes up even with no worker and no step. */
int goroR_park_locked(struct goro_g *gp, const char *reason) {
  struct goro_m *mp = gp->lockedm;
  struct goro_rt *rt = mp->rt;
  int held = 0;

  gp->waitreason = reason;
  gp->waitsince = goroR_stamp();
  gp->status = GORO_GWAITING;
  rt->st.stackful_parks++;
  goroR_lock(&rt->lock);
  mp->parkready = 0;
  rt->nlocked++;
  goroR_p_drop_locked(rt, mp);
  mp->state = GORO_M_PARKED;
  /* An extra M's own callbacks are the host's, but one nested in a
  ** cgocall holds nsyscall, which goroR_rt_quiesce waits for. */
  while (!mp->parkready && !rt->closing &&
         !(rt->quiescing && (!mp->isextra || mp->ncgo > 0))) {
    double when = atomic_load(&rt->next_when);
    if (when > 0 && !rt->abort) {
      double now = goroR_now();
      if (when <= now && !goroR_p_held_locked(rt)) {
        goroR_p_take_locked(rt, mp);
        goroR_unlock(&rt->lock);
        goroR_timers_fire(rt, goroR_now());
        goroR_lock(&rt->lock);
        if (mp->parkready) {
          held = 1;
          break;
        }
        goroR_p_drop_locked(rt, mp);
        mp->state = GORO_M_PARKED;
        continue;
      }
      /* Always timed while a timer is pending: whoever holds the P now
      ** may give it up before the timer is due. */
      struct timespec ts = goroR_timespec(when > now ? when : now + 1e-3);
      goroR_cond_timedwait(&mp->parkcv, &rt->lock, &ts);
    } else {
      goroR_cond_wait(&mp->parkcv, &rt->lock);
    }
  }
  {
    int ready = mp->parkready, rc = 0;
    int ended = !ready && !rt->closing;  /* (read under the lock) */
    if (!held) {
      goroR_unlock(&rt->lock);
      /* Still counted in nlocked until it has the P: a readied G that
      ** waits for it is no deadlock. */
      rc = goroR_p_acquire(rt, mp);
      goroR_lock(&rt->lock);
    }
    rt->nlocked--;
    goroR_unlock(&rt->lock);
    if (rc != 0) return GORO_ECLOSED;
    gp->status = GORO_GRUNNING;
    if (ready) return 0;
    return ended ? GORO_EENDED : GORO_ECLOSED;  /* woken to unwind */
  }
}

