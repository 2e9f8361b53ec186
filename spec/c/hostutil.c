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
