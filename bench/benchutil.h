/*
** bench/benchutil.h — what the C benchmarks share: a monotonic clock, the
** CPU model every figure is printed with, and (for the ones that include
** goro.h first) a Lua state that can require "goro" from the source tree.
*/
#ifndef GORO_BENCH_UTIL_H
#define GORO_BENCH_UTIL_H

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Seconds on the monotonic clock. */
static inline double bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The CPU model from /proc/cpuinfo ("?" if none): ratios move with the
** CPU, so every figure says which one it came from. */
static inline const char *bench_cpu(void) {
  static char model[256];
  char line[256];
  FILE *f = fopen("/proc/cpuinfo", "r");
  strcpy(model, "?");
  while (f != NULL && fgets(line, sizeof line, f) != NULL) {
    char *colon = strchr(line, ':');
    if (strncmp(line, "model name", 10) == 0 && colon != NULL) {
      snprintf(model, sizeof model, "%s", colon + 2);
      model[strcspn(model, "\n")] = 0;
      break;
    }
  }
  if (f != NULL) fclose(f);
  return model;
}

#ifdef GORO_H
#include <lauxlib.h>
#include <lualib.h>

/* A Lua state with the standard libraries, whose require "goro" finds
** srcdir's lua/ and the core linked into this program. */
static inline lua_State *bench_goro_state(const char *srcdir) {
  lua_State *L = luaL_newstate();
  char path[1024];
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
  return L;
}
#endif

#endif
