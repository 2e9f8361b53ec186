/*
** runtime/signals.h — what the runtime's signal handlers share (the
** overflow report on SIGSEGV/SIGBUS, preemption on SIGURG, the profiler on
** SIGPROF): installing a handler, passing a signal that is not ours to the
** action installed before, and reading the interrupted context.
*/
#ifndef GORO_RUNTIME_SIGNALS_H
#define GORO_RUNTIME_SIGNALS_H

#include <signal.h>
#include <stdint.h>

/* Install fn for sig (SA_SIGINFO | SA_ONSTACK | SA_RESTART), with `block`
** (0: none) blocked while it runs; the previous action goes to *old. */
void goroR_sig_install(int sig, void (*fn)(int, siginfo_t *, void *), int block,
                      struct sigaction *old);

/* Pass a signal on to *old, the action installed before ours. Returns 0
** without doing anything if that was SIG_DFL or SIG_IGN. Async-signal-safe. */
int goroR_sig_forward(const struct sigaction *old, int sig, siginfo_t *si, void *uc);

/* The interrupted program counter and stack pointer of a handler's
** ucontext. Async-signal-safe. */
uintptr_t goroR_uc_pc(const void *uc);
uintptr_t goroR_uc_sp(const void *uc);

#endif
