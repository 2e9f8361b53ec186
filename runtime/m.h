/*
** runtime/m.h — M's: the OS threads that run G's, and which M the calling
** thread is.
**
** Kinds of M (HACKING.md, "The scheduler: G, M, P"): workers the runtime
** starts (worker.c), the thread inside goro.run or goro_step (a
** *transient* M, on that thread's stack for the call), and extra M's lent
** to host threads (extram.c). A stackful G can resume on another thread,
** so the calling thread's M is read through a noinline accessor, never
** cached across a switch.
*/
#ifndef GORO_RUNTIME_M_H
#define GORO_RUNTIME_M_H

#include "state.h"

/* The M of the calling thread, or NULL. Not inlined: see HACKING.md (TLS). */
struct goro_m *goroR_m_self(void);
/* Make `mp` the calling thread's M (NULL to unset); returns the previous. */
struct goro_m *goroR_m_set(struct goro_m *mp);
void goroR_m_init(struct goro_m *mp);
void goroR_m_destroy(struct goro_m *mp);

/* Make the key whose destructor calls a thread that exits while it is an
** M fatal (goroR_m_set does it too). Called early, so that its destructor
** runs before those of keys made later (extram.c's binding). */
void goroR_m_key_init(void);

/* Learn the bounds of the calling thread's stack into mp->g0 (for
** sanitizers and the crossing record). */
void goroR_m_learn_stack(struct goro_m *mp);

/* Register mp as a transient M of rt (goro.run: goro.ms()
** lists it, the profiler samples its thread) or drop it again. */
void goroR_m_register(struct goro_rt *rt, struct goro_m *mp);
void goroR_m_unregister(struct goro_rt *rt, struct goro_m *mp);

/* The calling thread's step M for rt (goro_step), made on its first step
** and kept until goroR_stepms_free (HACKING.md, "The frame loop"); its g0
** made this thread's again. NULL if out of memory. */
struct goro_m *goroR_stepm_get(struct goro_rt *rt);
/* A step M enters and leaves goro_step: goro.ms() lists it meanwhile and
** the profiler samples its thread. No lock: the frame thread takes
** rt->lock as seldom as it can (HACKING.md, "The frame loop"). */
void goroR_stepm_enter(struct goro_m *mp);
void goroR_stepm_leave(struct goro_m *mp);
/* The frame thread's step M (the thread that called goro_open, or the
** first to step), or NULL. */
struct goro_m *goroR_frame_m(struct goro_rt *rt);
/* Free every step M. Requires: the runtime is shut down. */
void goroR_stepms_free(struct goro_rt *rt);

/* How many M's serve the runtime (threads in goro.run or goro_step,
** workers, extra M's bound to host threads), and how many workers idle. */
void goroR_rt_get_ms(struct goro_rt *rt, int *ms, int *idle);

/* What goro.ms() shows of one M. */
struct goro_msnap {
  uint64_t id, g;
  int extra, inc, ncgo, ncallback, state, worker;
};
/* A snapshot of every M of rt, into v[0..max); returns how many there are
** (more than max: call again with room for them). */
int goroR_ms_snapshot(struct goro_rt *rt, struct goro_msnap *v, int max);
/* The same of one M (the caller's own). */
void goroR_m_snap(struct goro_m *mp, struct goro_msnap *s);

#endif
