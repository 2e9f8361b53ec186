/*
** vm_bridge/interrupt.c — preemption and profiling interrupts: the count
** hook a signal arms on the Lua thread a G runs.
**
** A signal handler (SIGURG for preemption, SIGPROF for the profiler) on the
** G's own thread arms a count hook on the Lua thread the G runs now
** (b->runL), saving the user's hook there; at the next instruction the
** hook puts the user's hook back, records pending profile samples, and
** gives up the P if sysmon asked. Design: runtime/HACKING.md (Preemption;
** The profiler).
**
** Invariants: our hook is armed on at most one thread, and b->armed says
** whether it is; that thread is b->runL, except inside goroB_bg_run_on
** (bridge.h), so the thread need not be kept. The user's hook there is
** saved in b->uhook/umask/ucount until it is put back. b->runL changes
** only on the M that runs the G (goroB_bg_run_on), which keeps the old
** value and clears runL before it disarms (on the old thread) or arms (on
** the new one, which it sets last), so the handler never arms a thread the
** G is leaving, and armed never names a thread it is not on.
**
** Locks: none. b->runL, b->armed and b->want_preempt are read and written
** with RD/WR because a signal handler on the same thread uses them;
** arming uses only field writes and lua_sethook, which lua.c calls from
** its SIGINT handler for the same purpose.
*/
#include <stdatomic.h>

#include "../arch/ctx.h"
#include "bridge.h"

static void async_hook(lua_State *L, lua_Debug *ar);

/* Async-signal-safe. Runs only where runL cannot change under it: in the
** handler (on the G's thread), or in goroB_bg_run_on while runL is NULL. */
void goroB_bg_arm(struct bg *b, lua_State *L) {
  if (L == NULL || RD(b->armed)) return;
  b->uhook = lua_gethook(L);
  b->umask = (uint8_t)lua_gethookmask(L);
  b->ucount = lua_gethookcount(L);
  WR(b->armed, 1);
  lua_sethook(L, async_hook, LUA_MASKCOUNT, 1);
}

void goroB_bg_disarm(struct bg *b, lua_State *L) {
  if (!RD(b->armed)) return;
  goroR_assert(L != NULL);
  lua_sethook(L, b->uhook, b->umask, b->ucount);
  WR(b->armed, 0);
}

static void async_hook(lua_State *L, lua_Debug *ar) {
  struct bg *b = goroB_bg_current(L);
  int n;
  (void)ar;
  if (b == NULL || !RD(b->armed) || RD(b->runL) != L) {  /* not armed by */
    lua_sethook(L, NULL, 0, 0);  /* us: never left behind (goroB_bg_run_on) */
    return;
  }
  goroB_bg_disarm(b, L);
  if ((n = atomic_exchange(&b->w.g->prof_pending, 0)) > 0)
    goroB_prof_record(L, b->w.g->id, atomic_load(&b->w.g->prof_sess), n, 0);
  if (!RD(b->want_preempt)) return;
  WR(b->want_preempt, 0);
  if (L != b->L || b->w.g->lockcount > 0) return;  /* a G's own code, not a
                                                   callback's */
  if (goroR_g_sleeps_locked(b->w.g)) {  /* locked to a worker: in place */
    goroR_gosched(b->w.g);
    return;
  }
  if (lua_isyieldable(L)) {
    lua_yield(L, 0);  /* the run ends as a yield: back of the queue */
    return;
  }
  if (goroA_xrec_self()->depth == 0) goroR_gosched(b->w.g);  /* stackful */
}

/* In the SIGURG or SIGPROF handler, on gp's thread while gp runs Lua. */
void goroB_hook_interrupt(struct goro_rt *rt, struct goro_g *gp, int why) {
  struct bg *b = gp->ud;
  (void)rt;
  if (b == NULL) return;
  if (why == GORO_INT_PREEMPT) WR(b->want_preempt, 1);
  goroB_bg_arm(b, RD(b->runL));
}
