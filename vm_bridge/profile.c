/*
** vm_bridge/profile.c — the CPU profiler's Lua half: Lua stacks into frames,
** goro.profile.start/stop/summary, goro_profile_start/stop, and
** GORO_CPUPROFILE.
**
** Samples reach here in normal context with the P held: from the count
** hook a SIGPROF armed (interrupt.c, async_hook), or from goro_cgocall
** once it has the P back. Design: runtime/HACKING.md ("The profiler").
*/
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/errors.h"
#include "../runtime/prof.h"
#include "bridge.h"

#define NAMELEN 160

/* Registry key of the per-universe cache: function -> name (weak keys),
** with the session it was made for at [cache_key]. */
static const char cache_key = 'c';

struct rec {
  uint64_t gid;
  uint32_t sess;
  int n;
  uintptr_t pc;
  struct goro_prof_frame f[GORO_PROF_MAXDEPTH];
  char names[GORO_PROF_MAXDEPTH][NAMELEN];
  char files[GORO_PROF_MAXDEPTH][LUA_IDSIZE];
};

/* Push the cache table for the running profile, made on first use. */
static void push_cache(lua_State *L, uint32_t sess) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &cache_key) == LUA_TTABLE) {
    lua_rawgetp(L, -1, &cache_key);
    if (lua_tointeger(L, -1) == (lua_Integer)sess) {
      lua_pop(L, 1);
      return;
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  lua_newtable(L);
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "k");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  lua_pushinteger(L, sess);
  lua_rawsetp(L, -2, &cache_key);
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &cache_key);
}

/* The name the function on top is known by in package.loaded ("f" for
** _G.f, "table.sort"), as luaL_traceback finds it; copied into buf, or
** NULL. Pops nothing. */
static const char *global_name(lua_State *L, char *buf, size_t len) {
  int fidx = lua_gettop(L);
  const char *found = NULL;
  lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  if (!lua_istable(L, -1)) {
    lua_settop(L, fidx);
    return NULL;
  }
  lua_pushnil(L);
  while (found == NULL && lua_next(L, -2) != 0) {
    if (lua_type(L, -2) == LUA_TSTRING && lua_istable(L, -1)) {
      lua_pushnil(L);
      while (lua_next(L, -2) != 0) {
        if (lua_type(L, -2) == LUA_TSTRING && lua_rawequal(L, -1, fidx)) {
          const char *mod = lua_tostring(L, -4), *k = lua_tostring(L, -2);
          if (strcmp(mod, LUA_GNAME) == 0)
            snprintf(buf, len, "%s", k);
          else
            snprintf(buf, len, "%s.%s", mod, k);
          found = buf;
          lua_pop(L, 2);
          break;
        }
        lua_pop(L, 1);
      }
    }
    lua_pop(L, 1);
  }
  lua_settop(L, fidx);
  return found;
}

/* Name the function on top (pushed by lua_getinfo "f"), caching the global
** name per function. Leaves the stack as it was. */
static const char *func_name(lua_State *L, int cache, const lua_Debug *ar,
                             char *buf, size_t len) {
  char g[NAMELEN];
  const char *name = NULL;
  int isC = ar->what[0] == 'C';
  lua_pushvalue(L, -1);
  if (lua_rawget(L, cache) == LUA_TSTRING) {
    name = lua_tostring(L, -1);
  } else if (lua_isnil(L, -1)) {  /* first time: look it up once */
    lua_pop(L, 1);
    name = global_name(L, g, sizeof g);
    lua_pushvalue(L, -1);
    if (name != NULL)
      lua_pushstring(L, name);
    else
      lua_pushboolean(L, 0);
    lua_rawset(L, cache);
    lua_pushnil(L);  /* balance the pop below */
  }
  if (name == NULL && isC && lua_tocfunction(L, -2) == goroB_cb_trampoline)
    name = "goro_call";
  if (name == NULL && ar->name != NULL) name = ar->name;
  if (name == NULL && !isC && ar->what[0] == 'm') name = "main chunk";
  if (name == NULL && isC) {
    lua_CFunction fn = lua_tocfunction(L, -2);
    if (fn != NULL) {
      goroR_prof_cname((uintptr_t)fn, buf, len);
      lua_pop(L, 1);
      return buf;
    }
    name = "?";
  }
  if (name == NULL) name = "anonymous";
  snprintf(buf, len, isC ? "[C] %s" : "%s", name);
  lua_pop(L, 1);
  return buf;
}

