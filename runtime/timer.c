/*
** runtime/timer.c — the clock and the P's timer heap; see timer.h.
**
** Owns: rt->timers, ntimers, timercap, nsleeping and next_when (the
** earliest `when`, published for sysmon, workers and parked M's), and
** the running synctest bubble's heap (b->timers, ntimers, timercap): a
** timer is in the bubble's iff t->bubbled (HACKING.md, "Virtual time").
** Invariants: timers[i]->heapidx == i for every i < ntimers; a parent is
** never later than its children; nsleeping counts the G timers among
** them; next_when is timers[0]->when, or 0 with an empty heap. The
** same order holds in a bubble's heap, which nsleeping and next_when
** do not count.
** Locks: none; everything here runs with the P held.
*/
#include "timer.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "errors.h"
#include "fatal.h"
#include "netpoll.h"
#include "sched.h"
#include "synctest.h"

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

/* A heap: the P's (rt->timers) or the running bubble's (b->timers), the
** one t->bubbled names. */
struct heap {
  struct goro_timer ***h;
  int *n, *cap;
};

static struct heap heap_of(struct goro_rt *rt, const struct goro_timer *t) {
  struct heap hp;
  if (t->bubbled) {
    struct goro_bubble *b = rt->bubble;
    /* (a bubble's end drops its heap: a bubbled timer that is armed is
    ** in the running bubble's) */
    goroR_assert(b != NULL && (t->heapidx < 0 || b->state == GORO_BUBBLE_RUNNING));
    hp.h = &b->timers;
    hp.n = &b->ntimers;
    hp.cap = &b->timercap;
  } else {
    hp.h = &rt->timers;
    hp.n = &rt->ntimers;
    hp.cap = &rt->timercap;
  }
  return hp;
}

static void heap_swap(struct goro_timer **h, int i, int j) {
  struct goro_timer *a = h[i], *b = h[j];
  h[i] = b;
  b->heapidx = i;
  h[j] = a;
  a->heapidx = j;
}

static void heap_up(struct goro_timer **h, int i) {
  while (i > 0) {
    int p = (i - 1) / 2;
    if (h[p]->when <= h[i]->when) break;
    heap_swap(h, i, p);
    i = p;
  }
}

static void heap_down(struct goro_timer **h, int n, int i) {
  for (;;) {
    int l = 2 * i + 1, r = l + 1, m = i;
    if (l < n && h[l]->when < h[m]->when) m = l;
    if (r < n && h[r]->when < h[m]->when) m = r;
    if (m == i) break;
    heap_swap(h, i, m);
    i = m;
  }
}

int goroR_timer_stop(struct goro_rt *rt, struct goro_timer *t) {
  int i = t->heapidx, last;
  struct heap hp;
  if (i < 0) return 0;
  hp = heap_of(rt, t);
  goroR_assert(i < *hp.n && (*hp.h)[i] == t);
  last = --*hp.n;
  if (i != last) {
    heap_swap(*hp.h, i, last);
    heap_down(*hp.h, last, i);
    heap_up(*hp.h, i);
  }
  t->heapidx = -1;
  if (t->bubbled) return 1;
  if (t->kind == GORO_TIMER_G) rt->nsleeping--;
  atomic_store(&rt->next_when, rt->ntimers > 0 ? rt->timers[0]->when : 0.0);
  return 1;
}

int goroR_timer_start(struct goro_rt *rt, struct goro_timer *t, double when) {
  struct heap hp;
  goroR_timer_stop(rt, t);
  if (t->bubbled &&  /* its bubble ended: it never fires */
      (rt->bubble == NULL || rt->bubble->state != GORO_BUBBLE_RUNNING))
    return 0;
  hp = heap_of(rt, t);
  if (*hp.n == *hp.cap) {
    int cap = *hp.cap ? *hp.cap * 2 : 64;
    struct goro_timer **h = realloc(*hp.h, (size_t)cap * sizeof *h);
    if (h == NULL) return GORO_ENOMEM;
    *hp.h = h;
    *hp.cap = cap;
  }
  t->when = when;
  t->heapidx = *hp.n;
  (*hp.h)[(*hp.n)++] = t;
  heap_up(*hp.h, t->heapidx);
  if (t->bubbled) return 0;
  if (t->kind == GORO_TIMER_G) rt->nsleeping++;
  atomic_store(&rt->next_when, rt->timers[0]->when);
  return 0;
}

