/*
** bench/switch.c — cost of one switch round trip (there and back), side by
** side with its anchors, in one run:
**
**   goro       goroA_ctx_switch to a context and back (arch/ + annotations)
**   goro-call  goroA_ctx_call: run a function on another stack and return
**   boost      Boost.Context's jump_fcontext round trip (when built with
**              libboost-context-dev: GORO_BENCH_BOOST), the same saved state
**   swapcontext glibc's ucontext switch (saves the signal mask: a syscall)
**   lua C      lua_resume of a thread whose C function yields (lua_yieldk)
**   lua coro   lua_resume of a Lua coroutine that loops coroutine.yield()
**   lua floor  a channel ping-pong's Lua work alone (stub channels)
**
** Each figure is the best of 5 runs, in ns per round trip; ratios are to
** goro's switch. A benchmark, not a test: nothing here asserts a time.
*/
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <ucontext.h>

#include "../arch/ctx.h"
#include "benchutil.h"

#if defined(__x86_64__)
#define GORO_BENCH_ENTRY r12
#else
#define GORO_BENCH_ENTRY x[0]
#endif
#include "../runtime/stack.h"

typedef void (*bench_fn)(long n);

static double best_ns(bench_fn f, long n) {
  double best = 1e30;
  f(n / 10);  /* warm up */
  for (int r = 0; r < 5; r++) {
    double t = bench_now();
    f(n);
    t = (bench_now() - t) * 1e9 / (double)n;
    if (t < best) best = t;
  }
  return best;
}

/* ---- goro ---------------------------------------------------------------- */
static goro_ctx g_main, g_peer;

static void peer_entry(goro_ctx *from, void *arg) {
  (void)arg;
  for (;;) goroA_ctx_switch(&g_peer, from, NULL);
}

static void bench_goro(long n) {
  for (long i = 0; i < n; i++) goroA_ctx_switch(&g_main, &g_peer, NULL);
}

/* The bare assembly, without the C wrapper's bookkeeping: the floor. */
static void *raw_main_sp, *raw_peer_sp;

static void raw_entry(void *arg, void *data) {
  (void)arg;
  (void)data;
  for (;;) goroA_jump(&raw_peer_sp, raw_main_sp, NULL);
}

static void bench_raw(long n) {
  for (long i = 0; i < n; i++) goroA_jump(&raw_main_sp, raw_peer_sp, NULL);
}

static struct goro_stack *call_stack;
static goro_ctx call_ctx;
static void *empty(void *p) { return p; }

static void bench_goro_call(long n) {
  void *top = (char *)call_stack->desc.lo + call_stack->desc.size;
  for (long i = 0; i < n; i++) goroA_ctx_call(top, &call_ctx, empty, NULL);
}

/* ---- Boost.Context ------------------------------------------------------- */
#ifdef GORO_BENCH_BOOST
/* Its two C-linkage entry points (boost/context/detail/fcontext.hpp); the
** library is C++ but these symbols are extern "C". */
typedef void *fcontext_t;
typedef struct {
  fcontext_t fctx;
  void *data;
} transfer_t;
transfer_t jump_fcontext(fcontext_t const to, void *vp);
fcontext_t make_fcontext(void *sp, size_t size, void (*fn)(transfer_t));

static fcontext_t b_peer;

static void b_entry(transfer_t t) {
  for (;;) t = jump_fcontext(t.fctx, NULL);
}

static void bench_boost(long n) {
  for (long i = 0; i < n; i++) b_peer = jump_fcontext(b_peer, NULL).fctx;
}
#endif

/* ---- ucontext ------------------------------------------------------------ */
static ucontext_t u_main, u_peer;

static void u_entry(void) {
  for (;;) swapcontext(&u_peer, &u_main);
}

static void bench_ucontext(long n) {
  for (long i = 0; i < n; i++) swapcontext(&u_main, &u_peer);
}

/* ---- Lua ----------------------------------------------------------------- */
static lua_State *L, *co_c, *co_lua;

static int yield_k(lua_State *T, int status, lua_KContext ctx) {
  (void)status;
  return lua_yieldk(T, 0, ctx, yield_k);
}

static int yielder(lua_State *T) { return lua_yieldk(T, 0, 0, yield_k); }

static void bench_lua_c(long n) {
  int nres;
  for (long i = 0; i < n; i++) lua_resume(co_c, L, 0, &nres);
}

static void bench_lua_coro(long n) {
  int nres;
  for (long i = 0; i < n; i++) lua_resume(co_lua, L, 0, &nres);
}

/* The Lua floor of a goro channel ping-pong: the same two loops as
** bench/sched.lua's (`a:send(i); b:recv()` and `b:send(a:recv())`) on two
** Lua threads resumed in turn from C, against stub channels whose send
** stores the value and whose recv yields from C (lua_yieldk) and returns
** it on resume. Everything a round trip costs but the channel logic and
** the scheduler. */
static lua_State *pp_a, *pp_b;
static int pp_slot;

static int stub_send(lua_State *T) {
  pp_slot = (int)lua_tointeger(T, 2);
  return 0;
}

static int stub_recv_k(lua_State *T, int status, lua_KContext ctx) {
  (void)status;
  (void)ctx;
  lua_pushinteger(T, pp_slot);
  lua_pushboolean(T, 1);
  return 2;
}

