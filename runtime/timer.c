/*
** runtime/timer.c — the clock and the P's timer heap; see timer.h.
**
** Owns: rt->timers, ntimers, timercap, nsleeping and next_when (the
** earliest `when`, published for sysmon, workers and parked M's).
** Invariants: timers[i]->heapidx == i for every i < ntimers; a parent is
** never later than its children; nsleeping counts the G timers among
** them; next_when is timers[0]->when, or 0 with an empty heap.
** Locks: none; everything here runs with the P held.
*/
#include "timer.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "errors.h"
#include "fatal.h"
#include "netpoll.h"
#include "sched.h"

double goroR_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double goroR_now_coarse(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static _Atomic double epoch;  /* the first stamp's clock; 0: none yet */

static double stamp_epoch(double now) {
  double e = atomic_load_explicit(&epoch, memory_order_relaxed), zero = 0;
  if (e == 0 && !atomic_compare_exchange_strong(&epoch, &zero, now)) return zero;
  return e == 0 ? now : e;
}

float goroR_stamp(void) {
  double now = goroR_now_coarse();
  return (float)(now - stamp_epoch(now));
}

double goroR_since(float stamp) {
  double now = goroR_now_coarse();
  double d = now - (stamp_epoch(now) + (double)stamp);
  return d > 0 ? d : 0;  /* (the float may round the stamp up) */
}

struct timespec goroR_timespec(double t) {
  struct timespec ts;
  if (!(t >= 0)) t = 0;            /* (NaN too) */
  if (t > 1e9) t = 1e9;            /* ~31 years: forever, and no overflow */
  ts.tv_sec = (time_t)t;
  ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
  return ts;
}

/* ---- the heap --------------------------------------------------------------- */

static void heap_swap(struct goro_rt *rt, int i, int j) {
  struct goro_timer *a = rt->timers[i], *b = rt->timers[j];
  rt->timers[i] = b;
  b->heapidx = i;
  rt->timers[j] = a;
  a->heapidx = j;
}

static void heap_up(struct goro_rt *rt, int i) {
  while (i > 0) {
    int p = (i - 1) / 2;
    if (rt->timers[p]->when <= rt->timers[i]->when) break;
    heap_swap(rt, i, p);
    i = p;
  }
}

static void heap_down(struct goro_rt *rt, int i) {
  for (;;) {
    int l = 2 * i + 1, r = l + 1, m = i;
    if (l < rt->ntimers && rt->timers[l]->when < rt->timers[m]->when) m = l;
    if (r < rt->ntimers && rt->timers[r]->when < rt->timers[m]->when) m = r;
    if (m == i) break;
    heap_swap(rt, i, m);
    i = m;
  }
}

int goroR_timer_stop(struct goro_rt *rt, struct goro_timer *t) {
  int i = t->heapidx, last;
  if (i < 0) return 0;
  goroR_assert(i < rt->ntimers && rt->timers[i] == t);
  last = --rt->ntimers;
  if (i != last) {
    heap_swap(rt, i, last);
    heap_down(rt, i);
    heap_up(rt, i);
  }
  t->heapidx = -1;
  if (t->kind == GORO_TIMER_G) rt->nsleeping--;
  atomic_store(&rt->next_when, rt->ntimers > 0 ? rt->timers[0]->when : 0.0);
  return 1;
}

int goroR_timer_start(struct goro_rt *rt, struct goro_timer *t, double when) {
  goroR_timer_stop(rt, t);
  if (rt->ntimers == rt->timercap) {
    int cap = rt->timercap ? rt->timercap * 2 : 64;
    struct goro_timer **h = realloc(rt->timers, (size_t)cap * sizeof *h);
    if (h == NULL) return GORO_ENOMEM;
    rt->timers = h;
    rt->timercap = cap;
  }
  t->when = when;
  t->heapidx = rt->ntimers;
  rt->timers[rt->ntimers++] = t;
  if (t->kind == GORO_TIMER_G) rt->nsleeping++;
  heap_up(rt, t->heapidx);
  atomic_store(&rt->next_when, rt->timers[0]->when);
  return 0;
}

/* ---- G timers ------------------------------------------------------------------ */

#define G_OF_TIMER(t) \
  ((struct goro_g *)(void *)((char *)(t) - offsetof(struct goro_g, timer)))

void goroR_timer_add(struct goro_rt *rt, struct goro_g *gp, double when) {
  goroR_assert(gp->timer.heapidx < 0 && gp->timer.kind == GORO_TIMER_G);
  if (goroR_timer_start(rt, &gp->timer, when) != 0)
    goroR_throw("goroR_timer_add: out of memory");
}

void goroR_timer_del(struct goro_rt *rt, struct goro_g *gp) {
  goroR_timer_stop(rt, &gp->timer);
}

void goroR_timers_drop(struct goro_rt *rt) {
  for (int i = 0; i < rt->ntimers; i++) rt->timers[i]->heapidx = -1;
  rt->ntimers = rt->nsleeping = 0;
  atomic_store(&rt->next_when, 0.0);
}

double goroR_timers_fire(struct goro_rt *rt, double now) {
  while (rt->ntimers > 0) {
    struct goro_timer *t = rt->timers[0];
    if (t->when > now) return t->when;
    goroR_timer_stop(rt, t);
    switch (t->kind) {
      case GORO_TIMER_G: goroR_ready(rt, G_OF_TIMER(t), 0); break;
      case GORO_TIMER_BRIDGE:
      case GORO_TIMER_BRIDGE_CTX: rt->hooks->fire(rt, t); break;
      default: goroR_pd_timer_fire(rt, t); break;
    }
  }
  return 0;
}

int goroR_timers_hope(struct goro_rt *rt) {
  if (rt->nsleeping > 0) return 1;
  for (int i = 0; i < rt->ntimers; i++) {
    struct goro_timer *t = rt->timers[i];
    if ((t->kind != GORO_TIMER_BRIDGE && t->kind != GORO_TIMER_BRIDGE_CTX) ||
        rt->hooks->wakes == NULL ||
        rt->hooks->wakes(rt, t))
      return 1;  /* (a descriptor's deadline: a G waits on I/O) */
  }
  return 0;
}
