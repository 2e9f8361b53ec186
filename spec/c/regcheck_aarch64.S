/*
** Test helpers, AArch64 AAPCS64. Parallel to regcheck_x86_64.S.
**
** void goro_test_regcheck(void (*fn)(void *), void *arg,
**                         const uint64_t pat[19], uint64_t out[19]);
**   Loads pat into x19..x28, x29, d8..d15, calls fn(arg), and stores what
**   those registers hold afterwards into out.
**
** uintptr_t goro_test_sp(void);
**   The caller's stack pointer.
*/
        .text
        .p2align 4
        .globl  goro_test_regcheck
        .type   goro_test_regcheck, %function
goro_test_regcheck:
        hint    #34                     /* bti c */
        stp     x29, x30, [sp, #-176]!  /* keep our own callee-saved state */
        stp     x19, x20, [sp, #16]
        stp     x21, x22, [sp, #32]
        stp     x23, x24, [sp, #48]
        stp     x25, x26, [sp, #64]
        stp     x27, x28, [sp, #80]
        stp     d8, d9, [sp, #96]
        stp     d10, d11, [sp, #112]
        stp     d12, d13, [sp, #128]
        stp     d14, d15, [sp, #144]
        str     x3, [sp, #160]          /* out */
        mov     x9, x0                  /* fn */
        mov     x0, x1                  /* fn's argument */
        ldp     x19, x20, [x2, #0]      /* load the pattern */
        ldp     x21, x22, [x2, #16]
        ldp     x23, x24, [x2, #32]
        ldp     x25, x26, [x2, #48]
        ldp     x27, x28, [x2, #64]
        ldr     x29, [x2, #80]
        ldp     d8, d9, [x2, #88]
        ldp     d10, d11, [x2, #104]
        ldp     d12, d13, [x2, #120]
        ldp     d14, d15, [x2, #136]
        blr     x9                      /* fn(arg) */
        ldr     x3, [sp, #160]          /* out */
        stp     x19, x20, [x3, #0]      /* report what survived */
        stp     x21, x22, [x3, #16]
        stp     x23, x24, [x3, #32]
        stp     x25, x26, [x3, #48]
        stp     x27, x28, [x3, #64]
        str     x29, [x3, #80]
        stp     d8, d9, [x3, #88]
        stp     d10, d11, [x3, #104]
        stp     d12, d13, [x3, #120]
        stp     d14, d15, [x3, #136]
        ldp     x19, x20, [sp, #16]
        ldp     x21, x22, [sp, #32]
        ldp     x23, x24, [sp, #48]
        ldp     x25, x26, [sp, #64]
        ldp     x27, x28, [sp, #80]
        ldp     d8, d9, [sp, #96]
        ldp     d10, d11, [sp, #112]
        ldp     d12, d13, [sp, #128]
        ldp     d14, d15, [sp, #144]
        ldp     x29, x30, [sp], #176
        ret
        .size   goro_test_regcheck, .-goro_test_regcheck

        .p2align 4
        .globl  goro_test_sp
        .type   goro_test_sp, %function
goro_test_sp:
        hint    #34
        mov     x0, sp
        ret
        .size   goro_test_sp, .-goro_test_sp

        .section .note.GNU-stack,"",%progbits
