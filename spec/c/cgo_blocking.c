/*
** spec/c/cgo_blocking.c — host threads' callbacks that block on channels
** and sleep, with workers or a stepping host to run the other G's; a
** goro.run that ends while a host thread's nested callback waits; calls
** after goro_close.
**
** The Lua side uses goro_testmod (spec/c/testmod.c, linked into this
** binary) for cgo_callback: Lua -> C via goro_cgocall -> Lua via goro_call.
*/
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include "crit.h"
#include "hostutil.h"

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
    for (int i = 0; i < 20000 && atomic_load(&status) == -1; i++) {
      goro_step(rt, 0.001);
      sleep_ms(1);
    }
  }
  pthread_join(t, NULL);
  cr_assert_eq(atomic_load(&status), LUA_OK, "%s", goro_errmsg());
  cr_assert_eq(lua_int("answer"), 42);
  close_state();
}

Test(cgo, a_callback_blocks_and_resumes_with_workers, .timeout = 60) {
  blocking_callback_case(4);
}

Test(cgo, a_callback_blocks_and_resumes_with_the_host_stepping, .timeout = 60) {
  blocking_callback_case(0);
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
