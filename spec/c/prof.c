/*
** spec/c/prof.c — the CPU profiler: the consumer of isExtraInC.
**
** The first test is the regression Go guards with callback_pprof (the bug
** of golang/go#72870): after a nested callback returns, Lua code on the
** host thread must be sampled as Lua code, never as "[external code]".
** The others mirror Go's CgoPprofCallback, CgoExternalThreadSIGPROF and
** profile start/stop loops. Profiles are read back in folded form; the
** last test reads a pprof file's gzip and deflate framing.
*/
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "../../runtime/prof.h"
#include "../../vm_bridge/bridge.h"
#include "crit.h"
#include "luastate.h"

void goro_testmod_spin(void *p);

static lua_State *L;
static goro_runtime *rt;

static lua_State *new_state(void) {
  lua_State *S = goro_test_state_tm();
  cr_assert_not_null(S, "a state with goro and goro_testmod");
  return S;
}

/* thread_cpu(): the calling thread's CPU seconds, so busy loops last a
** CPU time however loaded the machine is. */
static int l_thread_cpu(lua_State *S) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  lua_pushnumber(S, (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9);
  return 1;
}

static void open_host(const char *setup) {
  L = new_state();
  lua_pushcfunction(L, l_thread_cpu);
  lua_setglobal(L, "thread_cpu");
  cr_assert_eq(luaL_dostring(L, setup), LUA_OK, "%s", lua_tostring(L, -1));
  rt = goro_open(L);
  cr_assert_not_null(rt, "%s", goro_errmsg());
}

static void close_host(void) {
  goro_close(rt);
  lua_close(L);
}

static void tmp_path(char *buf, size_t len, const char *name) {
  snprintf(buf, len, "/tmp/goro-prof-%d-%s", (int)getpid(), name);
}

/* ---- reading folded profiles ----------------------------------------------- */

#define MAXLINES 4096

struct folded {
  int n;
  char *stack[MAXLINES]; /* "root;...;leaf" */
  unsigned long long count[MAXLINES];
  unsigned long long total;
};

/* Read a folded profile, asserting every line is well formed: non-empty
** frames separated by ';', one space, a positive count. */
static void read_folded(const char *path, struct folded *f) {
  FILE *fp = fopen(path, "r");
  char line[16384];
  memset(f, 0, sizeof *f);
  cr_assert_not_null(fp, "profile %s was written", path);
  while (fgets(line, sizeof line, fp) != NULL) {
    char *sp = strrchr(line, ' '), *end;
    unsigned long long c;
    cr_assert_not_null(sp, "line has a count: %s", line);
    *sp = '\0';
    c = strtoull(sp + 1, &end, 10);
    cr_assert(c > 0 && (*end == '\n' || *end == '\0'), "count of '%s'", line);
    cr_assert(line[0] != '\0' && line[0] != ';' && sp[-1] != ';' &&
                  strstr(line, ";;") == NULL,
              "frames of '%s' are non-empty", line);
    cr_assert_lt(f->n, MAXLINES);
    f->stack[f->n] = strdup(line);
    f->count[f->n++] = c;
    f->total += c;
  }
  fclose(fp);
}

static void free_folded(struct folded *f) {
  for (int i = 0; i < f->n; i++) free(f->stack[i]);
}

/* The frame before (toward the root) the last frame starting with `name`
** in stack s, copied into buf; "" if `name` is the root; NULL if absent. */
static const char *caller_of(const char *s, const char *name, char *buf, size_t len) {
  const char *p = s, *prev = NULL, *found = NULL, *foundprev = NULL;
  size_t nl = strlen(name);
  while (p != NULL && *p != '\0') {
    if (strncmp(p, name, nl) == 0) {
      found = p;
      foundprev = prev;
    }
    prev = p;
    p = strchr(p, ';');
    if (p != NULL) p++;
  }
  if (found == NULL) return NULL;
  if (foundprev == NULL) {
    buf[0] = '\0';
    return buf;
  }
  {
    size_t n = (size_t)(found - 1 - foundprev);
    if (n >= len) n = len - 1;
    memcpy(buf, foundprev, n);
    buf[n] = '\0';
  }
  return buf;
}

static const char *leaf_of(const char *s) {
  const char *p = strrchr(s, ';');
  return p ? p + 1 : s;
}

/* ---- the seed regression (callback_pprof) ------------------------------------- */

