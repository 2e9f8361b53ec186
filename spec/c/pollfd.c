/*
** spec/c/pollfd.c — a host that owns its event loop: it sleeps only in
** poll() on goro_pollfd(), for at most goro_timeout(), and runs G's with
** goro_step. G's wait on a pipe and on a timer; the host writes the pipe.
** The loop must not spin (the fd is readable only when there is work) and
** must not miss work (it ends).
*/
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "crit.h"
#include "luastate.h"

static int flag(goro_runtime *rt, const char *name);

static int read_flag(lua_State *T, void *ud) {
  const char **name = ud;
  lua_getglobal(T, name[0]);
  name[1] = lua_toboolean(T, -1) ? "1" : NULL;
  return 0;
}

static int flag(goro_runtime *rt, const char *name) {
  const char *io[2] = {name, NULL};
  cr_assert_eq(goro_call(rt, read_flag, io), LUA_OK, "%s", goro_errmsg());
  return io[1] != NULL;
}

/* The loop: with_timeout, poll for at most goro_timeout(); else only the
** fd may wake it (a due timer must make it readable by itself). */
static void host_loop(int with_timeout) {
  lua_State *L = goro_test_state_tm();
  goro_runtime *rt;
  int p[2], pfd, iterations = 0, wrote = 0;
  char script[512];
  cr_assert_not_null(L);
  cr_assert_eq(pipe(p), 0);
  snprintf(script, sizeof script,
           "goro.config{workers = 0}\n"  /* G's run only in goro_step */
           "goro.go(function() assert(goro.wait_readable(%d)); got = tm.fd_read(%d) end)\n"
           "goro.go(function() goro.sleep(0.05); slept = true end)\n",
           p[0], p[0]);
  cr_assert_eq(luaL_dostring(L, script), LUA_OK, "%s", lua_tostring(L, -1));
  rt = goro_open(L);
  cr_assert_not_null(rt);
  pfd = goro_pollfd(rt);
  cr_assert_geq(pfd, 0, "%s", goro_errmsg());
  cr_assert_eq(goro_pollfd(rt), pfd, "the same fd every time");
  while (!(flag(rt, "got") && flag(rt, "slept"))) {
    double t = goro_timeout(rt);
    struct pollfd q = {pfd, POLLIN, 0};
    int ms = !with_timeout || t < 0 ? -1 : (int)(t * 1e3) + 1;
    cr_assert_lt(++iterations, 100, "the loop spins: %d iterations", iterations);
    cr_assert_geq(poll(&q, 1, ms), 0);
    cr_assert_geq(goro_step(rt, 0.01), 0, "%s", goro_errmsg());
    if (!wrote) {  /* the first G waits on the pipe now */
      cr_assert_eq(write(p[1], "ping", 4), 4);
      wrote = 1;
    }
  }
  cr_assert_eq(goro_call(rt, goro_test_run_chunk, "assert(got == 'ping')"), LUA_OK,
               "the G read what the host wrote: %s", goro_errmsg());
  cr_assert_eq(goro_close(rt), 0);
  lua_close(L);
  close(p[0]);
  close(p[1]);
}

Test(pollfd, a_host_loop_sleeps_in_poll_for_at_most_goro_timeout, .timeout = 60) {
  host_loop(1);
}

Test(pollfd, the_fd_alone_wakes_a_host_loop_for_io_and_due_timers, .timeout = 60) {
  host_loop(0);  /* (a timer that did not make the fd readable: a hang) */
}