static int stub_recv(lua_State *T) { return lua_yieldk(T, 0, 0, stub_recv_k); }

static void bench_lua_pingpong(long n) {
  int nres;
  for (long i = 0; i < n; i++) {  /* A sends and waits; B echoes and waits */
    lua_resume(pp_a, L, 0, &nres);
    lua_resume(pp_b, L, 0, &nres);
  }
}

static void pp_start(void) {
  static const char *loops[2] = {
      "local a, b = ... while true do a:send(1); b:recv() end",
      "local a, b = ... while true do b:send(a:recv()) end"};
  lua_State **co[2] = {&pp_b, &pp_a};
  int nres;
  lua_newtable(L);  /* the stub channels' metatable */
  lua_newtable(L);
  lua_pushcfunction(L, stub_send);
  lua_setfield(L, -2, "send");
  lua_pushcfunction(L, stub_recv);
  lua_setfield(L, -2, "recv");
  lua_setfield(L, -2, "__index");
  for (int i = 0; i < 2; i++) {  /* B first: it waits on a:recv() */
    lua_State *T = *co[i] = lua_newthread(L);
    lua_pop(L, 1);
    luaL_loadstring(T, loops[1 - i]);
    for (int k = 0; k < 2; k++) {
      lua_newuserdatauv(T, 1, 0);
      lua_pushvalue(L, -1);
      lua_xmove(L, T, 1);
      lua_setmetatable(T, -2);
    }
    lua_resume(T, L, 2, &nres);
  }
  lua_pop(L, 1);
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 2000000;
  struct goro_stack *st = goroR_stack_get();
  static char ustack[256 * 1024];
  int nres;
  double r, g, gc, u, lc, ll, lp, b = 0;

  call_stack = goroR_stack_get();
  goroA_ctx_init_stack(&call_ctx, &call_stack->desc);
  goroA_ctx_init_thread(&g_main);
  goroA_ctx_make(&g_peer, &st->desc, peer_entry);
  {
    /* a context whose entry is raw_entry itself, not goro's C entry */
    static goro_ctx raw;
    struct goro_stack *rs = goroR_stack_get();
    goroA_ctx_make(&raw, &rs->desc, peer_entry);
    ((struct goro_arch_frame *)raw.sp)->GORO_BENCH_ENTRY =
        (uint64_t)(uintptr_t)raw_entry;
    raw_peer_sp = raw.sp;
  }

  getcontext(&u_peer);
  u_peer.uc_stack.ss_sp = ustack;
  u_peer.uc_stack.ss_size = sizeof ustack;
  u_peer.uc_link = NULL;
  makecontext(&u_peer, u_entry, 0);

  L = luaL_newstate();
  luaL_openlibs(L);
  co_c = lua_newthread(L);
  lua_pushcfunction(co_c, yielder);
  lua_resume(co_c, L, 0, &nres);
  co_lua = lua_newthread(L);
  luaL_loadstring(co_lua, "local y = coroutine.yield while true do y() end");
  lua_resume(co_lua, L, 0, &nres);
  pp_start();
#ifdef GORO_BENCH_BOOST
  {
    struct goro_stack *bs = goroR_stack_get();  /* fcontext wants the top */
    b_peer = make_fcontext((char *)bs->desc.lo + bs->desc.size, bs->desc.size, b_entry);
    b_peer = jump_fcontext(b_peer, NULL).fctx;  /* into b_entry's loop */
  }
#endif

  r = best_ns(bench_raw, n);
  g = best_ns(bench_goro, n);
  gc = best_ns(bench_goro_call, n);
  u = best_ns(bench_ucontext, n / 10);
#ifdef GORO_BENCH_BOOST
  b = best_ns(bench_boost, n);
#endif
  lc = best_ns(bench_lua_c, n);
  ll = best_ns(bench_lua_coro, n);
  lp = best_ns(bench_lua_pingpong, n / 4);

  printf("switch round trip (there and back), best of 5, %ld iterations (%s)\n", n,
         bench_cpu());
  printf("%-38s %10s %10s\n", "", "ns/trip", "vs goro");
  printf("%-38s %10.1f %9.2fx\n", "goro switch (goroA_ctx_switch)", g, 1.0);
  printf("%-38s %10.1f %9.2fx\n", "  of which bare asm (goroA_jump)", r, r / g);
  printf("%-38s %10.1f %9.2fx\n", "goro call on another stack", gc, gc / g);
  if (b > 0)
    printf("%-38s %10.1f %9.2fx\n", "Boost.Context jump_fcontext", b, b / g);
  else
    printf("%-38s %10s\n", "Boost.Context jump_fcontext", "(not built: no libboost-context-dev)");
  printf("%-38s %10.1f %9.2fx\n", "glibc swapcontext", u, u / g);
  printf("%-38s %10.1f %9.2fx\n", "Lua 5.4 resume/yieldk (C thread)", lc, lc / g);
  printf("%-38s %10.1f %9.2fx\n", "Lua 5.4 resume/yield (coroutine)", ll, ll / g);
  printf("\nLua floor of a channel ping-pong round trip (bench/sched.lua's loops,\n"
         "stub channels, two threads resumed in turn from C): %.1f ns\n", lp);
  lua_close(L);
  return 0;
}
