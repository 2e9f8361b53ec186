/*
** Test helpers, x86-64 SysV.
**
** void goro_test_regcheck(void (*fn)(void *), void *arg,
**                         const uint64_t pat[6], uint64_t out[6]);
**   Loads pat into rbx, rbp, r12, r13, r14, r15, calls fn(arg), and stores
**   what those registers hold afterwards into out. fn must preserve them
**   (the ABI says so); a switch that loses one shows up as a mismatch.
**
** uintptr_t goro_test_sp(void);
**   The caller's stack pointer at the call instruction.
*/
        .text
        .p2align 4
        .globl  goro_test_regcheck
        .type   goro_test_regcheck, @function
goro_test_regcheck:
        endbr64
        pushq   %rbp                    /* keep our own callee-saved state */
        pushq   %rbx
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        pushq   %rcx                    /* out; 7 pushes leave rsp 16-aligned */
        movq    %rdi, %rax              /* fn */
        movq    %rsi, %rdi              /* fn's argument */
        movq    0(%rdx), %rbx           /* load the pattern */
        movq    8(%rdx), %rbp
        movq    16(%rdx), %r12
        movq    24(%rdx), %r13
        movq    32(%rdx), %r14
        movq    40(%rdx), %r15
        callq   *%rax                   /* fn(arg) */
        movq    (%rsp), %rcx            /* out */
        movq    %rbx, 0(%rcx)           /* report what survived */
        movq    %rbp, 8(%rcx)
        movq    %r12, 16(%rcx)
        movq    %r13, 24(%rcx)
        movq    %r14, 32(%rcx)
        movq    %r15, 40(%rcx)
        popq    %rcx
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbx
        popq    %rbp
        ret
        .size   goro_test_regcheck, .-goro_test_regcheck

        .p2align 4
        .globl  goro_test_sp
        .type   goro_test_sp, @function
goro_test_sp:
        endbr64
        leaq    8(%rsp), %rax           /* rsp before the call pushed the return address */
        ret
        .size   goro_test_sp, .-goro_test_sp

        .section .note.GNU-stack,"",%progbits
