/*
** arch/ctx.h — the C view of goro's stack switching.
**
** Three primitives, written in assembly once per CPU (x86-64 SysV and AArch64
** AAPCS, files named <op>_<arch>_<abi>_elf_gas.S, kept parallel):
**
**   jump   goroA_jump: save the callee-saved state of the running context
**          on its own stack, store that stack pointer, load another one and
**          restore its state. The one word `arg` travels across the switch.
**   start  goroA_start: the first "return address" of a fresh context.
**          It calls entry(arg, data) and marks the end of the unwind chain.
**   call   goroA_call: call fn(arg) on another stack and come back,
**          pushing a crossing record (goro_xframe) that the runtime can read:
**          which stack the thread is on and how deep the crossings go. This is
**          the shape of Go's asmcgocall (G stack -> system stack) and
**          cgocallback (system stack -> G stack).
**
** Everything in this header that is not inside `#ifndef __ASSEMBLER__` is
** shared with the .S files, so the offsets used by the assembly and the
** structs used by C are the same numbers; the _Static_asserts below fail the
** build if they ever drift apart.
**
** FP control policy: the floating-point *control* state is part of a context.
** x86-64 saves MXCSR and the x87 control word, AArch64 saves FPCR, on every
** jump. A context that changes its rounding mode keeps it, and does not leak
** it into the scheduler or other G's. A fresh context starts with the control
** state of the thread that made it (goroA_ctx_make reads it). The FP status
** flags (MXCSR exception bits, FPSR) are not preserved: they are sticky
** scratch state, caller-saved by the ABI.
*/
#ifndef GORO_ARCH_CTX_H
#define GORO_ARCH_CTX_H

/* ---- frame saved by goroA_jump, at the saved stack pointer ---------- */
#if defined(__x86_64__)
#define GORO_FRAME_FPCTL   0x00  /* MXCSR (4 bytes) then x87 CW (2 bytes)   */
#define GORO_FRAME_R12     0x08
#define GORO_FRAME_R13     0x10  /* fresh context: `data` for the entry     */
#define GORO_FRAME_R14     0x18
#define GORO_FRAME_R15     0x20
#define GORO_FRAME_RBX     0x28
#define GORO_FRAME_RBP     0x30
#define GORO_FRAME_PC      0x38  /* return address                          */
#define GORO_FRAME_SIZE    0x40
#define GORO_FRAME_ENTRY   GORO_FRAME_R12  /* fresh context: entry function */
#define GORO_FRAME_DATA    GORO_FRAME_R13
#elif defined(__aarch64__)
#define GORO_FRAME_D8      0x00  /* d8..d15 in pairs                        */
#define GORO_FRAME_X19     0x40  /* x19..x28 in pairs                       */
#define GORO_FRAME_X29     0x90  /* frame pointer                           */
#define GORO_FRAME_PC      0x98  /* x30, the link register                  */
#define GORO_FRAME_FPCTL   0xa0  /* FPCR                                    */
#define GORO_FRAME_SIZE    0xb0
#define GORO_FRAME_ENTRY   GORO_FRAME_X19  /* fresh context: entry function */
#define GORO_FRAME_DATA    (GORO_FRAME_X19 + 8)  /* x20: `data`             */
#else
#error "goro: unsupported CPU (arch/ supports x86-64 and AArch64)"
#endif

/* ---- crossing record kept by goroA_call -------------------------------*/
#define GORO_XFRAME_PREV   0x00  /* the crossing below (LIFO)               */
#define GORO_XFRAME_SP     0x08  /* stack pointer to return to              */
#define GORO_XFRAME_STACK  0x10  /* rec->stack before this crossing         */
#define GORO_XFRAME_SIZE   0x20  /* 16-byte aligned                         */

#define GORO_XREC_TOP      0x00  /* innermost crossing, or 0                */
#define GORO_XREC_DEPTH    0x08  /* number of live crossings                */
#define GORO_XREC_STACK    0x10  /* descriptor of the stack the thread is on*/

#ifndef __ASSEMBLER__
#include <stddef.h>
#include <stdint.h>

