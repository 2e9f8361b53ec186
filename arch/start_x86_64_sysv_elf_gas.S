/*
** goroA_start — x86-64 System V, ELF, GNU as.
**
** The first return address of a fresh context (goroA_ctx_make writes it into
** the frame slot GORO_FRAME_PC). goroA_jump "returns" here with:
**
**   register  contents
**   rdi       the word passed to the jump (entry's first argument)
**   r12       entry function, void entry(void *arg, void *data)
**   r13       data (entry's second argument)
**   rbp       0, so frame-pointer walks end here
**   rsp       16-byte aligned, 16 zero bytes above it (a null return address)
**
** The CFI marks the return address as undefined: debuggers and unwinders
** (gdb `bt`, backtrace(3), _Unwind_Backtrace) stop cleanly at this frame
** instead of walking into whatever lies above the stack.
** entry must never return; if it does, the process traps here.
*/
#include "ctx.h"

        .file   "start_x86_64_sysv_elf_gas.S"
        .text
        .p2align 4
        .globl  goroA_start
        .hidden goroA_start
        .type   goroA_start, @function
goroA_start:
        .cfi_startproc
        .cfi_undefined rip                              /* the unwind chain ends here */
        endbr64                                         /* CET landing pad */
        movq    %r13, %rsi                              /* data is entry's second argument */
        callq   *%r12                                   /* entry(arg, data) */
        ud2                                             /* entry returned: trap */
        .cfi_endproc
        .size   goroA_start, .-goroA_start

        .section .note.GNU-stack,"",%progbits