static void *seed_thread(void *arg) {
  (void)arg;
  if (goro_call(rt, goro_test_run_chunk, "f1()") != LUA_OK) return (void *)goro_errmsg();
  return NULL;
}

Test(prof, after_a_nested_callback_lua_code_is_never_external_code, .timeout = 120) {
  char path[256], buf[256];
  struct folded f;
  pthread_t t;
  void *err;
  unsigned long long callee = 0, callee_leaf = 0, external = 0;

  tmp_path(path, sizeof path, "seed.folded");
  open_host(
      "function f2() local x = 0 for i = 1, 1000 do x = x + i end end\n"
      "function callee(s)\n"
      "  local x, e = 0, thread_cpu() + s\n"
      "  while thread_cpu() < e do for i = 1, 100 do x = x + i end end\n"
      "  return x\n"
      "end\n"
      "function f1()\n"
      "  tm.cgo_callback(f2)\n"
      "  callee(1.0)\n"
      "end\n");
  cr_assert_eq(goro_profile_start(100, path, "folded"), 0, "%s", goro_errmsg());
  pthread_create(&t, NULL, seed_thread, NULL);
  pthread_join(t, &err);
  cr_assert_null(err, "f1 ran: %s", err ? (char *)err : "");
  cr_assert_eq(goro_profile_stop(), 0, "%s", goro_errmsg());
  close_host();

  read_folded(path, &f);
  for (int i = 0; i < f.n; i++) {
    const char *c = caller_of(f.stack[i], "callee (", buf, sizeof buf);
    if (strcmp(f.stack[i], "[external code]") == 0) external += f.count[i];
    if (c == NULL) continue;
    callee += f.count[i];
    if (strncmp(leaf_of(f.stack[i]), "callee (", 8) == 0) callee_leaf += f.count[i];
    cr_assert(strncmp(c, "f1 (", 4) == 0,
              "callee's caller is f1, not '%s' (stack %s)", c, f.stack[i]);
  }
  cr_assert_geq(callee, 30, "a second of callee on the host thread is sampled "
                "(%llu samples with callee, %llu external)", callee, external);
  cr_assert_geq(callee_leaf, 1, "callee is a leaf in some samples");
  cr_assert_lt(external, 10, "the host thread was in Lua, not in C "
               "(%llu external samples)", external);
  free_folded(&f);
  unlink(path);
}

/* ---- host threads in C between calls ----------------------------------------- */

static atomic_int phase;

static void *idle_thread(void *arg) {
  struct {
    double s;
  } nap = {0.5};
  (void)arg;
  if (goro_call(rt, goro_test_run_chunk, "x = 1") != LUA_OK) return (void *)goro_errmsg();
  atomic_store(&phase, 1);  /* bound: an extra M in C from now on */
  while (atomic_load(&phase) != 2) usleep(100);
  goro_testmod_spin(&nap);  /* busy in C, between calls */
  return NULL;
}

Test(prof, a_host_thread_in_c_between_calls_is_external_code_only, .timeout = 60) {
  char path[256];
  struct folded f;
  struct goro_prof_stats st;
  pthread_t t;
  void *err;

  tmp_path(path, sizeof path, "idle.folded");
  open_host("x = 0");
  atomic_store(&phase, 0);
  pthread_create(&t, NULL, idle_thread, NULL);
  while (atomic_load(&phase) != 1) usleep(100);
  cr_assert_eq(goro_profile_start(100, path, "folded"), 0, "%s", goro_errmsg());
  atomic_store(&phase, 2);
  pthread_join(t, &err);
  cr_assert_null(err, "the thread called in: %s", err ? (char *)err : "");
  cr_assert_eq(goro_profile_stop(), 0, "%s", goro_errmsg());
  goroR_prof_get_stats(&st);
  close_host();

  read_folded(path, &f);
  cr_assert_geq(f.total, 20, "half a second in C is sampled (%llu)", f.total);
  for (int i = 0; i < f.n; i++)
    cr_assert_str_eq(f.stack[i], "[external code]",
                     "every sample is external code, not %s", f.stack[i]);
  cr_assert_eq(st.external, f.total);
  free_folded(&f);
  unlink(path);
}

/* ---- CgoPprofCallback: G's in C that call back, under the profiler ---------------- */

