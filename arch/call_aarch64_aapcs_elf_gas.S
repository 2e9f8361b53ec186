/*
** goroA_call — AArch64 AAPCS64, ELF, GNU as.
**
** void *goroA_call(struct goro_xrec *rec, void *sp, void *(*fn)(void *),
**                      x0                     x1        x2
**                      void *arg, const struct goro_stackdesc *stack);
**                      x3         x4
**
** Calls fn(arg) on another stack and comes back, pushing a crossing record
** (struct goro_xframe) at the top of the target region. Parallel to
** call_x86_64_sysv_elf_gas.S:
**
**   xframe offset  contents
**   0x00           rec->top before this crossing
**   0x08           stack pointer to return to
**   0x10           rec->stack before this crossing
**   0x18           padding
**
** Ordering (see struct goro_xrec): the record names the inner stack before
** sp moves there, and drops the crossing only after sp is back.
**
** Frame on the calling stack (32 bytes): x29, x30, x19, padding. The CFA is
** kept in x29 while on the other stack, so an unwinder walks from fn back
** into the caller's frames.
*/
#include "ctx.h"

        .file   "call_aarch64_aapcs_elf_gas.S"
        .text
        .p2align 4
        .globl  goroA_call
        .hidden goroA_call
        .type   goroA_call, %function
goroA_call:
        .cfi_startproc
        hint    #34                                     /* bti c: landing pad */
        stp     x29, x30, [sp, #-32]!                   /* save fp, lr; open 32 bytes */
        .cfi_def_cfa_offset 32
        .cfi_offset x29, -32
        .cfi_offset x30, -24
        mov     x29, sp                                 /* x29 anchors this frame */
        .cfi_def_cfa x29, 32
        str     x19, [sp, #16]                          /* x19 will hold rec */
        .cfi_offset x19, -16
        mov     x19, x0                                 /* x19 = rec (callee-saved across fn) */

        and     x1, x1, #~15                            /* align the target down */
        sub     x1, x1, #GORO_XFRAME_SIZE               /* room for the crossing record */
        ldr     x9, [x19, #GORO_XREC_TOP]               /* xframe->prev = rec->top */
        str     x9, [x1, #GORO_XFRAME_PREV]
        mov     x10, sp                                 /* xframe->sp = where to come back */
        str     x10, [x1, #GORO_XFRAME_SP]
        ldr     x9, [x19, #GORO_XREC_STACK]             /* xframe->stack = rec->stack */
        str     x9, [x1, #GORO_XFRAME_STACK]
        str     x1, [x19, #GORO_XREC_TOP]               /* rec->top = xframe */
        ldr     x9, [x19, #GORO_XREC_DEPTH]             /* rec->depth++ */
        add     x9, x9, #1
        str     x9, [x19, #GORO_XREC_DEPTH]
        str     x4, [x19, #GORO_XREC_STACK]             /* rec->stack = target */

        mov     sp, x1                                  /* switch: sp = xframe (aligned) */
        mov     x0, x3                                  /* fn's argument */
        blr     x2                                      /* x0 = fn(arg) */

        ldr     x9, [sp, #GORO_XFRAME_PREV]             /* read the record before leaving */
        ldr     x10, [sp, #GORO_XFRAME_STACK]
        ldr     x11, [sp, #GORO_XFRAME_SP]
        mov     sp, x11                                 /* switch back to the calling stack */
        str     x9, [x19, #GORO_XREC_TOP]               /* rec->top = xframe->prev */
        ldr     x9, [x19, #GORO_XREC_DEPTH]             /* rec->depth-- */
        sub     x9, x9, #1
        str     x9, [x19, #GORO_XREC_DEPTH]
        str     x10, [x19, #GORO_XREC_STACK]            /* rec->stack = xframe->stack */

        ldr     x19, [sp, #16]                          /* restore x19 */
        .cfi_restore x19
        ldp     x29, x30, [sp], #32                     /* restore fp, lr; close the frame */
        .cfi_def_cfa sp, 0
        .cfi_restore x29
        .cfi_restore x30
        ret                                             /* x0 = fn's result */
        .cfi_endproc
        .size   goroA_call, .-goroA_call

        .section .note.GNU-stack,"",%progbits
