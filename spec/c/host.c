/*
** spec/c/host.c — embedding: goro_open, goro_step, goro_close from a host.
*/
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../include/goro.h"
#include "crit.h"
#include "luastate.h"

static lua_State *new_state(void) {
  lua_State *L = goro_test_state();
  cr_assert_not_null(L);
  return L;
}

static void dostring(lua_State *L, const char *code) {
  int rc = luaL_dostring(L, code);
  const char *msg = rc == LUA_OK ? "" : lua_tostring(L, -1);
  cr_assert_eq(rc, LUA_OK, "lua: %s", msg);
}

static void sleep_ms(double ms) {
  struct timespec ts = {0, (long)(ms * 1e6)};
  nanosleep(&ts, NULL);
}

/* G's set it from Lua (setflag(n)); the host waits for it. A wait is
** bounded by the test's timeout, not by a guess at how soon a timer fires
** on a loaded machine: under TSan, timers have fired seconds late. */
static atomic_int flag;

static int l_setflag(lua_State *L) {
  atomic_store(&flag, (int)luaL_checkinteger(L, 1));
  return 0;
}

/* Wait up to `ms` for the flag to become v. */
static int wait_flag(int v, int ms) {
  for (int i = 0; i < ms; i++) {
    if (atomic_load(&flag) == v) return 1;
    sleep_ms(1);
  }
  return atomic_load(&flag) == v;
}

Test(host, frame_loop_of_100_frames_drives_gs_over_channels, .timeout = 30) {
  lua_State *L = new_state();
  goro_runtime *rt;
  int frames = 0, max_runnable = 0;

  dostring(L,
      "local goro = require 'goro'\n"
      "goro.config{workers = 0}  -- the frames alone drive the G's\n"
      "received, done = {}, false\n"
      "local ch, results = goro.chan(), goro.chan(4)\n"
      "goro.go(function()\n"
      "  for i = 1, 50 do ch:send(i); goro.sleep(0.0005) end\n"
      "  ch:close()\n"
      "end)\n"
      "goro.go(function()\n"
      "  for v in ch:iter() do received[#received + 1] = v * 2 end\n"
      "  results:send(#received)\n"
      "end)\n"
      "goro.go(function() done = results:recv() == 50 end)\n");
  rt = goro_open(L);
  cr_assert_not_null(rt, "%s", goro_errmsg());
  cr_assert_eq(goro_runtime_of(L), rt, "the same runtime as require 'goro'");
  for (frames = 0; frames < 100; frames++) {
    int n = goro_step(rt, 0.001);
    cr_assert_geq(n, 0, "frame %d: %s", frames, goro_errmsg());
    if (n > max_runnable) max_runnable = n;
    sleep_ms(1);  /* the rest of the frame: rendering, say */
  }
  goro_close(rt);
  lua_getglobal(L, "done");
  cr_assert(lua_toboolean(L, -1), "the pipeline finished within 100 frames");
  lua_getglobal(L, "received");
  cr_assert_eq(luaL_len(L, -1), 50);
  for (int i = 1; i <= 50; i++) {
    lua_geti(L, -1, i);
    cr_assert_eq(lua_tointeger(L, -1), 2 * i, "in order");
    lua_pop(L, 1);
  }
  lua_close(L);
}

/* G's bump it from Lua: the host reads it without touching the state. */
static atomic_long spins;

static int l_spin(lua_State *L) {
  (void)L;
  atomic_fetch_add(&spins, 1);
  return 0;
}

