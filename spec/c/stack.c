/*
** spec/c/stack.c — the G stack pool and the guard-page report.
*/
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../arch/ctx.h"
#include "../../runtime/errors.h"
#include "../../runtime/stack.h"
#include "crit.h"

Test(stack, ten_thousand_stacks_come_and_go_with_counts_back_at_start,
     .timeout = 120) {
  enum { N_MAX = 10000 };
  /* Under valgrind 1,100: still past both pool tiers (16 hot, 1024 cold),
  ** so some stacks are unmapped; 10,000 would take ten minutes there. */
  const int N = GORO_UNDER_VALGRIND(N_MAX, 1100);
  static struct goro_stack *st[N_MAX];
  struct goro_stack_stats s0, s1, s2;

  goroR_stack_trim();
  goroR_stack_get_stats(&s0);
  for (int i = 0; i < N; i++) {
    st[i] = goroR_stack_get();
    cr_assert_not_null(st[i]);
    /* touch the top and bottom page: the memory is really usable */
    ((volatile char *)st[i]->desc.lo)[0] = 1;
    ((volatile char *)st[i]->desc.lo)[st[i]->desc.size - 1] = 1;
  }
  goroR_stack_get_stats(&s1);
  cr_assert_eq(s1.live, s0.live + N);
  cr_assert_geq(s1.reserved_bytes,
                s0.reserved_bytes + (uint64_t)N * goroR_stack_size());
  for (int i = 0; i < N; i++) goroR_stack_put(st[i]);
  goroR_stack_get_stats(&s2);
  cr_assert_eq(s2.live, s0.live, "every stack was returned");
  cr_assert_leq(s2.pooled, 16u + 1024u, "the pool keeps a bounded number");
  goroR_stack_trim();
  goroR_stack_get_stats(&s2);
  cr_assert_eq(s2.pooled, 0u);
  cr_assert_eq(s2.reserved_bytes, s0.reserved_bytes, "no mapping is leaked");
}

Test(stack, pool_reuses_hot_stacks_and_releases_cold_ones) {
  struct goro_stack *a, *b, *c;
  struct goro_stack_stats s;
  cr_assert_eq(goroR_stack_configure(GORO_STACK_DEFAULT, 1, 1), 0);
  goroR_stack_trim();
  a = goroR_stack_get();
  b = goroR_stack_get();
  c = goroR_stack_get();
  goroR_stack_put(a);  /* hot */
  goroR_stack_put(b);  /* cold: pages released */
  goroR_stack_put(c);  /* over both tiers: unmapped */
  goroR_stack_get_stats(&s);
  cr_assert_eq(s.pooled, 2u);
  cr_assert_eq(s.pooled_hot, 1u);
  cr_assert_eq(s.released, 1u);
  cr_assert_eq(goroR_stack_get(), a, "the hot stack is reused first");
  cr_assert_eq(goroR_stack_get(), b, "then the cold one");
  goroR_stack_put(a);
  goroR_stack_put(b);
}

Test(stack, configure_rejects_stacks_below_the_minimum) {
  cr_assert_eq(goroR_stack_configure(GORO_STACK_MIN - 4096, 16, 16),
               GORO_EINVAL);
  cr_assert_eq(goroR_stack_configure(GORO_STACK_MIN, 16, 16), 0);
  cr_assert_eq(goroR_stack_size(), (size_t)GORO_STACK_MIN);
  cr_assert_eq(goroR_stack_configure(GORO_STACK_MIN + 1, 16, 16), 0);
  cr_assert_eq(goroR_stack_size() % 4096, 0u, "rounded up to pages");
}

/* ---- the guard page ------------------------------------------------------- */

static goro_ctx main_ctx, ov_ctx;

static volatile int forever = 1;

static __attribute__((noinline)) int recurse(int n) {
  volatile char frame[512];
  frame[0] = (char)n;
  if (!forever) return frame[0];
  return recurse(n + 1) + frame[0];
}

static void ov_entry(goro_ctx *from, void *arg) {
  (void)from;
  (void)arg;
  recurse(0);
}

/* Runs the overflow in a child and returns its stderr and wait status. */
static int overflow_child(char *out, size_t cap) {
  int fd[2], st;
  ssize_t n, got = 0;
  pid_t pid;
  cr_assert_eq(pipe(fd), 0);
  pid = fork();
  if (pid == 0) {
    struct goro_stack *s;
    dup2(fd[1], 2);
    goroR_stack_thread_init();
    s = goroR_stack_get();
    goroA_ctx_init_thread(&main_ctx);
    goroA_ctx_make(&ov_ctx, &s->desc, ov_entry);
    goroA_ctx_switch(&main_ctx, &ov_ctx, NULL);
    _exit(0);  /* not reached */
  }
  close(fd[1]);
  while ((n = read(fd[0], out + got, cap - 1 - (size_t)got)) > 0) got += n;
  out[got] = '\0';
  close(fd[0]);
  waitpid(pid, &st, 0);
  return st;
}

Test(stack, overflow_into_the_guard_page_is_reported_then_aborts) {
  char err[4096];
  int st = overflow_child(err, sizeof err);
  const char *m = strstr(err, "goro: fatal: stack overflow on stack ");
  cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT,
            "the child must abort, not die silently (status %#x)", st);
  cr_assert_not_null(m, "message missing; stderr was: %s", err);
  cr_assert_not_null(strstr(m, " sp=0x"));
  cr_assert_not_null(strstr(m, " stack=[0x"));
}
