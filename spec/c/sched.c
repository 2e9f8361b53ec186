/*
** spec/c/sched.c — the scheduler's invariants, without Lua.
**
** A fake bridge: a G's "code" is a C function called by the resume hook.
** Returning an outcome plays a stackless run (as lua_resume returning after
** lua_yieldk would); calling goroR_park from inside plays a stackful park.
*/
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../runtime/runtime.h"
#include "crit.h"

struct fg;
typedef int (*fg_fn)(struct goro_rt *rt, struct fg *f);

struct fg {
  fg_fn fn;
  struct goro_g *g;
  int step;                /* for stackless state machines */
  long a, b;               /* scratch */
  struct goro_waiter w;
  int dead;
  int logged;              /* a sleeper: its wake-up is in logbuf */
};

static char logbuf[4096];
static void logs(const char *s) { strcat(logbuf, s); }

static void fake_resume(struct goro_rt *rt, struct goro_g *gp) {
  struct fg *f = gp->ud;
  gp->outcome = f->fn(rt, f);
}

static void fake_dead(struct goro_rt *rt, struct goro_g *gp) {
  struct fg *f = gp->ud;
  (void)rt;
  goroR_waitq_remove(&f->w);
  f->dead = 1;
  f->g = NULL;
}

static void fake_fire(struct goro_rt *r, struct goro_timer *t);
static const struct goro_hooks hooks = {fake_resume, fake_dead, NULL, fake_fire, NULL};
static struct goro_rt rt;
static struct goro_m m0;
static double t0;  /* timers are set from it: see arm_sleepers */

static void setup(void) {
  cr_assert_eq(goroR_rt_init(&rt, &hooks, NULL), 0);
  goroR_m_init(&m0);
  goroR_m_set(&m0);
  cr_assert_eq(goroR_p_acquire(&rt, &m0), 0);
  logbuf[0] = '\0';
}

static struct fg *all[256];
static int nall;

static void teardown(void) {
  goroR_g_abandon_all(&rt);
  while (nall > 0) free(all[--nall]);
  goroR_p_release(&rt, &m0);
  goroR_m_set(NULL);
  goroR_rt_destroy(&rt);
}

static struct fg *spawn(fg_fn fn) {
  struct fg *f = calloc(1, sizeof *f);
  cr_assert_lt(nall, 256);
  all[nall++] = f;
  f->fn = fn;
  f->g = goroR_g_new(&rt, f);
  cr_assert_not_null(f->g);
  f->w.g = f->g;
  f->w.index = 1;
  return f;
}

/* Prepare f to wait (as the bridge does before queuing its waiter). */
static void wait_prep(struct fg *f) {
  f->g->selected = -1;
  f->w.ok = 0;
}

/* ---- run queue ------------------------------------------------------------ */

static char names[] = "abcdefgh";

static int log_and_end(struct goro_rt *r, struct fg *f) {
  char s[2] = {names[f->a], 0};
  (void)r;
  logs(s);
  return GORO_RUN_DONE;
}

Test(sched, run_queue_is_fifo) {
  setup();
  for (int i = 0; i < 5; i++) spawn(log_and_end)->a = i;
  cr_assert_eq(goroR_sched_run(&rt, &m0, NULL, 0), GORO_SCHED_IDLE);
  cr_assert_str_eq(logbuf, "abcde");
  cr_assert_eq(rt.ng, 0u);
  teardown();
}

static struct fg *sleeper;

static int waker(struct goro_rt *r, struct fg *f) {
  (void)f;
  logs("w");
  goroR_ready(r, sleeper->g, 1);  /* a hand-off: runs next */
  return GORO_RUN_DONE;
}

static int parks_once(struct goro_rt *r, struct fg *f) {
  (void)r;
  if (f->step++ == 0) {
    goroR_park_prepare(f->g, "test");
    return GORO_RUN_PARKED;
  }
  logs("s");
  return GORO_RUN_DONE;
}

Test(sched, runnext_runs_a_readied_g_before_the_queue) {
  setup();
  sleeper = spawn(parks_once);
  cr_assert_eq(goroR_sched_run(&rt, &m0, NULL, 0), GORO_SCHED_IDLE);
  cr_assert_eq(sleeper->g->status, GORO_GWAITING);
  spawn(waker);
  spawn(log_and_end)->a = 0;
  goroR_sched_run(&rt, &m0, NULL, 0);
  cr_assert_str_eq(logbuf, "wsa", "the readied G jumped the queue");
  teardown();
}

