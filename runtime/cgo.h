/*
** runtime/cgo.h — crossings between Lua and C: cgocalls (Lua -> C, the P
** lent while C runs) and callbacks (C -> Lua), with the per-M counters
** and isExtraInC kept exact on every path. The walk through one call is at
** the top of cgo.c; the rules are HACKING.md's "The host machinery".
*/
#ifndef GORO_RUNTIME_CGO_H
#define GORO_RUNTIME_CGO_H

#include "state.h"

/* ---- cgocall ------------------------------------------------------------------ */

/* The profiler's samples taken while a G was in C (goroR_cgocall): up to
** GORO_PROF_CGO_PCS program counters, how many samples each stands for,
** and the profile session. */
struct goro_cgo_samples {
  int kept;                      /* how many PCs (0: no sample) */
  uint32_t sess;
  uintptr_t pcs[GORO_PROF_CGO_PCS];
  int counts[GORO_PROF_CGO_PCS];
};

/* The G running on mp calls fn(arg) with the P lent: ncgo++, the G
** SYSCALL and the P retakable while fn runs on mp's g0; back, the P is
** taken back (waiting if it was retaken) and the G runs again. On a step M
** the call moves to a worker instead (HACKING.md, "The frame loop"), and
** the G comes back on whichever M next holds the P: callers re-read
** goroR_m_self(). cgoL is the bridge's (the M that runs fn holds it in
** mp->cgoL meanwhile); *smp gets the samples taken in fn. fn must return
** normally. Requires: mp holds the P and runs a G. */
void goroR_cgocall(struct goro_rt *rt, struct goro_m *mp, void (*fn)(void *),
                   void *arg, void *cgoL, struct goro_cgo_samples *smp);

/* The two halves of goroR_cgocall, for the tests. */
void goroR_syscall_enter(struct goro_rt *rt, struct goro_m *mp);
void goroR_syscall_exit(struct goro_rt *rt, struct goro_m *mp);

/* ---- callbacks ------------------------------------------------------------------ */

/* A callback starts on mp (extra M or nested in a cgocall): isExtraInC = 0
** first, ncallback++, get the P, lock curg to mp, curg RUNNING. Returns 0,
** or GORO_ECLOSED (nothing changed) for a new entry into a closing runtime. */
int goroR_callback_enter(struct goro_rt *rt, struct goro_m *mp);
/* Call fn(arg) on the stack the callback's Lua frames go on: the extra G's
** own (made on first use), or the stack of the G that made the cgocall,
** below its crossing. Checks that the crossing and the counters are back
** as they were. 0, or GORO_ENOMEM (no stack for the extra G: fn did not
** run). Requires: goroR_callback_enter succeeded on mp. */
int goroR_callback_call(struct goro_m *mp, void *(*fn)(void *), void *arg);
/* The callback returns: curg back to SYSCALL (nested) or parked in C
** (extra M), unlock, ncallback--, isExtraInC = isextra && ncgo == 0. */
void goroR_callback_exit(struct goro_rt *rt, struct goro_m *mp);

/* A callback from C that Lua called on this thread without a cgocall (the
** G keeps the P and its M): only ncallback counts it. */
void goroR_callback_direct_enter(struct goro_m *mp);
void goroR_callback_direct_exit(struct goro_m *mp);

/* Where a crossing to stack d should put its frames on mp: below the newest
** crossing that left d, else at mp's saved g0 position (d is mp's g0), else
** at d's top. */
void *goroR_crossing_target(struct goro_m *mp, const struct goro_stackdesc *d);

#endif