/*
** The bounds of one stack. A thread's own stack starts with lo == NULL and
** size == 0 (unknown); sanitizer builds learn them on the first switch away.
*/
struct goro_stackdesc {
  void *lo;                 /* lowest usable byte, just above any guard page */
  size_t size;              /* usable bytes: [lo, lo + size) */
  uint64_t id;              /* stable number for messages; 0 = a thread's own */
};

/*
** A suspended or running context. `sp` is meaningful only while the context
** is suspended; owner only (the thread that switches to or from it).
*/
typedef struct goro_ctx {
  void *sp;                       /* saved stack pointer (frame above) */
  struct goro_stackdesc stack;    /* the stack this context runs on */
  void *asan_fake;                /* ASan fake-stack save; unused otherwise */
  void *tsan_fiber;               /* TSan fiber; unused otherwise */
  int own_fiber;                  /* tsan_fiber was made by goroA_ctx_make */
} goro_ctx;

/* One crossing made by goroA_call; lives at the top of the target stack. */
struct goro_xframe {
  struct goro_xframe *prev;
  void *sp;
  const struct goro_stackdesc *stack;
  uintptr_t pad;
};

/*
** Per-thread crossing record. Written only by its own thread (by
** goroA_call and goroA_ctx_switch); a signal handler on the same thread may
** read it at any instruction. Ordering rule: on the way in, the record names
** the inner stack before the stack pointer moves there; on the way out, the
** stack pointer moves back before the record drops the crossing. So the
** record may claim one crossing more than the stack pointer shows, never one
** less.
*/
struct goro_xrec {
  struct goro_xframe *volatile top;
  volatile uintptr_t depth;
  const struct goro_stackdesc *volatile stack;
  struct goro_ctx *from;  /* the context of the last switch on this
                             thread (ctx.c): who a fresh context's entry
                             and the sanitizers were switched from */
};

#if defined(__x86_64__)
struct goro_arch_frame {
  uint32_t mxcsr;
  uint16_t x87cw;
  uint16_t pad;
  uint64_t r12, r13, r14, r15, rbx, rbp, pc;
};
_Static_assert(offsetof(struct goro_arch_frame, mxcsr) == GORO_FRAME_FPCTL, "frame");
_Static_assert(offsetof(struct goro_arch_frame, x87cw) == GORO_FRAME_FPCTL + 4, "frame");
_Static_assert(offsetof(struct goro_arch_frame, r12) == GORO_FRAME_R12, "frame");
_Static_assert(offsetof(struct goro_arch_frame, r13) == GORO_FRAME_R13, "frame");
_Static_assert(offsetof(struct goro_arch_frame, r14) == GORO_FRAME_R14, "frame");
_Static_assert(offsetof(struct goro_arch_frame, r15) == GORO_FRAME_R15, "frame");
_Static_assert(offsetof(struct goro_arch_frame, rbx) == GORO_FRAME_RBX, "frame");
_Static_assert(offsetof(struct goro_arch_frame, rbp) == GORO_FRAME_RBP, "frame");
_Static_assert(offsetof(struct goro_arch_frame, pc) == GORO_FRAME_PC, "frame");
_Static_assert(offsetof(struct goro_arch_frame, r12) == GORO_FRAME_ENTRY, "frame");
_Static_assert(offsetof(struct goro_arch_frame, r13) == GORO_FRAME_DATA, "frame");
#else
struct goro_arch_frame {
  uint64_t d[8];            /* d8..d15 */
  uint64_t x[10];           /* x19..x28 */
  uint64_t fp, pc;          /* x29, x30 */
  uint64_t fpcr, pad;
};
_Static_assert(offsetof(struct goro_arch_frame, d) == GORO_FRAME_D8, "frame");
_Static_assert(offsetof(struct goro_arch_frame, x) == GORO_FRAME_X19, "frame");
_Static_assert(offsetof(struct goro_arch_frame, fp) == GORO_FRAME_X29, "frame");
_Static_assert(offsetof(struct goro_arch_frame, pc) == GORO_FRAME_PC, "frame");
_Static_assert(offsetof(struct goro_arch_frame, fpcr) == GORO_FRAME_FPCTL, "frame");
_Static_assert(offsetof(struct goro_arch_frame, x[0]) == GORO_FRAME_ENTRY, "frame");
_Static_assert(offsetof(struct goro_arch_frame, x[1]) == GORO_FRAME_DATA, "frame");
#endif
_Static_assert(sizeof(struct goro_arch_frame) == GORO_FRAME_SIZE, "frame");
_Static_assert(GORO_FRAME_SIZE % 16 == 0, "frame keeps the stack aligned");
_Static_assert(offsetof(struct goro_xframe, prev) == GORO_XFRAME_PREV, "xframe");
_Static_assert(offsetof(struct goro_xframe, sp) == GORO_XFRAME_SP, "xframe");
_Static_assert(offsetof(struct goro_xframe, stack) == GORO_XFRAME_STACK, "xframe");
_Static_assert(sizeof(struct goro_xframe) == GORO_XFRAME_SIZE, "xframe");
_Static_assert(offsetof(struct goro_xrec, top) == GORO_XREC_TOP, "xrec");
_Static_assert(offsetof(struct goro_xrec, depth) == GORO_XREC_DEPTH, "xrec");
_Static_assert(offsetof(struct goro_xrec, stack) == GORO_XREC_STACK, "xrec");

