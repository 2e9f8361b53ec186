/*
** runtime/fatal.h — fatal internal errors and invariant checks.
**
** goroR_throw("func: what went wrong") prints `goro: fatal: ...` to stderr
** and aborts: it is for broken invariants, never for bad user input (that
** gets an error code and, in the bridge, a Lua error). goroR_assert checks an
** invariant in builds configured with -Dchecks=true (the test suite always
** is) and compiles to nothing otherwise.
**
** A layer above (the scheduler) may register a dumper that adds its state
** (every G) to the report; it runs once, after the message.
*/
#ifndef GORO_RUNTIME_FATAL_H
#define GORO_RUNTIME_FATAL_H

_Noreturn void goroR_throw(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), cold));

/* Called by goroR_throw after its message, to print more state to stderr. */
void goroR_fatal_set_dumper(void (*dump)(void));

#ifdef GORO_CHECKS
#define goroR_assert(cond)                                                  \
  ((cond) ? (void)0                                                       \
          : goroR_throw("%s: assertion failed: %s (%s:%d)", __func__, #cond, \
                       __FILE__, __LINE__))
#else
#define goroR_assert(cond) ((void)sizeof(cond)) /* not evaluated, but its
                                                    checkers count as used */
#endif

#endif
