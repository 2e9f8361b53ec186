/*
** spec/c/minicrit.c — a tiny runner for tests written against crit.h.
**
** Runs every registered test in a forked child (with an alarm for its
** timeout), checks how the child ended against what the test expects, and
** prints one line per test and Criterion's synthesis line at the end.
** Exit status: 0 when every test passed.
*/
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define GORO_MINICRIT 1
#include "crit.h"

static struct minicrit_test *head, **tail = &head;

void minicrit_register(struct minicrit_test *t) {
  *tail = t;
  tail = &t->next;
}

void minicrit_fail(const char *file, int line, const char *expr,
                   const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "%s:%d: assertion failed: %s", file, line, expr);
  if (fmt[0] != '\0') {
    fputs(": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
  }
  fputc('\n', stderr);
  fflush(stderr);
  _exit(1);
}

/* The exit status a skipped test's child ends with, and its name there. */
#define SKIPPED 77
static const char *current;

void minicrit_skip(const char *fmt, ...) {
  va_list ap;
  printf("[SKIP] %s: ", current);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
  fflush(stdout);
  _exit(SKIPPED);
}

int main(int argc, char **argv) {
  const char *filter = argc > 1 ? argv[1] : NULL;
  double scale = getenv("MINICRIT_TIMEOUT_SCALE")
                     ? atof(getenv("MINICRIT_TIMEOUT_SCALE")) : 1.0;
  int tested = 0, passed = 0, failed = 0, crashed = 0;

  for (struct minicrit_test *t = head; t != NULL; t = t->next) {
    char full[256];
    int st, ok;
    pid_t pid;
    snprintf(full, sizeof full, "%s::%s", t->suite, t->name);
    if (filter && !strstr(full, filter)) continue;
    tested++;
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid == 0) {
      double to = (t->timeout > 0 ? t->timeout : 60.0) * scale;
      alarm((unsigned)(to + 0.999));
      current = full;
      t->fn();
      fflush(stdout);
      _exit(0);
    }
    waitpid(pid, &st, 0);
    if (WIFEXITED(st) && WEXITSTATUS(st) == SKIPPED) {
      tested--;  /* (Criterion counts a skipped test out too) */
      continue;
    }
    if (t->signal)
      ok = WIFSIGNALED(st) && WTERMSIG(st) == t->signal;
    else
      ok = WIFEXITED(st) && WEXITSTATUS(st) == t->exit_code;
    if (ok) {
      passed++;
      printf("[PASS] %s\n", full);
    } else if (WIFSIGNALED(st)) {
      crashed++;
      printf("[FAIL] %s: killed by signal %d%s\n", full, WTERMSIG(st),
             WTERMSIG(st) == SIGALRM ? " (timeout)" : "");
    } else {
      failed++;
      printf("[FAIL] %s: exit status %d\n", full, WEXITSTATUS(st));
    }
  }
  printf("[====] Synthesis: Tested: %d | Passing: %d | Failing: %d | Crashing: %d\n",
         tested, passed, failed, crashed);
  return passed == tested ? 0 : 1;
}
