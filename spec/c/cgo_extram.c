/*
** spec/c/cgo_extram.c — host threads bound to extra M's, mirroring Go's
** testprogcgo: bindm and dropm (a thread keeps its M until it exits, and
** the next thread reuses it), NeedmDeadlock (signals during a thread's
** first calls), StackSwitchCallback (calls from the host's own makecontext
** stacks) and CgoCallbackGC (short-lived threads, GC and deep recursion).
*/
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include "../../vm_bridge/bridge.h"
#include "crit.h"
#include "hostutil.h"

/* ---- EnsureBindM / EnsureDropM ---------------------------------------------------- */

struct bindrec {
  long long ids[100];
  pthread_barrier_t *both;  /* if set: wait for the other after the first call */
};

static int read_mid(lua_State *T, void *ud) {
  lua_getglobal(T, "goro");
  lua_getfield(T, -1, "m");
  lua_call(T, 0, 1);
  lua_getfield(T, -1, "id");
  *(long long *)ud = lua_tointeger(T, -1);
  return 0;
}

static void *bind_thread(void *arg) {
  struct bindrec *r = arg;
  for (int i = 0; i < 100; i++) {
    if (goro_call(rt, read_mid, &r->ids[i]) != LUA_OK) r->ids[i] = -1;
    if (i == 0 && r->both != NULL) pthread_barrier_wait(r->both);
    usleep(1);
  }
  return NULL;
}

Test(cgo, a_thread_keeps_its_extra_m_and_exit_returns_it, .timeout = 60) {
  struct bindrec a, b;
  pthread_t ta, tb;
  pthread_barrier_t both;
  long long first, second;
  struct goro_runtime *R;
  open_state(NULL);
  R = rt;
  /* Both bound at once: without the barrier one thread could finish its
  ** calls and exit before the other's first, which then reuses its M (a
  ** run on a busy machine did). */
  pthread_barrier_init(&both, NULL, 2);
  a.both = b.both = &both;
  pthread_create(&ta, NULL, bind_thread, &a);
  pthread_create(&tb, NULL, bind_thread, &b);
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  for (int i = 1; i < 100; i++) {
    cr_assert_eq(a.ids[i], a.ids[0], "thread A: same M on every call");
    cr_assert_eq(b.ids[i], b.ids[0], "thread B: same M on every call");
  }
  cr_assert_neq(a.ids[0], b.ids[0], "two live threads, two M's");
  cr_assert_eq(R->rt.nextram_inuse, 0, "both M's went back at thread exit");
  pthread_barrier_destroy(&both);
  a.both = b.both = NULL;
  /* EnsureDropM: a thread that comes after reuses a returned M */
  pthread_create(&ta, NULL, bind_thread, &a);
  pthread_join(ta, NULL);
  first = a.ids[0];
  pthread_create(&tb, NULL, bind_thread, &b);
  pthread_join(tb, NULL);
  second = b.ids[0];
  cr_assert_eq(first, second, "the next thread got the M the last one returned");
  cr_assert_eq(R->rt.nextram_inuse, 0);
  cr_assert_leq(R->rt.nextram, 4, "M's are reused, not made per thread");
  close_state();
}

/* ---- NeedmDeadlock: signals aimed at a thread during its first calls ------------ */

static atomic_int signals_seen, stop_signalling;
static pthread_t target;  /* written before target_set is set, read after */
static atomic_int target_set;

static void on_usr1(int sig) {
  (void)sig;
  (void)goro_is_extra_in_c();  /* what a profiler's handler would read */
  atomic_fetch_add(&signals_seen, 1);
}

static atomic_int signallers_busy;

static void *signaller(void *arg) {
  (void)arg;
  while (!atomic_load(&stop_signalling)) {
    atomic_fetch_add(&signallers_busy, 1);
    if (atomic_load(&target_set)) pthread_kill(target, SIGUSR1);
    atomic_fetch_sub(&signallers_busy, 1);
    usleep(50);
  }
  return NULL;
}

static void *first_calls(void *arg) {
  int *ok = arg;
  for (int i = 0; i < 10; i++)
    if (lua_do("local x = 0 for i = 1, 100 do x = x + i end") != LUA_OK) *ok = 0;
  return NULL;
}

