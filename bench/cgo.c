/*
** bench/cgo.c — the cost of crossing between Lua and C, beside Go's cgo
** (bench/go/cgo, built and run when a go binary is found), in one run:
**
**   cgocall    an empty goro_cgocall from a C function running on a G
**              (Go: an empty C call from Go)
**   callback   goro_call of an empty Lua function from C inside a cgocall
**              (Go: C, called from Go, calling an exported Go function)
**   hostcall   a warm goro_call from a host pthread (an extra M)
**              (Go 1.23: a C pthread calling an exported Go function)
**   firstcall  the first goro_call of a new thread, timed by the thread
**              (Go: the first call from a new C thread, needm included)
**
** ns per call, the best of 7 rounds that alternate between goro and Go,
** each round in a fresh process; ratio = goro / Go. Not a test.
**
** Usage: cgo [srcdir [iterations [only]]]; with "only" (cgocall, callback,
** hostcall or firstcall) just that one runs, here, and Go is not run: the
** form to use under callgrind (firstcall then starts `iterations` threads).
** "round" runs one round of all four and prints them, for the driver.
*/
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "goro.h"
#include "benchutil.h"

/* Two universes: one in script mode (a G in goro.run makes cgocalls),
** one in host mode (after goro_open, host threads call in). */
static goro_runtime *rt_script, *rt_host;
static int ref_script, ref_host;
static long N = 200000;
static const char *only;

static int runs(const char *name) {
  return only == NULL || strcmp(only, name) == 0;
}

static double now_ns(void) { return bench_now() * 1e9; }

static void empty_c(void *arg) { (void)arg; }

/* The empty Lua function, held by reference as an engine holds its
** callbacks (Go's side calls its function directly, with no lookup);
** ud points to the reference. */
static int call_empty(lua_State *L, void *ud) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, *(int *)ud);
  lua_call(L, 0, 0);
  return 0;
}

/* bench.cgocall(n) -> ns per empty goro_cgocall (from Lua, on a G). */
static int l_cgocall(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  double t = now_ns();
  for (lua_Integer i = 0; i < n; i++) goro_cgocall(L, empty_c, NULL);
  lua_pushnumber(L, (now_ns() - t) / (double)n);
  return 1;
}

struct loop {
  long n;
  double ns;
};

static void callback_loop(void *arg) {
  struct loop *lp = arg;
  double t = now_ns();
  for (long i = 0; i < lp->n; i++) goro_call(rt_script, call_empty, &ref_script);
  lp->ns = (now_ns() - t) / (double)lp->n;
}

/* bench.callback(n) -> ns per goro_call nested in one cgocall. */
static int l_callback(lua_State *L) {
  struct loop lp = {(long)luaL_checkinteger(L, 1), 0};
  goro_cgocall(L, callback_loop, &lp);
  lua_pushnumber(L, lp.ns);
  return 1;
}

static void *host_loop(void *arg) {
  struct loop *lp = arg;
  double t;
  goro_call(rt_host, call_empty, &ref_host);  /* warm: bind the M first */
  t = now_ns();
  for (long i = 0; i < lp->n; i++) goro_call(rt_host, call_empty, &ref_host);
  lp->ns = (now_ns() - t) / (double)lp->n;
  return NULL;
}

static void *first_call(void *arg) {
  double *out = arg, t = now_ns();
  goro_call(rt_host, call_empty, &ref_host);
  *out = now_ns() - t;
  return NULL;
}

/* Builds bench/go/cgo once; returns the binary's path, or NULL. */
static const char *go_build(const char *srcdir) {
  static char bin[1024];
  char cmd[4096];
  const char *gobin = getenv("GO"), *tmp = getenv("TMPDIR");
  FILE *f;
  if (tmp == NULL) tmp = "/tmp";
  if (gobin == NULL) {
    if ((f = fopen("/usr/lib/go-1.23/bin/go", "r")) != NULL) {
      fclose(f);
      gobin = "/usr/lib/go-1.23/bin/go";
    } else if (system("go version >/dev/null 2>&1") == 0) {
      gobin = "go";
    } else {
      return NULL;
    }
  }
  snprintf(bin, sizeof bin, "%s/goro-bench-cgo", tmp);
  snprintf(cmd, sizeof cmd,
           "cd %s/bench/go/cgo && GOCACHE=%s/goro-gocache %s build -o %s . 2>&1",
           srcdir, tmp, gobin, bin);
  return system(cmd) == 0 ? bin : NULL;
}

/* Run one round in a fresh process (`cmd`, goro's or Go's), which prints
** one "name ns" line per figure; keep each figure's minimum in fig. */
static void round_in(const char *cmd, double fig[4]) {
  char line[256];
  const char *names[4] = {"cgocall %lf", "callback %lf", "hostcall %lf", "firstcall %lf"};
  FILE *p;
  if ((p = popen(cmd, "r")) == NULL) return;
  while (fgets(line, sizeof line, p) != NULL)
    for (int i = 0; i < 4; i++) {
      double v;
      if (sscanf(line, names[i], &v) == 1 && v > 0 && (fig[i] == 0 || v < fig[i]))
        fig[i] = v;
    }
  pclose(p);
}

