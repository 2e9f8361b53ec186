/*
** spec/c/arch.c — the stack-switch primitives of arch/.
**
** What a runtime needs from a switch: callee-saved registers survive, the FP
** control state follows the per-context policy, every entry is ABI-aligned,
** a context can resume on another thread, calls on other stacks nest and
** unwind in order, and unwinders stop at a context's base.
*/
#include <execinfo.h>
#include <fenv.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "../../arch/ctx.h"
#include "../../runtime/stack.h"
#include "crit.h"

#if defined(__x86_64__)
#define NREGS 6
#else
#define NREGS 19
#endif

void goro_test_regcheck(void (*fn)(void *), void *arg, const uint64_t *pat,
                        uint64_t *out);
uintptr_t goro_test_sp(void);

static goro_ctx main_ctx;

static goro_ctx *new_ctx(goro_ctx *c, struct goro_stack **st, goro_ctx_fn fn) {
  *st = goroR_stack_get();
  cr_assert_not_null(*st);
  goroA_ctx_make(c, &(*st)->desc, fn);
  return c;
}

static void free_ctx(goro_ctx *c, struct goro_stack *st) {
  goroA_ctx_destroy(c);
  goroR_stack_put(st);
}

/* ---- callee-saved registers across 1M switches ---------------------------- */

struct side {
  goro_ctx self, *peer;
  uint64_t pat[NREGS], out[NREGS];
  long n;
};

/* The word passed is the peer's own side (self is its first member): the
** first switch to B is what starts B. */
static void pingloop(void *p) {
  struct side *s = p;
  for (long i = 0; i < s->n; i++) goroA_ctx_switch(&s->self, s->peer, s->peer);
}

static void side_entry(goro_ctx *from, void *arg) {
  struct side *s = arg;
  (void)from;
  goro_test_regcheck(pingloop, s, s->pat, s->out);
  goroA_ctx_exit(&s->self, &main_ctx, NULL);
}

static void fill(uint64_t *pat, uint64_t seed) {
  for (int i = 0; i < NREGS; i++)
    pat[i] = (0x9e3779b97f4a7c15ull * (uint64_t)(i + 1)) ^ seed;
}

static void run_sides(void *p) {
  struct side *s = p;
  goroA_ctx_switch(&main_ctx, &s[0].self, &s[0]);  /* A runs first... */
  goroA_ctx_switch(&main_ctx, &s[1].self, &s[1]);  /* ...B finishes last */
}

Test(arch, callee_saved_registers_survive_1M_switches, .timeout = 120) {
  static struct side s[2];
  struct goro_stack *st[2];
  uint64_t mpat[NREGS], mout[NREGS];

  goroA_ctx_init_thread(&main_ctx);
  for (int i = 0; i < 2; i++) {
    new_ctx(&s[i].self, &st[i], side_entry);
    s[i].peer = &s[1 - i].self;
    s[i].n = 1000000;
    fill(s[i].pat, 0x1111111111111111ull * (uint64_t)(i + 1));
  }
  fill(mpat, 0xabcdef0123456789ull);
  goro_test_regcheck(run_sides, s, mpat, mout);
  for (int i = 0; i < NREGS; i++) {
    cr_assert_eq(s[0].out[i], s[0].pat[i], "context A lost register %d", i);
    cr_assert_eq(s[1].out[i], s[1].pat[i], "context B lost register %d", i);
    cr_assert_eq(mout[i], mpat[i], "the thread lost register %d", i);
  }
  free_ctx(&s[0].self, st[0]);
  free_ctx(&s[1].self, st[1]);
}

/* ---- FP control state is per context ------------------------------------- */

static goro_ctx fp_ctx;
static int fp_seen[2];
static uint64_t fp_ctl_seen;

static void fp_entry(goro_ctx *from, void *arg) {
  (void)from;
  (void)arg;
  fp_seen[0] = fegetround();
  fp_ctl_seen = goroA_fpctl_get();
  fesetround(FE_DOWNWARD);
  goroA_ctx_switch(&fp_ctx, &main_ctx, NULL);
  fp_seen[1] = fegetround();
  goroA_ctx_exit(&fp_ctx, &main_ctx, NULL);
}

