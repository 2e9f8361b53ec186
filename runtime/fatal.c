/*
** runtime/fatal.c — goroR_throw: the one way the runtime dies.
*/
#include "fatal.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static void (*_Atomic dumper)(void);

void goroR_fatal_set_dumper(void (*dump)(void)) {
  atomic_store(&dumper, dump);
}

void goroR_throw(const char *fmt, ...) {
  static atomic_int throwing;
  void (*dump)(void);
  va_list ap;

  fputs("goro: fatal: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  /* A second throw while dumping means the dump itself is broken: skip it. */
  dump = atomic_load(&dumper);
  if (dump != NULL && atomic_fetch_add(&throwing, 1) == 0) dump();
  fflush(stderr);
  abort();
}
