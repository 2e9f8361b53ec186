/*
** spec/c/cgo.c — host threads and nested callbacks, mirroring Go's tests
** (testprogcgo: callback_pprof's seed scenario, bindm, dropm, needmdeadlock,
** stackswitch, CgoCallbackGC, CallbackPanicLoop).
**
** The Lua side uses goro_testmod (spec/c/testmod.c, linked into this
** binary and registered as package.preload) for cgo_callback: Lua -> C via
** goro_cgocall -> Lua via goro_call.
*/
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "../../arch/sanitize.h"
#include "../../vm_bridge/bridge.h"
#include "crit.h"
#include "luastate.h"

static lua_State *L;
static goro_runtime *rt;

static void open_state(const char *setup) {
  int rc;
  L = goro_test_state_tm();
  cr_assert_not_null(L, "a state with goro and goro_testmod");
  if (setup != NULL) {
    rc = luaL_dostring(L, setup);
    cr_assert_eq(rc, LUA_OK, "%s", rc ? lua_tostring(L, -1) : "");
  }
  rt = goro_open(L);
  cr_assert_not_null(rt, "%s", goro_errmsg());
}

static void close_state(void) {
  goro_close(rt);
  lua_close(L);
}

static int lua_do(const char *code) { return goro_call(rt, goro_test_run_chunk, (void *)code); }

/* goro_call body: read the integer global named ud into `got`. */
static long long got;
static int read_int(lua_State *T, void *ud) {
  lua_getglobal(T, ud);
  got = lua_tointeger(T, -1);
  return 0;
}

static long long lua_int(const char *global) {
  got = -12345;
  cr_assert_eq(goro_call(rt, read_int, (void *)global), LUA_OK, "%s", goro_errmsg());
  return got;
}

static void sleep_ms(double ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms * 1e6) % 1000000000L};
  nanosleep(&ts, NULL);
}

static long rss_kb(void) {
  long size = 0, res = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f != NULL) {
    if (fscanf(f, "%ld %ld", &size, &res) != 2) res = 0;
    fclose(f);
  }
  return res * (sysconf(_SC_PAGESIZE) / 1024);
}

/* ---- the seed scenario (golang/go#72870, callback_pprof) ------------------- */

static int seed_before, seed_after, seed_status;

static void *seed_thread(void *arg) {
  (void)arg;
  seed_before = goro_is_extra_in_c();
  seed_status = lua_do("f1()");
  seed_after = goro_is_extra_in_c();
  return NULL;
}

Test(cgo, seed_nested_return_leaves_is_extra_in_c_false_until_the_outer_return,
     .timeout = 60) {
  pthread_t t;
  open_state(
      "local function c(m) return (m.ncgo * 100 + m.ncallback * 10 +"
      "  (m.is_extra_in_c and 1 or 0)) end\n"
      "function f2() f2_m = c(goro.m()) end\n"
      "function f1()\n"
      "  f1_m = c(goro.m())\n"
      "  f1_extra = goro.m().extra and 1 or 0\n"
      "  tm.cgo_callback(f2)\n"
      "  f1_after = c(goro.m())\n"
      "  f1_after_c = tm.is_extra_in_c() and 1 or 0\n"
      "end\n");
  pthread_create(&t, NULL, seed_thread, NULL);
  pthread_join(t, NULL);
  cr_assert_eq(seed_status, LUA_OK, "%s", goro_errmsg());
  cr_assert_eq(seed_before, 0, "a thread that never called in has no M");
  cr_assert_eq(lua_int("f1_extra"), 1, "the host thread got an extra M");
  cr_assert_eq(lua_int("f1_m"), 10, "in f1: ncgo 0, ncallback 1, not in C");
  cr_assert_eq(lua_int("f2_m"), 120, "in f2: ncgo 1, ncallback 2, not in C");
  cr_assert_eq(lua_int("f1_after"), 10,
               "back in f1 after the nested return: ncgo 0, ncallback 1, "
               "is_extra_in_c false (the #72870 rule)");
  cr_assert_eq(lua_int("f1_after_c"), 0, "goro_is_extra_in_c() agrees in f1");
  cr_assert_eq(seed_after, 1, "after the outer return the thread is in C");
  close_state();
}

