/*
** runtime/cgo.c — crossings between Lua and C: cgocall and callback
** bookkeeping; see cgo.h and HACKING.md ("The host machinery").
**
** One call, walked through (the seed scenario of golang/go#72870, as
** Go's cgocall.go opens with its own). A host thread calls
** goro_call(rt, f1):
**   - the thread has no M: extram.c binds an extra M to it (needm) and
**     makes it the thread's M;
**   - goroR_callback_enter: isExtraInC = 0 first (rule 1), ncallback = 1,
**     the P (parked on this M, or waited for), the extra G RUNNING and
**     locked to the M;
**   - goroR_callback_call: goroA_ctx_call switches from the host's stack
**     (the M's g0) to the extra G's stack, recording the crossing; the
**     bridge runs f1 there in protected mode.
** f1 (Lua) calls a C function, which calls goro_cgocall(L, c, arg):
**   - goroR_cgocall: goroR_syscall_enter makes ncgo = 1, the G SYSCALL and
**     the P retakable (p_syscall = M); goroA_ctx_call switches to g0 below
**     the callback's crossing (goroR_crossing_target); c runs on the
**     host's stack while other M's may take the P.
** c calls goro_call(rt, f2): the thread's M has ncgo > 0, so it is nested:
**   - goroR_callback_enter: ncallback = 2, the P reclaimed, the G RUNNING;
**   - goroR_callback_call: back onto the G's stack below the cgocall's
**     crossing; f2 runs.
** f2 returns: goroR_callback_exit sees ncgo == 1: the G goes back to
**   SYSCALL, the P retakable again, and isExtraInC stays 0 (rule 2): f1's
**   frames are live.
** c returns: goroR_syscall_exit takes the P back, ncgo = 0, G RUNNING.
** f1 returns: goroR_callback_exit sees ncgo == 0 on an extra M: the P is
**   parked on the M (p.c) and isExtraInC = 1, last of all.
** The thread exits: its key destructor (extram.c) returns the M to the
**   pool, once.
** A Lua error in f1 or f2 never crosses a crossing: the bridge runs them
** protected on the far side, so each of these steps returns normally and
** undoes its own bookkeeping (rule 3).
**
** The counters are written only by their M's own thread, each write
** ordered by a compiler barrier against the switches, for a signal handler
** on that thread (the profiler) to read.
** Locks: rt->lock only on the slow paths (a closer waiting).
*/
#include "cgo.h"

#include <stdatomic.h>

#include "errors.h"
#include "fatal.h"
#include "m.h"
#include "p.h"
#include "frame.h"
#include "sysmon.h"

#define barrier() __asm__ volatile("" ::: "memory")