/* Two G's that ready each other through runnext forever, and a third. */
static struct fg *ping, *pong;
static long pingpongs, third_ran_at = -1;

static int pingpong(struct goro_rt *r, struct fg *f) {
  struct fg *peer = f == ping ? pong : ping;
  if (third_ran_at >= 0 && pingpongs > third_ran_at + 10) return GORO_RUN_DONE;
  pingpongs++;
  if (peer->g->status == GORO_GWAITING) goroR_ready(r, peer->g, 1);
  goroR_park_prepare(f->g, "pingpong");
  return GORO_RUN_PARKED;
}

static int third(struct goro_rt *r, struct fg *f) {
  (void)r;
  (void)f;
  third_ran_at = pingpongs;
  return GORO_RUN_DONE;
}

Test(sched, a_runnext_ping_pong_cannot_starve_the_queue, .timeout = 10) {
  setup();
  ping = spawn(pingpong);
  pong = spawn(pingpong);
  spawn(third);
  goroR_sched_run(&rt, &m0, NULL, 0);
  cr_assert_geq(third_ran_at, 0, "the third G never ran");
  cr_assert_lt(third_ran_at, 200, "it waited %ld hand-offs", third_ran_at);
  teardown();
}

/* ---- timers -----------------------------------------------------------------
** The order these tests expect is the order of the deadlines, whatever the
** machine's speed: every deadline is counted from one instant, t0, and is
** in the heap before the first of them can pass. */

/* Log sleeper f's name, once. */
static void log_sleeper(struct fg *f) {
  char s[2] = {names[f->a], 0};
  if (f->logged) return;
  f->logged = 1;
  logs(s);
}

/* A sleeper: parks at its first run, for arm_sleepers to give it its
** timer; logs its name when it wakes. */
static int sleeps(struct goro_rt *r, struct fg *f) {
  (void)r;
  if (f->step++ == 0) {
    goroR_park_prepare(f->g, "sleep");
    return GORO_RUN_PARKED;
  }
  log_sleeper(f);
  return GORO_RUN_DONE;
}

/* Run the G's spawned so far until every sleeper has parked, then set t0
** to now and put each sleeper's timer in the heap for t0 + b ms. */
static void arm_sleepers(void) {
  cr_assert_eq(goroR_sched_run(&rt, &m0, NULL, 0), GORO_SCHED_IDLE);
  t0 = goroR_now();
  for (int i = 0; i < nall; i++) {
    if (all[i]->fn != sleeps) continue;
    cr_assert_eq(all[i]->g->status, GORO_GWAITING);
    goroR_timer_add(&rt, all[i]->g, t0 + 0.001 * (double)all[i]->b);
  }
}

/* Log every sleeper whose timer has fired but which has not run yet.
** timers_fire fires every due timer before any G runs, so a sleeper woken
** in the same batch as a fire timer would log after it even though its
** timer came first; the fire hook logs it first instead, which keeps the
** log in the heap's order whatever the batches are. */
static void log_woken_sleepers(void) {
  for (int i = 0; i < nall; i++)
    if (all[i]->fn == sleeps && all[i]->step == 1 && all[i]->g != NULL &&
        all[i]->g->timer.heapidx < 0)
      log_sleeper(all[i]);
}

static struct fg *until_g;

/* Sleeps 40 times 1 ms from each wake-up. Spawned after arm_sleepers, it
** ends after t0 + 40 ms, so after every timer due before that has fired
** (they come first in the heap, and their G's first in the run queue). */
static int waits_for_all(struct goro_rt *r, struct fg *f) {
  (void)r;
  if (f->step++ < 40) {
    goroR_timer_add(r, f->g, goroR_now() + 0.001);
    goroR_park_prepare(f->g, "sleep");
    return GORO_RUN_PARKED;
  }
  return GORO_RUN_DONE;
}

Test(sched, timers_wake_sleepers_in_deadline_order) {
  long ms[] = {30, 10, 20, 5};
  setup();
  for (int i = 0; i < 4; i++) {
    struct fg *f = spawn(sleeps);
    f->a = i;
    f->b = ms[i];
  }
  arm_sleepers();
  until_g = spawn(waits_for_all);
  cr_assert_eq(goroR_sched_run(&rt, &m0, until_g->g, 0), GORO_SCHED_DONE);
  cr_assert_str_eq(logbuf, "dbca");
  teardown();
}