/* ---- EnsureBindM / EnsureDropM ---------------------------------------------------- */

struct bindrec {
  long long ids[100];
};

static int read_mid(lua_State *T, void *ud) {
  lua_getglobal(T, "goro");
  lua_getfield(T, -1, "m");
  lua_call(T, 0, 1);
  lua_getfield(T, -1, "id");
  *(long long *)ud = lua_tointeger(T, -1);
  return 0;
}

static void *bind_thread(void *arg) {
  struct bindrec *r = arg;
  for (int i = 0; i < 100; i++) {
    if (goro_call(rt, read_mid, &r->ids[i]) != LUA_OK) r->ids[i] = -1;
    usleep(1);
  }
  return NULL;
}

Test(cgo, a_thread_keeps_its_extra_m_and_exit_returns_it, .timeout = 60) {
  struct bindrec a, b;
  pthread_t ta, tb;
  long long first, second;
  struct goro_runtime *R;
  open_state(NULL);
  R = rt;
  pthread_create(&ta, NULL, bind_thread, &a);
  pthread_create(&tb, NULL, bind_thread, &b);
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  for (int i = 1; i < 100; i++) {
    cr_assert_eq(a.ids[i], a.ids[0], "thread A: same M on every call");
    cr_assert_eq(b.ids[i], b.ids[0], "thread B: same M on every call");
  }
  cr_assert_neq(a.ids[0], b.ids[0], "two live threads, two M's");
  cr_assert_eq(R->rt.nextram_inuse, 0, "both M's went back at thread exit");
  /* EnsureDropM: a thread that comes after reuses a returned M */
  pthread_create(&ta, NULL, bind_thread, &a);
  pthread_join(ta, NULL);
  first = a.ids[0];
  pthread_create(&tb, NULL, bind_thread, &b);
  pthread_join(tb, NULL);
  second = b.ids[0];
  cr_assert_eq(first, second, "the next thread got the M the last one returned");
  cr_assert_eq(R->rt.nextram_inuse, 0);
  cr_assert_leq(R->rt.nextram, 4, "M's are reused, not made per thread");
  close_state();
}

/* ---- CallbackPanicLoop ------------------------------------------------------------ */

/* 100,000 as in Go's test, in every lane. (Under TSan this needs the
** __longjmp_chk routing in arch/ctx.c: without it every Lua error left
** TSan's shadow stack and bookkeeping behind, ~150 KiB each.) */
#define PANIC_LOOPS "100000"

static void *panic_loop_thread(void *arg) {
  *(int *)arg = lua_do(
      "local before = collectgarbage('count')\n"
      "for i = 1, " PANIC_LOOPS " do\n"
      "  local ok, err = pcall(tm.cgo_callback, function() error('boom') end)\n"
      "  if ok or not err:find('boom', 1, true) then error('not caught: ' .. tostring(err)) end\n"
      "  local m = goro.m()\n"
      "  if m.ncgo ~= 0 or m.ncallback ~= 1 or m.is_extra_in_c then\n"
      "    error(('counters off at %d: %d %d'):format(i, m.ncgo, m.ncallback))\n"
      "  end\n"
      "  if i == 1000 then collectgarbage(); before = collectgarbage('count') end\n"
      "end\n"
      "collectgarbage()\n"
      "growth_kb = math.floor(collectgarbage('count') - before)\n");
  return NULL;
}

