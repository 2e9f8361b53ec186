/*
** runtime/sysmon.h — the monitor thread: retakes the P from an M stuck in
** C, asks long-running G's to yield (preemption by SIGURG), and unwinds
** the callbacks of a run that failed or timed out (HACKING.md,
** "Preemption", "P states").
*/
#ifndef GORO_RUNTIME_SYSMON_H
#define GORO_RUNTIME_SYSMON_H

#include "state.h"

/* Start the monitor thread if it is not running (lazily: where a run, a
** step or a cgocall first needs it). */
void goroR_sysmon_start(struct goro_rt *rt);
/* Ask the G running on owner (which holds rt's P) to yield: its thread's
** SIGURG handler arms the G's preemption hook. */
void goroR_preempt_m(struct goro_rt *rt, struct goro_m *owner);
/* Install the SIGURG preemption handler (once per process). */
void goroR_preempt_init(void);

/* Inside the runtime (rt.c alone): stop and join it. Requires:
** rt->closing. */
void goroR_sysmon_stop(struct goro_rt *rt);

#endif
