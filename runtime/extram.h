/*
** runtime/extram.h — extra M's: M's lent to host threads the runtime did
** not create, on their first goro_call, and kept until the thread exits
** (Go's needm/dropm). States, owners and the binding rules are in
** HACKING.md ("Extra M's").
*/
#ifndef GORO_RUNTIME_EXTRAM_H
#define GORO_RUNTIME_EXTRAM_H

#include "state.h"

/* The extra M bound to the calling thread for rt, binding one first if
** needed. NULL if out of memory, or rt is closing. */
struct goro_m *goroR_extram_get(struct goro_rt *rt);
/* The extra M bound to the calling thread (any runtime), or NULL.
** Async-signal-safe. */
struct goro_m *goroR_extram_bound(void);
/* The extra M the calling thread holds for rt, or NULL (never binds). */
struct goro_m *goroR_extram_mine(struct goro_rt *rt);
/* Top the pool up to two spares. Requires: the P. */
void goroR_extram_refill(struct goro_rt *rt);

/* Inside the runtime (rt.c): free every extra M of a runtime being
** destroyed, except those still bound to a thread: that thread may read
** its M (goro_is_extra_in_c) until it exits, and frees it then, finding
** the runtime gone. Requires: the live lock, rt off the live list. */
void goroR_extram_free_all_locked(struct goro_rt *rt);

#endif