Test(cgo, an_error_in_f2_caught_in_f1_100000_times_leaks_nothing, .timeout = 300) {
  pthread_t t;
  int status;
  long rss0, rss1;
  open_state(NULL);
  rss0 = rss_kb();
  pthread_create(&t, NULL, panic_loop_thread, &status);
  pthread_join(t, NULL);
  rss1 = rss_kb();
  cr_assert_eq(status, LUA_OK, "%s", goro_errmsg());
  cr_assert_lt(lua_int("growth_kb"), 64, "Lua memory grew by %lld KiB",
               lua_int("growth_kb"));
#if !defined(GORO_ASAN) && !defined(GORO_TSAN)
  cr_assert_lt(rss1 - rss0, 8 * 1024, "RSS grew by %ld KiB", rss1 - rss0);
#else
  /* ASan keeps freed blocks in quarantine (256 MiB by default) and TSan
  ** keeps its own bookkeeping, so RSS says nothing about goro's leaks
  ** there; the native lane checks RSS, LeakSanitizer checks leaks. */
  (void)rss0;
  (void)rss1;
#endif
  close_state();
}

/* ---- NeedmDeadlock: signals aimed at a thread during its first calls ------------ */

static atomic_int signals_seen, stop_signalling;
static pthread_t target;  /* written before target_set is set, read after */
static atomic_int target_set;

static void on_usr1(int sig) {
  (void)sig;
  (void)goro_is_extra_in_c();  /* what a profiler's handler would read */
  atomic_fetch_add(&signals_seen, 1);
}

static atomic_int signallers_busy;

static void *signaller(void *arg) {
  (void)arg;
  while (!atomic_load(&stop_signalling)) {
    atomic_fetch_add(&signallers_busy, 1);
    if (atomic_load(&target_set)) pthread_kill(target, SIGUSR1);
    atomic_fetch_sub(&signallers_busy, 1);
    usleep(50);
  }
  return NULL;
}

static void *first_calls(void *arg) {
  int *ok = arg;
  for (int i = 0; i < 10; i++)
    if (lua_do("local x = 0 for i = 1, 100 do x = x + i end") != LUA_OK) *ok = 0;
  return NULL;
}

Test(cgo, signals_during_first_calls_do_not_hang, .timeout = 60) {
  pthread_t sig[10];
  int ok = 1;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &sa, NULL);
  open_state(NULL);
  for (int i = 0; i < 10; i++) pthread_create(&sig[i], NULL, signaller, NULL);
  for (int round = 0; round < 20; round++) {  /* 20 fresh threads: 20 needm's */
    pthread_t t;
    pthread_create(&t, NULL, first_calls, &ok);
    target = t;
    atomic_store(&target_set, 1);
    pthread_join(t, NULL);
    atomic_store(&target_set, 0);
    while (atomic_load(&signallers_busy) > 0) usleep(10);  /* none uses t */
  }
  atomic_store(&stop_signalling, 1);
  for (int i = 0; i < 10; i++) pthread_join(sig[i], NULL);
  cr_assert(ok, "%s", goro_errmsg());
  cr_assert_gt(atomic_load(&signals_seen), 0, "the signals did arrive");
  close_state();
}

/* ---- StackSwitchCallback: calls from the host's own makecontext stacks ------------- */

static ucontext_t uc_main, uc_a, uc_b;
static int uc_status[3];

static void uc_body(int which) {
  uc_status[which] = lua_do(
      "local s = ('x'):rep(50):gsub('x', function(c) return c:upper() end)\n"
      "local function r(n) if n == 0 then return 0 end return 1 + r(n - 1) end\n"
      "assert(r(1000) == 1000 and #s == 50)\n");
  swapcontext(which == 1 ? &uc_a : &uc_b, &uc_main);
}

static void *stackswitch_thread(void *arg) {
  static char sa[64 * 1024], sb[64 * 1024];
  (void)arg;
  uc_status[0] = lua_do("assert(goro.m().extra)");  /* from its own stack */
  getcontext(&uc_a);
  uc_a.uc_stack.ss_sp = sa;
  uc_a.uc_stack.ss_size = sizeof sa;
  uc_a.uc_link = &uc_main;
  makecontext(&uc_a, (void (*)(void))uc_body, 1, 1);
  getcontext(&uc_b);
  uc_b.uc_stack.ss_sp = sb;
  uc_b.uc_stack.ss_size = sizeof sb;
  uc_b.uc_link = &uc_main;
  makecontext(&uc_b, (void (*)(void))uc_body, 1, 2);
  swapcontext(&uc_main, &uc_a);
  swapcontext(&uc_main, &uc_b);
  return NULL;
}

