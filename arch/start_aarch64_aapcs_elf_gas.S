/*
** goroA_start — AArch64 AAPCS64, ELF, GNU as.
**
** The first return address of a fresh context (goroA_ctx_make writes it into
** the frame slot GORO_FRAME_PC, the saved x30). goroA_jump returns here
** with:
**
**   register  contents
**   x0        the word passed to the jump (entry's first argument)
**   x19       entry function, void entry(void *arg, void *data)
**   x20       data (entry's second argument)
**   x29       0, so frame-pointer walks end here
**   sp        16-byte aligned, 16 zero bytes above it
**
** The CFI marks the return address (x30) as undefined, so unwinders stop
** cleanly here. Parallel to start_x86_64_sysv_elf_gas.S.
** entry must never return; if it does, the process traps here.
*/
#include "ctx.h"

        .file   "start_aarch64_aapcs_elf_gas.S"
        .text
        .p2align 4
        .globl  goroA_start
        .hidden goroA_start
        .type   goroA_start, %function
goroA_start:
        .cfi_startproc
        .cfi_undefined x30                              /* the unwind chain ends here */
        hint    #34                                     /* bti c: landing pad */
        mov     x1, x20                                 /* data is entry's second argument */
        blr     x19                                     /* entry(arg, data) */
        brk     #0x3e8                                  /* entry returned: trap */
        .cfi_endproc
        .size   goroA_start, .-goroA_start

        .section .note.GNU-stack,"",%progbits
