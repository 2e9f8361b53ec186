/*
** spec/c/lock.c — the lock order is data (runtime/lock.h), checked in
** -Dchecks builds: a lock taken out of order, an unlock of a lock not
** held, or a condition wait that would give up a lock from under another
** one aborts with `goro: fatal: lock order`. Each case runs in a child
** whose stderr the test reads.
*/
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../runtime/runtime.h"
#include "crit.h"

#ifndef GORO_CHECKS
#error "the lock-order checks exist only in -Dchecks builds"
#endif

/* Run fn in a child; its stderr in out; how it ended in *status. */
static void in_child(void (*fn)(void), char *out, size_t len, int *status) {
  int p[2];
  pid_t pid;
  size_t n = 0;
  ssize_t k;
  cr_assert_eq(pipe(p), 0);
  pid = fork();
  cr_assert_neq(pid, -1);
  if (pid == 0) {
    dup2(p[1], 2);
    close(p[0]);
    signal(SIGABRT, SIG_DFL);
    fn();
    _exit(0);
  }
  close(p[1]);
  while (n + 1 < len && (k = read(p[0], out + n, len - 1 - n)) > 0) n += (size_t)k;
  out[n] = '\0';
  close(p[0]);
  cr_assert_eq(waitpid(pid, status, 0), pid);
}

static void expect_abort(void (*fn)(void), const char *what) {
  char out[1024];
  int status;
  in_child(fn, out, sizeof out, &status);
  cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
            "the child should abort; it ended with status %#x, stderr:\n%s",
            status, out);
  cr_assert(strstr(out, "goro: fatal: lock order") != NULL, "stderr:\n%s", out);
  cr_assert(strstr(out, what) != NULL, "expected '%s' in:\n%s", what, out);
}

static struct goro_lock l_rt = GORO_LOCK_INIT(GORO_RANK_RT);
static struct goro_lock l_rt2 = GORO_LOCK_INIT(GORO_RANK_RT);
static struct goro_lock l_stacks = GORO_LOCK_INIT(GORO_RANK_STACKS);
static struct goro_lock l_prof = GORO_LOCK_INIT(GORO_RANK_PROF);

static void in_order(void) {
  goroR_lock(&l_rt);
  goroR_lock(&l_stacks);
  goroR_lock(&l_prof);
  goroR_unlock(&l_stacks);  /* unlocking out of order is fine */
  goroR_unlock(&l_rt);
  goroR_unlock(&l_prof);
  goroR_lock(&l_stacks);    /* and so is starting again lower down */
  goroR_unlock(&l_stacks);
}

Test(lock, locks_taken_in_rank_order_pass) {
  char out[1024];
  int status;
  in_child(in_order, out, sizeof out, &status);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x:\n%s",
            status, out);
}

static void backwards(void) {
  goroR_lock(&l_stacks);
  goroR_lock(&l_rt);
}

Test(lock, a_lock_taken_after_a_higher_rank_aborts) {
  expect_abort(backwards,
               "runtime lock (rank 2) taken while holding the stack pool lock");
}

static void same_rank(void) {
  goroR_lock(&l_rt);
  goroR_lock(&l_rt2);
}

Test(lock, two_locks_of_one_rank_abort) {
  expect_abort(same_rank, "taken while holding the runtime lock");
}

static void not_held(void) { goroR_unlock(&l_prof); }

Test(lock, unlocking_a_lock_not_held_aborts) {
  expect_abort(not_held, "unlock of a profiler lock this thread does not hold");
}

static void wait_under_another(void) {
  pthread_cond_t cv;
  goroR_cond_init(&cv);
  goroR_lock(&l_rt);
  goroR_lock(&l_stacks);
  goroR_cond_wait(&cv, &l_rt);  /* would give l_rt up under l_stacks */
}

Test(lock, a_wait_that_is_not_on_the_innermost_lock_aborts) {
  expect_abort(wait_under_another, "condition wait on a runtime lock");
}

/* The runtime's own lock is ranked: kicking a runtime's workers takes its
** lock, which must not come after the stack pool's. */
static struct goro_hooks no_hooks;

static void runtime_lock_under_stacks(void) {
  static struct goro_rt rt;
  if (goroR_rt_init(&rt, &no_hooks, NULL) != 0) _exit(3);
  goroR_lock(&l_stacks);
  goroR_rt_kick(&rt);
}

Test(lock, the_runtimes_own_lock_is_checked) {
  expect_abort(runtime_lock_under_stacks, "runtime lock (rank 2)");
}
