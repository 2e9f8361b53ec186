/*
** runtime/signals.c — see signals.h.
*/
#include "signals.h"

#include <string.h>
#include <ucontext.h>

void goroR_sig_install(int sig, void (*fn)(int, siginfo_t *, void *), int block,
                      struct sigaction *old) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = fn;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  if (block != 0) sigaddset(&sa.sa_mask, block);
  sigaction(sig, &sa, old);
}

int goroR_sig_forward(const struct sigaction *old, int sig, siginfo_t *si, void *uc) {
  if (old->sa_flags & SA_SIGINFO) {
    old->sa_sigaction(sig, si, uc);
    return 1;
  }
  if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
    old->sa_handler(sig);
    return 1;
  }
  return 0;
}

uintptr_t goroR_uc_pc(const void *uc) {
  const ucontext_t *u = uc;
#if defined(__x86_64__)
  return (uintptr_t)u->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
  return (uintptr_t)u->uc_mcontext.pc;
#else
#error "goro: no PC in ucontext for this CPU"
#endif
}

uintptr_t goroR_uc_sp(const void *uc) {
  const ucontext_t *u = uc;
#if defined(__x86_64__)
  return (uintptr_t)u->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
  return (uintptr_t)u->uc_mcontext.sp;
#else
#error "goro: no SP in ucontext for this CPU"
#endif
}
