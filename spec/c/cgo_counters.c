/*
** spec/c/cgo_counters.c — an M's counters across nested callbacks, mirroring
** Go's testprogcgo: callback_pprof's seed scenario (golang/go#72870: after
** a nested callback returns, the host thread is not "in C" until its outer
** call returns) and CallbackPanicLoop (an error thrown in a nested callback
** and caught outside it, 100,000 times).
**
** The Lua side uses goro_testmod (spec/c/testmod.c, linked into this
** binary and registered as package.preload) for cgo_callback: Lua -> C via
** goro_cgocall -> Lua via goro_call.
*/
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#include "../../arch/sanitize.h"
#include "crit.h"
#include "hostutil.h"

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

/* ---- CallbackPanicLoop ------------------------------------------------------------ */

/* The resident set, in KiB. */
static long rss_kb(void) {
  long size = 0, res = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f != NULL) {
    if (fscanf(f, "%ld %ld", &size, &res) != 2) res = 0;
    fclose(f);
  }
  return res * (sysconf(_SC_PAGESIZE) / 1024);
}

/* 100,000 as in Go's test, in every lane but valgrind's, where they would
** take a quarter of an hour: 3,000 there, past the 1,000 that warm up
** before the growth is measured. (Under TSan this needs the
** __longjmp_chk routing in arch/ctx.c: without it every Lua error left
** TSan's shadow stack and bookkeeping behind, ~150 KiB each.) */
static char panic_loop[1024];

static void *panic_loop_thread(void *arg) {
  *(int *)arg = lua_do(panic_loop);
  return NULL;
}

#define PANIC_LOOP_FMT \
      "local before = collectgarbage('count')\n" \
      "for i = 1, %d do\n" \
      "  local ok, err = pcall(tm.cgo_callback, function() error('boom') end)\n" \
      "  if ok or not err:find('boom', 1, true) then error('not caught: ' .. tostring(err)) end\n" \
      "  local m = goro.m()\n" \
      "  if m.ncgo ~= 0 or m.ncallback ~= 1 or m.is_extra_in_c then\n" \
      "    error(('counters off at %%d: %%d %%d'):format(i, m.ncgo, m.ncallback))\n" \
      "  end\n" \
      "  if i == 1000 then collectgarbage(); before = collectgarbage('count') end\n" \
      "end\n" \
      "collectgarbage()\n" \
      "growth_kb = math.floor(collectgarbage('count') - before)\n"

Test(cgo, an_error_in_f2_caught_in_f1_100000_times_leaks_nothing, .timeout = 300) {
  pthread_t t;
  int status;
  long rss0, rss1;
  snprintf(panic_loop, sizeof panic_loop, PANIC_LOOP_FMT,
           GORO_UNDER_VALGRIND(100000, 3000));
  open_state(NULL);
  rss0 = rss_kb();
  pthread_create(&t, NULL, panic_loop_thread, &status);
  pthread_join(t, NULL);
  rss1 = rss_kb();
  cr_assert_eq(status, LUA_OK, "%s", goro_errmsg());
  cr_assert_lt(lua_int("growth_kb"), 64, "Lua memory grew by %lld KiB",
               lua_int("growth_kb"));
#if !defined(GORO_ASAN) && !defined(GORO_TSAN)
  /* (valgrind's own memory is in the RSS too: memcheck checks leaks) */
  if (GORO_UNDER_VALGRIND(1, 0))
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
