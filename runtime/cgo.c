/*
** runtime/cgo.c — crossings between Lua and C: cgocall and callback
** bookkeeping, extra M's for host threads, and sysmon.
**
** The design, states and rules are in runtime/HACKING.md ("The host
** machinery"). In short: the per-M counters ncgo/ncallback and isExtraInC
** are written only by their M's own thread, in an order a signal handler on
** that thread can rely on; the P goes P_SYSCALL while a G is in C and can
** be retaken then; extra M's are bound to host threads by one process-wide
** pthread key and returned exactly once, at thread exit.
**
** Locks: live_lock (the list of live runtimes) -> rt->lock -> stack pool.
*/
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../arch/sanitize.h"
#include "errors.h"
#include "fatal.h"
#include "prof.h"
#include "signals.h"
#include "sched.h"

#define barrier() __asm__ volatile("" ::: "memory")

#define RETAKE_AFTER 20e-6 /* seconds in C before sysmon retakes the P */

/* When the P goes in-syscall, for sysmon's "in C longer than 20 us": the
** time of sysmon's latest look, which it publishes, instead of a clock
** read on every way into C (5 ns of a 35 ns cgocall; the coarse clock it
** replaces was up to 4 ms stale anyway). Stale by at most one sysmon
** period, so sysmon never retakes later than it would have, and at most
** one period early. */
static double since_now(struct goro_rt *rt) {
  return atomic_load_explicit(&rt->sysmon_now, memory_order_relaxed);
}

/* ---- live runtimes ---------------------------------------------------------
** A host thread may exit after its runtime was destroyed; its key
** destructor must then leave the runtime's memory alone. Runtimes register
** here with a generation number that is never reused. */

struct live {
  struct goro_rt *rt;
  uint64_t gen;
  struct live *next;
};

static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static struct live *lives;
static uint64_t next_gen = 1; /* protected by live_lock */

