/*
** runtime/lock.h — the runtime's mutexes, and the order they are taken in.
**
** Every mutex of the runtime is a struct goro_lock with a rank. A thread
** may take a lock only if its rank is higher than the rank of every lock
** it already holds: the lock order is this enum, not prose (the model is
** Go's lockrank.go). Builds configured with -Dchecks (the test suite's)
** keep the locks each thread holds and abort with
**   goro: fatal: lock order: ...
** on a lock taken out of order, an unlock of a lock not held, or a
** condition wait on a lock that is not the thread's innermost. Other
** builds compile to plain pthread calls.
**
** No lock is ever held across a stack switch, and no signal handler takes
** one. Condition variables wait with goroR_cond_wait/timedwait so that the
** checks know the lock is still the thread's when the wait returns.
*/
#ifndef GORO_RUNTIME_LOCK_H
#define GORO_RUNTIME_LOCK_H

#include <pthread.h>
#include <time.h>

/* The lock order: a lock is taken only after locks of lower rank. */
enum goro_lockrank {
  GORO_RANK_LIVE = 1, /* the process's live runtimes (rt.c) */
  GORO_RANK_RT,       /* a runtime's lock: the P, M's, workers (state.h) */
  GORO_RANK_STACKS,   /* the G stack pool (stack.c) */
  GORO_RANK_PROF,     /* the profiler's threads, timers, samples (prof.c) */
  GORO_RANK_TEST,     /* the tests' own locks, taken under any of ours */
};

struct goro_lock {
  pthread_mutex_t mu;
  int rank;           /* enum goro_lockrank; immutable */
};

#define GORO_LOCK_INIT(rank) {PTHREAD_MUTEX_INITIALIZER, (rank)}

/* 0, or GORO_ENOMEM. */
int goroR_lock_init(struct goro_lock *l, int rank);
void goroR_lock_destroy(struct goro_lock *l);

#ifdef GORO_CHECKS
void goroR_lock(struct goro_lock *l);
void goroR_unlock(struct goro_lock *l);
void goroR_cond_wait(pthread_cond_t *cv, struct goro_lock *l);
int goroR_cond_timedwait(pthread_cond_t *cv, struct goro_lock *l,
                         const struct timespec *abstime);
#else
static inline void goroR_lock(struct goro_lock *l) { pthread_mutex_lock(&l->mu); }
static inline void goroR_unlock(struct goro_lock *l) { pthread_mutex_unlock(&l->mu); }
static inline void goroR_cond_wait(pthread_cond_t *cv, struct goro_lock *l) {
  pthread_cond_wait(cv, &l->mu);
}
static inline int goroR_cond_timedwait(pthread_cond_t *cv, struct goro_lock *l,
                                       const struct timespec *abstime) {
  return pthread_cond_timedwait(cv, &l->mu, abstime);
}
#endif

/* Take l unless that would take past `until` (CLOCK_MONOTONIC seconds):
** 0, or ETIMEDOUT (not taken). For a frame thread, which must not wait
** out a time slice of a holder the kernel descheduled (frame.c). */
int goroR_lock_until(struct goro_lock *l, double until);

/* A condition variable on the monotonic clock (all the runtime's timed
** waits are on it). 0, or GORO_ENOMEM. */
int goroR_cond_init(pthread_cond_t *cv);

#endif