Test(arch, fp_control_state_follows_the_context) {
  struct goro_stack *st;
  goroA_ctx_init_thread(&main_ctx);
  fesetround(FE_TOWARDZERO);
  new_ctx(&fp_ctx, &st, fp_entry);  /* a new context inherits its maker's */
  fesetround(FE_UPWARD);
  goroA_ctx_switch(&main_ctx, &fp_ctx, NULL);
  cr_assert_eq(fegetround(), FE_UPWARD, "the context's mode leaked out");
  cr_assert_eq(fp_seen[0], FE_TOWARDZERO, "fresh context must inherit");
#if defined(__x86_64__)
  /* both units follow: MXCSR RC bits 13-14 and x87 CW RC bits 10-11 = 11 */
  cr_assert_eq((fp_ctl_seen >> 13) & 3, 3u);
  cr_assert_eq((fp_ctl_seen >> 42) & 3, 3u);
#else
  cr_assert_eq((fp_ctl_seen >> 22) & 3, 3u);  /* FPCR.RMode = RZ */
#endif
  goroA_ctx_switch(&main_ctx, &fp_ctx, NULL);
  cr_assert_eq(fp_seen[1], FE_DOWNWARD, "the context lost its own mode");
  cr_assert_eq(fegetround(), FE_UPWARD);
  fesetround(FE_TONEAREST);
  free_ctx(&fp_ctx, st);
}

/* ---- alignment and deep recursion on a switched stack --------------------- */

static goro_ctx al_ctx;
static uintptr_t al_sp[2];
static long deep_result;

static __attribute__((noinline)) long deep(long n) {
  volatile char pad[48];
  pad[n % 48] = (char)n;
  if (n == 0) return 0;
  return deep(n - 1) + 1 + (pad[n % 48] != (char)n);
}

static void *on_other(void *arg) {
  (void)arg;
  al_sp[1] = goro_test_sp();
  return NULL;
}

static void al_entry(goro_ctx *from, void *arg) {
  static struct goro_stack *other;
  static goro_ctx octx;
  (void)from;
  (void)arg;
  al_sp[0] = goro_test_sp();
  deep_result = deep(5000);
  other = goroR_stack_get();
  goroA_ctx_init_stack(&octx, &other->desc);
  goroA_ctx_call((char *)other->desc.lo + other->desc.size - 8, &octx,
                on_other, NULL);  /* a misaligned target gets aligned */
  goroA_ctx_destroy(&octx);
  goroR_stack_put(other);
  goroA_ctx_exit(&al_ctx, &main_ctx, NULL);
}

Test(arch, entries_are_16_byte_aligned_and_recursion_runs_deep) {
  struct goro_stack *st;
  goroA_ctx_init_thread(&main_ctx);
  new_ctx(&al_ctx, &st, al_entry);
  goroA_ctx_switch(&main_ctx, &al_ctx, NULL);
  cr_assert_eq(al_sp[0] % 16, 0u, "sp at a call in a fresh context");
  cr_assert_eq(al_sp[1] % 16, 0u, "sp at a call on another stack");
  cr_assert_eq(deep_result, 5000);
  free_ctx(&al_ctx, st);
}

/* ---- a context moves between threads ------------------------------------- */

static goro_ctx mv_ctx;
static pid_t mv_tid[2];

static void mv_entry(goro_ctx *from, void *arg) {
  goro_ctx *back = arg;
  volatile long local = 424242;
  (void)from;
  mv_tid[0] = gettid();  /* pthread_self() is const: CSE'd */
  back = goroA_ctx_switch(&mv_ctx, back, NULL);
  mv_tid[1] = gettid();
  if (local != 424242) mv_tid[1] = 0;  /* flag corruption */
  goroA_ctx_exit(&mv_ctx, back, NULL);
}

static void *mv_resumer(void *arg) {
  goro_ctx here;
  *(pid_t *)arg = gettid();
  goroA_ctx_init_thread(&here);
  goroA_ctx_switch(&here, &mv_ctx, &here);
  return NULL;
}

Test(arch, context_suspended_on_one_thread_resumes_on_another) {
  struct goro_stack *st;
  pthread_t t;
  pid_t other = 0;
  goroA_ctx_init_thread(&main_ctx);
  new_ctx(&mv_ctx, &st, mv_entry);
  goroA_ctx_switch(&main_ctx, &mv_ctx, &main_ctx);
  cr_assert_eq(mv_tid[0], gettid());
  cr_assert_eq(pthread_create(&t, NULL, mv_resumer, &other), 0);
  pthread_join(t, NULL);
  cr_assert_neq(other, gettid());
  cr_assert_eq(mv_tid[1], other, "resumed on the other thread, locals intact");
  free_ctx(&mv_ctx, st);
}

/* ---- calls on other stacks nest and unwind in order ----------------------- */

#define NEST 8

struct nest {
  int level;
  goro_ctx ctx[2];
  const struct goro_stackdesc *stacks[2];
  uintptr_t depth_in[NEST + 1], depth_out[NEST + 1];
  const struct goro_stackdesc *stack_in[NEST + 1], *stack_out[NEST + 1];
  int sp_inside[NEST + 1], canary_ok[NEST + 1];
};