uint64_t goroR_live_add(struct goro_rt *rt) {
  struct live *l = malloc(sizeof *l);
  uint64_t gen;
  pthread_mutex_lock(&live_lock);
  gen = next_gen++;
  if (l != NULL) {
    l->rt = rt;
    l->gen = gen;
    l->next = lives;
    lives = l;
  }
  pthread_mutex_unlock(&live_lock);
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

/* Requires: live_lock. */
static int live_has(struct goro_rt *rt, uint64_t gen) {
  for (struct live *l = lives; l != NULL; l = l->next)
    if (l->rt == rt && l->gen == gen) return 1;
  return 0;
}

/* ---- stacks and crossing targets ------------------------------------------- */

void goroR_m_learn_stack(struct goro_m *mp) {
  pthread_attr_t attr;
  void *addr = NULL;
  size_t size = 0;
  uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
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
}

void *goroR_crossing_target(struct goro_m *mp, const struct goro_stackdesc *d) {
  struct goro_xrec *r = goroA_xrec_self();
  for (struct goro_xframe *f = r->top; f != NULL; f = f->prev)
    if (f->stack == d) return (char *)f->sp - 256;
  if (d == &mp->g0.stack && mp->g0.sp != NULL) return (char *)mp->g0.sp - 256;
  if (d->lo == NULL)  /* an extra M's g0 is always left through a crossing */
    goroR_throw("crossing: no position known on M %llu's stack",
               (unsigned long long)mp->id);
  return (char *)d->lo + d->size;
}

/* ---- cgocall --------------------------------------------------------------- */

void goroR_syscall_enter(struct goro_rt *rt, struct goro_m *mp) {
  struct goro_g *gp = mp->curg;
  goroR_assert(gp != NULL && gp->status == GORO_GRUNNING && rt->p_owner == mp);
  mp->ncgo++;
  barrier();
  gp->status = GORO_GSYSCALL;
  mp->state = GORO_M_SYSCALL;
  rt->st.cgocalls++;
  atomic_store_explicit(&rt->syscall_since, since_now(rt), memory_order_relaxed);
  atomic_fetch_add(&rt->nsyscall, 1);
  atomic_store_explicit(&rt->p_syscall, (uintptr_t)mp, memory_order_release);
  if (!rt->sysmon_on) goroR_sysmon_start(rt);
}

/* Take the P back after C: the CAS on our own M is the fast path (nobody
** retook the P; had someone, a later owner's syscall would name its own M,
** not ours); if it fails we wait for the P like any thread. */
static void p_reclaim(struct goro_rt *rt, struct goro_m *mp) {
  uintptr_t expect = (uintptr_t)mp;
  if (atomic_compare_exchange_strong(&rt->p_syscall, &expect, (uintptr_t)0)) {
    mp->state = GORO_M_RUNNING;
    return;
  }
  goroR_p_acquire(rt, mp);
}

void goroR_syscall_exit(struct goro_rt *rt, struct goro_m *mp) {
  struct goro_g *gp = mp->curg;
  goroR_assert(gp != NULL && gp->status == GORO_GSYSCALL && mp->ncgo > 0);
  p_reclaim(rt, mp);
  if (atomic_fetch_sub(&rt->nsyscall, 1) == 1 && (rt->closing || rt->abort)) {
    pthread_mutex_lock(&rt->lock);  /* a closer or goro.run waits for it */
    pthread_cond_broadcast(&rt->wake);
    pthread_mutex_unlock(&rt->lock);
  }
  gp->status = GORO_GRUNNING;
  barrier();
  mp->ncgo--;
}

/* ---- callbacks -------------------------------------------------------------- */

int goroR_callback_enter(struct goro_rt *rt, struct goro_m *mp) {
  struct goro_g *gp;
  if (mp->ncgo == 0 && rt->closing) return GORO_ECLOSED;  /* no new entries */
  mp->isExtraInC = 0;  /* rule 1: before any other runtime code */
  barrier();
  WR(mp->ncallback, mp->ncallback + 1);  /* a closer scans these */
  if (mp->ncgo > 0) {  /* nested in a cgocall: its G comes back to Lua */
    gp = mp->curg;    /* (and stays counted in nsyscall: its cgocall is live) */
    goroR_assert(gp != NULL && gp->status == GORO_GSYSCALL);
    p_reclaim(rt, mp);
  } else {  /* an extra M, in C between calls */
    gp = mp->extrag;
    goroR_assert(mp->isextra && gp != NULL && mp->curg == NULL);
    if (!goroR_p_take_parked(rt, mp)) goroR_p_acquire(rt, mp);
    mp->curg = gp;
  }
  gp->status = GORO_GRUNNING;
  gp->lockedm = mp;
  gp->lockcount++;
  rt->st.callbacks++;
  return 0;
}

void goroR_callback_exit(struct goro_rt *rt, struct goro_m *mp) {
  struct goro_g *gp = mp->curg;
  goroR_assert(gp != NULL && gp->status == GORO_GRUNNING && mp->ncallback > 0);
  goroR_assert(rt->p_owner == mp);
  if (--gp->lockcount == 0 && !gp->isextra) gp->lockedm = NULL;
  if (mp->ncgo > 0) {  /* back into the outer cgocall */
    gp->status = GORO_GSYSCALL;
    mp->state = GORO_M_SYSCALL;
    atomic_store_explicit(&rt->syscall_since, since_now(rt), memory_order_relaxed);
    atomic_store_explicit(&rt->p_syscall, (uintptr_t)mp, memory_order_release);
  } else {  /* the extra M goes back to its host's C code */
    gp->status = GORO_GSYSCALL;
    mp->curg = NULL;
    mp->state = GORO_M_INC;
    goroR_p_park(rt, mp);
  }
  WR(mp->ncallback, mp->ncallback - 1);
  if (rt->closing) {
    pthread_mutex_lock(&rt->lock);  /* a closer may wait for the last one */
    pthread_cond_broadcast(&rt->wake);
    pthread_mutex_unlock(&rt->lock);
  }
  barrier();
  if (mp->isextra && mp->ncgo == 0) mp->isExtraInC = 1;  /* rule 2: last */
}

/* ---- extra M's --------------------------------------------------------------- */

struct binding {
  struct goro_rt *rt;
  uint64_t gen;
  struct goro_m *mp;
};

#define MAXBIND 4
struct bindings {
  int n;
  struct binding b[MAXBIND];
};

static pthread_key_t bind_key;
static pthread_once_t bind_once = PTHREAD_ONCE_INIT;
static __thread struct goro_m *bound_m __attribute__((tls_model("initial-exec")));
/* The binding this thread used last: a warm call finds its M here, with no
** pthread_getspecific. Cleared whenever a binding goes away. */
static __thread struct binding last __attribute__((tls_model("initial-exec")));
/* This thread's bindings; the key's value points here, so that its
** destructor runs at thread exit. */
static __thread struct bindings tls_bindings __attribute__((tls_model("initial-exec")));

__attribute__((noinline, noipa)) struct goro_m *goroR_extram_bound(void) {
  return bound_m;
}

static void block_all(sigset_t *old) {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, old);
}

