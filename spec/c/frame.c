/*
** spec/c/frame.c — a game engine's frame loop: goro_step(rt, budget) once
** a frame must give the thread back (HACKING.md, "The frame loop"). C that
** G's call through goro_cgocall runs on workers, never on the frame
** thread; the step's budget holds for Lua; a G in plain C that holds a
** frame is reported.
**
** Timing is recorded and printed, never asserted (these machines are
** shared): a test fails on a hang (its timeout) or on work left undone.
*/
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../vm_bridge/bridge.h"
#include "crit.h"
#include "hostutil.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Run the Lua chunk `code`; its status must be OK. */
static void must(const char *code) {
  cr_assert_eq(lua_do(code), LUA_OK, "%s: %s", code, goro_errmsg());
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Print the distribution of n step durations (ms). */
static void report(const char *what, double *d, int n, double budget) {
  qsort(d, (size_t)n, sizeof *d, cmp_double);
  fprintf(stderr, "%s: %d frames, budget %.1f ms: p50 %.2f, p99 %.2f, max %.2f ms\n",
          what, n, budget * 1e3, d[n / 2] * 1e3, d[n * 99 / 100] * 1e3,
          d[n - 1] * 1e3);
}

/* ---- C calls leave the frame thread ------------------------------------------------ */

/* A G reads a blocking pipe in C that only the frame loop writes. Were the
** read run on the frame thread, the loop would never get to write: a
** hang. */
Test(frame, a_c_call_made_in_a_step_runs_on_a_worker, .timeout = 60) {
  long long r, w;
  /* (no workers until the G runs: only a step can start it, then) */
  open_state("goro.config{workers = 0}\n"
             "r, w = tm.pipe(true)\n"
             "goro.go(function()\n"
             "  goro.config{workers = 2}\n"
             "  pretid = tm.tid()\n"
             "  local s, tid = tm.cgo_read(r)\n"
             "  data = s; ctid = tid  -- (ctid last: the loop waits for it)\n"
             "end)\n");
  r = lua_int("r");
  w = lua_int("w");
  for (int frame = 0; frame < 20000; frame++) {
    cr_assert_geq(goro_step(rt, 0.02), 0, "%s", goro_errmsg());
    if (frame == 5) cr_assert_eq(write((int)w, "ping", 4), 4);
    if (lua_int("ctid") != 0) break;
    sleep_ms(0.5);
  }
  must("assert(data == 'ping', tostring(data))");
  cr_assert_neq(lua_int("ctid"), (long long)gettid(), "the C call ran on the frame thread");
  /* (a G that starting the workers kept past the step's deadline is
  ** preempted, and a worker may run it on: its C call is then no handoff) */
  if (lua_int("pretid") == (long long)gettid()) must("assert(goro.stats().handoffs >= 1)");
  close((int)r);
  close((int)w);
  close_state();
}

/* With workers = 0 the host wants no threads: the C call runs on the
** frame thread (its data is there already, so it does not block). */
Test(frame, with_no_workers_c_runs_on_the_frame_thread, .timeout = 60) {
  open_state("goro.config{workers = 0}\n"
             "r, w = tm.pipe(true)\n"
             "tm.fd_write(w, 'here')\n"
             "goro.go(function()\n"
             "  local s, tid = tm.cgo_read(r)\n"
             "  data = s; ctid = tid  -- (ctid last: the loop waits for it)\n"
             "end)\n");
  for (int frame = 0; frame < 1000 && lua_int("ctid") == 0; frame++)
    cr_assert_geq(goro_step(rt, 0.002), 0, "%s", goro_errmsg());
  must("assert(data == 'here')");
  cr_assert_eq(lua_int("ctid"), (long long)gettid());
  must("assert(goro.stats().handoffs == 0)");
  must("tm.fd_close(r); tm.fd_close(w)");
  close_state();
}

/* A callback nested in a handed-off C call runs on the worker, nested in
** the same G, with its M's counters exact. */
Test(frame, a_callback_inside_a_handed_off_call_keeps_the_counters, .timeout = 60) {
  warm_up_steps();  /* (under qemu-user) */
  open_state("goro.config{workers = 0}\n"
             "goro.go(function()\n"
             "  goro.config{workers = 2}  -- (it runs on the step: now workers)\n"
             "  local outer = tm.tid()\n"
             "  local r = table.pack(tm.cgo_callback(function(a, b)\n"
             "    local m = goro.m()\n"
             "    return m.ncgo, m.ncallback, m.is_extra_in_c, tm.tid(), a + b\n"
             "  end, 20, 22))\n"
             "  ncgo, ncb, inc, cbtid, sum = table.unpack(r, 1, 5)\n"
             "  steptid = outer\n"
             "end)\n");
  /* (steptid is set last: Lua assigns a multiple assignment's targets
  ** right to left, and the G may be preempted in between) */
  for (int frame = 0; frame < 20000 && lua_int("steptid") == 0; frame++) {
    cr_assert_geq(goro_step(rt, 0.002), 0, "%s", goro_errmsg());
    sleep_ms(0.2);
  }
  cr_assert_eq(lua_int("sum"), 42);
  cr_assert_eq(lua_int("ncgo"), 1);
  cr_assert_eq(lua_int("ncb"), 1);
  must("assert(inc == false)");
  cr_assert_eq(lua_int("steptid"), (long long)gettid(), "the G started on the frame thread");
  cr_assert_neq(lua_int("cbtid"), (long long)gettid(), "the callback ran on the frame thread");
  close_state();
}

/* ---- the budget ------------------------------------------------------------------ */

/* A G busy in plain C (no goro_cgocall) holds its step: the step
** is counted as an overrun and the G is named. A first step starts
** sysmon and the step M's timer (milliseconds under TSan, a second under
** valgrind or a loaded machine), which can make a step late before any G
** runs: the runtime is warmed up with three steps first, and the G stays
** busy for longer than twice the slowest of them, so that its step is the
** latest. */
Test(frame, a_g_in_plain_c_that_holds_a_step_is_reported, .timeout = 60) {
  double warm = 0, busy;
  char code[160];
  open_state("goro.config{workers = 0}\n");
  for (int f = 0; f < 3; f++) {
    double t0 = now();
    cr_assert_geq(goro_step(rt, 0.002), 0, "%s", goro_errmsg());
    warm = fmax(warm, now() - t0);
  }
  busy = 0.1 + 2 * warm;
  snprintf(code, sizeof code,
           "g = goro.go(function() tm.c_busy(%.3f); busy = 1; goro.chan():recv() end)",
           busy);
  must(code);
  for (int f = 0; f < 1000 && lua_int("busy") == 0; f++)
    cr_assert_geq(goro_step(rt, 0.002), 0, "%s", goro_errmsg());
  snprintf(code, sizeof code, "busy_s = %.3f", busy);
  must(code);
  must("local s = goro.stats()\n"
       "assert(busy == 1, 'the G never ran')\n"
       "assert(s.step_overruns >= 1, s.step_overruns)\n"
       "assert(s.step_overrun_max > busy_s - 0.01, s.step_overrun_max)\n"
       "assert(s.step_overrun_g == g.id, s.step_overrun_g)\n"
       "assert(goro.dump():find('goroutine ' .. g.id .. ' %[[^]]*, held a step '\n"
       "  .. '[%d.]+ms past its budget%]'), goro.dump())\n");
  close_state();
}

/* Lua that spins on the frame thread is preempted at the step's deadline;
** the durations are printed (and the step_overruns figure beside them). */
Test(frame, steps_with_g_s_spinning_in_lua_end_near_their_budget, .timeout = 120) {
  double d[200];
#ifdef GORO_TSAN
  cr_skip_test("TSan runs a signal's handler only when the thread next enters "
               "libc, which Lua spinning never does: no step would end");
#endif
  open_state("goro.config{workers = 0}\n"
             "spins = 0\n"
             "for i = 1, 2 do goro.go(function()\n"
             "  while true do local x = 0 for j = 1, 1000 do x = x + j end spins = spins + 1 end\n"
             "end) end\n");
  for (int i = 0; i < 200; i++) {
    double t0 = now();
    cr_assert_geq(goro_step(rt, 0.002), 0, "%s", goro_errmsg());
    d[i] = now() - t0;
  }
  cr_assert_gt(lua_int("spins"), 0);
  report("spinning Lua", d, 200, 0.002);
  must("overruns = goro.stats().step_overruns");
  fprintf(stderr, "  step_overruns: %lld of 200\n", lua_int("overruns"));
  close_state();
}

/* ---- the frame loop ------------------------------------------------------ */

/* TSan runs a signal's handler only when the thread next enters libc,
** which a G spinning in Lua never does: under TSan the spinners read the
** clock once a loop, so the step's SIGURG lands. */
#ifdef GORO_TSAN
#define SPIN_POKE "poke = function() tm.c_busy(0) end\n"
#else
#define SPIN_POKE "poke = function() end\n"
#endif

/* 500 frames with a 2 ms budget. G's read blocking pipes in C that the
** frame loop writes, G's spin in Lua, G's sleep and talk over channels.
** No hang, and every G's work is done by the end. */
Test(frame, five_hundred_frames_of_mixed_work, .timeout = 300) {
  enum { FRAMES = 500, READERS = 4 };
  double d[FRAMES];
  long long wfd[READERS];
  open_state(
      SPIN_POKE
      "goro.config{workers = 0}  -- (until the readers run, on the step)\n"
      "stop, spins, pings = false, 0, 0\n"
      "pipes, got, wg = {}, {}, goro.waitgroup()\n"
      "for i = 1, 4 do\n"
      "  local r, w = tm.pipe(true)\n"
      "  pipes[i] = w\n"
      "  wg:add(1)\n"
      "  goro.go(function()\n"
      "    goro.config{workers = 2}\n"
      "    local n = 0  -- (its own count: G's are preempted anywhere, so a\n"
      "    while true do  -- shared counter would need a mutex, as in Go)\n"
      "      local s = tm.cgo_read(r)\n"
      "      n = n + #s\n"
      "      if s:find('!', 1, true) then break end\n"
      "    end\n"
      "    got[i] = n\n"
      "    tm.fd_close(r)\n"
      "    wg:done()\n"
      "  end)\n"
      "end\n"
      "for i = 1, 2 do\n"
      "  wg:add(1)\n"
      "  goro.go(function()\n"
      "    while not stop do local x = 0 for j = 1, 2000 do x = x + j end spins = spins + 1; poke() end\n"
      "    wg:done()\n"
      "  end)\n"
      "end\n"
      "local ping, pong = goro.chan(), goro.chan()\n"
      "wg:add(2)\n"
      "goro.go(function()\n"
      "  while not stop do goro.sleep(0.001); ping:send(1); pong:recv(); pings = pings + 1 end\n"
      "  ping:close(); wg:done()\n"
      "end)\n"
      "goro.go(function()\n"
      "  for v in ping:iter() do goro.sleep(0.0005); pong:send(v) end\n"
      "  wg:done()\n"
      "end)\n"
      "goro.go(function() wg:wait(); all_done = 1 end)\n");
  for (int i = 0; i < READERS; i++) {
    char code[64], name[16];
    snprintf(name, sizeof name, "w%d", i + 1);
    snprintf(code, sizeof code, "%s = pipes[%d]", name, i + 1);
    must(code);
    wfd[i] = lua_int(name);
  }
  for (int f = 0; f < FRAMES; f++) {
    double t0 = now();
    cr_assert_geq(goro_step(rt, 0.002), 0, "%s", goro_errmsg());
    d[f] = now() - t0;
    for (int i = 0; i < READERS; i++)  /* the frame loop feeds the readers */
      cr_assert_eq(write((int)wfd[i], "x", 1), 1);
  }
  must("stop = true");
  for (int i = 0; i < READERS; i++) cr_assert_eq(write((int)wfd[i], "!", 1), 1);
  for (int f = 0; f < 100000 && lua_int("all_done") == 0; f++)
    cr_assert_geq(goro_step(rt, 0.002), 0, "%s", goro_errmsg());
  must("for i = 1, 4 do assert(got[i] == 501, i .. ': ' .. tostring(got[i])) end");
  must("assert(spins > 0 and pings > 0, spins .. ' ' .. pings)");
  report("mixed frame loop", d, FRAMES, 0.002);
  /* (how many reads were handed off depends on whether a worker or a step
  ** ran the reader first: printed, not asserted) */
  must("handoffs = goro.stats().handoffs");
  fprintf(stderr, "  handoffs: %lld\n", lua_int("handoffs"));
  for (int i = 0; i < READERS; i++) close((int)wfd[i]);
  close_state();
}

/* A step waits for rt->lock no longer than for the P: a thread that holds
** the lock (here the test itself, as a holder the kernel descheduled) does
** not keep the frame past its budget (HACKING.md, "The frame loop"). The
** holder lets go once the step is back, or after 5 s: the step must not
** have needed that. */
static atomic_int lock_held, step_back;

static void *hold_runtime_lock(void *arg) {
  struct goro_runtime *R = arg;
  double give_up = now() + 5;
  pthread_mutex_lock(&R->rt.lock.mu);  /* (not an M: no rank to keep) */
  atomic_store(&lock_held, 1);
  while (!atomic_load(&step_back) && now() < give_up) sleep_ms(1);
  pthread_mutex_unlock(&R->rt.lock.mu);
  return (void *)(intptr_t)!atomic_load(&step_back);  /* 1: it gave up */
}

Test(frame, a_step_does_not_wait_for_the_runtime_lock_past_its_budget, .timeout = 60) {
  pthread_t th;
  void *gave_up;
  open_state("goro.config{workers = 0}\n"
             "runs = 0\n"
             "goro.go(function() while true do runs = runs + 1; goro.sleep(0.001) end end)\n");
  cr_assert_geq(goro_step(rt, 0.002), 0, "%s", goro_errmsg());  /* (its M made) */
  atomic_store(&lock_held, 0);
  atomic_store(&step_back, 0);
  cr_assert_eq(pthread_create(&th, NULL, hold_runtime_lock, rt), 0);
  while (!atomic_load(&lock_held)) sleep_ms(1);
  cr_assert_geq(goro_step(rt, 0.002), 0, "%s", goro_errmsg());
  atomic_store(&step_back, 1);
  pthread_join(th, &gave_up);
  cr_assert_eq((intptr_t)gave_up, 0, "the step waited for the lock's holder");
  for (int f = 0; f < 1000 && lua_int("runs") < 3; f++)  /* and G's run on */
    cr_assert_geq(goro_step(rt, 0.002), 0, "%s", goro_errmsg());
  cr_assert_geq(lua_int("runs"), 3);
  close_state();
}

/* goro.ms() lists a step M while its step runs, and not between steps:
** the step marks its M without rt->lock (HACKING.md, "The frame loop"). */
Test(frame, goro_ms_lists_a_step_m_only_inside_its_step, .timeout = 60) {
  open_state("goro.config{workers = 0}\n"
             "seen, listed = 0, 0\n"
             "goro.go(function()\n"
             "  local me = goro.m()\n"
             "  for _, m in ipairs(goro.ms()) do\n"
             "    if m.id == me.id then listed = listed + 1 end\n"
             "  end\n"
             "  seen = me.id\n"
             "end)\n");
  for (int f = 0; f < 100 && lua_int("seen") == 0; f++)
    cr_assert_geq(goro_step(rt, 0.002), 0, "%s", goro_errmsg());
  cr_assert_neq(lua_int("seen"), 0, "the G never ran");
  cr_assert_eq(lua_int("listed"), 1, "goro.ms() inside the step lists its M once");
  /* From this thread's goro_call (an extra M), between steps. */
  must("listed = 0\n"
       "for _, m in ipairs(goro.ms()) do if m.id == seen then listed = listed + 1 end end");
  cr_assert_eq(lua_int("listed"), 0, "goro.ms() lists the step M between steps");
  close_state();
}

/* Host threads that goro_call every frame while a step waits for the P:
** a worker that took the free P gave it straight back to the waiters and
** took it again, hundreds of times a frame, keeping rt->lock from the
** step (HACKING.md, "Worker M's"). Counted, not timed: a worker takes the
** P about once a frame or less. */
enum { JOBS = 4, JOB_FRAMES = 300 };
static pthread_barrier_t job_start, job_end;
static atomic_int jobs_quit;

static void *job_thread(void *arg) {
  (void)arg;
  for (;;) {
    pthread_barrier_wait(&job_start);
    if (atomic_load(&jobs_quit)) break;
    lua_do("jobs = jobs + 1");
    pthread_barrier_wait(&job_end);
  }
  return NULL;
}

Test(frame, workers_leave_the_p_to_a_waiting_step, .timeout = 120) {
  pthread_t th[JOBS];
  open_state(
      SPIN_POKE
      "goro.config{workers = 2}\n"
      "jobs, stop, pings = 0, false, 0\n"
      "local ping, pong = goro.chan(), goro.chan()\n"
      "goro.go(function()\n"
      "  while not stop do goro.sleep(0.001); ping:send(1); pong:recv(); pings = pings + 1 end\n"
      "  ping:close()\n"
      "end)\n"
      "goro.go(function() for v in ping:iter() do pong:send(v) end end)\n"
      "goro.go(function()\n"
      "  while not stop do local x = 0 for j = 1, 2000 do x = x + j end poke() end\n"
      "end)\n");
  pthread_barrier_init(&job_start, NULL, JOBS + 1);
  pthread_barrier_init(&job_end, NULL, JOBS + 1);
  atomic_store(&jobs_quit, 0);
  for (int i = 0; i < JOBS; i++) cr_assert_eq(pthread_create(&th[i], NULL, job_thread, NULL), 0);
  for (int f = 0; f < JOB_FRAMES; f++) {
    pthread_barrier_wait(&job_start);
    cr_assert_geq(goro_step(rt, 0.002), 0, "%s", goro_errmsg());
    pthread_barrier_wait(&job_end);
  }
  atomic_store(&jobs_quit, 1);
  pthread_barrier_wait(&job_start);
  for (int i = 0; i < JOBS; i++) pthread_join(th[i], NULL);
  pthread_barrier_destroy(&job_start);
  pthread_barrier_destroy(&job_end);
  must("takes = goro.stats().worker_takes; stop = true");
  fprintf(stderr, "  worker takes: %lld in %d frames; pings %lld\n", lua_int("takes"),
          JOB_FRAMES, lua_int("pings"));
  cr_assert_eq(lua_int("jobs"), JOBS * JOB_FRAMES);
  cr_assert_lt(lua_int("takes"), 20LL * JOB_FRAMES, "workers took the P %lld times",
               lua_int("takes"));
  close_state();
}

/* ---- a G locked to the frame thread ------------------------------------------------ */

/* goro.lockthread() from a G that a step runs: the G runs only in this
** thread's steps from then on, whatever wakes it and wherever the other
** G's run (workers are on), and its C calls stay on this thread too
** (thread-affine C state: an OpenGL context, a UI toolkit). */
/* goro.lockthread("frame") from a G on a worker: it moves to the frame
** thread (the one that called goro_open) and stays there. */
Test(frame, lockthread_frame_moves_a_g_to_the_frame_thread, .timeout = 120) {
  char setup[512];
  snprintf(setup, sizeof setup,
           "goro.config{workers = 2}\n"
           "frame_tid, before, after, done = %lld, 0, 0, 0\n"
           "goro.go(function()\n"
           "  before = tm.tid()\n"
           "  goro.lockthread('frame')\n"
           "  for i = 1, 20 do\n"
           "    goro.sleep(0.001)\n"
           "    if tm.tid() ~= frame_tid then after = after + 1 end\n"
           "  end\n"
           "  done = 1\n"
           "end)\n",
           (long long)gettid());
  open_state(setup);  /* (goro_open on this thread: the frame thread) */
  for (int f = 0; f < 100000 && lua_int("done") == 0; f++) {
    cr_assert_geq(goro_step(rt, 0.002), 0, "%s", goro_errmsg());
    sleep_ms(0.5);
  }
  cr_assert_eq(lua_int("after"), 0, "the G ran off the frame thread after the lock");
  must("assert(goro.dump():find('locked to its thread') == nil)");  /* (ended) */
  close_state();
}

Test(frame, a_g_locked_to_the_frame_thread_always_sees_it, .timeout = 120) {
  long long frame_tid = (long long)gettid();
  char setup[1024];
  snprintf(setup, sizeof setup,
           "goro.config{workers = 0}\n"
           "frame_tid = %lld\n"
           "seen, wrong, done = 0, 0, 0\n"
           "local ch = goro.chan()\n"
           "goro.go(function()\n"
           "  goro.lockthread()\n"
           "  goro.config{workers = 2}  -- (the others may run anywhere now)\n"
           "  local r, w = tm.pipe(true)\n"
           "  for i = 1, 50 do\n"
           "    if i %% 2 == 0 then goro.sleep(0.001) else ch:recv() end\n"
           "    if tm.tid() ~= frame_tid then wrong = wrong + 1 end\n"
           "    tm.fd_write(w, 'x')\n"
           "    local _, ctid = tm.cgo_read(r)  -- C stays on this thread\n"
           "    if ctid ~= frame_tid then wrong = wrong + 1 end\n"
           "    seen = seen + 1\n"
           "  end\n"
           "  done = 1\n"
           "end)\n"
           "goro.go(function()  -- a sender on whatever M\n"
           "  for i = 1, 25 do goro.sleep(0.002); ch:send(i) end\n"
           "end)\n",
           frame_tid);
  open_state(setup);
  for (int f = 0; f < 100000 && lua_int("done") == 0; f++) {
    cr_assert_geq(goro_step(rt, 0.002), 0, "%s", goro_errmsg());
    sleep_ms(0.5);  /* the rest of the frame: the other G's run on workers */
  }
  cr_assert_eq(lua_int("seen"), 50);
  cr_assert_eq(lua_int("wrong"), 0, "the locked G ran off the frame thread");
  close_state();
}