Test(cgo, calls_from_the_hosts_own_64k_makecontext_stacks_work, .timeout = 60) {
  pthread_t t;
  open_state(NULL);
  pthread_create(&t, NULL, stackswitch_thread, NULL);
  pthread_join(t, NULL);
  for (int i = 0; i < 3; i++)
    cr_assert_eq(uc_status[i], LUA_OK, "call %d: %s", i, goro_errmsg());
  close_state();
}

/* ---- CgoCallbackGC: short-lived threads, GC and deep recursion inside -------------- */

static void *churn_thread(void *arg) {
  *(int *)arg = lua_do(
      "collectgarbage()\n"
      "local function r(n) if n == 0 then return 0 end return 1 + r(n - 1) end\n"
      "assert(r(10000) == 10000)\n"
      "assert(goro.stats().extra_ms_in_use > 0)\n"
      "collectgarbage()\n");
  return NULL;
}

Test(cgo, one_hundred_short_lived_threads_call_in_once_each, .timeout = 120) {
  struct goro_runtime *R;
  int status[100];
  open_state(NULL);
  R = rt;
  for (int i = 0; i < 100; i += 4) {  /* four at a time */
    pthread_t t[4];
    for (int k = 0; k < 4; k++) pthread_create(&t[k], NULL, churn_thread, &status[i + k]);
    for (int k = 0; k < 4; k++) pthread_join(t[k], NULL);
  }
  for (int i = 0; i < 100; i++) cr_assert_eq(status[i], LUA_OK, "thread %d", i);
  cr_assert_eq(R->rt.nextram_inuse, 0, "every M went back");
  cr_assert_leq(R->rt.nextram, 8, "and was reused (%d made)", R->rt.nextram);
  close_state();
}

/* ---- a callback that blocks ------------------------------------------------------- */

static void *blocking_caller(void *arg) {
  atomic_store((atomic_int *)arg, lua_do(
      "local v = inbox:recv()\n"
      "goro.sleep(0.005)\n"
      "answer = v * 2\n"));
  return NULL;
}

static void blocking_callback_case(int workers) {
  pthread_t t;
  atomic_int status = -1;
  char setup[256];
  snprintf(setup, sizeof setup,
           "goro.config{workers = %d}\n"
           "inbox = goro.chan()\n"
           "goro.go(function() goro.sleep(0.01); inbox:send(21) end)\n",
           workers);
  open_state(setup);
  pthread_create(&t, NULL, blocking_caller, &status);
  if (workers == 0) {  /* the host's frame loop drives the sender G */
    for (int i = 0; i < 2000 && atomic_load(&status) == -1; i++) {
      goro_step(rt, 0.001);
      sleep_ms(1);
    }
  }
  pthread_join(t, NULL);
  cr_assert_eq(atomic_load(&status), LUA_OK, "%s", goro_errmsg());
  cr_assert_eq(lua_int("answer"), 42);
  close_state();
}

/* ---- a goro.run ends while a host thread's nested callback waits ------------ */

static pthread_t end_host;
static int end_host_status = -1;

static int end_host_body(lua_State *T, void *ud) {
  (void)ud;
  lua_getglobal(T, "host_body");
  lua_call(T, 0, 0);
  return 0;
}

static void *end_host_main(void *arg) {
  end_host_status = goro_call(arg, end_host_body, NULL);
  return NULL;
}

static int l_start_host(lua_State *T) {
  cr_assert_eq(pthread_create(&end_host, NULL, end_host_main, goro_runtime_of(T)), 0);
  return 0;
}

