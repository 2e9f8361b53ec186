/*
** runtime/waitq.h — wait queues: the G's parked on one object (a channel's
** senders or receivers, a mutex, a wait group, a G's end).
**
** A queue is a FIFO of struct goro_waiter (state.h). A G parked in a select
** has one waiter on each case's queue; they are *claimable* while the G's
** `selected` is -1, and the first waker to claim one wins (recording which
** in gp->selected); later wakers drop the G's other waiters as stale. All
** of it runs with the P held.
*/
#ifndef GORO_RUNTIME_WAITQ_H
#define GORO_RUNTIME_WAITQ_H

#include "state.h"

void goroR_waitq_push(struct goro_waitq *q, struct goro_waiter *w);
/* Claim w for its G if nothing claimed the G yet: 1, or 0 (stale). */
int goroR_waiter_claim(struct goro_waiter *w);
/* Pop the first claimable waiter of q, dropping stale ones; NULL if none. */
struct goro_waiter *goroR_waitq_claim(struct goro_waitq *q);
struct goro_waiter *goroR_waitq_pop(struct goro_waitq *q);
void goroR_waitq_remove(struct goro_waiter *w);  /* no-op if not queued */
/* Empty q without waking anyone. */
void goroR_waitq_remove_all(struct goro_waitq *q);
/* Claim and ready every waiter of q, telling each `ok` (1: what it waited
** for happened; 0: it was closed under it). Requires: the P. */
/* Does q hold a waiter that can still be claimed (not a stale one, whose
** G's select or context wait was won elsewhere)? */
int goroR_waitq_live(const struct goro_waitq *q);
/* Drop the stale waiters at the head of q; returns the head left. */
struct goro_waiter *goroR_waitq_live_head(struct goro_waitq *q);
void goroR_waitq_wake_all(struct goro_rt *rt, struct goro_waitq *q, int ok);

#endif