Test(cgo, signals_during_first_calls_do_not_hang, .timeout = 60) {
  pthread_t sig[10];
  int ok = 1;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &sa, NULL);
  open_state(NULL);
  for (int i = 0; i < 10; i++) pthread_create(&sig[i], NULL, signaller, NULL);
  for (int round = 0; round < 20; round++) {  /* 20 fresh threads: 20 needm's */
    pthread_t t;
    pthread_create(&t, NULL, first_calls, &ok);
    target = t;
    atomic_store(&target_set, 1);
    pthread_join(t, NULL);
    atomic_store(&target_set, 0);
    while (atomic_load(&signallers_busy) > 0) usleep(10);  /* none uses t */
  }
  atomic_store(&stop_signalling, 1);
  for (int i = 0; i < 10; i++) pthread_join(sig[i], NULL);
  cr_assert(ok, "%s", goro_errmsg());
  cr_assert_gt(atomic_load(&signals_seen), 0, "the signals did arrive");
  close_state();
}

/* ---- StackSwitchCallback: calls from the host's own makecontext stacks ------------- */

static ucontext_t uc_main, uc_a, uc_b;
static int uc_status[3];

static void uc_body(int which) {
  uc_status[which] = lua_do(
      "local s = ('x'):rep(50):gsub('x', function(c) return c:upper() end)\n"
      "local function r(n) if n == 0 then return 0 end return 1 + r(n - 1) end\n"
      "assert(r(1000) == 1000 and #s == 50)\n");
  swapcontext(which == 1 ? &uc_a : &uc_b, &uc_main);
}

static void *stackswitch_thread(void *arg) {
  static char sa[64 * 1024], sb[64 * 1024];
  (void)arg;
  uc_status[0] = lua_do("assert(goro.m().extra)");  /* from its own stack */
  getcontext(&uc_a);
  uc_a.uc_stack.ss_sp = sa;
  uc_a.uc_stack.ss_size = sizeof sa;
  uc_a.uc_link = &uc_main;
  makecontext(&uc_a, (void (*)(void))uc_body, 1, 1);
  getcontext(&uc_b);
  uc_b.uc_stack.ss_sp = sb;
  uc_b.uc_stack.ss_size = sizeof sb;
  uc_b.uc_link = &uc_main;
  makecontext(&uc_b, (void (*)(void))uc_body, 1, 2);
  swapcontext(&uc_main, &uc_a);
  swapcontext(&uc_main, &uc_b);
  return NULL;
}

Test(cgo, calls_from_the_hosts_own_64k_makecontext_stacks_work, .timeout = 60) {
  pthread_t t;
  open_state(NULL);
  pthread_create(&t, NULL, stackswitch_thread, NULL);
  pthread_join(t, NULL);
  for (int i = 0; i < 3; i++)
    cr_assert_eq(uc_status[i], LUA_OK, "call %d: %s", i, goro_errmsg());
  close_state();
}

/* ---- CgoCallbackGC: short-lived threads, GC and deep recursion inside -------------- */

static void *churn_thread(void *arg) {
  *(int *)arg = lua_do(
      "collectgarbage()\n"
      "local function r(n) if n == 0 then return 0 end return 1 + r(n - 1) end\n"
      "assert(r(10000) == 10000)\n"
      "assert(goro.stats().extra_ms_in_use > 0)\n"
      "collectgarbage()\n");
  return NULL;
}

Test(cgo, one_hundred_short_lived_threads_call_in_once_each, .timeout = 120) {
  struct goro_runtime *R;
  int status[100];
  open_state(NULL);
  R = rt;
  for (int i = 0; i < 100; i += 4) {  /* four at a time */
    pthread_t t[4];
    for (int k = 0; k < 4; k++) pthread_create(&t[k], NULL, churn_thread, &status[i + k]);
    for (int k = 0; k < 4; k++) pthread_join(t[k], NULL);
  }
  for (int i = 0; i < 100; i++) cr_assert_eq(status[i], LUA_OK, "thread %d", i);
  cr_assert_eq(R->rt.nextram_inuse, 0, "every M went back");
  cr_assert_leq(R->rt.nextram, 8, "and was reused (%d made)", R->rt.nextram);
  close_state();
}