/* A fresh extra M with its G, "in C", not yet in the pool. */
static struct goro_m *extram_new(struct goro_rt *rt) {
  struct goro_m *mp = malloc(sizeof *mp);
  struct goro_g *gp = calloc(1, sizeof *gp);
  if (mp == NULL || gp == NULL) {
    free(mp);
    free(gp);
    return NULL;
  }
  goroR_m_init(mp);
  mp->isextra = 1;
  mp->isExtraInC = 1;
  mp->home = rt;
  mp->state = GORO_M_POOLED;
  gp->isextra = 1;
  gp->timer.heapidx = -1;
  gp->timer.isg = 1;
  gp->status = GORO_GSYSCALL;
  gp->lockedm = mp;
  gp->lockcount = 1;  /* locked to its M for good */
  mp->extrag = gp;
  pthread_mutex_lock(&rt->lock);
  mp->xnext = rt->allextra;
  rt->allextra = mp;
  rt->nextram++;
  pthread_mutex_unlock(&rt->lock);
  return mp;
}

/* Free an extra M whose runtime is gone (it stayed with its thread). */
static void orphan_free(struct goro_m *mp) {
  if (mp->xstack != NULL) {
    goroA_ctx_destroy(&mp->xctx);
    goroR_stack_put(mp->xstack);
  }
  free(mp->extrag);
  goroR_m_destroy(mp);
  free(mp);
}