Test(sched, a_g_readied_early_leaves_the_timer_heap) {
  struct fg *f;
  setup();
  f = spawn(sleeps);
  f->b = 1000;
  arm_sleepers();
  cr_assert_eq(rt.ntimers, 1);
  goroR_ready(&rt, f->g, 0);
  cr_assert_eq(rt.ntimers, 0, "readied by someone else: no timer left");
  goroR_sched_run(&rt, &m0, NULL, 0);
  cr_assert(f->dead);
  teardown();
}

/* The bridge's timers (fired through hooks->fire) share the heap with
** sleeping G's. */
struct ftimer {
  struct goro_timer t;  /* first: the fire function casts back */
  char name;
  int left;             /* fires before it stops re-arming itself */
  double period;
};

static void fake_fire(struct goro_rt *r, struct goro_timer *t) {
  struct ftimer *ft = (struct ftimer *)t;
  char s[2] = {ft->name, 0};
  log_woken_sleepers();
  logs(s);
  if (--ft->left > 0) cr_assert_eq(goroR_timer_start(r, t, t->when + ft->period), 0);
}

static void ftimer_init(struct ftimer *ft, char name, int times, double period) {
  memset(ft, 0, sizeof *ft);
  ft->t.heapidx = -1;
  ft->name = name;
  ft->left = times;
  ft->period = period;
}

Test(sched, fire_timers_and_sleepers_share_one_heap_in_deadline_order) {
  struct ftimer x, z, r;
  struct fg *y;
  setup();
  y = spawn(sleeps);
  y->a = 3;  /* 'd', at 20 ms: after x and the last r, before z */
  y->b = 20;
  arm_sleepers();
  until_g = spawn(waits_for_all);
  ftimer_init(&x, 'x', 1, 0);
  ftimer_init(&z, 'z', 1, 0);
  ftimer_init(&r, 'r', 3, 0.004);  /* at 4, 8 and 12 ms, re-armed by itself */
  cr_assert_eq(goroR_timer_start(&rt, &z.t, t0 + 0.030), 0);
  cr_assert_eq(goroR_timer_start(&rt, &x.t, t0 + 0.010), 0);
  cr_assert_eq(goroR_timer_start(&rt, &r.t, t0 + 0.004), 0);
  cr_assert_eq(goroR_sched_run(&rt, &m0, until_g->g, 0), GORO_SCHED_DONE);
  cr_assert_str_eq(logbuf, "rrxrdz");
  cr_assert_eq(rt.ntimers, 0);
  teardown();
}

Test(sched, stopping_a_timer_disarms_it_and_says_whether_it_was_armed) {
  struct ftimer a, b;
  setup();
  ftimer_init(&a, 'a', 1, 0);
  ftimer_init(&b, 'b', 1, 0);
  cr_assert_eq(goroR_timer_start(&rt, &a.t, goroR_now() + 1), 0);
  cr_assert_eq(goroR_timer_start(&rt, &b.t, goroR_now() + 2), 0);
  cr_assert_eq(goroR_timer_start(&rt, &a.t, goroR_now() + 3), 0, "re-arming");
  cr_assert_eq(rt.ntimers, 2, "re-arming moves a timer, it does not add one");
  cr_assert_eq(rt.timers[0], &b.t, "a moved behind b");
  cr_assert_eq(goroR_timer_stop(&rt, &a.t), 1);
  cr_assert_eq(goroR_timer_stop(&rt, &a.t), 0);
  cr_assert_eq(a.t.heapidx, -1);
  cr_assert_eq(rt.ntimers, 1);
  teardown();
  cr_assert_eq(b.t.heapidx, -1, "a run's end drops its timers, disarmed");
  cr_assert_eq(goroR_timer_stop(&rt, &b.t), 0);
  cr_assert_eq(rt.ntimers, 0);
  cr_assert_str_eq(logbuf, "", "nothing fired");
}

Test(sched, abandoning_a_sleeping_g_drops_its_timer_before_its_record) {
  struct fg *f;
  setup();
  f = spawn(sleeps);
  f->b = 1000;
  arm_sleepers();
  cr_assert_eq(rt.ntimers, 1);
  teardown();  /* goroR_g_abandon_all frees the record: ASan sees a late write */
  cr_assert_eq(rt.ntimers, 0);
}