/* Where to continue on `d`: below the frames already there if the thread
** has been on it (the crossing that left it recorded its sp), else at its top.
** This is how cgocall finds g0's position and a callback finds the G's. */
static void *target_sp(const struct goro_stackdesc *d) {
  struct goro_xrec *r = goroA_xrec_self();
  for (struct goro_xframe *f = r->top; f != NULL; f = f->prev)
    if (f->stack == d) return (char *)f->sp - 256;
  return (char *)d->lo + d->size;
}

static void *nest_fn(void *p) {
  struct nest *n = p;
  struct goro_xrec *r = goroA_xrec_self();
  int level = ++n->level;
  volatile uint64_t canary = 0xc0ffee00u + (uint64_t)level;
  const struct goro_stackdesc *here = n->stacks[(level - 1) % 2];
  uintptr_t sp = goro_test_sp();

  n->depth_in[level] = r->depth;
  n->stack_in[level] = r->stack;
  n->sp_inside[level] = sp >= (uintptr_t)here->lo &&
                        sp < (uintptr_t)here->lo + here->size;
  if (level < NEST) {
    goro_ctx *next = &n->ctx[level % 2];
    goroA_ctx_call(target_sp(&next->stack), next, nest_fn, n);
  }
  n->depth_out[level] = r->depth;
  n->stack_out[level] = r->stack;
  n->canary_ok[level] = canary == 0xc0ffee00u + (uint64_t)level;
  return (void *)(uintptr_t)(level * 10);
}

Test(arch, calls_on_other_stacks_nest_and_unwind_in_order) {
  static struct nest n;
  struct goro_stack *a = goroR_stack_get(), *b = goroR_stack_get();
  struct goro_xrec *r = goroA_xrec_self();
  const struct goro_stackdesc *before = r->stack;
  void *res;

  cr_assert_eq(r->depth, 0u);
  goroA_ctx_init_stack(&n.ctx[0], &a->desc);
  goroA_ctx_init_stack(&n.ctx[1], &b->desc);
  n.stacks[0] = &n.ctx[0].stack;
  n.stacks[1] = &n.ctx[1].stack;
  res = goroA_ctx_call(target_sp(n.stacks[0]), &n.ctx[0], nest_fn, &n);
  cr_assert_eq((uintptr_t)res, 10u);
  cr_assert_eq(n.level, NEST);
  for (int l = 1; l <= NEST; l++) {
    cr_assert_eq(n.depth_in[l], (uintptr_t)l, "depth entering level %d", l);
    cr_assert_eq(n.depth_out[l], (uintptr_t)l, "depth leaving level %d", l);
    cr_assert_eq(n.stack_in[l], n.stacks[(l - 1) % 2], "stack at level %d", l);
    cr_assert_eq(n.stack_out[l], n.stacks[(l - 1) % 2], "stack after %d", l);
    cr_assert(n.sp_inside[l], "sp outside its stack at level %d", l);
    cr_assert(n.canary_ok[l], "frames of level %d overwritten", l);
  }
  cr_assert_eq(r->depth, 0u);
  cr_assert_eq(r->top, NULL);
  cr_assert_eq(r->stack, before);
  goroA_ctx_destroy(&n.ctx[0]);
  goroA_ctx_destroy(&n.ctx[1]);
  goroR_stack_put(a);
  goroR_stack_put(b);
}

/* ---- unwinders stop at a context's base ----------------------------------- */

static goro_ctx bt_ctx;
static void *bt_frames[64];
static int bt_n;

static __attribute__((noinline)) void bt_leaf(int n) {
  if (n > 0) {
    bt_leaf(n - 1);
    __asm__ volatile("" ::: "memory");
    return;
  }
  bt_n = backtrace(bt_frames, 64);
}

static void bt_entry(goro_ctx *from, void *arg) {
  (void)from;
  (void)arg;
  bt_leaf(5);
  goroA_ctx_exit(&bt_ctx, &main_ctx, NULL);
}

Test(arch, backtrace_from_a_switched_stack_ends_at_its_base) {
  struct goro_stack *st;
  uintptr_t last, start = (uintptr_t)goroA_start;
  goroA_ctx_init_thread(&main_ctx);
  new_ctx(&bt_ctx, &st, bt_entry);
  goroA_ctx_switch(&main_ctx, &bt_ctx, NULL);
  cr_assert_gt(bt_n, 6, "the G's own frames are listed");
  cr_assert_lt(bt_n, 64, "the walk stopped by itself");
  last = (uintptr_t)bt_frames[bt_n - 1];
  cr_assert(last > start && last <= start + 32,
            "the last frame is the context's base (goroA_start)");
  free_ctx(&bt_ctx, st);
}
