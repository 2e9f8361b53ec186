/*
** runtime/prof.c — the profiler's signal side and its session: per-thread
** CPU timers, attach and detach, the SIGPROF handler, start and stop. See
** runtime/prof.h and runtime/HACKING.md ("The profiler"); the samples go to
** prof_store.c and the file is written by pprof.c.
**
** Invariants: cur_session is 0 or last_session, and not 0 exactly while a
** profile runs; while it runs every attached thread has an armed timer (one
** whose timer_create failed samples nothing), and none has one when it is
** off. The handler only reads its own thread's M and G and counts in
** atomics; it takes no lock, allocates nothing and never touches the store.
**
** Locks: goroR_prof_lock (prof_store.h) guards the thread list, the timers
** and the session's settings below; the handler's counts are atomics.
*/
#include "prof.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "fatal.h"
#include "extram.h"
#include "m.h"
#include "pprof.h"
#include "prof_store.h"
#include "timer.h"
#include "signals.h"

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

/* ---- state ---------------------------------------------------------------- */

/* A thread that is an M of some kind (see HACKING.md: attach/detach). */
struct pthr {
  pid_t tid;
  pthread_t self;
  int refs;          /* prof_lock: attachments */
  int armed;         /* prof_lock: `timer` exists */
  timer_t timer;     /* prof_lock */
  struct pthr *next, *prev; /* prof_lock: the attached threads */
};

static __thread struct pthr me __attribute__((tls_model("initial-exec")));

static struct pthr threads = {.next = &threads, .prev = &threads};
static uint64_t nthreads, ntimers;          /* prof_lock */
static int hz;                              /* prof_lock */
static int format;                          /* prof_lock */
static char *outpath;                       /* prof_lock */
static double t_start, t_stop;              /* prof_lock */
static uint32_t last_session;               /* prof_lock */
static uint64_t ext_final, rt_final;        /* prof_lock: counted, at stop */

static _Atomic uint32_t cur_session;        /* 0: not profiling */
static _Atomic int inflight;                /* handlers running now */
static _Atomic uint64_t nsignals, ndropped, nstale, nexternal, nruntime;

static struct sigaction old_prof;

/* ---- timers ------------------------------------------------------------------ */

/* Arm pt's timer on its own CPU clock. prof_lock, a profile on. */
static void arm_locked(struct pthr *pt, uint32_t session) {
  clockid_t clk;
  struct sigevent sev;
  struct itimerspec its;
  long period = 1000000000L / hz;
  if (pt->armed || pthread_getcpuclockid(pt->self, &clk) != 0) return;
  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = SIGPROF;
  sev.sigev_value.sival_int = (int)session;
  sev.sigev_notify_thread_id = pt->tid;
  if (timer_create(clk, &sev, &pt->timer) != 0) return;
  its.it_interval.tv_sec = period / 1000000000L;
  its.it_interval.tv_nsec = period % 1000000000L;
  /* The first tick at a spread offset, so threads that start together do
  ** not tick together. */
  its.it_value.tv_sec = 0;
  its.it_value.tv_nsec = 1 + (long)(((uint64_t)pt->tid * 2654435761u) % (uint64_t)period);
  if (its.it_value.tv_nsec >= 1000000000L) its.it_value.tv_nsec = 999999999L;
  timer_settime(pt->timer, 0, &its, NULL);
  pt->armed = 1;
  ntimers++;
}

static void disarm_locked(struct pthr *pt) {
  if (!pt->armed) return;
  timer_delete(pt->timer);
  pt->armed = 0;
  ntimers--;
}

void goroR_prof_thread_attach(void) {
  goroR_lock(&goroR_prof_lock);
  if (me.refs++ == 0) {
    me.tid = gettid();
    me.self = pthread_self();
    me.next = threads.next;
    me.prev = &threads;
    threads.next->prev = &me;
    threads.next = &me;
    nthreads++;
    uint32_t s = atomic_load(&cur_session);
    if (s != 0) arm_locked(&me, s);
  }
  goroR_unlock(&goroR_prof_lock);
}

struct goro_lock *goroR_prof_lockp(void) { return &goroR_prof_lock; }