double goroR_timer_now(struct goro_rt *rt, const struct goro_timer *t) {
  if (t->bubbled && rt->bubble != NULL) return rt->bubble->now;
  return goroR_now();
}

double goroR_g_now(struct goro_g *gp) {
  if (gp != NULL && gp->bubble != NULL) return gp->bubble->now;
  return goroR_now();
}

/* ---- G timers ------------------------------------------------------------------ */

#define G_OF_TIMER(t) \
  ((struct goro_g *)(void *)((char *)(t) - offsetof(struct goro_g, timer)))

void goroR_timer_add(struct goro_rt *rt, struct goro_g *gp, double when) {
  goroR_assert(gp->timer.heapidx < 0 && gp->timer.kind == GORO_TIMER_G);
  gp->timer.bubbled = 0;
  if (goroR_timer_start(rt, &gp->timer, when) != 0)
    goroR_throw("goroR_timer_add: out of memory");
}

void goroR_timer_sleep(struct goro_rt *rt, struct goro_g *gp, double s) {
  goroR_assert(gp->timer.heapidx < 0 && gp->timer.kind == GORO_TIMER_G);
  gp->timer.bubbled = goroR_bubble_id(gp) != 0;
  if (goroR_timer_start(rt, &gp->timer, goroR_g_now(gp) + s) != 0)
    goroR_throw("goroR_timer_sleep: out of memory");
}

void goroR_timer_del(struct goro_rt *rt, struct goro_g *gp) {
  goroR_timer_stop(rt, &gp->timer);
}

void goroR_timers_drop(struct goro_rt *rt) {
  for (int i = 0; i < rt->ntimers; i++) rt->timers[i]->heapidx = -1;
  rt->ntimers = rt->nsleeping = 0;
  atomic_store(&rt->next_when, 0.0);
}

/* Fire the due timers of heap h (*n of them), the P's or a bubble's. */
static double fire(struct goro_rt *rt, struct goro_timer **const *h,
                   const int *n, double now) {
  while (*n > 0) {
    struct goro_timer *t = (*h)[0];
    if (t->when > now) return t->when;
    goroR_timer_stop(rt, t);
    switch (t->kind) {
      case GORO_TIMER_G: {
        /* The G's own timer claims it as a waker does (selected 0), so
        ** that a waiter it still has queued is stale from now on: an
        ** event or a context's end before it runs cannot ready it again
        ** (HACKING.md, "The netpoller", Timeouts). */
        struct goro_g *gp = G_OF_TIMER(t);
        if (gp->selected == -1) gp->selected = 0;
        goroR_ready(rt, gp, 0);
        break;
      }
      case GORO_TIMER_BRIDGE:
      case GORO_TIMER_BRIDGE_CTX: rt->hooks->fire(rt, t); break;
      default: goroR_pd_timer_fire(rt, t); break;
    }
  }
  return 0;
}

double goroR_timers_fire(struct goro_rt *rt, double now) {
  return fire(rt, &rt->timers, &rt->ntimers, now);
}

double goroR_bubble_timers_fire(struct goro_rt *rt, struct goro_bubble *b) {
  return fire(rt, &b->timers, &b->ntimers, b->now);
}

void goroR_bubble_timers_drop(struct goro_bubble *b) {
  for (int i = 0; i < b->ntimers; i++) b->timers[i]->heapidx = -1;
  b->ntimers = 0;
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
