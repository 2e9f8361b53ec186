/*
** spec/c/crit.h — the Criterion subset goro's C tests use.
**
** Natively the tests build against Criterion. Where Criterion is not
** available (the AArch64 cross lane under qemu-user) they build against
** minicrit.c instead, a small runner with the same surface: Test(suite, name,
** .timeout = s, .signal = SIG, .exit_code = n), cr_assert*, cr_fail,
** cr_skip_test (a skipped test is listed with its reason, not counted).
** Each test runs in its own forked process, as with Criterion.
** The runner prints Criterion's synthesis line, which the test command
** tallies.
*/
#ifndef GORO_SPEC_CRIT_H
#define GORO_SPEC_CRIT_H

#ifndef GORO_MINICRIT
#include <criterion/criterion.h>
#else
#include <stddef.h>
#include <string.h> /* cr_assert_str_eq */

struct minicrit_test {
  const char *suite, *name;
  void (*fn)(void);
  double timeout;     /* seconds; 0 = the runner's default */
  int signal;         /* the test passes only if killed by this signal */
  int exit_code;      /* the test passes only if it exits with this code */
  struct minicrit_test *next;
};

void minicrit_register(struct minicrit_test *t);
_Noreturn void minicrit_fail(const char *file, int line, const char *expr,
                             const char *fmt, ...);
_Noreturn void minicrit_skip(const char *fmt, ...);

#define Test(S, N, ...)                                                     \
  static void S##_##N##_fn(void);                                          \
  static struct minicrit_test S##_##N##_desc = {                           \
      .suite = #S, .name = #N, .fn = S##_##N##_fn, __VA_ARGS__};           \
  __attribute__((constructor)) static void S##_##N##_reg(void) {           \
    minicrit_register(&S##_##N##_desc);                                    \
  }                                                                        \
  static void S##_##N##_fn(void)

#define cr_assert(cond, ...)                                                \
  do {                                                                     \
    if (!(cond)) minicrit_fail(__FILE__, __LINE__, #cond, "" __VA_ARGS__); \
  } while (0)
#define cr_fail(...) minicrit_fail(__FILE__, __LINE__, "cr_fail", "" __VA_ARGS__)
#define cr_skip_test(...) minicrit_skip("" __VA_ARGS__)
#define cr_assert_eq(a, b, ...) cr_assert((a) == (b), __VA_ARGS__)
#define cr_assert_neq(a, b, ...) cr_assert((a) != (b), __VA_ARGS__)
#define cr_assert_lt(a, b, ...) cr_assert((a) < (b), __VA_ARGS__)
#define cr_assert_leq(a, b, ...) cr_assert((a) <= (b), __VA_ARGS__)
#define cr_assert_gt(a, b, ...) cr_assert((a) > (b), __VA_ARGS__)
#define cr_assert_geq(a, b, ...) cr_assert((a) >= (b), __VA_ARGS__)
#define cr_assert_null(p, ...) cr_assert((p) == NULL, __VA_ARGS__)
#define cr_assert_not_null(p, ...) cr_assert((p) != NULL, __VA_ARGS__)
#define cr_assert_str_eq(a, b, ...) cr_assert(strcmp((a), (b)) == 0, __VA_ARGS__)
#endif

/* Under valgrind (the valgrind lane) code runs 20 to 50 times slower and
** each stack mapping costs milliseconds of shadow memory. A test that
** repeats something only to be convincing natively, or that bounds a
** time, takes its valgrind figure there: GORO_UNDER_VALGRIND(native,
** under). The figure must still reach every path the native one does. */
#include "../../arch/sanitize.h"
#ifdef GORO_VALGRIND
#include <valgrind/valgrind.h>
#define GORO_UNDER_VALGRIND(native, under) \
  (RUNNING_ON_VALGRIND ? (under) : (native))
#else
#define GORO_UNDER_VALGRIND(native, under) (native)
#endif

#include <stdlib.h>

/* How many times longer than natively a test gives another thread, or a
** timer, to get somewhere before it checks: GORO_TEST_TIME_SCALE (1 when
** unset), which spec/meson.build sets for a lane whose threads are slow to
** start and run. */
static inline double goro_test_time_scale(void) {
  const char *s = getenv("GORO_TEST_TIME_SCALE");
  double v = s != NULL ? atof(s) : 1.0;
  return v >= 1.0 ? v : 1.0;
}

#endif
