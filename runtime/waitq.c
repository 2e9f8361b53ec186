/*
** runtime/waitq.c — wait queues; see waitq.h.
**
** Invariants: a waiter is on at most one queue, and w->q names it (NULL
** when on none); head and tail are both NULL or both set; the links are
** a proper doubly linked list. Locks: none (the P).
*/
#include "waitq.h"

#include "fatal.h"
#include "sched.h"

void goroR_waitq_push(struct goro_waitq *q, struct goro_waiter *w) {
  goroR_assert(w->q == NULL);
  w->q = q;
  w->next = NULL;
  w->prev = q->tail;
  if (q->tail) q->tail->next = w;
  else q->head = w;
  q->tail = w;
}

void goroR_waitq_remove(struct goro_waiter *w) {
  struct goro_waitq *q = w->q;
  if (q == NULL) return;
  if (w->prev) w->prev->next = w->next;
  else q->head = w->next;
  if (w->next) w->next->prev = w->prev;
  else q->tail = w->prev;
  w->q = NULL;
  w->next = w->prev = NULL;
}

struct goro_waiter *goroR_waitq_pop(struct goro_waitq *q) {
  struct goro_waiter *w = q->head;
  if (w != NULL) goroR_waitq_remove(w);
  return w;
}

void goroR_waitq_remove_all(struct goro_waitq *q) {
  while (goroR_waitq_pop(q) != NULL) {
  }
}

int goroR_waiter_claim(struct goro_waiter *w) {
  if (w->g->selected != -1) return 0;
  w->g->selected = w->index;
  return 1;
}

struct goro_waiter *goroR_waitq_claim(struct goro_waitq *q) {
  struct goro_waiter *w;
  while ((w = goroR_waitq_pop(q)) != NULL)
    if (goroR_waiter_claim(w)) return w;
  return NULL;
}

int goroR_waitq_live(const struct goro_waitq *q) {
  for (const struct goro_waiter *w = q->head; w != NULL; w = w->next)
    if (w->g->selected == -1) return 1;
  return 0;
}

struct goro_waiter *goroR_waitq_live_head(struct goro_waitq *q) {
  while (q->head != NULL && q->head->g->selected != -1) goroR_waitq_pop(q);
  return q->head;
}

void goroR_waitq_wake_all(struct goro_rt *rt, struct goro_waitq *q, int ok) {
  struct goro_waiter *w;
  while ((w = goroR_waitq_claim(q)) != NULL) {
    w->ok = ok;
    goroR_ready(rt, w->g, 0);
  }
}
