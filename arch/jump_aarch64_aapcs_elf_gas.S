/*
** goroA_jump — AArch64 AAPCS64, ELF, GNU as.
**
** void *goroA_jump(void **save_sp, void *to_sp, void *arg);
**                      x0              x1           x2
**
** Saves the callee-saved state of the running context on its own stack,
** stores the stack pointer in *save_sp, switches to to_sp, restores the state
** found there and returns `arg` in x0 (also a fresh context's entry argument,
** see start_aarch64_aapcs_elf_gas.S). Parallel to jump_x86_64_sysv_elf_gas.S.
**
** Frame at the saved stack pointer (offsets from arch/ctx.h):
**
**   offset  size  contents
**   0x00    64    d8 .. d15 (low 64 bits, as AAPCS64 requires)
**   0x40    80    x19 .. x28 (fresh context: x19 entry function, x20 data)
**   0x90    8     x29, the frame pointer
**   0x98    8     x30, the return address
**   0xa0    8     FPCR
**   0xa8    8     padding
**   0xb0          caller's frame
*/
#include "ctx.h"

        .file   "jump_aarch64_aapcs_elf_gas.S"
        .text
        .p2align 4
        .globl  goroA_jump
        .hidden goroA_jump
        .type   goroA_jump, %function
goroA_jump:
        .cfi_startproc
        hint    #34                                     /* bti c: indirect-call landing pad */
        sub     sp, sp, #GORO_FRAME_SIZE                /* open the frame */
        .cfi_adjust_cfa_offset GORO_FRAME_SIZE
        stp     d8, d9, [sp, #GORO_FRAME_D8 + 0x00]     /* save d8, d9 */
        stp     d10, d11, [sp, #GORO_FRAME_D8 + 0x10]   /* save d10, d11 */
        stp     d12, d13, [sp, #GORO_FRAME_D8 + 0x20]   /* save d12, d13 */
        stp     d14, d15, [sp, #GORO_FRAME_D8 + 0x30]   /* save d14, d15 */
        stp     x19, x20, [sp, #GORO_FRAME_X19 + 0x00]  /* save x19, x20 */
        stp     x21, x22, [sp, #GORO_FRAME_X19 + 0x10]  /* save x21, x22 */
        stp     x23, x24, [sp, #GORO_FRAME_X19 + 0x20]  /* save x23, x24 */
        stp     x25, x26, [sp, #GORO_FRAME_X19 + 0x30]  /* save x25, x26 */
        stp     x27, x28, [sp, #GORO_FRAME_X19 + 0x40]  /* save x27, x28 */
        stp     x29, x30, [sp, #GORO_FRAME_X29]         /* save fp and the return address */
        mrs     x9, fpcr                                /* read FPCR */
        str     x9, [sp, #GORO_FRAME_FPCTL]             /* save FPCR */
        mov     x10, sp                                 /* sp cannot be stored directly */
        str     x10, [x0]                               /* *save_sp = frame */

        mov     sp, x1                                  /* switch to the other stack */
        ldp     d8, d9, [sp, #GORO_FRAME_D8 + 0x00]     /* restore d8, d9 */
        ldp     d10, d11, [sp, #GORO_FRAME_D8 + 0x10]   /* restore d10, d11 */
        ldp     d12, d13, [sp, #GORO_FRAME_D8 + 0x20]   /* restore d12, d13 */
        ldp     d14, d15, [sp, #GORO_FRAME_D8 + 0x30]   /* restore d14, d15 */
        ldp     x19, x20, [sp, #GORO_FRAME_X19 + 0x00]  /* restore x19, x20 */
        ldp     x21, x22, [sp, #GORO_FRAME_X19 + 0x10]  /* restore x21, x22 */
        ldp     x23, x24, [sp, #GORO_FRAME_X19 + 0x20]  /* restore x23, x24 */
        ldp     x25, x26, [sp, #GORO_FRAME_X19 + 0x30]  /* restore x25, x26 */
        ldp     x27, x28, [sp, #GORO_FRAME_X19 + 0x40]  /* restore x27, x28 */
        ldp     x29, x30, [sp, #GORO_FRAME_X29]         /* restore fp and the return address */
        ldr     x9, [sp, #GORO_FRAME_FPCTL]             /* load the saved FPCR */
        msr     fpcr, x9                                /* restore FPCR */
        add     sp, sp, #GORO_FRAME_SIZE                /* drop the frame */
        mov     x0, x2                                  /* arg: return value and entry argument */
        ret                                             /* resume the other context (x30) */
        .cfi_endproc
        .size   goroA_jump, .-goroA_jump

        .section .note.GNU-stack,"",%progbits
