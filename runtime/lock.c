/*
** runtime/lock.c — ranked locks; see lock.h.
**
** In -Dchecks builds each thread keeps the locks it holds in a small
** stack in thread-local storage (only its own thread touches it; locks are
** never held across a stack switch, so a G that moves between threads
** holds none when it moves).
*/
#include "lock.h"

#include <errno.h>

#include "errors.h"
#include "fatal.h"

int goroR_lock_init(struct goro_lock *l, int rank) {
  l->rank = rank;
  return pthread_mutex_init(&l->mu, NULL) == 0 ? 0 : GORO_ENOMEM;
}

void goroR_lock_destroy(struct goro_lock *l) { pthread_mutex_destroy(&l->mu); }

int goroR_cond_init(pthread_cond_t *cv) {
  pthread_condattr_t ca;
  int rc;
  if (pthread_condattr_init(&ca) != 0) return GORO_ENOMEM;
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  rc = pthread_cond_init(cv, &ca);
  pthread_condattr_destroy(&ca);
  return rc == 0 ? 0 : GORO_ENOMEM;
}

/* pthread_mutex_timedlock reads CLOCK_REALTIME: `until` is moved there
** (a realtime jump in between stretches or cuts one wait, no more). */
static int timedlock(pthread_mutex_t *mu, double until) {
  struct timespec mono, real, abs;
  double left, t;
  if (pthread_mutex_trylock(mu) == 0) return 0;
  clock_gettime(CLOCK_MONOTONIC, &mono);
  left = until - ((double)mono.tv_sec + (double)mono.tv_nsec * 1e-9);
  if (left <= 0) return ETIMEDOUT;
  clock_gettime(CLOCK_REALTIME, &real);
  t = (double)real.tv_sec + (double)real.tv_nsec * 1e-9 + left;
  abs.tv_sec = (time_t)t;
  abs.tv_nsec = (long)((t - (double)abs.tv_sec) * 1e9);
  if (abs.tv_nsec >= 1000000000L) abs.tv_nsec = 999999999L;
  return pthread_mutex_timedlock(mu, &abs) == 0 ? 0 : ETIMEDOUT;
}

#ifndef GORO_CHECKS
int goroR_lock_until(struct goro_lock *l, double until) {
  return timedlock(&l->mu, until);
}
#endif

#ifdef GORO_CHECKS

static const char *const rank_names[] = {
    "?", "live runtimes", "runtime", "stack pool", "profiler", "test",
};

static const char *rank_name(int rank) {
  if (rank < 0 || rank >= (int)(sizeof rank_names / sizeof *rank_names))
    return "?";
  return rank_names[rank];
}

#define MAXHELD 8 /* more than the order has ranks */

static __thread struct goro_lock *held[MAXHELD]
    __attribute__((tls_model("initial-exec")));
static __thread int nheld __attribute__((tls_model("initial-exec")));

void goroR_lock(struct goro_lock *l) {
  for (int i = 0; i < nheld; i++)
    if (held[i]->rank >= l->rank)
      goroR_throw("lock order: %s lock (rank %d) taken while holding the "
                  "%s lock (rank %d)", rank_name(l->rank), l->rank,
                  rank_name(held[i]->rank), held[i]->rank);
  if (nheld == MAXHELD) goroR_throw("lock order: %d locks held", nheld);
  pthread_mutex_lock(&l->mu);
  held[nheld++] = l;
}

int goroR_lock_until(struct goro_lock *l, double until) {
  for (int i = 0; i < nheld; i++)
    if (held[i]->rank >= l->rank)
      goroR_throw("lock order: %s lock (rank %d) taken while holding the "
                  "%s lock (rank %d)", rank_name(l->rank), l->rank,
                  rank_name(held[i]->rank), held[i]->rank);
  if (nheld == MAXHELD) goroR_throw("lock order: %d locks held", nheld);
  if (timedlock(&l->mu, until) != 0) return ETIMEDOUT;
  held[nheld++] = l;
  return 0;
}

void goroR_unlock(struct goro_lock *l) {
  int i = nheld - 1;
  while (i >= 0 && held[i] != l) i--;
  if (i < 0)
    goroR_throw("lock order: unlock of a %s lock this thread does not hold",
                rank_name(l->rank));
  for (; i < nheld - 1; i++) held[i] = held[i + 1];
  nheld--;
  pthread_mutex_unlock(&l->mu);
}

/* A wait gives the lock up for a while: it must be the thread's innermost,
** or another thread could take it and then a lock this one holds. */
static void check_wait(struct goro_lock *l) {
  if (nheld == 0 || held[nheld - 1] != l)
    goroR_throw("lock order: condition wait on a %s lock that is not the "
                "innermost this thread holds", rank_name(l->rank));
}

void goroR_cond_wait(pthread_cond_t *cv, struct goro_lock *l) {
  check_wait(l);
  pthread_cond_wait(cv, &l->mu);
}

int goroR_cond_timedwait(pthread_cond_t *cv, struct goro_lock *l,
                         const struct timespec *abstime) {
  check_wait(l);
  return pthread_cond_timedwait(cv, &l->mu, abstime);
}

#endif
