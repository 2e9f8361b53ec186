/*
** goroA_call — x86-64 System V, ELF, GNU as.
**
** void *goroA_call(struct goro_xrec *rec, void *sp, void *(*fn)(void *),
**                      rdi                    rsi       rdx
**                      void *arg, const struct goro_stackdesc *stack);
**                      rcx        r8
**
** Calls fn(arg) on another stack and comes back: the shape of Go's
** asmcgocall and cgocallback. A crossing record (struct goro_xframe) is
** written at the top of the target region and pushed on `rec`:
**
**   xframe offset  contents
**   0x00           rec->top before this crossing
**   0x08           stack pointer to return to
**   0x10           rec->stack before this crossing
**   0x18           padding (the frame is 0x20 bytes, 16-byte aligned)
**
** Ordering (see struct goro_xrec): the record names the inner stack before
** rsp moves there, and drops the crossing only after rsp is back.
**
** Frame on the calling stack: return address, saved rbp (rbp = CFA - 16),
** saved rbx (CFA - 24), padding. The CFA is kept in rbp while on the other
** stack, so an unwinder walks from fn back into the caller's frames.
*/
#include "ctx.h"

        .file   "call_x86_64_sysv_elf_gas.S"
        .text
        .p2align 4
        .globl  goroA_call
        .hidden goroA_call
        .type   goroA_call, @function
goroA_call:
        .cfi_startproc
        endbr64                                         /* CET landing pad */
        pushq   %rbp                                    /* save the caller's frame pointer */
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset rbp, 0
        movq    %rsp, %rbp                              /* rbp anchors this frame */
        .cfi_def_cfa_register rbp
        pushq   %rbx                                    /* rbx will hold rec */
        .cfi_offset rbx, -24
        subq    $8, %rsp                                /* keep the calling stack aligned */
        movq    %rdi, %rbx                              /* rbx = rec (callee-saved across fn) */

        andq    $-16, %rsi                              /* align the target down */
        subq    $GORO_XFRAME_SIZE, %rsi                 /* room for the crossing record */
        movq    GORO_XREC_TOP(%rbx), %rax               /* xframe->prev = rec->top */
        movq    %rax, GORO_XFRAME_PREV(%rsi)
        movq    %rsp, GORO_XFRAME_SP(%rsi)              /* xframe->sp = where to come back */
        movq    GORO_XREC_STACK(%rbx), %rax             /* xframe->stack = rec->stack */
        movq    %rax, GORO_XFRAME_STACK(%rsi)
        movq    %rsi, GORO_XREC_TOP(%rbx)               /* rec->top = xframe */
        addq    $1, GORO_XREC_DEPTH(%rbx)               /* rec->depth++ */
        movq    %r8, GORO_XREC_STACK(%rbx)              /* rec->stack = target */

        movq    %rsi, %rsp                              /* switch: rsp = xframe (aligned) */
        movq    %rcx, %rdi                              /* fn's argument */
        callq   *%rdx                                   /* rax = fn(arg) */

        movq    GORO_XFRAME_PREV(%rsp), %rcx            /* read the record before leaving */
        movq    GORO_XFRAME_STACK(%rsp), %rdx
        movq    GORO_XFRAME_SP(%rsp), %rsp              /* switch back to the calling stack */
        movq    %rcx, GORO_XREC_TOP(%rbx)               /* rec->top = xframe->prev */
        subq    $1, GORO_XREC_DEPTH(%rbx)               /* rec->depth-- */
        movq    %rdx, GORO_XREC_STACK(%rbx)             /* rec->stack = xframe->stack */

        addq    $8, %rsp                                /* drop the padding */
        popq    %rbx                                    /* restore rbx */
        .cfi_restore rbx
        popq    %rbp                                    /* restore the caller's frame pointer */
        .cfi_def_cfa rsp, 8
        .cfi_restore rbp
        ret                                             /* rax = fn's result */
        .cfi_endproc
        .size   goroA_call, .-goroA_call

        .section .note.GNU-stack,"",%progbits