/* mask_ok(): the calling thread takes SIGPROF, SIGURG and SIGSEGV (a worker
** started by sysmon once inherited sysmon's all-blocked mask). */
static int l_mask_ok(lua_State *S) {
  sigset_t set;
  pthread_sigmask(SIG_BLOCK, NULL, &set);
  lua_pushboolean(S, !sigismember(&set, SIGPROF) && !sigismember(&set, SIGURG) &&
                         !sigismember(&set, SIGSEGV));
  return 1;
}

Test(prof, many_gs_calling_c_that_calls_back_while_profiling, .timeout = 120) {
  char path[256], code[2048];
  struct folded f;
  lua_State *S = new_state();
  int rc;

  tmp_path(path, sizeof path, "cb.folded");
  lua_pushcfunction(S, l_mask_ok);
  lua_setglobal(S, "mask_ok");
  snprintf(code, sizeof code,
           "return goro.run(function()\n"
           "  goro.profile.start{hz = 100, path = '%s', format = 'folded'}\n"
           "  local stop, wg, calls, masked = false, goro.waitgroup(), 0, 0\n"
           "  local function work()\n"
           "    if not mask_ok() then masked = masked + 1 end\n"
           "    local x = 0 for i = 1, 2000 do x = x + i end\n"
           "  end\n"
           "  for i = 1, 64 do\n"
           "    wg:add(1)\n"
           "    goro.go(function()\n"
           "      while not stop do tm.cgo_nap_callback(50e-6, work) calls = calls + 1 end\n"
           "      wg:done()\n"
           "    end)\n"
           "  end\n"
           "  goro.sleep(1)\n"
           "  stop = true\n"
           "  wg:wait()\n"
           "  goro.profile.stop()\n"
           "  return calls, masked\n"
           "end)\n",
           path);
  rc = luaL_dostring(S, code);
  cr_assert_eq(rc, LUA_OK, "%s", lua_tostring(S, -1));
  cr_assert_gt(lua_tointeger(S, -2), 64, "the G's made calls");
#ifndef GORO_TSAN
  cr_assert_eq(lua_tointeger(S, -1), 0,
               "every M that ran a callback takes SIGPROF, SIGURG, SIGSEGV");
#else
  /* Under TSan (GCC 12's libtsan) a worker sometimes starts with every
  ** signal blocked, SIGSEGV and SIGINT too, which worker_start never
  ** blocks: TSan's pthread_create blocks them all around the creation and
  ** did not give this thread its creator's mask back (1 run in 6; every
  ** other lane asserts it). Reported, not asserted, here. */
  if (lua_tointeger(S, -1) != 0)
    fprintf(stderr, "(TSan) %lld callbacks ran with signals blocked\n",
            (long long)lua_tointeger(S, -1));
#endif
  lua_close(S);

  read_folded(path, &f);  /* asserts every line is well formed */
  cr_assert_gt(f.total, 0, "samples were taken");
  free_folded(&f);
  unlink(path);
}

/* ---- start/stop in a loop --------------------------------------------------------- */

static int l_signals(lua_State *S) {
  struct goro_prof_stats st;
  goroR_prof_get_stats(&st);
  lua_pushinteger(S, (lua_Integer)st.signals);
  lua_pushinteger(S, (lua_Integer)st.timers);
  lua_pushinteger(S, (lua_Integer)st.threads);
  return 3;
}

Test(prof, start_stop_100_times_while_gs_run_leaves_no_timer_and_no_signal,
     .timeout = 120) {
  char path[256], code[2048];
  lua_State *S = new_state();
  struct goro_prof_stats before, after;

  tmp_path(path, sizeof path, "loop.folded");
  lua_pushcfunction(S, l_signals);
  lua_setglobal(S, "prof_signals");
  goroR_prof_get_stats(&before);
  snprintf(code, sizeof code,
           "return goro.run(function()\n"
           "  local stop = false\n"
           /* Busy G's that park now and then. */
           "  for i = 1, 4 do goro.go(function()\n"
           "    local x = 0\n"
           "    while not stop do for j = 1, 20000 do x = x + j end goro.sleep(0.001) end\n"
           "  end) end\n"
           "  for i = 1, 100 do\n"
           "    goro.profile.start{hz = 1000, path = '%s', format = 'folded'}\n"
           "    goro.sleep(0.005)\n"
           "    goro.profile.stop()\n"
           "  end\n"
           "  local s0, timers = prof_signals()\n"
           "  goro.sleep(0.2)\n"
           "  local s1 = prof_signals()\n"
           "  stop = true\n"
           "  return s1 - s0, timers\n"
           "end)\n",
           path);
  cr_assert_eq(luaL_dostring(S, code), LUA_OK, "%s", lua_tostring(S, -1));
  cr_assert_eq(lua_tointeger(S, -1), 0, "no timer is left after stop");
  cr_assert_eq(lua_tointeger(S, -2), 0,
               "no SIGPROF arrives after stop (%lld did)", lua_tointeger(S, -2));
  lua_close(S);
  goroR_prof_get_stats(&after);
  cr_assert_eq(after.timers, 0);
  cr_assert_eq(after.threads, before.threads, "every thread detached");
  cr_assert_gt(after.signals, before.signals, "the profiles did sample");
  cr_assert_eq(after.session, before.session + 100);
  unlink(path);
}