Test(sched, a_wait_time_is_always_a_valid_timespec) {
  double ts[] = {1.5, 0, -1, -1e300, 1e300, 1.0 / 0.0, -1.0 / 0.0, 0.0 / 0.0};
  for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
    struct timespec t = goroR_timespec(ts[i]);
    cr_assert(t.tv_sec >= 0 && t.tv_sec <= 1000000000, "%g: %ld s", ts[i], (long)t.tv_sec);
    cr_assert(t.tv_nsec >= 0 && t.tv_nsec < 1000000000, "%g: %ld ns", ts[i], t.tv_nsec);
  }
  cr_assert_eq(goroR_timespec(1.5).tv_nsec, 500000000);
}

/* ---- deadlock -------------------------------------------------------------- */

static int parks_forever(struct goro_rt *r, struct fg *f) {
  (void)r;
  goroR_park_prepare(f->g, "forever");
  return GORO_RUN_PARKED;
}

Test(sched, nothing_runnable_and_no_timer_is_a_deadlock) {
  struct fg *main_g;
  setup();
  spawn(parks_forever);
  main_g = spawn(parks_forever);
  cr_assert_eq(goroR_sched_run(&rt, &m0, main_g->g, 0), GORO_SCHED_DEADLOCK);
  teardown();
}

Test(sched, a_pending_timer_is_not_a_deadlock) {
  struct fg *s;
  setup();
  s = spawn(sleeps);
  s->b = 20;
  arm_sleepers();
  cr_assert_eq(goroR_sched_run(&rt, &m0, s->g, 0), GORO_SCHED_DONE);
  teardown();
}

/* ---- synctest bubbles ---------------------------------------------------------
** A bubble's clock is virtual: these tests put timers thousands of seconds
** out and expect them at once, in order, and never in the P's heap. */

static struct goro_bubble bub;

/* The G in synctest.run: parks (not in the bubble), logs W when readied. */
static int bubble_waiter(struct goro_rt *r, struct fg *f) {
  (void)r;
  if (f->step++ == 0) {
    goroR_park_prepare(f->g, "synctest.run");
    return GORO_RUN_PARKED;
  }
  logs("W");
  return GORO_RUN_DONE;
}

/* A bubble G: sleeps f->b seconds on the bubble's clock (a durable park),
** then logs its name and the clock's seconds since the epoch. */
static int bubble_sleeper(struct goro_rt *r, struct fg *f) {
  char s[32];
  if (f->step++ == 0) {
    f->g->durable = 1;
    goroR_timer_sleep(r, f->g, (double)f->b);
    goroR_park_prepare(f->g, "sleep");
    return GORO_RUN_PARKED;
  }
  snprintf(s, sizeof s, "%c%.0f ", names[f->a], bub.now - GORO_BUBBLE_EPOCH);
  logs(s);
  return GORO_RUN_DONE;
}

/* A bubble G parked for good: durably (f->a) or not. */
static int bubble_parker(struct goro_rt *r, struct fg *f) {
  (void)r;
  if (f->step++ == 0) {
    f->g->durable = (uint8_t)f->a;
    goroR_park_prepare(f->g, "parked");
    return GORO_RUN_PARKED;
  }
  logs("p");
  return GORO_RUN_DONE;
}

/* Start bub with a parked waiter; returns the waiter. */
static struct fg *bubble_setup(void) {
  struct fg *w;
  setup();
  memset(&bub, 0, sizeof bub);
  w = spawn(bubble_waiter);
  cr_assert_eq(goroR_sched_run(&rt, &m0, NULL, 0), GORO_SCHED_IDLE);
  cr_assert_eq(goroR_bubble_start(&rt, &bub, w->g), 0);
  cr_assert_eq(goroR_bubble_start(&rt, &bub, w->g), GORO_ESTATE, "one at a time");
  return w;
}

static struct fg *bubble_spawn(fg_fn fn, long a, long b) {
  struct fg *f = spawn(fn);
  f->a = a;
  f->b = b;
  goroR_bubble_join(&rt, &bub, f->g);
  return f;
}

static void bubble_teardown(void) {
  goroR_bubble_finish(&rt, &bub);
  cr_assert_null(rt.bubble);
  free(bub.timers);
  teardown();
}