Test(host, a_step_ends_at_its_budget_while_gs_are_still_ready, .timeout = 30) {
  lua_State *L = new_state();
  goro_runtime *rt;
  int ran = 0;
  atomic_store(&spins, 0);
  lua_register(L, "spin", l_spin);
  dostring(L,
      "local goro = require 'goro'\n"
      "goro.config{workers = 0}\n"
      "for _ = 1, 3 do\n"
      "  goro.go(function() while true do spin(); goro.yield() end end)\n"
      "end\n");
  rt = goro_open(L);
  cr_assert_not_null(rt);
  /* The budget is wall-clock time: a step whose thread loses the CPU past
  ** it before running anything runs nothing. So count the frames whose
  ** step ran G's, until five have. */
  for (int frame = 0; frame < 1000 && ran < 5; frame++) {
    long before = atomic_load(&spins);
    /* (valgrind translates the scheduler's code as it first runs: 1 ms
    ** would end steps before their first G for many frames there; so,
    ** less, does qemu-user) */
    cr_assert_eq(goro_step(rt, GORO_UNDER_VALGRIND(0.001, 0.5) *
                                   goro_test_time_scale()), 3,
                 "all three still ready: the budget ended the step");
    if (atomic_load(&spins) > before) ran++;
  }
  cr_assert_eq(ran, 5, "the steps ran them");
  goro_close(rt);
  lua_close(L);
}

/* A channel timer readies no G when it fires: the turn the scheduler was
** owed must end all the same, or a host waiting for the P behind an idle
** worker waits for good. */
Test(host, steps_go_on_while_a_ticker_nobody_reads_fires, .timeout = 30) {
  lua_State *L = new_state();
  goro_runtime *rt;
  dostring(L, "keep = require('goro').ticker(0.0001)");
  rt = goro_open(L);
  cr_assert_not_null(rt, "%s", goro_errmsg());
  for (int f = 0; f < 1000; f++) {
    cr_assert_geq(goro_step(rt, 0.0002), 0, "%s", goro_errmsg());
    sleep_ms(0.2);
  }
  goro_close(rt);
  lua_close(L);
}

Test(host, step_reports_a_failed_g_and_keeps_going, .timeout = 30) {
  lua_State *L = new_state();
  goro_runtime *rt;
  int n = 0;
  atomic_store(&flag, 0);
  lua_register(L, "setflag", l_setflag);
  dostring(L,
      "local goro = require 'goro'\n"
      "goro.go(function() error('boom') end)\n"
      "goro.go(function() goro.sleep(0.001); setflag(1) end)\n");
  rt = goro_open(L);
  cr_assert_not_null(rt);
  /* The first step that runs the failing G (or comes after a worker ran
  ** it) reports it. */
  for (int i = 0; i < 1000 && (n = goro_step(rt, 0.01)) >= 0; i++) sleep_ms(1);
  cr_assert_eq(n, GORO_STEP_GFAILED);
  cr_assert_not_null(strstr(goro_errmsg(), "goroutine "), "%s", goro_errmsg());
  cr_assert_not_null(strstr(goro_errmsg(), "boom"));
  cr_assert_not_null(strstr(goro_errmsg(), "stack traceback"));
  for (int frame = 0; frame < 20000 && atomic_load(&flag) != 1; frame++) {
    cr_assert_geq(goro_step(rt, 0.001), 0, "%s", goro_errmsg());
    sleep_ms(1);
  }
  cr_assert_eq(atomic_load(&flag), 1, "the other G went on");
  goro_close(rt);
  lua_close(L);
}

Test(host, closed_runtime_refuses_steps_and_lua_runs) {
  lua_State *L = new_state();
  goro_runtime *rt;
  dostring(L, "goro = require 'goro'");
  rt = goro_open(L);
  cr_assert_not_null(rt);
  cr_assert_eq(goro_close(rt), 0);
  cr_assert_eq(goro_close(rt), 0, "twice is harmless");
  cr_assert_eq(goro_step(rt, 0.001), GORO_STEP_CLOSED);
  cr_assert_not_null(strstr(goro_errmsg(), "closed"));
  cr_assert_neq(luaL_dostring(L, "goro.run(function() end)"), LUA_OK);
  cr_assert_not_null(strstr(lua_tostring(L, -1), "closed"), "%s",
                     lua_tostring(L, -1));
  lua_close(L);
}

