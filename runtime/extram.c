/*
** runtime/extram.c — extra M's for host threads; see extram.h and
** HACKING.md ("Extra M's").
**
** Owns: the process-wide pthread key whose value is a thread's bindings
** (runtime, generation, M), the thread-local binding cache, and each
** runtime's pool (rt->extram, allextra, nextram, nextram_inuse under
** rt->lock).
** Invariants: an extra M is pooled (in rt->extram, its G dead-extra) or
** bound to exactly one thread (mp->bound); it goes back to the pool
** exactly once, at thread exit (rule 8); no signal handler ever sees a
** half-bound M (bound_m is stored last).
** Locks: live lock -> rt->lock.
*/
#include "extram.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "../arch/sanitize.h"
#include "fatal.h"
#include "m.h"
#include "p.h"
#include "prof.h"
#include "rt.h"

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
  gp->timer.kind = GORO_TIMER_G;
  gp->status = GORO_GSYSCALL;
  gp->lockedm = mp;
  gp->lockcount = 1;  /* locked to its M for good */
  mp->extrag = gp;
  goroR_lock(&rt->lock);
  mp->xnext = rt->allextra;
  rt->allextra = mp;
  rt->nextram++;
  goroR_unlock(&rt->lock);
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
    goroR_live_lock();
    if (!goroR_live_has_locked(b->rt, b->gen)) {
      orphan_free(b->mp);
    } else {
      struct goro_rt *rt = b->rt;
      struct goro_m *mp = b->mp;
      goroR_lock(&rt->lock);
      if (!mp->bound) goroR_throw("dropm: M %llu returned twice",
                                 (unsigned long long)mp->id);
      mp->bound = 0;
      goroR_p_unpark_locked(rt, mp);
      mp->state = GORO_M_POOLED;
      mp->poolnext = rt->extram;
      rt->extram = mp;
      rt->nextram_inuse--;
      goroR_rt_wake_locked(rt);  /* goro.run re-checks deadlock */
      goroR_unlock(&rt->lock);
    }
    goroR_live_unlock();
  }
  bound_m = NULL;
  memset(&last, 0, sizeof last);
  tb->n = 0;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void bind_key_make(void) {
  goroR_m_key_init();  /* first: a thread that dies inside goro is fatal */
  pthread_key_create(&bind_key, bind_destructor);  /* before it is pooled */
}

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
    goroR_live_lock();
    for (int i = 0; i < tb->n; i++) {
      if (goroR_live_has_locked(tb->b[i].rt, tb->b[i].gen)) {
        tb->b[k++] = tb->b[i];
      } else {
        if (bound_m == tb->b[i].mp) bound_m = NULL;
        atomic_signal_fence(memory_order_seq_cst);
        orphan_free(tb->b[i].mp);
        goroR_prof_thread_detach();
      }
    }
    tb->n = k;
    goroR_live_unlock();
    if (bound_m == NULL && k > 0) bound_m = tb->b[0].mp;
  }
  if (tb->n == MAXBIND) return NULL;
  if (tb->n == 0 && pthread_setspecific(bind_key, tb) != 0) return NULL;
  goroR_lock(&rt->lock);
  if (!rt->closing && (mp = rt->extram) != NULL) rt->extram = mp->poolnext;
  goroR_unlock(&rt->lock);
  if (mp == NULL && !rt->closing) mp = extram_new(rt);
  if (mp == NULL) return NULL;
  goroR_lock(&rt->lock);
  mp->bound = 1;
  mp->poolnext = NULL;
  rt->nextram_inuse++;
  rt->needextram = 1;  /* the next P holder tops the pool up */
  goroR_unlock(&rt->lock);
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

struct goro_m *goroR_extram_mine(struct goro_rt *rt) {
  struct bindings *tb = &tls_bindings;
  for (int i = 0; i < tb->n; i++)
    if (tb->b[i].rt == rt && tb->b[i].gen == rt->gen) return tb->b[i].mp;
  return NULL;
}

void goroR_extram_refill(struct goro_rt *rt) {
  int pooled = 0;
  rt->needextram = 0;
  goroR_lock(&rt->lock);
  for (struct goro_m *mp = rt->extram; mp != NULL; mp = mp->poolnext) pooled++;
  goroR_unlock(&rt->lock);
  while (pooled++ < 2) {
    struct goro_m *mp = extram_new(rt);
    if (mp == NULL) return;
    goroR_lock(&rt->lock);
    mp->poolnext = rt->extram;
    rt->extram = mp;
    goroR_unlock(&rt->lock);
  }
}

/* Both happen under the live lock (rt.c), so no exiting thread frees an M
** this walk still sees. */
void goroR_extram_free_all_locked(struct goro_rt *rt) {
  struct goro_m *mp = rt->allextra;
  rt->allextra = rt->extram = NULL;
  while (mp != NULL) {
    struct goro_m *next = mp->xnext;
    if (!mp->bound) orphan_free(mp);
    mp = next;
  }
}
