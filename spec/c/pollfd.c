/*
** spec/c/pollfd.c — a host that owns its event loop: it sleeps only in
** poll() on goro_pollfd(), for at most goro_timeout(), and runs G's with
** goro_step. G's wait on a pipe and on a timer; the host writes the pipe.
** The loop must not spin (the fd is readable only when there is work) and
** must not miss work (it ends).
*/
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "crit.h"
#include "hostutil.h"

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

/* ---- goro_close while host threads wait on I/O ------------------------------------ */

/* Host threads whose callbacks park on a conn's read and on a pipe (no
** data ever comes): goro_close must wake both, their goro_call must fail
** with a status instead of hanging, and once the host closes the state
** every fd goro opened is closed. */
struct io_call {
  const char *code;
  int status;
  char err[256];
};

static void *io_caller(void *arg) {
  struct io_call *c = arg;
  c->status = goro_call(rt, goro_test_run_chunk, (void *)c->code);
  snprintf(c->err, sizeof c->err, "%s", goro_errmsg());
  return NULL;
}

static int open_fds(void) {
  int n = 0;
  char path[64];
  for (int fd = 0; fd < 1024; fd++) {
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    if (access(path, F_OK) == 0) n++;
  }
  return n;
}

Test(pollfd, goro_close_wakes_host_threads_parked_on_io, .timeout = 60) {
  pthread_t t[2];
  int p[2], before;
  char pipe_wait[128];
  struct io_call io[2] = {
      {"local c = assert(goro.net.dial('tcp', addr)); in_read = 1; c:read()", -1, ""},
      {pipe_wait, -1, ""}};
  before = open_fds();
  cr_assert_eq(pipe(p), 0);
  snprintf(pipe_wait, sizeof pipe_wait, "in_wait = 1; goro.wait_readable(%d)", p[0]);
  open_state("goro.config{workers = 1}\n"
             "listener = assert(goro.net.listen('tcp', '127.0.0.1:0'))\n"
             "addr = listener:addr()\n"
             "goro.go(function() held = listener:accept() end)\n");
  for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, io_caller, &io[i]);
  for (int i = 0; i < 20000; i++) {
    if (lua_int("in_read") && lua_int("in_wait")) break;
    sleep_ms(1);
  }
  sleep_ms(20);  /* both callbacks park now */
  cr_assert_eq(goro_close(rt), 0, "%s", goro_errmsg());
  for (int i = 0; i < 2; i++) {
    pthread_join(t[i], NULL);
    cr_assert_eq(io[i].status, LUA_ERRRUN, "call %d: status %d", i, io[i].status);
    cr_assert(strstr(io[i].err, i == 0 ? "runtime closed while read was blocked"
                                       : "runtime closed while wait_readable was blocked"),
              "call %d: %s", i, io[i].err);
  }
  lua_close(L);
  close(p[0]);
  close(p[1]);
  cr_assert_eq(open_fds(), before, "every fd goro opened is closed: %d open, %d before", open_fds(), before);
}

/* A host call that leaves a G waiting on a pipe: the P must not stay
** parked on the host thread (nobody would poll), so a worker wakes the G
** when the pipe is written, though the host calls nothing meanwhile. */
static atomic_int pipe_read;

static int l_mark_read(lua_State *T) {
  (void)T;
  atomic_store(&pipe_read, 1);
  return 0;
}

static int register_mark(lua_State *T, void *ud) {
  (void)ud;
  lua_register(T, "mark_read", l_mark_read);
  return 0;
}

Test(pollfd, io_after_a_host_call_wakes_its_g_with_no_further_call, .timeout = 60) {
  int p[2];
  char code[192];
  cr_assert_eq(pipe(p), 0);
  open_state("goro.config{workers = 1}");
  cr_assert_eq(goro_call(rt, register_mark, NULL), LUA_OK, "%s", goro_errmsg());
  snprintf(code, sizeof code,
           "goro.go(function() assert(goro.wait_readable(%d)); tm.fd_read(%d); mark_read() end)",
           p[0], p[0]);
  cr_assert_eq(lua_do(code), LUA_OK, "%s", goro_errmsg());
  sleep_ms(50);  /* the G parks on the pipe, a worker polls */
  /* A call that takes the P from the poller and returns with nothing
  ** runnable and no timer: the P would stay parked on this thread. */
  cr_assert_eq(lua_do("x = 1"), LUA_OK, "%s", goro_errmsg());
  cr_assert_eq(write(p[1], "ping", 4), 4);
  /* (no goro_call from here on: a call would take the P and poll) */
  for (int i = 0; i < 5000 && !atomic_load(&pipe_read); i++) sleep_ms(1);
  cr_assert(atomic_load(&pipe_read), "the G never read the pipe: nobody polled");
  close_state();
  close(p[0]);
  close(p[1]);
}
