/*
** arch/ctx.c — sanitizer-aware wrappers around the assembly primitives.
**
** Every stack switch in goro goes through this file, so that AddressSanitizer
** (and ThreadSanitizer where used) always know which stack a thread runs on:
** __sanitizer_start_switch_fiber right before the switch, and
** __sanitizer_finish_switch_fiber as the first thing on the new stack. In
** plain builds those compile to nothing. Valgrind's client requests stay
** (they do nothing outside valgrind): memcheck knows the G stacks
** (runtime/stack.c registers them), and goroA_ctx_call tells it about the
** bytes goroA_call writes below the target's sp.
**
** The per-thread crossing record lives here too; it is the one piece of
** thread-local state arch/ owns, read by the stack-overflow handler and the
** runtime's C <-> Lua bookkeeping.
*/
#include "ctx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sanitize.h"

#ifdef GORO_ASAN
#include <sanitizer/common_interface_defs.h>
#define asan_start(save, lo, size) __sanitizer_start_switch_fiber((save), (lo), (size))
#define asan_finish(save, lo, size) \
  __sanitizer_finish_switch_fiber((save), (const void **)(lo), (size))
#else
#define asan_start(save, lo, size) ((void)(save), (void)(lo), (void)(size))
#define asan_finish(save, lo, size) ((void)(save), (void)(lo), (void)(size))
#endif

#ifdef GORO_TSAN
#include <sanitizer/tsan_interface.h>
#include <setjmp.h>

/* Debian's liblua is built with _FORTIFY_SOURCE: its errors and its yields
** from C functions (every stackless park) longjmp through __longjmp_chk,
** which libtsan does not intercept, so TSan never unwound its shadow stack
** for them (two frames leaked per park, ~150 KiB per error). A program
** linked with this build defines __longjmp_chk itself, ahead of glibc's,
** and routes it through longjmp, which TSan intercepts. The fortify check
** it skips (no jump into a deeper frame) is one Lua never needs. */
__attribute__((visibility("default"), noreturn)) void __longjmp_chk(
    struct __jmp_buf_tag *env, int val) {
  longjmp(env, val);
}
#endif

/* Tell memcheck that n bytes at p may be written (their contents unknown). */
#ifdef GORO_VALGRIND
#include <valgrind/memcheck.h>
#define vg_undefined(p, n) ((void)VALGRIND_MAKE_MEM_UNDEFINED((p), (n)))
#else
#define vg_undefined(p, n) ((void)(p), (void)(n))
#endif

static __thread struct goro_xrec xrec __attribute__((tls_model("initial-exec")));

__attribute__((noinline, noipa)) struct goro_xrec *goroA_xrec_self(void) {
  return &xrec;
}

/* Learn the bounds of a thread's own stack from the sanitizer, which reports
** the stack that was left when a switch finishes. */
static void learn_bounds(goro_ctx *from, const void *lo, size_t size) {
  if (from->stack.lo == NULL && lo != NULL) {
    from->stack.lo = (void *)lo;
    from->stack.size = size;
  }
}

/* Runs first on a fresh stack (called by goroA_start) with the word the
** first switch to it passed; who switched is in the thread's record. */
static void ctx_entry(void *arg, void *data) {
  goro_ctx *from = goroA_xrec_self()->from;
  const void *lo = NULL;
  size_t size = 0;
  asan_finish(NULL, &lo, &size);
  learn_bounds(from, lo, size);
  ((goro_ctx_fn)data)(from, arg);
  fputs("goro: fatal: goroA_ctx_make: context function returned\n", stderr);
  abort();
}

uint64_t goroA_fpctl_get(void) {
#if defined(__x86_64__)
  uint32_t mxcsr;
  uint16_t cw;
  __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
  __asm__ volatile("fnstcw %0" : "=m"(cw));
  return (uint64_t)mxcsr | ((uint64_t)cw << 32);
#else
  uint64_t fpcr;
  __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
  return fpcr;
#endif
}

void goroA_ctx_make(goro_ctx *c, const struct goro_stackdesc *stack,
                   goro_ctx_fn fn) {
  uintptr_t hi = ((uintptr_t)stack->lo + stack->size) & ~(uintptr_t)15;
  struct goro_arch_frame *f;
  uint64_t fpctl = goroA_fpctl_get();

  /* 16 zero bytes at the very top: a null return address above the entry. */
  memset((void *)(hi - 16), 0, 16);
  f = (struct goro_arch_frame *)(hi - 16 - sizeof *f);
  memset(f, 0, sizeof *f);
#if defined(__x86_64__)
  f->mxcsr = (uint32_t)fpctl & 0xffc0;  /* control bits only, no sticky flags */
  f->x87cw = (uint16_t)(fpctl >> 32);
  f->r12 = (uint64_t)(uintptr_t)ctx_entry;
  f->r13 = (uint64_t)(uintptr_t)fn;
#else
  f->fpcr = fpctl;
  f->x[0] = (uint64_t)(uintptr_t)ctx_entry;
  f->x[1] = (uint64_t)(uintptr_t)fn;
#endif
  f->pc = (uint64_t)(uintptr_t)goroA_start;
  c->sp = f;
  c->stack = *stack;
  c->asan_fake = NULL;
#ifdef GORO_TSAN
  c->tsan_fiber = __tsan_create_fiber(0);
  c->own_fiber = 1;
#else
  c->tsan_fiber = NULL;
  c->own_fiber = 0;
#endif
}