/* ---- the raw assembly primitives (no sanitizer annotations) -------------- */

/* Save the running context's state, store its sp into *save_sp, load to_sp,
** restore that context and return `arg` there (as this call's return value in
** a suspended context, or as entry's first argument in a fresh one). */
void *goroA_jump(void **save_sp, void *to_sp, void *arg);

/* The first return address of a fresh context; never called directly. */
void goroA_start(void);

/* Call fn(arg) with the stack pointer at `sp` (aligned down to 16 bytes,
** minus one goro_xframe), pushing a crossing on `rec` that names `stack`.
** Returns fn's result after restoring the stack pointer and the record. */
void *goroA_call(struct goro_xrec *rec, void *sp, void *(*fn)(void *),
                     void *arg, const struct goro_stackdesc *stack);

/* ---- annotated C wrappers (ctx.c): use these, not the raw primitives ----- */

/* Entry of a fresh context: `from` is the context that switched to it, `arg`
** the word it passed. It must never return; it leaves with goroA_ctx_exit. */
typedef void (*goro_ctx_fn)(goro_ctx *from, void *arg);

/* Prepare `c` to run fn on the stack described by `stack` (whose memory must
** be usable). The first goroA_ctx_switch to `c` calls fn(from, arg). */
void goroA_ctx_make(goro_ctx *c, const struct goro_stackdesc *stack,
                   goro_ctx_fn fn);

/* Initialise the context of code already running on a thread's own stack.
** Must run on that thread (sanitizers tie the context to it). */
void goroA_ctx_init_thread(goro_ctx *c);

/* Suspend `from` (the running context) and resume `to`; returns the word
** that whoever resumes `from` later passes. */
void *goroA_ctx_switch(goro_ctx *from, goro_ctx *to, void *arg);

/* Leave the running context `from` for good and resume `to`. The stack of
** `from` may be reused or freed once `to` runs. */
_Noreturn void goroA_ctx_exit(goro_ctx *from, goro_ctx *to, void *arg);

/* Call fn(arg) on another stack, at `sp` inside the stack of `to`,
** recording the crossing (named &to->stack) on the calling thread's record.
** `to` may be suspended (a G's context) or never run (see
** goroA_ctx_init_stack); only its stack and sanitizer identity are used.
** fn must return normally. */
void *goroA_ctx_call(void *sp, goro_ctx *to, void *(*fn)(void *), void *arg);

/* A context for a stack that is only ever a goroA_ctx_call target (no
** entry function of its own). */
void goroA_ctx_init_stack(goro_ctx *c, const struct goro_stackdesc *stack);

/* The calling thread's crossing record. Not inlined on purpose: a context
** may resume on another thread, and the compiler must not reuse a TLS
** address computed before a switch. */
struct goro_xrec *goroA_xrec_self(void);

/* Release sanitizer state tied to a context whose stack is being freed. */
void goroA_ctx_destroy(goro_ctx *c);

/* Read the calling thread's FP control state (MXCSR|x87CW<<32, or FPCR). */
uint64_t goroA_fpctl_get(void);

#endif /* !__ASSEMBLER__ */
#endif