/* ---- a SIGPROF on a thread that never called in --------------------------------- */

static void *bystander(void *arg) {
  atomic_int *stop = arg;
  while (!atomic_load(stop)) usleep(1000);
  return NULL;
}

/* Send SIGPROF to t and wait until the handler has dropped it (signals
** sent faster than they are handled would merge). Under TSan, which
** queues a signal to run its handler later, one was seen lost this way
** (once, in the TSan lane): a signal not handled within a second is
** sent once more, before the wait fails. */
static int kill_and_wait(pthread_t t) {
  struct goro_prof_stats st;
  uint64_t before;
  goroR_prof_get_stats(&st);
  before = st.dropped;
  for (int send = 0; send < 2; send++) {
    pthread_kill(t, SIGPROF);
    for (int i = 0; i < 10000; i++) {
      goroR_prof_get_stats(&st);
      if (st.dropped > before) return 1;
      usleep(100);
    }
  }
  return 0;
}

Test(prof, sigprof_on_a_thread_that_never_called_in_is_dropped, .timeout = 60) {
  char path[256];
  atomic_int stop = 0;
  pthread_t t;
  int n = 0;

  tmp_path(path, sizeof path, "bystander.folded");
  cr_assert_eq(goro_profile_start(100, path, "folded"), 0, "%s", goro_errmsg());
  pthread_create(&t, NULL, bystander, &stop);
  for (int i = 0; i < 100; i++) n += kill_and_wait(t);
  cr_assert_eq(goro_profile_stop(), 0, "%s", goro_errmsg());
  for (int i = 0; i < 10; i++) n += kill_and_wait(t);  /* the handler stays */
  atomic_store(&stop, 1);
  pthread_join(t, NULL);
  cr_assert_eq(n, 110, "each signal was handled and dropped, none crashed");
  unlink(path);
}

/* ---- the C API ------------------------------------------------------------------ */

Test(prof, the_c_api_reports_bad_input_and_state_errors) {
  char path[256];
  tmp_path(path, sizeof path, "api.pprof");
  cr_assert_eq(goro_profile_stop(), LUA_ERRRUN);
  cr_assert(strstr(goro_errmsg(), "no profile is running") != NULL, "%s", goro_errmsg());
  cr_assert_eq(goro_profile_start(0, path, NULL), GORO_BADARG);
  cr_assert(strstr(goro_errmsg(), "hz") != NULL, "%s", goro_errmsg());
  cr_assert_eq(goro_profile_start(100, path, "svg"), GORO_BADARG);
  cr_assert(strstr(goro_errmsg(), "unknown format") != NULL, "%s", goro_errmsg());
  cr_assert_eq(goro_profile_start(100, "", NULL), GORO_BADARG);
  cr_assert_eq(goro_profile_start(100, path, NULL), 0, "%s", goro_errmsg());
  cr_assert_eq(goro_profile_start(100, path, NULL), GORO_BADARG);
  cr_assert(strstr(goro_errmsg(), "already running") != NULL, "%s", goro_errmsg());
  cr_assert_eq(goro_profile_stop(), 0, "%s", goro_errmsg());
  {
    FILE *fp = fopen(path, "rb");
    unsigned char magic[2] = {0, 0};
    cr_assert_not_null(fp);
    cr_assert_eq(fread(magic, 1, 2, fp), 2);
    fclose(fp);
    cr_assert(magic[0] == 0x1f && magic[1] == 0x8b, "pprof output is gzip");
  }
  cr_assert_eq(goro_profile_start(100, "/nonexistent-dir/x.pprof", NULL), 0);
  cr_assert_eq(goro_profile_stop(), LUA_ERRRUN);
  cr_assert(strstr(goro_errmsg(), "cannot write") != NULL, "%s", goro_errmsg());
  unlink(path);
}