/* Protected: walk L's stack from level 1 (level 0 is this function). */
static int p_record(lua_State *L) {
  struct rec *r = lua_touserdata(L, 1);
  lua_Debug ar;
  int cache;
  lua_settop(L, 0);
  push_cache(L, r->sess);
  cache = lua_gettop(L);
  r->n = 0;
  if (r->pc != 0) {  /* the C leaf of a cgocall sample */
    goroR_prof_cname(r->pc, r->names[0], NAMELEN);
    r->f[0] = (struct goro_prof_frame){r->names[0], "", 0, 0};
    r->n = 1;
  }
  for (int level = 1; r->n < GORO_PROF_MAXDEPTH && lua_getstack(L, level, &ar);
       level++) {
    struct goro_prof_frame *f = &r->f[r->n];
    lua_getinfo(L, "Slnf", &ar);
    f->name = func_name(L, cache, &ar, r->names[r->n], NAMELEN);
    lua_pop(L, 1);
    if (ar.what[0] == 'C') {
      f->file = "";
      f->start = f->line = 0;
    } else {
      snprintf(r->files[r->n], LUA_IDSIZE, "%s", ar.short_src);
      f->file = r->files[r->n];
      f->start = ar.linedefined;
      f->line = ar.currentline > 0 ? ar.currentline : ar.linedefined;
    }
    r->n++;
  }
  return 0;
}

void goroB_prof_record(lua_State *L, uint64_t gid, uint32_t sess, int n,
                      uintptr_t pc) {
  struct rec *r;
  int top = lua_gettop(L);
  if (sess == 0 || sess != goroR_prof_session()) return;
  if ((r = malloc(sizeof *r)) == NULL || !lua_checkstack(L, 8)) {
    free(r);
    goroR_prof_lost(sess, n);
    return;
  }
  r->gid = gid;
  r->sess = sess;
  r->pc = pc;
  lua_pushcfunction(L, p_record);
  lua_pushlightuserdata(L, r);
  if (lua_pcall(L, 1, 0, 0) == LUA_OK)
    goroR_prof_add(sess, gid, r->f, r->n, (uint64_t)n);
  else
    goroR_prof_lost(sess, n);
  lua_settop(L, top);
  free(r);
}

/* ---- start and stop ----------------------------------------------------------- */

static int format_of(const char *format, const char *path) {
  size_t n = strlen(path);
  if (format == NULL)
    return n > 7 && strcmp(path + n - 7, ".folded") == 0 ? GORO_PROF_FOLDED
                                                         : GORO_PROF_PPROF;
  if (strcmp(format, "pprof") == 0) return GORO_PROF_PPROF;
  if (strcmp(format, "folded") == 0) return GORO_PROF_FOLDED;
  return 0;
}

/* Start; on failure an English message in err. */
static int start(int hz, const char *path, const char *format, char *err,
                 size_t len) {
  int fmt = format_of(format, path ? path : "");
  int rc;
  if (fmt == 0) {
    snprintf(err, len, "unknown format '%s' (pprof or folded)", format);
    return GORO_EINVAL;
  }
  if (hz <= 0 || hz > GORO_PROF_MAXHZ) {
    snprintf(err, len, "hz must be in 1..%d", GORO_PROF_MAXHZ);
    return GORO_EINVAL;
  }
  if (path == NULL || path[0] == '\0') {
    snprintf(err, len, "empty path");
    return GORO_EINVAL;
  }
  rc = goroR_prof_start(hz, path, fmt);
  if (rc == GORO_ESTATE)
    snprintf(err, len, "a profile is already running");
  else if (rc != 0)
    snprintf(err, len, "%s", goro_strerror(rc));
  return rc;
}

static int stop(char *path, size_t pathlen, char *err, size_t len) {
  int syserr, rc = goroR_prof_stop(path, pathlen, &syserr);
  if (rc == GORO_ESTATE)
    snprintf(err, len, "no profile is running");
  else if (rc == GORO_ENOMEM)
    snprintf(err, len, "not enough memory to write '%s'", path);
  else if (rc == GORO_EIO)
    snprintf(err, len, "cannot write '%s': %s", path, strerror(syserr));
  else if (rc < 0)
    snprintf(err, len, "cannot write '%s': %s", path, goro_strerror(rc));
  return rc;
}

GORO_EXPORT int goro_profile_start(int hz, const char *path, const char *format) {
  char err[256], msg[300];
  if (start(hz, path, format, err, sizeof err) == 0) return 0;
  snprintf(msg, sizeof msg, "goro_profile_start: %s", err);
  goroB_seterr(msg);
  return GORO_BADARG;
}

GORO_EXPORT int goro_profile_stop(void) {
  char err[4200], msg[4300], path[4096];
  if (stop(path, sizeof path, err, sizeof err) == 0) return 0;
  snprintf(msg, sizeof msg, "goro_profile_stop: %s", err);
  goroB_seterr(msg);
  return LUA_ERRRUN;
}