/* At thread exit: give every bound M back to its pool, once (or free it if
** its runtime is gone). */
static void bind_destructor(void *p) {
  struct bindings *tb = p;
  sigset_t old;
  block_all(&old);
  for (int i = 0; i < tb->n; i++) {
    struct binding *b = &tb->b[i];
    goroR_prof_thread_detach();
    pthread_mutex_lock(&live_lock);
    if (!live_has(b->rt, b->gen)) {
      orphan_free(b->mp);
    } else {
      struct goro_rt *rt = b->rt;
      struct goro_m *mp = b->mp;
      pthread_mutex_lock(&rt->lock);
      if (!mp->bound) goroR_throw("dropm: M %llu returned twice",
                                 (unsigned long long)mp->id);
      mp->bound = 0;
      goroR_p_unpark_locked(rt, mp);
      mp->state = GORO_M_POOLED;
      mp->poolnext = rt->extram;
      rt->extram = mp;
      rt->nextram_inuse--;
      pthread_cond_broadcast(&rt->wake);  /* goro.run re-checks deadlock */
      pthread_mutex_unlock(&rt->lock);
    }
    pthread_mutex_unlock(&live_lock);
  }
  bound_m = NULL;
  memset(&last, 0, sizeof last);
  tb->n = 0;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void bind_key_make(void) { pthread_key_create(&bind_key, bind_destructor); }

struct goro_m *goroR_extram_get(struct goro_rt *rt) {
  struct bindings *tb = &tls_bindings;
  struct goro_m *mp = NULL;

  if (last.rt == rt && last.gen == rt->gen) return last.mp;
  for (int i = 0; i < tb->n; i++)
    if (tb->b[i].rt == rt && tb->b[i].gen == rt->gen) {
      last = tb->b[i];
      return last.mp;
    }

  /* needm. No signal is blocked (HACKING.md, "Extra M's"): handlers find
  ** an M only through bound_m, which is stored last. */
  pthread_once(&bind_once, bind_key_make);
  if (tb->n > 0) {  /* drop bindings whose runtime is gone */
    int k = 0;
    memset(&last, 0, sizeof last);
    pthread_mutex_lock(&live_lock);
    for (int i = 0; i < tb->n; i++) {
      if (live_has(tb->b[i].rt, tb->b[i].gen)) {
        tb->b[k++] = tb->b[i];
      } else {
        if (bound_m == tb->b[i].mp) bound_m = NULL;
        atomic_signal_fence(memory_order_seq_cst);
        orphan_free(tb->b[i].mp);
        goroR_prof_thread_detach();
      }
    }
    tb->n = k;
    pthread_mutex_unlock(&live_lock);
    if (bound_m == NULL && k > 0) bound_m = tb->b[0].mp;
  }
  if (tb->n == MAXBIND) return NULL;
  if (tb->n == 0 && pthread_setspecific(bind_key, tb) != 0) return NULL;
  pthread_mutex_lock(&rt->lock);
  if (!rt->closing && (mp = rt->extram) != NULL) rt->extram = mp->poolnext;
  pthread_mutex_unlock(&rt->lock);
  if (mp == NULL && !rt->closing) mp = extram_new(rt);
  if (mp == NULL) return NULL;
  pthread_mutex_lock(&rt->lock);
  mp->bound = 1;
  mp->poolnext = NULL;
  rt->nextram_inuse++;
  rt->needextram = 1;  /* the next P holder tops the pool up */
  pthread_mutex_unlock(&rt->lock);
  mp->isExtraInC = 0;
  mp->state = GORO_M_INC;
  mp->rt = rt;
  goroA_ctx_init_thread(&mp->g0);  /* its g0 is this thread's stack now */
#if defined(GORO_ASAN) || defined(GORO_TSAN)
  goroR_m_learn_stack(mp);  /* the sanitizers' switch annotations need it */
#endif
  tb->b[tb->n].rt = rt;
  tb->b[tb->n].gen = rt->gen;
  tb->b[tb->n].mp = mp;
  last = tb->b[tb->n++];
  goroR_prof_thread_attach();
  atomic_signal_fence(memory_order_seq_cst);  /* all of it, then: */
  if (bound_m == NULL) bound_m = mp;
  return mp;
}

void goroR_extram_refill(struct goro_rt *rt) {
  int pooled = 0;
  rt->needextram = 0;
  pthread_mutex_lock(&rt->lock);
  for (struct goro_m *mp = rt->extram; mp != NULL; mp = mp->poolnext) pooled++;
  pthread_mutex_unlock(&rt->lock);
  while (pooled++ < 2) {
    struct goro_m *mp = extram_new(rt);
    if (mp == NULL) return;
    pthread_mutex_lock(&rt->lock);
    mp->poolnext = rt->extram;
    rt->extram = mp;
    pthread_mutex_unlock(&rt->lock);
  }
}

/* Take rt off the live list and free its extra M's, except those still
** bound to a thread: that thread may read its M (goro_is_extra_in_c) until
** it exits, and frees it then, finding the runtime gone. Both happen under
** live_lock, so no exiting thread frees an M this walk still sees. */
void goroR_extram_free_all(struct goro_rt *rt) {
  struct goro_m *mp;
  pthread_mutex_lock(&live_lock);
  live_del_locked(rt);
  mp = rt->allextra;
  rt->allextra = rt->extram = NULL;
  while (mp != NULL) {
    struct goro_m *next = mp->xnext;
    if (!mp->bound) orphan_free(mp);
    mp = next;
  }
  pthread_mutex_unlock(&live_lock);
}

/* ---- sysmon ----------------------------------------------------------------- */

#define PREEMPT_AFTER 10e-3 /* seconds a G may run before it is asked to yield */

/* SIGURG on an M: if it runs a G now, arm that G's preemption hook. */
static struct sigaction old_urg;

static void on_urg(int sig, siginfo_t *si, void *uc) {
  struct goro_m *mp = goroR_m_self();
  int saved = errno;
  if (mp != NULL && atomic_exchange(&mp->preempt, 0)) {
    struct goro_g *gp = mp->curg;
    struct goro_rt *rt = mp->rt;
    if (gp != NULL && rt != NULL && gp->status == GORO_GRUNNING &&
        gp->lockedm == NULL && rt->hooks->interrupt != NULL)
      rt->hooks->interrupt(rt, gp, GORO_INT_PREEMPT);
  } else {
    goroR_sig_forward(&old_urg, sig, si, uc);
  }
  errno = saved;
}

static void preempt_install(void) {
  goroR_sig_install(SIGURG, on_urg, SIGPROF, &old_urg);  /* the two arm the */
}                                                       /* same hook */

void goroR_preempt_init(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, preempt_install);
}