/* ---- the pprof file is compressed ------------------------------------------------ */

/* Read all of path into a malloc'ed buffer; its size in *n. */
static unsigned char *read_all(const char *path, size_t *n) {
  FILE *fp = fopen(path, "rb");
  unsigned char *p = NULL;
  size_t cap = 0;
  cr_assert_not_null(fp, "profile %s was written", path);
  *n = 0;
  for (;;) {
    if (*n == cap) {
      cap = cap ? cap * 2 : 65536;
      p = realloc(p, cap);
      cr_assert_not_null(p);
    }
    size_t k = fread(p + *n, 1, cap - *n, fp);
    if (k == 0) break;
    *n += k;
  }
  fclose(fp);
  return p;
}

/* The offset of the deflate stream in a gzip member (RFC 1952 §2.3). */
static size_t gzip_body(const unsigned char *p, size_t n) {
  size_t off = 10;
  cr_assert_geq(n, 18, "a gzip member has a header and a trailer");
  cr_assert(p[0] == 0x1f && p[1] == 0x8b && p[2] == 8, "gzip, deflate method");
  if (p[3] & 4) off += 2 + (p[off] | (size_t)p[off + 1] << 8);  /* FEXTRA */
  if (p[3] & 8) off += strlen((const char *)p + off) + 1;     /* FNAME */
  if (p[3] & 16) off += strlen((const char *)p + off) + 1;    /* FCOMMENT */
  if (p[3] & 2) off += 2;                                     /* FHCRC */
  cr_assert_lt(off, n);
  return off;
}

Test(prof, a_pprof_profile_is_really_compressed, .timeout = 60) {
  char path[256], names[16][32];
  struct goro_prof_frame f[GORO_PROF_MAXDEPTH];
  unsigned char *gz, *raw;
  size_t ngz, nraw = 0, cap = 1 << 20;
  uint32_t sess;
  z_stream z;
  int rc;

  /* A deep recursion: many stacks, each repeating the same few frames, as
  ** a real profile does. */
  tmp_path(path, sizeof path, "deflate.pprof");
  cr_assert_eq(goro_profile_start(100, path, "pprof"), 0, "%s", goro_errmsg());
  sess = goroR_prof_session();
  for (int i = 0; i < 16; i++) snprintf(names[i], sizeof names[i], "walk_%d", i);
  for (int d = 1; d <= GORO_PROF_MAXDEPTH; d++) {
    for (int k = 0; k < d; k++)
      f[k] = (struct goro_prof_frame){names[(k + d) % 16], "@spec/tree.lua",
                                      10 * ((k + d) % 16) + 1, 10 * ((k + d) % 16) + 3};
    goroR_prof_add(sess, (uint64_t)(d % 4 + 1), f, d, (uint64_t)d);
  }
  cr_assert_eq(goro_profile_stop(), 0, "%s", goro_errmsg());

  gz = read_all(path, &ngz);
  /* The first block's header: BFINAL is bit 0, BTYPE bits 1-2; 00 is a
  ** stored (uncompressed) block. */
  cr_assert_neq((gz[gzip_body(gz, ngz)] >> 1) & 3, 0,
                "the first deflate block is compressed, not stored");

  raw = malloc(cap);
  cr_assert_not_null(raw);
  memset(&z, 0, sizeof z);
  cr_assert_eq(inflateInit2(&z, 16 + MAX_WBITS), Z_OK);
  z.next_in = gz;
  z.avail_in = (uInt)ngz;
  z.next_out = raw;
  z.avail_out = (uInt)cap;
  rc = inflate(&z, Z_FINISH);
  nraw = z.total_out;
  inflateEnd(&z);
  cr_assert_eq(rc, Z_STREAM_END, "the file is one whole gzip member (%d)", rc);
  cr_assert_eq(z.avail_in, 0, "nothing follows it");
  cr_assert(nraw > 0 && raw[0] == 0x0a, "it holds a profile (sample_type first)");
  cr_assert_lt(ngz * 3, nraw, "%zu bytes of profile take %zu gzipped: less than "
               "a third", nraw, ngz);
  free(raw);
  free(gz);
  unlink(path);
}