void goroR_prof_atfork_child(void) {
  /* Only this thread is left, and no timer: a fork does not copy them.
  ** The parent's profile goes on in the parent; the child takes none. */
  struct pthr *pt = threads.next;
  while (pt != &threads) {
    struct pthr *next = pt->next;
    pt->armed = 0;
    if (pt != &me) pt->next = pt->prev = NULL;
    pt = next;
  }
  threads.next = threads.prev = &threads;
  nthreads = ntimers = 0;
  if (me.refs > 0) {
    me.tid = gettid();
    me.self = pthread_self();
    me.next = threads.next;
    me.prev = &threads;
    threads.next->prev = &me;
    threads.next = &me;
    nthreads = 1;
  }
  atomic_store(&cur_session, 0);
  atomic_store(&inflight, 0);
}

void goroR_prof_thread_detach(void) {
  goroR_lock(&goroR_prof_lock);
  if (me.refs <= 0) goroR_throw("profiler: thread detached more than attached");
  if (--me.refs == 0) {
    disarm_locked(&me);
    me.prev->next = me.next;
    me.next->prev = me.prev;
    me.next = me.prev = NULL;
    nthreads--;
  }
  goroR_unlock(&goroR_prof_lock);
}

/* ---- the handler ------------------------------------------------------------- */

static void forward(int sig, siginfo_t *si, void *uc) {
  if (!goroR_sig_forward(&old_prof, sig, si, uc)) atomic_fetch_add(&ndropped, 1);
}

/* Async-signal-safe: atomics and plain reads of the thread's own M and G,
** and hooks->interrupt (itself async-signal-safe). See HACKING.md for the
** order of the cases. */
static void on_prof(int sig, siginfo_t *si, void *uc) {
  int saved = errno;
  uint32_t session;
  struct goro_m *mp;
  struct goro_g *gp;

  atomic_fetch_add(&inflight, 1);
  atomic_fetch_add(&nsignals, 1);
  if (si->si_code != SI_TIMER) {  /* not one of our timers: not ours */
    forward(sig, si, uc);
    goto out;
  }
  session = atomic_load(&cur_session);
  if (session == 0 || (uint32_t)si->si_value.sival_int != session) {
    atomic_fetch_add(&nstale, 1);
    goto out;
  }
  if ((mp = goroR_m_self()) == NULL) mp = goroR_extram_bound();
  if (mp == NULL) {
    atomic_fetch_add(&ndropped, 1);
    goto out;
  }
  if (mp->isextra && mp->isExtraInC) {  /* trusted first, as Go does */
    atomic_fetch_add(&nexternal, 1);
    goto out;
  }
  gp = mp->curg;
  if (mp->ncgo > 0 && gp != NULL && gp->status == GORO_GSYSCALL) {
    int k = atomic_fetch_add(&mp->prof_cgo, 1);  /* this is sample k+1 */
    if (k == 0) atomic_store(&mp->prof_cgo_sess, session);
    if (k < GORO_PROF_CGO_PCS) {
      mp->prof_cgo_pcs[k] = goroR_uc_pc(uc);
    } else {  /* reservoir: keep it with probability PCS/(k+1) */
      uint32_t r = mp->prof_rng ? mp->prof_rng : 0x9e3779b9u;
      r ^= r << 13;
      r ^= r >> 17;
      r ^= r << 5;
      mp->prof_rng = r;
      r %= (uint32_t)(k + 1);
      if (r < GORO_PROF_CGO_PCS) mp->prof_cgo_pcs[r] = goroR_uc_pc(uc);
    }
    goto out;
  }
  if (gp != NULL && gp->status == GORO_GRUNNING && mp->rt != NULL &&
      mp->rt->hooks->interrupt != NULL) {
    if (atomic_fetch_add(&gp->prof_pending, 1) == 0)
      atomic_store(&gp->prof_sess, session);
    mp->rt->hooks->interrupt(mp->rt, gp, GORO_INT_PROFILE);
    goto out;
  }
  atomic_fetch_add(&nruntime, 1);
out:
  atomic_fetch_sub(&inflight, 1);
  errno = saved;
}

