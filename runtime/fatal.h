/*
** runtime/fatal.h — fatal internal errors and invariant checks.
**
** goro_throw("func: what went wrong") prints `goro: fatal: ...` to stderr
** and aborts: it is for broken invariants, never for bad user input (that
** gets an error code and, in the bridge, a Lua error). goro_assert checks an
** invariant in builds configured with -Dchecks=true (the test suite always
** is) and compiles to nothing otherwise.
**
** A layer above (the scheduler) may register a dumper that adds its state
** (every G) to the report; it runs once, after the message.
*/
#ifndef GORO_RUNTIME_FATAL_H
#define GORO_RUNTIME_FATAL_H

_Noreturn void goro_throw(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), cold));

/* Called by goro_throw after its message, to print more state to stderr. */
void goro_fatal_set_dumper(void (*dump)(void));

#ifdef GORO_CHECKS
#define goro_assert(cond)                                                  \
  ((cond) ? (void)0                                                       \
          : goro_throw("%s: assertion failed: %s (%s:%d)", __func__, #cond, \
                       __FILE__, __LINE__))
#else
#define goro_assert(cond) ((void)0)
#endif

#endif