/* Retakes the P from an M whose G has been in C longer than RETAKE_AFTER
** while there is work for it, and asks a G that has run Lua for
** PREEMPT_AFTER to yield. Sleeps 20 us at first, doubling to 10 ms while
** there is nothing to do (as Go's sysmon does). */
static void *sysmon_main(void *arg) {
  struct goro_rt *rt = arg;
  double delay = 20e-6, tick_since = goroR_now();
  uint64_t tick_seen = RD(rt->schedtick);
  sigset_t old;
  block_all(&old);
  pthread_mutex_lock(&rt->lock);
  while (!rt->closing) {
    struct timespec ts = goroR_timespec(goroR_now() + delay);
    double now;
    int acted = 0;
    pthread_cond_timedwait(&rt->sysmon_cv, &rt->lock, &ts);
    if (rt->closing) break;
    now = goroR_now();
    atomic_store_explicit(&rt->sysmon_now, now, memory_order_relaxed);
    double when = atomic_load(&rt->next_when);
    if (atomic_load(&rt->p_syscall) != 0 &&
        now - atomic_load_explicit(&rt->syscall_since, memory_order_relaxed) >
            RETAKE_AFTER &&
        (RD(rt->nrunnable) > 0 || rt->pwaiters > 0 ||
         (when > 0 && when <= now))) {
      if (goroR_p_retake_locked(rt)) {
        goroR_rt_kick_locked(rt);
        acted = 1;
      }
    }
    /* Preemption: the same run on the P for PREEMPT_AFTER. */
    {
      struct goro_m *owner = rt->p_owner;
      uint64_t tick = RD(rt->schedtick);
      if (owner == NULL || atomic_load(&rt->p_syscall) != 0 || tick != tick_seen) {
        tick_seen = tick;
        tick_since = now;
      } else if (now - tick_since >= PREEMPT_AFTER) {
        atomic_store(&owner->preempt, 1);
        pthread_kill(owner->self, SIGURG);
        atomic_fetch_add(&rt->npreempt, 1);
        tick_since = now;  /* ask again in PREEMPT_AFTER if it ignores us */
        acted = 1;
      }
    }
    /* goro.run failed or timed out: if its M is inside a callback that
    ** waits, it cannot come back to its loop to see that. */
    if (rt->run_active && !rt->quiescing &&
        (atomic_load(&rt->abort) ||
         (rt->run_deadline > 0 && now >= rt->run_deadline))) {
      goroR_rt_unwind_callbacks_locked(rt);
      acted = 1;
    }
    delay = acted ? 20e-6 : (delay * 2 > 5e-3 ? 5e-3 : delay * 2);
  }
  pthread_mutex_unlock(&rt->lock);
  return NULL;
}

void goroR_sysmon_start(struct goro_rt *rt) {
  int on, closing;
  pthread_mutex_lock(&rt->lock);
  on = atomic_load_explicit(&rt->sysmon_on, memory_order_relaxed);
  closing = atomic_load_explicit(&rt->closing, memory_order_relaxed);
  if (!on && !closing && pthread_create(&rt->sysmon, NULL, sysmon_main, rt) == 0)
    atomic_store(&rt->sysmon_on, 1);
  pthread_mutex_unlock(&rt->lock);
}

void goroR_sysmon_stop(struct goro_rt *rt) {
  int on;
  pthread_mutex_lock(&rt->lock);
  on = rt->sysmon_on;
  rt->sysmon_on = 0;
  pthread_cond_broadcast(&rt->sysmon_cv);
  pthread_mutex_unlock(&rt->lock);
  if (on) pthread_join(rt->sysmon, NULL);
}