/* goro.profile.start{hz = 100, path = "cpu.pprof", format = "pprof"} */
static int l_start(lua_State *L) {
  lua_Integer hz = 100;
  const char *path = "cpu.pprof", *format = NULL;
  char err[256];
  if (!lua_isnoneornil(L, 1)) {
    luaL_checktype(L, 1, LUA_TTABLE);
    if (lua_getfield(L, 1, "hz") != LUA_TNIL) {
      if (!lua_isinteger(L, -1))
        return luaL_error(L, "goro.profile.start: hz must be an integer");
      hz = lua_tointeger(L, -1);
    }
    if (lua_getfield(L, 1, "path") != LUA_TNIL) {
      if (lua_type(L, -1) != LUA_TSTRING)
        return luaL_error(L, "goro.profile.start: path must be a string");
      path = lua_tostring(L, -1);
    }
    if (lua_getfield(L, 1, "format") != LUA_TNIL) {
      if (lua_type(L, -1) != LUA_TSTRING)
        return luaL_error(L, "goro.profile.start: format must be a string");
      format = lua_tostring(L, -1);
    }
  }
  if (hz < 1 || hz > GORO_PROF_MAXHZ) hz = 0;  /* start() says why */
  if (start((int)hz, path, format, err, sizeof err) != 0)
    return luaL_error(L, "goro.profile.start: %s", err);
  return 0;
}

static int l_stop(lua_State *L) {
  char path[4096], err[4200];
  if (stop(path, sizeof path, err, sizeof err) != 0)
    return luaL_error(L, "goro.profile.stop: %s", err);
  lua_pushstring(L, path);
  return 1;
}

/* goro.profile.summary() -> {on, hz, seconds, samples, external, runtime,
** lost, by_g = {[id] = samples}} for the current or last profile. */
static int l_summary(lua_State *L) {
  struct goro_prof_stats st;
  uint64_t *ids, *counts;
  int n, cap;
  goroR_prof_get_stats(&st);
  lua_createtable(L, 0, 10);
  lua_pushboolean(L, st.on);
  lua_setfield(L, -2, "on");
  lua_pushinteger(L, st.hz);
  lua_setfield(L, -2, "hz");
  lua_pushnumber(L, st.seconds);
  lua_setfield(L, -2, "seconds");
  goroB_setint(L, "samples", st.samples);
  goroB_setint(L, "external", st.external);
  goroB_setint(L, "runtime", st.runtime);
  goroB_setint(L, "lost", st.lost);
  goroB_setint(L, "threads", st.threads);
  goroB_setint(L, "signals", st.signals);
  goroB_setint(L, "dropped", st.dropped);
  goroB_setint(L, "stale", st.stale);
  goroB_setint(L, "timers", st.timers);
  cap = goroR_prof_by_g(NULL, NULL, 0) + 16;  /* G's may be added meanwhile */
  ids = lua_newuserdatauv(L, (size_t)cap * 2 * sizeof *ids, 0);
  counts = ids + cap;
  n = goroR_prof_by_g(ids, counts, cap);
  if (n > cap) n = cap;  /* a running profile's newest G's wait for next time */
  lua_createtable(L, 0, n);
  for (int i = 0; i < n; i++) {
    lua_pushinteger(L, (lua_Integer)counts[i]);
    lua_rawseti(L, -2, (lua_Integer)ids[i]);
  }
  lua_setfield(L, -3, "by_g");
  lua_pop(L, 1);  /* the buffer */
  return 1;
}

const luaL_Reg goroB_prof_funcs[] = {
    {"profile_start", l_start},
    {"profile_stop", l_stop},
    {"profile_summary", l_summary},
    {NULL, NULL},
};

/* ---- GORO_CPUPROFILE ------------------------------------------------------------ */

static void env_stop(void) {
  char path[4096], err[4200];
  if (goroR_prof_on() && stop(path, sizeof path, err, sizeof err) != 0)
    fprintf(stderr, "goro: GORO_CPUPROFILE: %s\n", err);
}

static void env_start(void) {
  const char *path = getenv("GORO_CPUPROFILE"), *hzs;
  char err[256];
  int hz = 100;
  if (path == NULL || path[0] == '\0') return;
  if ((hzs = getenv("GORO_CPUPROFILE_HZ")) != NULL && hzs[0] != '\0')
    hz = atoi(hzs);
  if (start(hz, path, NULL, err, sizeof err) != 0) {
    fprintf(stderr, "goro: GORO_CPUPROFILE: %s\n", err);
    return;
  }
  atexit(env_stop);
}

void goroB_prof_env(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, env_start);
}
