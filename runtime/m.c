/*
** runtime/m.c — M records and the calling thread's M; see m.h.
**
** Owns: the thread-local M pointer, M ids, the transient list
** (rt->transient, under rt->lock).
*/
#include "m.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../arch/sanitize.h"
#include "fatal.h"
#include "prof.h"

#ifdef GORO_ASAN
#include <sanitizer/asan_interface.h>
#endif

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

static __thread struct goro_m *m_self __attribute__((tls_model("initial-exec")));
static _Atomic uint64_t next_mid = 1;

/* A thread that ends while it is an M (pthread_exit in a callback or in C
** a G called, a cancellation the thread did not disable) takes with it
** state the runtime needs back: the P, a callback's frames, a G in C. Go
** does not support that either; goro says so instead of hanging: the
** key's destructor runs when a thread that was ever an M exits, and
** throws if it still is one (thread-local storage is still there while
** key destructors run). The key is set once a thread, not at every
** goroR_m_set: a host thread's warm goro_call sets its M and unsets it
** again, and two pthread_setspecific calls were a twentieth of it. */
static pthread_key_t m_key;
static pthread_once_t m_key_once = PTHREAD_ONCE_INIT;
static __thread int m_armed __attribute__((tls_model("initial-exec")));

static void m_exit(void *p) {
  struct goro_m *mp = m_self;
  struct goro_rt *rt;
  (void)p;
  m_armed = 0;  /* (a later destructor that makes it an M sets it again) */
  if (mp == NULL) return;
  rt = mp->rt;
#ifdef GORO_ASAN
  /* The thread's exit unwound frames of a G stack and of its own without
  ** ASan seeing them go: their redzones are still poisoned where this
  ** destructor's frames now go. Nothing below this frame is live. */
  {
    pthread_attr_t a;
    void *lo;
    size_t size;
    if (pthread_getattr_np(pthread_self(), &a) == 0) {
      pthread_attr_getstack(&a, &lo, &size);
      pthread_attr_destroy(&a);
      __asan_unpoison_memory_region(
          lo, (size_t)((char *)__builtin_frame_address(0) - (char *)lo));
    }
  }
#endif
  goroR_throw("thread %d exited while it was M %llu of a runtime (ncgo %d, "
              "ncallback %d%s%s): a thread must not exit or be cancelled inside "
              "goro_call, goro_step, goro.run or C called through goro_cgocall",
              (int)gettid(), (unsigned long long)mp->id, mp->ncgo, mp->ncallback,
              mp->isextra ? ", an extra M" : "",
              rt != NULL && rt->p_owner == mp ? ", holding the P" : "");
}

static void m_key_make(void) { pthread_key_create(&m_key, m_exit); }

void goroR_m_key_init(void) { pthread_once(&m_key_once, m_key_make); }

__attribute__((noinline, noipa)) struct goro_m *goroR_m_self(void) {
  return m_self;
}

__attribute__((noinline, noipa)) struct goro_m *goroR_m_set(struct goro_m *mp) {
  struct goro_m *old = m_self;
  m_self = mp;
  if (mp != NULL && !m_armed) {
    goroR_m_key_init();
    pthread_setspecific(m_key, &m_armed);  /* (any non-NULL value) */
    m_armed = 1;
  }
  return old;
}

void goroR_m_init(struct goro_m *mp) {
  memset(mp, 0, sizeof *mp);
  mp->id = atomic_fetch_add(&next_mid, 1);
  goroA_ctx_init_thread(&mp->g0);
  goroR_cond_init(&mp->parkcv);
}

void goroR_m_destroy(struct goro_m *mp) {
  goroA_ctx_destroy(&mp->g0);
  pthread_cond_destroy(&mp->parkcv);
}

void goroR_m_learn_stack(struct goro_m *mp) {
  pthread_attr_t attr;
  void *addr = NULL;
  size_t size = 0;
  uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
  uintptr_t lo = (uintptr_t)mp->learned.lo;
  if (mp->learned.size > 0 && sp >= lo && sp < lo + mp->learned.size) {
    /* The stack it learned last time (a frame loop steps from the same
    ** thread and stack): pthread_getattr_np reads /proc/self/maps for a
    ** process's main thread, tens of microseconds of a frame's budget. */
    mp->g0.stack = mp->learned;
    return;
  }
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    pthread_attr_getstack(&attr, &addr, &size);
    pthread_attr_destroy(&attr);
  }
  if (addr == NULL || sp < (uintptr_t)addr || sp >= (uintptr_t)addr + size) {
    /* Not on the thread's own stack (the host switched to one of its own,
    ** say a makecontext stack): estimate, as Go does, around the SP. */
    addr = (void *)((sp - 64 * 1024) & ~(uintptr_t)4095);
    size = sp + 4096 - (uintptr_t)addr;
  }
  mp->g0.stack.lo = addr;
  mp->g0.stack.size = size;
  mp->g0.stack.id = 0;
  mp->learned = mp->g0.stack;
}

void goroR_m_register(struct goro_rt *rt, struct goro_m *mp) {
  goroR_lock(&rt->lock);
  mp->tnext = rt->transient;
  rt->transient = mp;
  goroR_unlock(&rt->lock);
  goroR_prof_thread_attach();
}

