/*
** spec/c/gdb_bt.c — a program for spec/c/gdb_bt.sh: gdb stops inside a
** context on a G stack, and its `bt` must list the context's frames and end
** at goroA_start, without "corrupt stack".
*/
#include <stdio.h>

#include "../../arch/ctx.h"
#include "../../runtime/stack.h"

static goro_ctx main_ctx, g_ctx;

__attribute__((noinline)) void goro_test_marker(int depth) {
  __asm__ volatile("" ::: "memory");
  if (depth > 0) goro_test_marker(depth - 1);
  __asm__ volatile("" ::: "memory");
}

static void g_entry(goro_ctx *from, void *arg) {
  (void)from;
  (void)arg;
  goro_test_marker(0);
  goroA_ctx_exit(&g_ctx, &main_ctx, NULL);
}

int main(void) {
  struct goro_stack *st = goroR_stack_get();
  goroA_ctx_init_thread(&main_ctx);
  goroA_ctx_make(&g_ctx, &st->desc, g_entry);
  goroA_ctx_switch(&main_ctx, &g_ctx, NULL);
  puts("done");
  return 0;
}