/* The host thread's callback is its own (left alone), but one nested in a
** cgocall of it holds the count of G's in C that the run's end waits for:
** that one unwinds, and the run ends. */
Test(cgo, a_run_ends_while_a_host_threads_nested_callback_waits, .timeout = 60) {
  int rc;
  L = goro_test_state_tm();
  cr_assert_not_null(L);
  lua_register(L, "start_host", l_start_host);
  rc = luaL_dostring(L,
      "local goro, tm = require 'goro', require 'goro_testmod'\n"
      "local ch = goro.chan()\n"
      "host_body = function() tm.cgo_callback(function() ch:recv() end) end\n"
      "local ok, v = pcall(goro.run, {timeout = 20}, function()\n"
      "  start_host()\n"
      "  goro.sleep(0.1)  -- the host thread is in the nested callback now\n"
      "  return 'main returned'\n"
      "end)\n"
      "result = tostring(ok) .. ' ' .. tostring(v)\n");
  cr_assert_eq(rc, LUA_OK, "%s", rc ? lua_tostring(L, -1) : "");
  pthread_join(end_host, NULL);
  lua_getglobal(L, "result");
  cr_assert_str_eq(lua_tostring(L, -1), "true main returned");
  cr_assert_neq(end_host_status, LUA_OK, "the host's call failed: its callback unwound");
  lua_close(L);
}

Test(cgo, a_callback_blocks_and_resumes_with_workers, .timeout = 60) {
  blocking_callback_case(4);
}

Test(cgo, a_callback_blocks_and_resumes_with_the_host_stepping, .timeout = 60) {
  blocking_callback_case(0);
}

/* ---- stress: 8 host threads x N callbacks at depths 1-3, G's talking meanwhile --- */

#ifndef GORO_STRESS_N
#define GORO_STRESS_N 10000
#endif

static atomic_long callbacks_done;

static void *stress_thread(void *arg) {
  long id = (long)(intptr_t)arg;
  char code[200];
  for (int i = 0; i < GORO_STRESS_N; i++) {
    int depth = 1 + (int)((id + i) % 3);
    snprintf(code, sizeof code, "dive(%d)", depth - 1);
    if (lua_do(code) == LUA_OK) atomic_fetch_add(&callbacks_done, 1);
  }
  return NULL;
}

Test(cgo, stress_8_threads_nested_callbacks_while_gs_exchange_messages,
     .timeout = 600) {
  pthread_t t[8];
  long long pings;
  struct goro_runtime *R;
  open_state(
      "function dive(n)\n"
      "  local m = goro.m()\n"
      "  if m.is_extra_in_c or m.ncallback ~= m.ncgo + 1 then\n"
      "    error('counters off: ' .. m.ncgo .. ' ' .. m.ncallback)\n"
      "  end\n"
      "  if n > 0 then tm.cgo_callback(dive, n - 1) end\n"
      "end\n"
      "pings = 0\n"
      "local a, b = goro.chan(), goro.chan()\n"
      /* Bounded, so that the G's stop talking once the callbacks are done
      ** or soon after, whatever the lane's speed. */
      "goro.go(function() while true do b:send(a:recv() + 1) end end)\n"
      "goro.go(function() local v = 0\n"
      "  while v < 8000 do a:send(v); v = b:recv(); pings = v end end)\n");
  R = rt;
  for (long i = 0; i < 8; i++) pthread_create(&t[i], NULL, stress_thread, (void *)i);
  for (int i = 0; i < 8; i++) pthread_join(t[i], NULL);
  cr_assert_eq(atomic_load(&callbacks_done), 8L * GORO_STRESS_N, "lost callbacks: %s",
               goro_errmsg());
  pings = lua_int("pings");
  cr_assert_gt(pings, 0, "the G's kept talking");
  cr_assert_eq(R->rt.nextram_inuse, 1, "only this thread's M is bound now");
  close_state();
}

/* ---- after goro_close -------------------------------------------------------------- */

static atomic_int phase;

static void *late_thread(void *arg) {
  atomic_int *st = arg;
  atomic_store(&st[0], lua_do("x = 1"));
  atomic_store(&phase, 1);
  while (atomic_load(&phase) != 2) usleep(100);
  atomic_store(&st[1], lua_do("x = 2"));  /* after goro_close */
  while (atomic_load(&phase) != 3) usleep(100);
  return NULL;  /* exits after lua_close: its M's runtime is gone */
}