static double min(double a, double b) { return a < b ? a : b; }

#define ROUNDS 7

/* A Lua state with goro loaded, bench.* and a global empty function. */
static lua_State *new_state(const char *srcdir, int *ref) {
  lua_State *L = bench_goro_state(srcdir);
  lua_newtable(L);
  lua_pushcfunction(L, l_cgocall);
  lua_setfield(L, -2, "cgocall");
  lua_pushcfunction(L, l_callback);
  lua_setfield(L, -2, "callback");
  lua_setglobal(L, "bench");
  if (luaL_dostring(L, "goro = require 'goro'; function empty() end") != LUA_OK) {
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
    exit(1);
  }
  lua_getglobal(L, "empty");
  *ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return L;
}

int main(int argc, char **argv) {
  const char *srcdir = argc > 1 ? argv[1] : ".";
  const char *gobin = NULL;
  /* best figures: cgocall, callback, hostcall, firstcall; goro and Go */
  double mine[4] = {1e30, 1e30, 1e30, 1e30}, go[4] = {0, 0, 0, 0};
  int round = 0;
  char cmd[2048];
  lua_State *L, *H;

  if (argc > 2) N = atol(argv[2]);
  if (argc > 3 && strcmp(argv[3], "round") == 0)
    round = 1;
  else if (argc > 3)
    only = argv[3];

  if (!round && only == NULL) {
    /* Rounds alternate between goro and Go, each in a fresh process, so
    ** that both sides see the same machine and the same luck: on this
    ** shared VM the speed of a whole process can change by half from one
    ** minute, or one process, to the next. */
    double gofig[4] = {0, 0, 0, 0}, myfig[4] = {0, 0, 0, 0};
    gobin = go_build(srcdir);
    for (int r = 0; r < ROUNDS; r++) {
      snprintf(cmd, sizeof cmd, "'%s' '%s' %ld round", argv[0], srcdir, N);
      round_in(cmd, myfig);
      if (gobin != NULL) {
        snprintf(cmd, sizeof cmd, "%s %ld 1 2>&1", gobin, N);
        round_in(cmd, gofig);
      }
    }
    for (int i = 0; i < 4; i++) {
      if (myfig[i] > 0) mine[i] = myfig[i];
      go[i] = gofig[i];
    }
  } else {  /* one round here: a "round" for the driver, or "only" one figure */
    L = new_state(srcdir, &ref_script);
    rt_script = goro_runtime_of(L);
    H = new_state(srcdir, &ref_host);
    rt_host = goro_open(H);
    if (runs("cgocall") || runs("callback")) {  /* a G in goro.run */
      lua_getglobal(L, "goro");
      lua_getfield(L, -1, "run");
      luaL_loadstring(L, "local n, c, b = ... return c and bench.cgocall(n) or 1e30, "
                         "b and bench.callback(n) or 1e30");
      lua_pushinteger(L, N);
      lua_pushboolean(L, runs("cgocall"));
      lua_pushboolean(L, runs("callback"));
      if (lua_pcall(L, 4, 2, 0) != LUA_OK) {
        fprintf(stderr, "%s\n", lua_tostring(L, -1));
        return 1;
      }
      mine[0] = lua_tonumber(L, -2);
      mine[1] = lua_tonumber(L, -1);
      lua_settop(L, 0);
    }
    if (runs("hostcall")) {
      struct loop lp = {N, 0};
      pthread_t t;
      pthread_create(&t, NULL, host_loop, &lp);
      pthread_join(t, NULL);
      mine[2] = lp.ns;
    }
    for (int i = 0; i < (only ? N : 40) && runs("firstcall"); i++) {
      pthread_t t;
      double v = 0;
      pthread_create(&t, NULL, first_call, &v);
      pthread_join(t, NULL);
      mine[3] = min(mine[3], v);
    }
    goro_close(rt_host);
    lua_close(H);
    lua_close(L);
    if (round) {
      printf("cgocall %.1f\ncallback %.1f\nhostcall %.1f\nfirstcall %.1f\n", mine[0],
             mine[1], mine[2], mine[3]);
      return 0;
    }
  }
  {
    const char *names[4] = {"empty goro_cgocall", "callback inside a cgocall",
                            "warm host-thread goro_call", "first call from a new thread"};
    printf("Lua <-> C crossings, ns per call, best of %d rounds alternating with Go, "
           "each in a fresh process (%ld iterations; %s)\n", only ? 1 : ROUNDS, N,
           bench_cpu());
    printf("%-32s %10s %10s %10s\n", "", "goro", "Go (cgo)", "goro/Go");
    for (int i = 0; i < 4; i++) {
      if (mine[i] >= 1e30) continue;  /* not run */
      if (go[i] > 0)
        printf("%-32s %10.1f %10.1f %9.2fx\n", names[i], mine[i], go[i], mine[i] / go[i]);
      else
        printf("%-32s %10.1f %10s %10s\n", names[i], mine[i], "-", "-");
    }
  }
  return 0;
}
