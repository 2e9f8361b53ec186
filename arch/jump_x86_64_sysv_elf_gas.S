/*
** goroA_jump — x86-64 System V, ELF, GNU as.
**
** void *goroA_jump(void **save_sp, void *to_sp, void *arg);
**                      rdi             rsi          rdx
**
** Saves the callee-saved state of the running context on its own stack,
** stores the stack pointer in *save_sp, switches to to_sp, restores the state
** found there and returns `arg` in rax (and rdi, the first argument of a
** fresh context's entry, see start_x86_64_sysv_elf_gas.S).
**
** Frame at the saved stack pointer (offsets from arch/ctx.h):
**
**   offset  size  contents
**   0x00    4     MXCSR (control bits; status bits are not preserved)
**   0x04    2     x87 control word
**   0x06    2     padding
**   0x08    8     r12        (fresh context: entry function)
**   0x10    8     r13        (fresh context: entry data)
**   0x18    8     r14
**   0x20    8     r15
**   0x28    8     rbx
**   0x30    8     rbp
**   0x38    8     return address
**   0x40          caller's frame
**
** The caller's rsp is 8 mod 16 at entry (the call pushed the return address),
** so the frame starts on a 16-byte boundary.
**
** It leaves by an indirect jmp to the other context's return address, not
** by ret. The CPU predicts a ret from its return stack buffer, which holds
** the address after *this* context's call: a ret to the other context was
** a mispredicted return on every switch (the bare round trip took 2.5x
** Boost.Context's, whose jump_fcontext leaves the same way; bench/switch).
** The jmp is predicted by target history instead. The return stack buffer
** is left one entry deeper, which costs nothing: it is a ring.
*/
#include "ctx.h"

        .file   "jump_x86_64_sysv_elf_gas.S"
        .text
        .p2align 4
        .globl  goroA_jump
        .hidden goroA_jump
        .type   goroA_jump, @function
goroA_jump:
        .cfi_startproc
        endbr64                                         /* CET indirect-branch landing pad */
        leaq    -(GORO_FRAME_SIZE - 8)(%rsp), %rsp      /* open the frame below the return address */
        .cfi_adjust_cfa_offset GORO_FRAME_SIZE - 8
        stmxcsr GORO_FRAME_FPCTL(%rsp)                  /* save MXCSR */
        fnstcw  GORO_FRAME_FPCTL+4(%rsp)                /* save the x87 control word */
        movq    %r12, GORO_FRAME_R12(%rsp)              /* save r12 */
        movq    %r13, GORO_FRAME_R13(%rsp)              /* save r13 */
        movq    %r14, GORO_FRAME_R14(%rsp)              /* save r14 */
        movq    %r15, GORO_FRAME_R15(%rsp)              /* save r15 */
        movq    %rbx, GORO_FRAME_RBX(%rsp)              /* save rbx */
        movq    %rbp, GORO_FRAME_RBP(%rsp)              /* save rbp */
        movq    %rsp, (%rdi)                            /* *save_sp = frame */

        movq    %rsi, %rsp                              /* switch to the other stack */
        ldmxcsr GORO_FRAME_FPCTL(%rsp)                  /* restore MXCSR */
        fldcw   GORO_FRAME_FPCTL+4(%rsp)                /* restore the x87 control word */
        movq    GORO_FRAME_R12(%rsp), %r12              /* restore r12 */
        movq    GORO_FRAME_R13(%rsp), %r13              /* restore r13 */
        movq    GORO_FRAME_R14(%rsp), %r14              /* restore r14 */
        movq    GORO_FRAME_R15(%rsp), %r15              /* restore r15 */
        movq    GORO_FRAME_RBX(%rsp), %rbx              /* restore rbx */
        movq    GORO_FRAME_RBP(%rsp), %rbp              /* restore rbp */
        movq    GORO_FRAME_PC(%rsp), %rcx               /* the other context's return address */
        leaq    GORO_FRAME_SIZE(%rsp), %rsp             /* drop the whole frame, as ret would */
        .cfi_def_cfa_offset 0
        .cfi_register rip, rcx
        movq    %rdx, %rax                              /* arg is the return value ... */
        movq    %rdx, %rdi                              /* ... and a fresh entry's first argument */
        jmp     *%rcx                                   /* resume the other context (not ret: see above) */
        .cfi_endproc
        .size   goroA_jump, .-goroA_jump

        .section .note.GNU-stack,"",%progbits