Test(cgo, calls_after_close_fail_cleanly_and_threads_exit_after_lua_close,
     .timeout = 60) {
  pthread_t t;
  atomic_int st[2] = {-1, -1};
  open_state(NULL);
  pthread_create(&t, NULL, late_thread, st);
  while (atomic_load(&phase) != 1) usleep(100);
  goro_close(rt);
  atomic_store(&phase, 2);
  while (atomic_load(&st[1]) == -1) usleep(100);
  lua_close(L);  /* destroys the runtime while the thread still holds an M */
  atomic_store(&phase, 3);
  pthread_join(t, NULL);
  cr_assert_eq(atomic_load(&st[0]), LUA_OK);
  cr_assert_eq(atomic_load(&st[1]), GORO_CLOSED);
}

/* ---- G's looping Lua -> C -> Lua do not starve the others ----------------------- */

Test(cgo, gs_looping_through_c_and_callbacks_let_timers_and_the_queue_run,
     .timeout = 60) {
  /* 32 G's call C that calls back, forever; they pass the P among
  ** themselves as callers. A sleeping G must still wake on time and a G
  ** started later must still run (HACKING.md, "Who gets a free P"). */
  lua_State *S = goro_test_state_tm();
  int rc;
  cr_assert_not_null(S);
  rc = luaL_dostring(S,
      "local goro, tm = require 'goro', require 'goro_testmod'\n"
      "return goro.run(function()\n"
      "  local stop, wg = false, goro.waitgroup()\n"
      "  local function work() local x = 0 for i = 1, 500 do x = x + i end end\n"
      "  for i = 1, 32 do\n"
      "    wg:add(1)\n"
      "    goro.go(function()\n"
      "      while not stop do tm.cgo_nap_callback(20e-6, work) end\n"
      "      wg:done()\n"
      "    end)\n"
      "  end\n"
      "  local t0 = goro.now()\n"
      "  goro.sleep(0.2)\n"
      "  local slept = goro.now() - t0\n"
      "  local ran = false\n"
      "  goro.go(function() ran = true end):wait()\n"
      "  stop = true\n"
      "  wg:wait()\n"
      "  return slept, ran\n"
      "end)\n");
  cr_assert_eq(rc, LUA_OK, "%s", lua_tostring(S, -1));
  cr_assert(lua_toboolean(S, -1), "a G started later ran");
  cr_assert_lt(lua_tonumber(S, -2), 5.0, "sleep(0.2) woke in %.2f s",
               lua_tonumber(S, -2));
  lua_close(S);
}

/* ---- the P parked on a host thread idle in C ---------------------------------
** A host thread's callback that returns with nothing due keeps the P parked
** on its M (HACKING.md, "P states"): other threads take it at once, close
** takes it back, and a G left sleeping still wakes on a worker. */

static atomic_int idle_phase;

static void *idle_after_one_call(void *arg) {
  atomic_int *st = arg;
  atomic_store(st, lua_do("x = 1"));
  atomic_store(&idle_phase, 1);
  while (atomic_load(&idle_phase) != 2) usleep(200);  /* in C, not exiting */
  atomic_store(st, lua_do("x = 2"));
  return NULL;
}

static void *call_2000_times(void *arg) {
  int *bad = arg;
  for (int i = 0; i < 2000; i++)
    if (lua_do("y = (y or 0) + 1") != LUA_OK) (*bad)++;
  return NULL;
}

