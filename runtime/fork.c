/*
** runtime/fork.c — the runtime across fork(); see fork.h and HACKING.md
** ("Fork").
**
** prepare (parent, before the copy): take every runtime lock, in the
** lock order: the live list, each live runtime's lock, the stack pool,
** the profiler. Several runtimes' locks share a rank, so these are taken
** directly, without the rank checks (every other taker takes at most one
** of them, and never while holding the live lock's successors, so this
** fixed order cannot deadlock against them). parent: release them. child:
** the calling thread owns them all, so it releases them too, after it has
** made each runtime forget the threads that did not come along:
**   - workers but the calling thread (if it is one) are dropped, idle
**     counts zeroed, sysmon marked stopped (started again when needed);
**   - transient M's (goro.run) but the caller's are unlisted, and step
**     M's of other threads are no longer inside a step;
**   - extra M's bound to other threads and idle in C go back to the pool;
**     one that was inside a callback is left out of the pool for good
**     (its G's frames lay on a thread that is gone);
**   - nobody waits for the P; it is free unless this thread holds it;
**   - only this thread's G in C, if any, counts as in C;
**   - every condition variable is made afresh: the parent's waiters are
**     counted inside them, and destroying one would wait for them forever.
** Locks: all of them, as above.
*/
#include "fork.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "extram.h"
#include "m.h"
#include "prof.h"
#include "rt.h"
#include "stack.h"
#include "state.h"

static void take(struct goro_lock *l) { pthread_mutex_lock(&l->mu); }
static void give(struct goro_lock *l) { pthread_mutex_unlock(&l->mu); }

static void prepare(void) {
  take(goroR_live_lockp());
  for (struct goro_rt *rt = goroR_live_next(NULL); rt; rt = goroR_live_next(rt))
    take(&rt->lock);
  take(goroR_stack_lock());
  take(goroR_prof_lockp());
}

static void release_all(void) {
  give(goroR_prof_lockp());
  give(goroR_stack_lock());
  for (struct goro_rt *rt = goroR_live_next(NULL); rt; rt = goroR_live_next(rt))
    give(&rt->lock);
  give(goroR_live_lockp());
}

static void parent(void) { release_all(); }

/* A condition variable made afresh (its waiters were other threads). */
static void renew(pthread_cond_t *cv) {
  memset(cv, 0, sizeof *cv);
  goroR_cond_init(cv);
}

/* Is mp the calling thread's M for rt? */
static int mine(struct goro_rt *rt, struct goro_m *mp) {
  return mp == goroR_m_self() || mp == goroR_extram_mine(rt);
}

static void forget_others(struct goro_rt *rt) {
  struct goro_m **pp;
  int insyscall = 0;

  renew(&rt->wake);
  renew(&rt->sysmon_cv);
  atomic_store(&rt->sysmon_on, 0);
  rt->nworkers = rt->nidle = 0;
  rt->idlem = NULL;  /* (only this thread came along, and it is not idle) */
  rt->timerm = NULL;
  rt->owner_idle = 0;
  for (pp = &rt->allm; *pp != NULL;) {  /* workers */
    struct goro_m *mp = *pp;
    if (mine(rt, mp)) {
      rt->nworkers++;
      renew(&mp->parkcv);
      pp = &mp->allnext;
    } else {
      *pp = mp->allnext;  /* (its condition variable dies with it) */
      free(mp);
    }
  }
  for (pp = &rt->transient; *pp != NULL;) {  /* goro.run */
    struct goro_m *mp = *pp;
    if (mine(rt, mp)) {
      renew(&mp->parkcv);
      pp = &mp->tnext;
    } else {
      *pp = mp->tnext;  /* its record was on its own stack */
    }
  }
  for (struct goro_m *mp = rt->stepms; mp != NULL; mp = mp->stepnext) {
    renew(&mp->parkcv);
    if (!mine(rt, mp)) atomic_store(&mp->stepping, 0);  /* (its thread is gone) */
  }
  rt->nextram_inuse = 0;
  for (struct goro_m *mp = rt->allextra; mp != NULL; mp = mp->xnext) {
    renew(&mp->parkcv);
    if (!mp->bound) continue;
    if (mine(rt, mp)) {
      rt->nextram_inuse++;
    } else if (mp->ncallback == 0 && mp->ncgo == 0) {  /* idle in C: pool it */
      if (rt->p_owner == mp) {
        rt->p_owner = NULL;
        atomic_store(&rt->p_syscall, (uintptr_t)0);
      }
      mp->bound = 0;
      mp->rt = NULL;
      mp->state = GORO_M_POOLED;
      mp->poolnext = rt->extram;
      rt->extram = mp;
    } else {  /* inside a callback on a thread that is gone: never again */
      mp->bound = 0;
      mp->state = GORO_M_POOLED;
    }
  }
  if (rt->p_owner != NULL && !mine(rt, rt->p_owner)) {
    rt->p_owner = NULL;  /* the P is free: its holder did not come along */
    atomic_store(&rt->p_syscall, (uintptr_t)0);
  }
  rt->pwaiters = rt->cwaiters = rt->swaiters = 0;
  atomic_store(&rt->step_waits, 0);
  atomic_store(&rt->stepkick, 0);
  atomic_store(&rt->pstarving, (uintptr_t)0);
  atomic_store(&rt->owed, 0);
  rt->nlocked = 0;
  {
    struct goro_m *me = goroR_m_self();
    if (me != NULL && mine(rt, me) && me->ncgo > 0) insyscall = 1;
  }
  atomic_store(&rt->nsyscall, insyscall);
}

static void child(void) {
  for (struct goro_rt *rt = goroR_live_next(NULL); rt; rt = goroR_live_next(rt))
    forget_others(rt);
  goroR_prof_atfork_child();
  release_all();
}

static void install(void) { pthread_atfork(prepare, parent, child); }

void goroR_fork_init(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, install);
}