void goroR_m_unregister(struct goro_rt *rt, struct goro_m *mp) {
  goroR_lock(&rt->lock);
  for (struct goro_m **pp = &rt->transient; *pp != NULL; pp = &(*pp)->tnext)
    if (*pp == mp) {
      *pp = mp->tnext;
      break;
    }
  goroR_unlock(&rt->lock);
  goroR_prof_thread_detach();
}

/* The step M this thread used last, and for which runtime: a frame loop
** finds its M without taking rt->lock (which other threads may hold, or be
** descheduled holding, for milliseconds on a busy machine). The runtime's
** generation tells a runtime made again at the same address from the one
** whose M this was. */
static __thread struct {
  struct goro_rt *rt;
  uint64_t gen;
  struct goro_m *mp;
} laststep;

struct goro_m *goroR_stepm_get(struct goro_rt *rt) {
  struct goro_m *mp;
  pthread_t self = pthread_self();
  if (laststep.rt == rt && laststep.gen == rt->gen) {
    mp = laststep.mp;
    goroA_ctx_init_thread(&mp->g0);
    return mp;
  }
  goroR_lock(&rt->lock);
  for (mp = rt->stepms; mp != NULL; mp = mp->stepnext)
    if (pthread_equal(mp->thread, self)) break;
  if (mp == NULL && (mp = malloc(sizeof *mp)) != NULL) {
    struct sigevent sev;
    goroR_m_init(mp);
    mp->isstep = mp->ishome = 1;
    mp->thread = self;
    mp->home = rt;
    /* The step's deadline: SIGURG to this very thread (frame.c). Without
    ** it a step's G is preempted by sysmon after 10 ms, as any G. */
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = SIGURG;
    sev.sigev_value.sival_ptr = mp;
    sev.sigev_notify_thread_id = gettid();
    mp->hassteptimer = timer_create(CLOCK_MONOTONIC, &sev, &mp->steptimer) == 0;
    mp->stepnext = rt->stepms;
    rt->stepms = mp;
    if (rt->framem == NULL) rt->framem = mp;
  }
  goroR_unlock(&rt->lock);
  if (mp != NULL) {
    goroA_ctx_init_thread(&mp->g0);  /* this call's g0 */
    laststep.rt = rt;
    laststep.gen = rt->gen;
    laststep.mp = mp;
  }
  return mp;
}

void goroR_stepm_enter(struct goro_m *mp) {
  atomic_store(&mp->stepping, 1);
  goroR_prof_thread_attach();
}

void goroR_stepm_leave(struct goro_m *mp) {
  goroR_prof_thread_detach();
  atomic_store(&mp->stepping, 0);
}

struct goro_m *goroR_frame_m(struct goro_rt *rt) {
  struct goro_m *mp;
  goroR_lock(&rt->lock);
  mp = rt->framem;
  goroR_unlock(&rt->lock);
  return mp;
}

void goroR_stepms_free(struct goro_rt *rt) {
  rt->framem = NULL;
  while (rt->stepms != NULL) {
    struct goro_m *mp = rt->stepms;
    rt->stepms = mp->stepnext;
    if (mp->hassteptimer) timer_delete(mp->steptimer);
    goroR_m_destroy(mp);
    free(mp);
  }
}

void goroR_rt_get_ms(struct goro_rt *rt, int *ms, int *idle) {
  goroR_lock(&rt->lock);
  *ms = rt->nworkers + rt->nextram_inuse;
  for (struct goro_m *mp = rt->transient; mp != NULL; mp = mp->tnext) (*ms)++;
  for (struct goro_m *mp = rt->stepms; mp != NULL; mp = mp->stepnext)
    *ms += atomic_load(&mp->stepping);
  *idle = rt->nidle;
  goroR_unlock(&rt->lock);
}

void goroR_m_snap(struct goro_m *mp, struct goro_msnap *s) {
  s->id = mp->id;
  s->g = mp->curg != NULL ? mp->curg->id : 0;
  s->extra = mp->isextra;
  s->inc = mp->isExtraInC;
  s->ncgo = mp->ncgo;
  s->ncallback = mp->ncallback;
  s->state = mp->state;
  s->worker = mp->isworker;
}

int goroR_ms_snapshot(struct goro_rt *rt, struct goro_msnap *v, int max) {
  int n = 0;
  struct goro_m *lists[4];
  goroR_lock(&rt->lock);
  lists[0] = rt->transient;
  lists[1] = rt->stepms;  /* (those inside a step) */
  lists[2] = rt->allm;
  lists[3] = rt->allextra;
  for (int k = 0; k < 4; k++)
    for (struct goro_m *mp = lists[k]; mp != NULL; mp = k == 0   ? mp->tnext
                                                     : k == 1 ? mp->stepnext
                                                     : k == 2 ? mp->allnext
                                                              : mp->xnext) {
      if (k == 1 && !atomic_load(&mp->stepping)) continue;
      if (n < max) goroR_m_snap(mp, &v[n]);
      n++;
    }
  goroR_unlock(&rt->lock);
  return n;
}