/* goro_call body: try to close the runtime (ud) from inside it. */
static int close_inside;
static int try_close(lua_State *T, void *ud) {
  (void)T;
  close_inside = goro_close(ud);
  return 0;
}

Test(host, close_from_inside_the_runtime_is_refused_with_a_reason) {
  lua_State *L = new_state();
  goro_runtime *rt;
  dostring(L, "goro = require 'goro'");
  rt = goro_open(L);
  cr_assert_not_null(rt);
  cr_assert_eq(goro_call(rt, try_close, rt), LUA_OK, "%s", goro_errmsg());
  cr_assert_eq(close_inside, GORO_ESTATE);
  cr_assert_not_null(strstr(goro_errmsg(), "inside the runtime"), "%s", goro_errmsg());
  cr_assert_eq(goro_step(rt, 0.001), 0, "the runtime still runs");
  cr_assert_eq(goro_close(rt), 0);
  cr_assert_eq(goro_close(NULL), GORO_EINVAL);
  lua_close(L);
}

Test(host, goro_run_refuses_a_host_driven_runtime) {
  lua_State *L = new_state();
  goro_runtime *rt;
  dostring(L, "goro = require 'goro'");
  rt = goro_open(L);
  cr_assert_not_null(rt);
  cr_assert_neq(luaL_dostring(L, "goro.run(function() end)"), LUA_OK);
  cr_assert_not_null(strstr(lua_tostring(L, -1), "host drives"));
  lua_close(L);  /* closing the state with an open runtime is fine too */
}

/* ---- worker M's ------------------------------------------------------------- */

static const char *pipeline_script =
    "local goro = require 'goro'\n"
    "local ch = goro.chan()\n"
    "goro.go(function() goro.sleep(0.005); ch:send(7) end)\n"
    "goro.go(function() setflag(ch:recv()) end)\n";

Test(host, workers_run_ready_gs_while_the_host_does_not_step, .timeout = 30) {
  lua_State *L = new_state();
  goro_runtime *rt;
  atomic_store(&flag, 0);
  lua_register(L, "setflag", l_setflag);
  dostring(L, pipeline_script);
  rt = goro_open(L);
  cr_assert_not_null(rt);
  cr_assert(wait_flag(7, 20000), "the G's ran on a worker M");
  goro_close(rt);
  lua_close(L);
}

Test(host, with_no_workers_only_steps_run_gs, .timeout = 30) {
  lua_State *L = new_state();
  goro_runtime *rt;
  atomic_store(&flag, 0);
  lua_register(L, "setflag", l_setflag);
  dostring(L, "require('goro').config{workers = 0}");
  dostring(L, pipeline_script);
  rt = goro_open(L);
  cr_assert_not_null(rt);
  sleep_ms(50);
  cr_assert_eq(atomic_load(&flag), 0, "nothing ran without a step");
  for (int i = 0; i < 20000 && atomic_load(&flag) == 0; i++) {
    cr_assert_geq(goro_step(rt, 0.001), 0);
    sleep_ms(1);
  }
  cr_assert_eq(atomic_load(&flag), 7);
  goro_close(rt);
  lua_close(L);
}

Test(host, a_g_failing_on_a_worker_is_reported_by_the_next_step, .timeout = 30) {
  lua_State *L = new_state();
  goro_runtime *rt;
  int n = 0;
  atomic_store(&flag, 0);
  lua_register(L, "setflag", l_setflag);
  dostring(L, "local goro = require 'goro'\n"
              "goro.go(function() setflag(1); error('on a worker') end)\n");
  rt = goro_open(L);
  cr_assert(wait_flag(1, 20000));
  for (int i = 0; i < 1000 && (n = goro_step(rt, 0.001)) >= 0; i++) sleep_ms(1);
  cr_assert_eq(n, GORO_STEP_GFAILED, "step returned %d", n);
  cr_assert_not_null(strstr(goro_errmsg(), "on a worker"));
  cr_assert_geq(goro_step(rt, 0.001), 0, "reported once");
  goro_close(rt);
  lua_close(L);
}

