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
** Best of 5 runs each, ns per call; ratio = goro / Go. Not a test.
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

static goro_runtime *rt;
static long N = 200000;

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void empty_c(void *arg) { (void)arg; }

static int call_empty(lua_State *L, void *ud) {
  (void)ud;
  lua_getglobal(L, "empty");
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
  for (long i = 0; i < lp->n; i++) goro_call(rt, call_empty, NULL);
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
  goro_call(rt, call_empty, NULL);  /* warm: bind the extra M first */
  t = now_ns();
  for (long i = 0; i < lp->n; i++) goro_call(rt, call_empty, NULL);
  lp->ns = (now_ns() - t) / (double)lp->n;
  return NULL;
}

static void *first_call(void *arg) {
  double *out = arg, t = now_ns();
  goro_call(rt, call_empty, NULL);
  *out = now_ns() - t;
  return NULL;
}

static double best_of(double v[5]) {
  double b = v[0];
  for (int i = 1; i < 5; i++)
    if (v[i] < b) b = v[i];
  return b;
}

int main(int argc, char **argv) {
  lua_State *L = luaL_newstate();
  const char *srcdir = argc > 1 ? argv[1] : ".";
  double cg[5], cb[5], hc[5], fc = 1e30, go[4] = {0, 0, 0, 0};
  char path[1024], line[256], cmd[2048];
  const char *gobin = getenv("GO");
  FILE *p;

  if (argc > 2) N = atol(argv[2]);
  luaL_openlibs(L);
  snprintf(path, sizeof path, "%s/lua/?.lua;%s/lua/?/init.lua", srcdir, srcdir);
  lua_getglobal(L, "package");
  lua_pushstring(L, path);
  lua_setfield(L, -2, "path");
  lua_pop(L, 1);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_goro_core);
  lua_setfield(L, -2, "goro.core");
  lua_pop(L, 1);
  lua_newtable(L);
  lua_pushcfunction(L, l_cgocall);
  lua_setfield(L, -2, "cgocall");
  lua_pushcfunction(L, l_callback);
  lua_setfield(L, -2, "callback");
  lua_setglobal(L, "bench");
  if (luaL_dostring(L, "goro = require 'goro'; function empty() end") != LUA_OK) {
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
    return 1;
  }
  rt = goro_runtime_of(L);
  for (int r = 0; r < 5; r++) {  /* script mode: a G in goro.run */
    lua_getglobal(L, "goro");
    lua_getfield(L, -1, "run");
    luaL_loadstring(L, "local n = ... return bench.cgocall(n), bench.callback(n)");
    lua_pushinteger(L, N);
    if (lua_pcall(L, 2, 2, 0) != LUA_OK) {
      fprintf(stderr, "%s\n", lua_tostring(L, -1));
      return 1;
    }
    cg[r] = lua_tonumber(L, -2);
    cb[r] = lua_tonumber(L, -1);
    lua_settop(L, 0);
  }
  rt = goro_open(L);  /* host mode: threads call in */
  for (int r = 0; r < 5; r++) {
    struct loop lp = {N, 0};
    pthread_t t;
    pthread_create(&t, NULL, host_loop, &lp);
    pthread_join(t, NULL);
    hc[r] = lp.ns;
  }
  for (int i = 0; i < 200; i++) {
    pthread_t t;
    double v = 0;
    pthread_create(&t, NULL, first_call, &v);
    pthread_join(t, NULL);
    if (v < fc) fc = v;
  }
  goro_close(rt);
  lua_close(L);

  if (gobin == NULL) {
    FILE *f = fopen("/usr/lib/go-1.23/bin/go", "r");
    if (f != NULL) {
      fclose(f);
      gobin = "/usr/lib/go-1.23/bin/go";
    } else if (system("go version >/dev/null 2>&1") == 0) {
      gobin = "go";
    }
  }
  if (gobin != NULL) {
    snprintf(cmd, sizeof cmd,
             "cd %s/bench/go/cgo && GOCACHE=${TMPDIR:-/tmp}/goro-gocache "
             "%s run . %ld 2>&1", srcdir, gobin, N);
    if ((p = popen(cmd, "r")) != NULL) {
      while (fgets(line, sizeof line, p) != NULL) {
        double v;
        if (sscanf(line, "cgocall %lf", &v) == 1) go[0] = v;
        if (sscanf(line, "callback %lf", &v) == 1) go[1] = v;
        if (sscanf(line, "hostcall %lf", &v) == 1) go[2] = v;
        if (sscanf(line, "firstcall %lf", &v) == 1) go[3] = v;
      }
      pclose(p);
    }
  }
  {
    const char *names[4] = {"empty goro_cgocall", "callback inside a cgocall",
                            "warm host-thread goro_call", "first call from a new thread"};
    double mine[4] = {best_of(cg), best_of(cb), best_of(hc), fc};
    printf("Lua <-> C crossings, ns per call, best of 5 (%ld iterations)\n", N);
    printf("%-32s %10s %10s %10s\n", "", "goro", "Go (cgo)", "goro/Go");
    for (int i = 0; i < 4; i++) {
      if (go[i] > 0)
        printf("%-32s %10.1f %10.1f %9.2fx\n", names[i], mine[i], go[i], mine[i] / go[i]);
      else
        printf("%-32s %10.1f %10s %10s\n", names[i], mine[i], "-", "-");
    }
  }
  return 0;
}