Test(sched, a_bubble_jumps_its_clock_from_timer_to_timer) {
  bubble_setup();
  bubble_spawn(bubble_sleeper, 0, 1000);
  bubble_spawn(bubble_sleeper, 1, 3000);
  bubble_spawn(bubble_sleeper, 2, 2000);
  cr_assert_eq(bub.ng, 3u);
  cr_assert_eq(goroR_sched_run(&rt, &m0, NULL, 0), GORO_SCHED_IDLE);
  cr_assert_str_eq(logbuf, "a1000 c2000 b3000 W", "got %s", logbuf);
  cr_assert_eq(bub.state, GORO_BUBBLE_DONE);
  cr_assert_eq(bub.ng, 0u);
  cr_assert_eq(bub.nblocked, 0u);
  cr_assert_eq(rt.ntimers, 0, "bubble timers stay out of the P's heap");
  cr_assert_eq(rt.nsleeping, 0);
  bubble_teardown();
}

Test(sched, a_g_made_by_a_bubble_g_is_in_the_bubble) {
  struct fg *f;
  bubble_setup();
  f = bubble_spawn(bubble_sleeper, 0, 5);
  m0.curg = f->g;  /* as if f were running and spawned g */
  {
    struct fg *g = spawn(bubble_sleeper);
    m0.curg = NULL;
    cr_assert_eq(g->g->bubble, &bub);
    cr_assert_eq(g->g->waiters.bubble, bub.id);
    g->a = 1;
    g->b = 7;
  }
  cr_assert_eq(bub.ng, 2u);
  goroR_sched_run(&rt, &m0, NULL, 0);
  cr_assert_str_eq(logbuf, "a5 b7 W", "got %s", logbuf);
  bubble_teardown();
}

Test(sched, a_g_not_durably_blocked_holds_the_clock) {
  struct fg *outside;
  bubble_setup();
  bubble_spawn(bubble_sleeper, 0, 1000);
  outside = bubble_spawn(bubble_parker, 0, 0);  /* blocked on "I/O" */
  cr_assert_eq(goroR_sched_run(&rt, &m0, NULL, 0), GORO_SCHED_IDLE);
  cr_assert_eq(bub.now, GORO_BUBBLE_EPOCH, "the clock moved");
  cr_assert_eq(bub.nblocked, 1u);
  cr_assert_eq(bub.ng, 2u);
  cr_assert_str_eq(logbuf, "");
  goroR_ready(&rt, outside->g, 0);  /* its I/O came */
  goroR_sched_run(&rt, &m0, NULL, 0);
  cr_assert_str_eq(logbuf, "pa1000 W", "got %s", logbuf);
  bubble_teardown();
}

Test(sched, a_bubble_blocked_with_no_timer_is_a_deadlock) {
  struct fg *p;
  bubble_setup();
  p = bubble_spawn(bubble_parker, 1, 0);
  goroR_sched_run(&rt, &m0, NULL, 0);
  cr_assert_str_eq(logbuf, "W", "the waiter was not readied: %s", logbuf);
  cr_assert_eq(bub.state, GORO_BUBBLE_DEADLOCK);
  cr_assert_eq(p->g->status, GORO_GWAITING);
  cr_assert(p->g->bcounted);
  goroR_bubble_finish(&rt, &bub);  /* p becomes an ordinary parked G */
  cr_assert_null(p->g->bubble);
  cr_assert(!p->g->bcounted);
  cr_assert_eq(bub.ng, 0u);
  goroR_ready(&rt, p->g, 0);
  goroR_sched_run(&rt, &m0, NULL, 0);
  cr_assert_str_eq(logbuf, "Wp");
  bubble_teardown();
}

Test(sched, abandoning_a_run_ends_its_bubble_first) {
  bubble_setup();
  bubble_spawn(bubble_sleeper, 0, 1000);
  bubble_spawn(bubble_parker, 0, 0);
  goroR_sched_run(&rt, &m0, NULL, 0);
  cr_assert_eq(bub.ntimers, 1);
  goroR_g_abandon_all(&rt);
  cr_assert_null(rt.bubble);
  cr_assert_eq(bub.ntimers, 0);
  cr_assert_eq(bub.ng, 0u);
  free(bub.timers);
  teardown();
}

/* ---- wait queues ------------------------------------------------------------- */