Test(host, close_stops_a_worker_running_gs_that_never_block, .timeout = 20) {
  lua_State *L = new_state();
  goro_runtime *rt;
  dostring(L, "local goro = require 'goro'\n"
              "local a, b = goro.chan(), goro.chan()\n"
              "goro.go(function() while true do b:send(a:recv()) end end)\n"
              "goro.go(function() while true do a:send(1); b:recv() end end)\n");
  rt = goro_open(L);
  cr_assert_not_null(rt);
  sleep_ms(20);  /* a worker is busy with the pair now */
  goro_close(rt);  /* must not wait for them forever */
  lua_close(L);
}

/* ---- a G whose Lua thread cannot be made --------------------------------------
** A G made without arguments gets its thread at its first run (HACKING.md,
** "G states"); if the allocator refuses it then, the G ends with Lua's
** memory error, for g:wait() or, unwaited, for the run. */

static atomic_int refuse_threads;

static void *thread_refusing_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud;
  if (nsize == 0) {
    free(ptr);
    return NULL;
  }
  if (ptr == NULL && osize == LUA_TTHREAD && atomic_load(&refuse_threads)) return NULL;
  return realloc(ptr, nsize);
}

static int l_refuse_threads(lua_State *L) {
  atomic_store(&refuse_threads, lua_toboolean(L, 1));
  return 0;
}

Test(host, a_g_that_cannot_get_its_lua_thread_fails_with_the_memory_error,
     .timeout = 30) {
  lua_State *L = goro_test_prepare(lua_newstate(thread_refusing_alloc, NULL));
  int rc;
  cr_assert_not_null(L);
  lua_register(L, "refuse_threads", l_refuse_threads);
  /* g's error reaches g:wait() only if the main G waits before g ends: a
  ** preemption in between (10 ms of running, which the first pass through
  ** cold code takes under qemu-user) would run g first, unwaited, and its
  ** error would stop the run. A first go and wait warm that code up and
  ** start the main G's time slice afresh. */
  rc = luaL_dostring(L,
      "goro = require 'goro'\n"
      "return goro.run(function()\n"
      "  goro.config{reuse_threads = false}  -- (else g takes the first's)\n"
      "  goro.go(function() end):wait()\n"
      "  refuse_threads(true)\n"
      "  local g = goro.go(function() return 'ran' end)\n"
      "  local ok, err = g:wait()\n"
      "  refuse_threads(false)\n"
      "  local ok2, v = goro.go(function() return 'ran' end):wait()\n"
      "  return ok, err, g:status(), ok2, v\n"
      "end)\n");
  cr_assert_eq(rc, LUA_OK, "%s", lua_tostring(L, -1));
  cr_assert(!lua_toboolean(L, -5), "the G failed");
  cr_assert_str_eq(lua_tostring(L, -4), "not enough memory");
  cr_assert_str_eq(lua_tostring(L, -3), "dead");
  cr_assert(lua_toboolean(L, -2));
  cr_assert_str_eq(lua_tostring(L, -1), "ran", "the next G runs");
  lua_settop(L, 0);

  /* Unwaited, the failure ends the run, naming the G. */
  rc = luaL_dostring(L,
      "return goro.run(function()\n"
      "  refuse_threads(true)\n"
      "  goro.go(function() end)\n"
      "  goro.yield()\n"
      "  return 'not reached'\n"
      "end)\n");
  atomic_store(&refuse_threads, 0);
  cr_assert_neq(rc, LUA_OK);
  cr_assert(strstr(lua_tostring(L, -1), "not enough memory") != NULL, "%s",
            lua_tostring(L, -1));
  cr_assert(strstr(lua_tostring(L, -1), "goroutine ") != NULL, "%s", lua_tostring(L, -1));
  lua_close(L);
}
