/*
** spec/c/exits.c — host threads that end inside goro. Go does not support
** a thread that exits or is cancelled inside a cgo call or callback; goro
** must at least not wedge silently: a cancellation waits until the thread
** is out of goro (cancellation is disabled inside goro_call), and a thread
** that exits inside anyway is a fatal error that says what it held.
*/
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../arch/sanitize.h"
#include "crit.h"
#include "luastate.h"

static lua_State *L;
static goro_runtime *rt;
static atomic_int inside;

static int l_inside(lua_State *T) {
  (void)T;
  atomic_store(&inside, 1);
  return 0;
}

static void open_runtime(void) {
  L = goro_test_state_tm();
  cr_assert_not_null(L);
  lua_register(L, "now_inside", l_inside);
  cr_assert_eq(luaL_dostring(L, "ch = goro.chan()"), LUA_OK);
  rt = goro_open(L);
  cr_assert_not_null(rt, "%s", goro_errmsg());
  atomic_store(&inside, 0);
}

static void wait_inside(void) {
  while (!atomic_load(&inside)) {
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
}

/* The thread runs `code` in a callback, then meets a cancellation point. */
static void *host_thread(void *code) {
  int rc = goro_call(rt, goro_test_run_chunk, code);
  if (rc != LUA_OK) fprintf(stderr, "goro_call: %s\n", goro_errmsg());
  pthread_testcancel();
  return (void *)(intptr_t)rc;
}

static void cancel_inside(const char *code, const char *release) {
  pthread_t t;
  void *res;
  struct timespec ts = {0, 50 * 1000000};
  open_runtime();
  cr_assert_eq(pthread_create(&t, NULL, host_thread, (void *)code), 0);
  wait_inside();
  cr_assert_eq(pthread_cancel(t), 0);
  nanosleep(&ts, NULL);  /* had it been cancellable, it would be gone now */
  if (release != NULL)
    cr_assert_eq(goro_call(rt, goro_test_run_chunk, (void *)release), LUA_OK,
                 "%s", goro_errmsg());
  cr_assert_eq(pthread_join(t, &res), 0);
  cr_assert_eq(res, PTHREAD_CANCELED, "cancelled once out of goro_call");
  cr_assert_eq(goro_close(rt), 0, "the runtime closes: nothing was left held");
  lua_close(L);
}

Test(exits, a_host_thread_cancelled_while_its_callback_waits, .timeout = 60) {
  cancel_inside("now_inside(); ch:recv()", "ch:send(1)");
}

Test(exits, a_host_thread_cancelled_while_in_c_through_cgocall, .timeout = 60) {
  cancel_inside("now_inside(); tm.cgo_sleep(0.2)", NULL);
}

/* pthread_exit from C a callback called: fatal, naming the thread's M. */
static int exit_now(lua_State *T) {
  (void)T;
  pthread_exit(NULL);
  return 0;
}

static void *exiting_thread(void *unused) {
  (void)unused;
  goro_call(rt, goro_test_run_chunk, "exit_now()");
  return NULL;
}

Test(exits, a_host_thread_that_exits_inside_a_callback_is_fatal, .timeout = 60) {
  int p[2], status;
  char out[2048];
  size_t n = 0;
  ssize_t k;
  pid_t pid;
#ifdef GORO_TSAN  /* (every other lane runs it) */
  cr_skip_test("TSan cannot follow a thread that exits from a fiber's stack "
               "(it fails its own CHECK in pthread_exit)");
#endif
  cr_assert_eq(pipe(p), 0);
  pid = fork();
  cr_assert_neq(pid, -1);
  if (pid == 0) {  /* the child makes its runtime and its thread itself */
    pthread_t t;
    dup2(p[1], 2);
    signal(SIGABRT, SIG_DFL);
    open_runtime();
    lua_register(L, "exit_now", exit_now);
    pthread_create(&t, NULL, exiting_thread, NULL);
    pthread_join(t, NULL);
    _exit(0);  /* not reached: the thread's end is fatal */
  }
  close(p[1]);
  while (n + 1 < sizeof out && (k = read(p[0], out + n, sizeof out - 1 - n)) > 0)
    n += (size_t)k;
  out[n] = '\0';
  close(p[0]);
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
            "status %#x, stderr:\n%s", status, out);
  cr_assert(strstr(out, "goro: fatal: thread") != NULL &&
            strstr(out, "exited while it was M") != NULL &&
            strstr(out, "an extra M, holding the P") != NULL, "stderr:\n%s", out);
}