Test(cgo, a_host_thread_idle_in_c_holds_up_no_entry_step_or_close,
     .timeout = 30) {
  pthread_t a, b;
  atomic_int st = -1;
  int bad = 0;
  open_state(NULL);
  atomic_store(&idle_phase, 0);
  pthread_create(&a, NULL, idle_after_one_call, &st);
  while (atomic_load(&idle_phase) != 1) usleep(100);
  cr_assert_eq(atomic_load(&st), LUA_OK, "%s", goro_errmsg());
  pthread_create(&b, NULL, call_2000_times, &bad);
  pthread_join(b, NULL);
  cr_assert_eq(bad, 0);
  cr_assert_eq(lua_int("y"), 2000);
  cr_assert_geq(goro_step(rt, 0.001), 0, "%s", goro_errmsg());
  /* Had the entries waited for sysmon to free the P, it would count: */
  cr_assert_eq(goro_call(rt, goro_test_run_chunk,
                         "retakes = goro.stats().retakes"), LUA_OK);
  cr_assert_eq(lua_int("retakes"), 0, "the P was retaken from an idle thread");
  goro_close(rt);  /* hangs if it waits for the P parked on thread a */
  atomic_store(&idle_phase, 2);
  pthread_join(a, NULL);
  cr_assert_eq(atomic_load(&st), GORO_CLOSED);
  lua_close(L);
}

Test(cgo, a_g_left_sleeping_by_a_host_thread_wakes_on_a_worker, .timeout = 30) {
  pthread_t a;
  atomic_int st = -1;
  open_state("goro = require 'goro'");
  atomic_store(&idle_phase, 0);
  cr_assert_eq(lua_do("goro.go(function() goro.sleep(0.02) woke = 1 end)"), LUA_OK,
               "%s", goro_errmsg());
  /* The G sleeps; this thread and thread a go idle in C. (Thread a's call
  ** must be over before phase 2 is set, or it would set phase 1 after it
  ** and idle for good: under qemu-user the G wakes first.) */
  pthread_create(&a, NULL, idle_after_one_call, &st);
  while (atomic_load(&idle_phase) != 1) usleep(100);
  for (int i = 0; i < 250 && lua_int("woke") != 1; i++) sleep_ms(20);
  cr_assert_eq(lua_int("woke"), 1, "the sleeping G never woke");
  cr_assert_eq(goro_call(rt, goro_test_run_chunk,
                         "retakes = goro.stats().retakes"), LUA_OK);
  cr_assert_eq(lua_int("retakes"), 0, "the G waited for sysmon to retake the P");
  atomic_store(&idle_phase, 2);
  pthread_join(a, NULL);
  cr_assert_eq(atomic_load(&st), LUA_OK);
  close_state();
}

/* Host threads that idle in C for random spells between calls, a frame loop
** stepping the scheduler, and a G sleeping on a timer for part of the run:
** the P is parked on idle threads, retaken by the stepper and by entering
** threads, released while the timer is pending; nothing is lost or stuck. */

#define IDLE_THREADS 4
#define IDLE_CALLS (GORO_STRESS_N / 2)

static int count_job(lua_State *T, void *ud) {
  (void)ud;
  lua_getglobal(T, "job");
  lua_call(T, 0, 0);
  return 0;
}

static void spin_us(double us) {
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  do clock_gettime(CLOCK_MONOTONIC, &b);
  while ((double)(b.tv_sec - a.tv_sec) * 1e6 + (double)(b.tv_nsec - a.tv_nsec) / 1e3 < us);
}

static atomic_int idle_running;

static void *idle_caller(void *arg) {
  unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u;
  int bad = 0;
  for (int i = 0; i < IDLE_CALLS; i++) {
    if (goro_call(rt, count_job, NULL) != LUA_OK) bad++;
    seed = seed * 1103515245u + 12345u;
    if (seed % 16 == 0)
      usleep(50);
    else
      spin_us((double)(seed % 30));
  }
  atomic_fetch_sub(&idle_running, 1);
  return (void *)(intptr_t)bad;
}