void goroA_ctx_init_thread(goro_ctx *c) {
  memset(c, 0, sizeof *c);
#ifdef GORO_TSAN
  c->tsan_fiber = __tsan_get_current_fiber();
#endif
}

void goroA_ctx_destroy(goro_ctx *c) {
#ifdef GORO_TSAN
  if (c->tsan_fiber != NULL && c->own_fiber) __tsan_destroy_fiber(c->tsan_fiber);
#endif
  c->tsan_fiber = NULL;
  c->own_fiber = 0;
  c->sp = NULL;
}

/*
** The crossing record names the stack a thread runs on. A switch moves the
** thread to `to`'s stack, so the record follows before the stack pointer
** moves (the same ordering goroA_call keeps).
**
** The word passed goes across as it is, and who switched goes in the
** thread's record (read by a fresh context's entry, and after the jump by
** the sanitizers' bookkeeping), so that without sanitizers nothing is left
** to do after the jump and the compiler makes it a tail call: the context
** resumed later returns straight to its caller, one return fewer on the
** other side of every switch, and so one mispredicted return fewer (see
** jump_x86_64_sysv_elf_gas.S; bench/switch).
*/
void *goroA_ctx_switch(goro_ctx *from, goro_ctx *to, void *arg) {
  xrec.stack = &to->stack;  /* direct TLS is fine before the jump, not after */
  xrec.from = from;
  asan_start(&from->asan_fake, to->stack.lo, to->stack.size);
#ifdef GORO_TSAN
  __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
#ifdef GORO_ASAN
  {
    const void *lo = NULL;
    size_t size = 0;
    void *in = goroA_jump(&from->sp, to->sp, arg);
    asan_finish(from->asan_fake, &lo, &size);
    learn_bounds(goroA_xrec_self()->from, lo, size);
    return in;
  }
#else
  return goroA_jump(&from->sp, to->sp, arg);
#endif
}

void goroA_ctx_exit(goro_ctx *from, goro_ctx *to, void *arg) {
  void *dead;

  xrec.stack = &to->stack;
  xrec.from = from;
  asan_start(NULL, to->stack.lo, to->stack.size);
#ifdef GORO_TSAN
  __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
  goroA_jump(&dead, to->sp, arg);
  abort();  /* nobody holds `dead`: unreachable */
}

/* What goroA_ctx_call hands to the thunk on the other stack. */
struct callframe {
  void *(*fn)(void *);
  void *arg;
  const void *from_lo;
  size_t from_size;
};

static void *call_thunk(void *p) {
  struct callframe *c = p;
  void *r;
  asan_finish(NULL, &c->from_lo, &c->from_size);
  r = c->fn(c->arg);
  /* The frames made on this stack are all gone when we return, so its fake
  ** stack (use-after-return mode) can be dropped: pass NULL. */
  asan_start(NULL, c->from_lo, c->from_size);
  return r;
}

void goroA_ctx_init_stack(goro_ctx *c, const struct goro_stackdesc *stack) {
  memset(c, 0, sizeof *c);
  c->stack = *stack;
#ifdef GORO_TSAN
  c->tsan_fiber = __tsan_create_fiber(0);
  c->own_fiber = 1;
#endif
}

/*
** ThreadSanitizer sees each stack as a fiber, crossings included: without
** that, a Lua error (longjmp) unwinding on the other stack confuses its
** per-thread shadow stack and it grows without bound.
*/
void *goroA_ctx_call(void *sp, goro_ctx *to, void *(*fn)(void *), void *arg) {
  struct callframe c = {fn, arg, NULL, 0};
  void *fake = NULL, *r;
#ifdef GORO_TSAN
  void *here = __tsan_get_current_fiber();
  __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
  (void)fake;
  /* goroA_call writes the crossing record below sp (aligned), and its call
  ** pushes the return address below that, before memcheck sees a push on
  ** that stack: frames that died there earlier are inaccessible to it, and
  ** a switch does not change that. */
  vg_undefined((char *)((uintptr_t)sp & ~(uintptr_t)15) - GORO_XFRAME_SIZE - 16,
               GORO_XFRAME_SIZE + 16);
  asan_start(&fake, to->stack.lo, to->stack.size);
  r = goroA_call(goroA_xrec_self(), sp, call_thunk, &c, &to->stack);
  asan_finish(fake, NULL, NULL);
#ifdef GORO_TSAN
  __tsan_switch_to_fiber(here, 0);
#endif
  return r;
}