static void install(void) {
  goroR_sig_install(SIGPROF, on_prof, SIGURG, &old_prof);  /* the two arm */
}                                                         /* the same hook */

void goroR_prof_init(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, install);
}

/* ---- start, stop ----------------------------------------------------------- */

int goroR_prof_on(void) { return atomic_load(&cur_session) != 0; }
uint32_t goroR_prof_session(void) { return atomic_load(&cur_session); }

int goroR_prof_start(int rate, const char *path, int fmt) {
  char *p;
  if (rate <= 0 || rate > GORO_PROF_MAXHZ || path == NULL || path[0] == '\0' ||
      (fmt != GORO_PROF_PPROF && fmt != GORO_PROF_FOLDED))
    return GORO_EINVAL;
  goroR_prof_init();
  if ((p = strdup(path)) == NULL) return GORO_ENOMEM;
  goroR_lock(&goroR_prof_lock);
  if (atomic_load(&cur_session) != 0) {
    goroR_unlock(&goroR_prof_lock);
    free(p);
    return GORO_ESTATE;
  }
  goroR_prof_store_reset();
  free(outpath);
  outpath = p;
  hz = rate;
  format = fmt;
  t_start = goroR_now();
  t_stop = 0;
  if (++last_session == 0) last_session = 1;  /* 0 means off */
  atomic_store(&nexternal, 0);
  atomic_store(&nruntime, 0);
  ext_final = rt_final = 0;
  atomic_store(&cur_session, last_session);
  for (struct pthr *pt = threads.next; pt != &threads; pt = pt->next)
    arm_locked(pt, last_session);
  goroR_unlock(&goroR_prof_lock);
  return 0;
}

/* Write the profile to outpath. prof_lock. */
static int write_out(int *syserr) {
  struct goro_prof_view v;
  ext_final = atomic_exchange(&nexternal, 0);
  rt_final = atomic_exchange(&nruntime, 0);
  goroR_prof_store_counted(ext_final, "[external code]");
  goroR_prof_store_counted(rt_final, "[goro runtime]");
  goroR_prof_store_view(&v);
  return goroR_prof_write(&v, outpath, format, hz, t_stop - t_start, syserr);
}

int goroR_prof_stop(char *path, size_t pathlen, int *syserr) {
  int rc;
  *syserr = 0;
  goroR_lock(&goroR_prof_lock);
  if (atomic_load(&cur_session) == 0) {
    goroR_unlock(&goroR_prof_lock);
    return GORO_ESTATE;
  }
  for (struct pthr *pt = threads.next; pt != &threads; pt = pt->next)
    disarm_locked(pt);
  atomic_store(&cur_session, 0);
  goroR_unlock(&goroR_prof_lock);
  /* A handler that read the session before it went to 0 may still arm a
  ** hook or count; wait for it (handlers are short and never block). */
  while (atomic_load(&inflight) != 0) sched_yield();
  goroR_lock(&goroR_prof_lock);
  t_stop = goroR_now();
  rc = write_out(syserr);
  if (path != NULL && pathlen > 0) snprintf(path, pathlen, "%s", outpath);
  goroR_unlock(&goroR_prof_lock);
  return rc;
}

void goroR_prof_get_stats(struct goro_prof_stats *out) {
  struct goro_prof_view v;
  goroR_lock(&goroR_prof_lock);
  goroR_prof_store_view(&v);
  out->on = atomic_load(&cur_session) != 0;
  out->session = last_session;
  out->threads = nthreads;
  out->timers = ntimers;
  out->signals = atomic_load(&nsignals);
  out->external = ext_final + atomic_load(&nexternal);
  out->runtime = rt_final + atomic_load(&nruntime);
  out->samples = v.sampled + atomic_load(&nexternal) + atomic_load(&nruntime);
  out->dropped = atomic_load(&ndropped);
  out->stale = atomic_load(&nstale);
  out->lost = v.lost;
  out->seconds = last_session == 0 ? 0
                 : (t_stop > 0 ? t_stop : goroR_now()) - t_start;
  out->hz = hz;
  goroR_unlock(&goroR_prof_lock);
}