Test(cgo, host_threads_idling_in_c_a_stepping_loop_and_timers_share_the_p,
     .timeout = 600) {
  pthread_t t[IDLE_THREADS];
  int frames = 0;
  open_state("calls, ticks = 0, 0\n"
             "function job() calls = calls + 1 end\n"
             "goro.go(function()\n"
             "  while ticks < 100 do goro.sleep(0.0005); ticks = ticks + 1 end\n"
             "end)\n");
  atomic_store(&idle_running, IDLE_THREADS);
  for (long i = 0; i < IDLE_THREADS; i++)
    pthread_create(&t[i], NULL, idle_caller, (void *)(i + 1));
  while (atomic_load(&idle_running) > 0) {  /* the frame loop */
    cr_assert_geq(goro_step(rt, 0.001), 0, "%s", goro_errmsg());
    usleep(200);
    frames++;
  }
  for (int i = 0; i < IDLE_THREADS; i++) {
    void *bad;
    pthread_join(t[i], &bad);
    cr_assert_null(bad, "thread %d: %ld calls failed: %s", i, (long)(intptr_t)bad,
                   goro_errmsg());
  }
  cr_assert_eq(lua_int("calls"), (long long)IDLE_THREADS * IDLE_CALLS);
  for (int i = 0; i < 5000 && lua_int("ticks") < 100; i++) sleep_ms(1);
  cr_assert_eq(lua_int("ticks"), 100, "the sleeping G finished its ticks");
  cr_assert_gt(frames, 0);
  close_state();  /* the P may be parked on this thread or a joined one */
}

/* Two host threads calling in back to back both make progress and neither
** is left asleep: a thread does not park the P on itself while another
** waits for it (it would take it back with a CAS and nobody would wake the
** waiter; HACKING.md, "P states"). A calls in until told to stop (or
** 200,000 times); B makes 100 calls, then idles in C without exiting (a
** thread's exit wakes every waiter, which would hide a lost wake-up); A
** must keep going. No sysmon runs (no goro_step, no cgocall) to rescue
** anyone. Without the check after parking, B or A is stranded. */
static atomic_int a_stop, b_phase;
static atomic_long a_calls;

#define A_LIMIT (GORO_STRESS_N * 20L)

static void *call_until_stopped(void *arg) {
  long bad = 0;
  (void)arg;
  while (!atomic_load(&a_stop) && atomic_load(&a_calls) < A_LIMIT) {
    if (goro_call(rt, count_job, NULL) != LUA_OK) bad++;
    atomic_fetch_add(&a_calls, 1);
  }
  return (void *)(intptr_t)bad;
}

static void *call_100_then_idle(void *arg) {
  atomic_int *st = arg;
  int rc = LUA_OK;
  for (int i = 0; i < 100 && rc == LUA_OK; i++) rc = goro_call(rt, count_job, NULL);
  atomic_store(st, rc);
  atomic_store(&b_phase, 1);
  while (atomic_load(&b_phase) != 2) usleep(100);  /* idle in C */
  return NULL;
}

Test(cgo, two_host_threads_calling_back_to_back_both_progress, .timeout = 300) {
  pthread_t a, b;
  atomic_int st = -1;
  long seen;
  void *bad;
  open_state("calls = 0\nfunction job() calls = calls + 1 end\n");
  atomic_store(&a_stop, 0);
  atomic_store(&b_phase, 0);
  atomic_store(&a_calls, 0);
  pthread_create(&a, NULL, call_until_stopped, NULL);
  while (atomic_load(&a_calls) < 1000) usleep(10);
  pthread_create(&b, NULL, call_100_then_idle, &st);
  for (int i = 0; i < 40000 && atomic_load(&b_phase) == 0; i++) usleep(500);
  cr_assert_eq(atomic_load(&b_phase), 1, "B never got its 100 turns");
  cr_assert_eq(atomic_load(&st), LUA_OK, "%s", goro_errmsg());
  seen = atomic_load(&a_calls);
  cr_assert_lt(seen, A_LIMIT, "B got its turns only once A had stopped calling");
  for (int i = 0; i < 20000 && atomic_load(&a_calls) < seen + 1000; i++) usleep(500);
  cr_assert_geq(atomic_load(&a_calls), seen + 1000,
                "A was left waiting for the P that B parked on itself");  /* (A
                                                       is far from its limit) */
  atomic_store(&a_stop, 1);
  atomic_store(&b_phase, 2);
  pthread_join(a, &bad);
  pthread_join(b, NULL);
  cr_assert_null(bad, "%ld calls failed: %s", (long)(intptr_t)bad, goro_errmsg());
  close_state();
}
