/*
** spec/c/hostutil.c — see hostutil.h.
*/
#include <time.h>

#include "crit.h"
#include "hostutil.h"

lua_State *L;
goro_runtime *rt;

void open_state(const char *setup) {
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

void close_state(void) {
  goro_close(rt);
  lua_close(L);
}

int lua_do(const char *code) { return goro_call(rt, goro_test_run_chunk, (void *)code); }

/* goro_call body: read the integer global named ud into `got`. */
static long long got;
static int read_int(lua_State *T, void *ud) {
  lua_getglobal(T, ud);
  got = lua_tointeger(T, -1);
  return 0;
}

long long lua_int(const char *global) {
  got = -12345;
  cr_assert_eq(goro_call(rt, read_int, (void *)global), LUA_OK, "%s", goro_errmsg());
  return got;
}

void sleep_ms(double ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms * 1e6) % 1000000000L};
  nanosleep(&ts, NULL);
}

void warm_up_steps(void) {
  if (goro_test_time_scale() <= 1) return;
  open_state("goro.config{workers = 0}\n"
             "local r, w = tm.pipe(true)\n"
             "tm.fd_write(w, 'x')\n"
             "goro.go(function()\n"
             "  goro.config{workers = 2}\n"
             "  tm.cgo_read(r)\n"
             "  tm.cgo_callback(function(a, b) return goro.m().ncgo, tm.tid(), a + b end, 1, 2)\n"
             "  tm.c_busy(0.001)\n"
             "  tm.fd_close(r); tm.fd_close(w)\n"
             "  warm = 1\n"
             "end)\n");
  /* Until it is done, or a minute (scaled) went by: a count of steps ran
  ** out in 7 s once, steps coming back at once while the G was on a
  ** worker, its C translated for the first time. */
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  double end = (double)ts.tv_sec + 60 * goro_test_time_scale();
  while (lua_int("warm") != 1 && (clock_gettime(CLOCK_MONOTONIC, &ts), (double)ts.tv_sec < end)) {
    int rc = goro_step(rt, 0.1);
    cr_assert_geq(rc, 0, "%s", goro_errmsg());
    if (rc == 0) sleep_ms(1);  /* nothing runnable here: the G is on a worker */
  }
  cr_assert_eq(lua_int("warm"), 1, "the warm-up G never ended");
  close_state();
}