Test(sched, wait_queue_is_fifo_and_claims_skip_stale_waiters) {
  struct goro_waitq q = {NULL, NULL, 0};
  struct fg *f[3];
  setup();
  for (int i = 0; i < 3; i++) {
    f[i] = spawn(log_and_end);
    wait_prep(f[i]);
    goroR_waitq_push(&q, &f[i]->w);
  }
  goroR_waitq_remove(&f[1]->w);  /* from the middle */
  cr_assert_eq(goroR_waitq_pop(&q), &f[0]->w);
  cr_assert_eq(goroR_waitq_pop(&q), &f[2]->w);
  cr_assert_null(goroR_waitq_pop(&q));
  goroR_waitq_push(&q, &f[0]->w);
  goroR_waitq_push(&q, &f[2]->w);
  f[0]->g->selected = 3;  /* woken through another queue already */
  cr_assert_eq(goroR_waitq_claim(&q), &f[2]->w, "the stale waiter is skipped");
  cr_assert_eq(f[2]->g->selected, 1, "the claim records the winner");
  cr_assert_null(q.head);
  teardown();
}

/* ---- parking: stackless frees the stack, stackful keeps it -------------------- */

static struct goro_waitq parkq;

static long deep_park(struct fg *f, int depth) {
  volatile char frame[256];
  frame[0] = (char)depth;
  if (depth > 0) return deep_park(f, depth - 1) + frame[0];
  wait_prep(f);
  goroR_waitq_push(&parkq, &f->w);
  goroR_park(f->g, "deep");  /* stackful: these frames stay put */
  f->b = f->w.ok;
  return 0;
}

static int stackful(struct goro_rt *r, struct fg *f) {
  (void)r;
  f->a = deep_park(f, 100);
  return GORO_RUN_DONE;
}

Test(sched, stackful_parks_keep_their_stack_and_frames) {
  struct fg *f[10];
  struct goro_sched_stats st;
  setup();
  parkq.head = parkq.tail = NULL;
  for (int i = 0; i < 10; i++) f[i] = spawn(stackful);
  goroR_sched_run(&rt, &m0, NULL, 0);
  goroR_sched_get_stats(&rt, &st);
  cr_assert_eq(st.carriers, 10u, "each parked G holds its stack");
  cr_assert_eq(st.stackful_parks, 10u);
  goroR_waitq_wake_all(&rt, &parkq, 1);
  goroR_sched_run(&rt, &m0, NULL, 0);
  for (int i = 0; i < 10; i++) {
    cr_assert(f[i]->dead);
    cr_assert_eq(f[i]->a, 5050, "frames survived the park");
    cr_assert_eq(f[i]->b, 1, "the waker's ok arrived");
  }
  goroR_sched_get_stats(&rt, &st);
  cr_assert_eq(st.carriers, 0u);
  teardown();
}

Test(sched, stackless_parks_hold_no_stack) {
  struct goro_sched_stats st;
  setup();
  for (int i = 0; i < 100; i++) spawn(parks_forever);
  goroR_sched_run(&rt, &m0, NULL, 0);
  goroR_sched_get_stats(&rt, &st);
  cr_assert_eq(st.gs, 100u);
  cr_assert_eq(st.carriers, 0u);
  cr_assert_leq(st.carriers_cached, 8u, "one carrier served them all");
  cr_assert_eq(st.stackless_parks, 100u);
  teardown();
}

/* ---- a stackful G moves to another M ---------------------------------------- */

static pid_t tids[2];

static int migrant(struct goro_rt *r, struct fg *f) {
  (void)r;
  tids[0] = gettid();
  wait_prep(f);
  goroR_waitq_push(&parkq, &f->w);
  goroR_park(f->g, "migrate");
  tids[1] = gettid();
  return GORO_RUN_DONE;
}

static void *other_m(void *arg) {
  struct goro_m m1;
  (void)arg;
  goroR_m_init(&m1);
  goroR_m_set(&m1);
  goroR_p_acquire(&rt, &m1);
  goroR_waitq_wake_all(&rt, &parkq, 1);
  goroR_sched_run(&rt, &m1, NULL, 0);
  goroR_p_release(&rt, &m1);
  goroR_m_set(NULL);
  return NULL;
}

Test(sched, a_stackful_g_resumes_on_another_m) {
  pthread_t t;
  struct fg *f;
  setup();
  parkq.head = parkq.tail = NULL;
  f = spawn(migrant);
  goroR_sched_run(&rt, &m0, NULL, 0);
  goroR_p_release(&rt, &m0);  /* hand the P to the other thread */
  pthread_create(&t, NULL, other_m, NULL);
  pthread_join(t, NULL);
  goroR_p_acquire(&rt, &m0);
  cr_assert(f->dead);
  cr_assert_neq(tids[0], tids[1], "it ran on two threads");
  cr_assert_eq(tids[0], gettid());
  teardown();
}