/* When the P goes in-syscall, for sysmon's "in C longer than 20 us": the
** time of sysmon's latest look, which it publishes, instead of a clock
** read on every way into C (5 ns of a 35 ns cgocall; the coarse clock it
** replaces was up to 4 ms stale anyway). Stale by at most one sysmon
** period, so sysmon never retakes later than it would have, and at most
** one period early. */
static double since_now(struct goro_rt *rt) {
  return atomic_load_explicit(&rt->sysmon_now, memory_order_relaxed);
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

void goroR_syscall_exit(struct goro_rt *rt, struct goro_m *mp) {
  struct goro_g *gp = mp->curg;
  goroR_assert(gp != NULL && gp->status == GORO_GSYSCALL && mp->ncgo > 0);
  goroR_p_reclaim(rt, mp);
  if (atomic_fetch_sub(&rt->nsyscall, 1) == 1 && (rt->closing || rt->abort)) {
    goroR_lock(&rt->lock);  /* a closer or goro.run waits for it */
    goroR_rt_wake_locked(rt);
    goroR_unlock(&rt->lock);
  }
  gp->status = GORO_GRUNNING;
  barrier();
  mp->ncgo--;
}

struct cgoargs {
  void (*fn)(void *);
  void *arg;
};

static void *run_c(void *p) {
  struct cgoargs *c = p;
  c->fn(c->arg);
  return NULL;
}

/* The samples the handler took while mp was in C. Requires: the handler
** no longer writes them (mp's G is RUNNING, or mp->ncgo == 0). */
static void take_samples(struct goro_m *mp, struct goro_cgo_samples *smp) {
  int n, kept;
  smp->kept = 0;
  if (atomic_load_explicit(&mp->prof_cgo, memory_order_relaxed) == 0) return;
  n = atomic_exchange(&mp->prof_cgo, 0);
  kept = n < GORO_PROF_CGO_PCS ? n : GORO_PROF_CGO_PCS;
  smp->sess = atomic_load(&mp->prof_cgo_sess);
  for (int i = 0; i < kept; i++) {  /* each kept PC stands for n/kept samples */
    smp->pcs[i] = mp->prof_cgo_pcs[i];
    smp->counts[i] = n / kept + (i < n % kept);
  }
  smp->kept = kept;
}

/* Cross from the G's stack to mp's g0 and run c there, with cgoL as mp's
** for the call's callbacks. */
static void call_on_g0(struct goro_m *mp, struct cgoargs *c, void *cgoL) {
  void *saved = mp->cgoL;
#ifdef GORO_CHECKS
  struct goro_xrec *xr = goroA_xrec_self();
  uintptr_t depth = xr->depth;
  int ncb = mp->ncallback;
#endif
  mp->cgoL = cgoL;
  goroA_ctx_call(goroR_crossing_target(mp, &mp->g0.stack), &mp->g0, run_c, c);
#ifdef GORO_CHECKS
  if (xr->depth != depth || mp->ncallback != ncb || goroR_m_self() != mp)
    goroR_throw("goro_cgocall: crossing not restored (depth %lu/%lu, "
                "ncallback %d/%d)", (unsigned long)xr->depth,
                (unsigned long)depth, mp->ncallback, ncb);
#endif
  mp->cgoL = saved;
}

/* C never runs on a frame thread for a G (HACKING.md, "The frame loop"),
** unless the host wants no workers or the G is locked to the thread. */
static int must_hand_off(struct goro_rt *rt, struct goro_m *mp) {
  return mp->isstep && mp->curg->lockedm == NULL &&
         RD(rt->max_workers) > 0;
}

void goroR_cgocall(struct goro_rt *rt, struct goro_m *mp, void (*fn)(void *),
                   void *arg, void *cgoL, struct goro_cgo_samples *smp) {
  struct cgoargs c = {fn, arg};
  if (must_hand_off(rt, mp)) {
    struct goro_g *gp = mp->curg;
    goroR_sched_handoff(gp);  /* back on the worker that adopted the call, */
    mp = goroR_m_self();     /* counted in C there, without the P */
    call_on_g0(mp, &c, cgoL);
    mp->ncgo--;
    barrier();  /* (the handler stops writing samples: ncgo is 0) */
    take_samples(mp, smp);
    goroR_sched_cgo_return(rt, mp, gp);  /* RUNNING, on an M with the P */
    return;
  }
  goroR_syscall_enter(rt, mp);
  call_on_g0(mp, &c, cgoL);
  if (mp->isworker && mp->ncgo == 1 && mp->curg->lockedm == NULL) {
    /* A worker's G back from C does not wait for the P as a caller: it
    ** takes it back if it can, else its G waits on rt->cgoret for the
    ** P's holder and the worker goes idle (Go's exitsyscall; HACKING.md,
    ** "Worker M's"). */
    struct goro_g *gp = mp->curg;
    mp->ncgo--;
    barrier();
    take_samples(mp, smp);
    goroR_sched_cgo_return(rt, mp, gp);
    return;
  }
  goroR_syscall_exit(rt, mp);
  take_samples(mp, smp);
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
    goroR_p_reclaim(rt, mp);
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

/* The stack a callback's Lua frames go on: the extra G's own (made on
** first use), or the stack of the G that made the cgocall. */
static goro_ctx *callback_stack(struct goro_m *mp, struct goro_g *gp) {
  if (gp->isextra) {
    if (mp->xstack == NULL) {
      if ((mp->xstack = goroR_stack_get()) == NULL) return NULL;
      goroA_ctx_init_stack(&mp->xctx, &mp->xstack->desc);
    }
    return &mp->xctx;
  }
  return &gp->carrier->ctx;
}

int goroR_callback_call(struct goro_m *mp, void *(*fn)(void *), void *arg) {
  struct goro_xrec *xr = goroA_xrec_self();
  goro_ctx *d = callback_stack(mp, mp->curg);
#ifdef GORO_CHECKS
  uintptr_t depth = xr->depth;
  int ncgo = mp->ncgo, ncb = mp->ncallback;
#endif
  if (d == NULL) return GORO_ENOMEM;
  if (xr->depth == 0) xr->stack = &mp->g0.stack;  /* a host on its own stack */
  goroA_ctx_call(goroR_crossing_target(mp, &d->stack), d, fn, arg);
#ifdef GORO_CHECKS
  if (xr->depth != depth || mp->ncgo != ncgo || mp->ncallback != ncb ||
      goroR_m_self() != mp)
    goroR_throw("goro_call: crossing not restored (depth %lu/%lu, ncgo %d/%d, "
                "ncallback %d/%d)", (unsigned long)xr->depth,
                (unsigned long)depth, mp->ncgo, ncgo, mp->ncallback, ncb);
#endif
  return 0;
}

void goroR_callback_exit(struct goro_rt *rt, struct goro_m *mp) {
  struct goro_g *gp = mp->curg;
  goroR_assert(gp != NULL && gp->status == GORO_GRUNNING && mp->ncallback > 0);
  goroR_assert(rt->p_owner == mp);
  if (--gp->lockcount == 0 && !gp->isextra && gp->userlocks == 0)
    gp->lockedm = NULL;
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
    goroR_lock(&rt->lock);  /* a closer may wait for the last one */
    goroR_rt_wake_locked(rt);
    goroR_unlock(&rt->lock);
  }
  barrier();
  if (mp->isextra && mp->ncgo == 0) mp->isExtraInC = 1;  /* rule 2: last */
}

void goroR_callback_direct_enter(struct goro_m *mp) {
  WR(mp->ncallback, mp->ncallback + 1);
}

void goroR_callback_direct_exit(struct goro_m *mp) {
  WR(mp->ncallback, mp->ncallback - 1);
}
