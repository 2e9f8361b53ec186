/*
** examples/gameloop.c — a game engine embedding goro.
**
**   main thread   the frame loop: goro_step(rt, 2 ms) runs the Lua G's,
**                 then "renders" and prints the frame's figures
**   4 job threads the engine's job system: every frame each one calls the
**                 Lua function `on_job` through goro_call (extra M's)
**   Lua G's       a world G applies entity updates that the jobs send it
**                 over a channel; a stats G publishes per-frame summaries
**   nested        on_job asks the engine for a path: Lua -> C through
**                 goro_cgocall (the P is lent meanwhile) -> Lua again
**                 through goro_call (the heuristic), on the same G
**
** Build: part of the meson build (build/examples/gameloop). Run it with
** scripts/demo. Lua finds lua/goro through package.path; the core is the
** copy linked into this program (libgoro.so).
*/
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "goro.h"

#define NJOBS 4
#define NFRAMES 60
#define ENTITIES_PER_JOB 8

static goro_runtime *rt;
static pthread_barrier_t frame_start, frame_end;
static atomic_int quit;
static atomic_long callbacks, failures, jobs_in_c;

/* ---- the nested callback: Lua -> C (cgocall) -> Lua (goro_call) ---------- */

struct path_job {
  double x, y;  /* from */
  double cost;  /* out */
  int status;
};

/* goro_call body: call the Lua heuristic(x, y). */
static int call_heuristic(lua_State *L, void *ud) {
  struct path_job *p = ud;
  lua_getglobal(L, "heuristic");
  lua_pushnumber(L, p->x);
  lua_pushnumber(L, p->y);
  lua_call(L, 2, 1);
  p->cost = lua_tonumber(L, -1);
  return 0;
}

/* Runs on the M's system stack with the P lent out: "engine" work. */
static void pathfind(void *arg) {
  struct path_job *p = arg;
  double acc = 0;
  for (int i = 1; i <= 2000; i++) acc += sqrt((double)i) * 1e-6;  /* search */
  p->status = goro_call(rt, call_heuristic, p);
  p->cost += acc;
}

/* engine.pathfind(x, y) -> cost, for Lua. */
static int l_pathfind(lua_State *L) {
  struct path_job p = {luaL_checknumber(L, 1), luaL_checknumber(L, 2), 0, 0};
  if (goro_cgocall(L, pathfind, &p) != 0) return luaL_error(L, "cgocall failed");
  if (p.status != LUA_OK) return luaL_error(L, "%s", goro_errmsg());
  lua_pushnumber(L, p.cost);
  return 1;
}

/* ---- the job system ------------------------------------------------------ */

struct job {
  int id, frame;
};

static int call_on_job(lua_State *L, void *ud) {
  struct job *j = ud;
  lua_getglobal(L, "on_job");
  lua_pushinteger(L, j->id);
  lua_pushinteger(L, j->frame);
  lua_call(L, 2, 0);
  return 0;
}

static void *job_thread(void *arg) {
  struct job j = {(int)(intptr_t)arg, 0};
  for (;;) {
    pthread_barrier_wait(&frame_start);
    if (atomic_load(&quit)) break;
    if (goro_call(rt, call_on_job, &j) != LUA_OK) {
      fprintf(stderr, "job %d: %s\n", j.id, goro_errmsg());
      atomic_fetch_add(&failures, 1);
    }
    atomic_fetch_add(&callbacks, 1);
    if (goro_is_extra_in_c()) atomic_fetch_add(&jobs_in_c, 1);
    j.frame++;
    pthread_barrier_wait(&frame_end);
  }
  return NULL;
}

/* ---- the frame loop ---------------------------------------------------------- */

static const char *script =
    "local goro = require 'goro'\n"
    "local updates = goro.chan(64)\n"
    "world = {applied = 0, pos = {}}\n"
    "function heuristic(x, y) return math.sqrt(x * x + y * y) end\n"
    "function on_job(job, frame)\n"  /* runs on a job thread's extra M */
    "  for k = 1, " "8" " do\n"
    "    local id = job * 100 + k\n"
    "    local cost = engine.pathfind(id % 17, frame % 13)\n"  /* nested */
    "    updates:send({id = id, x = frame + k, cost = cost})\n"
    "  end\n"
    "end\n"
    "goro.go(function()\n"  /* the world G: applies updates */
    "  for u in updates:iter() do\n"
    "    world.pos[u.id] = u.x\n"
    "    world.applied = world.applied + 1\n"
    "  end\n"
    "end)\n"
    "summaries = goro.chan(1)\n"
    "goro.go(function()\n"  /* the stats G: one summary a frame */
    "  local t = goro.ticker(0.004)\n"
    "  while true do\n"
    "    t.ch:recv()\n"
    "    local s = goro.stats()\n"
    "    goro.select(summaries:case_send({gs = s.gs, ms = s.ms,\n"
    "      extra = s.extra_ms_in_use, applied = world.applied}), goro.default)\n"
    "  end\n"
    "end)\n"
    "function take_summary()\n"  /* called by the frame loop */
    "  local i, s = goro.select(summaries:case_recv(), goro.default)\n"
    "  if i == 1 then return s.gs, s.ms, s.extra, s.applied end\n"
    "end\n";

struct summary {
  long gs, ms, extra, applied;
  int have;
};

static int read_summary(lua_State *L, void *ud) {
  struct summary *s = ud;
  lua_getglobal(L, "take_summary");
  lua_call(L, 0, 4);
  s->have = !lua_isnil(L, -4);
  if (s->have) {
    s->gs = (long)lua_tointeger(L, -4);
    s->ms = (long)lua_tointeger(L, -3);
    s->extra = (long)lua_tointeger(L, -2);
    s->applied = (long)lua_tointeger(L, -1);
  }
  return 0;
}

static int read_applied(lua_State *L, void *ud) {
  lua_getglobal(L, "world");
  lua_getfield(L, -1, "applied");
  *(long *)ud = (long)lua_tointeger(L, -1);
  return 0;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  lua_State *L = luaL_newstate();
  pthread_t jobs[NJOBS];
  struct summary s = {0, 0, 0, 0, 0};
  const char *srcdir = argc > 1 ? argv[1] : ".";
  double t0;
  char path[1024];

  luaL_openlibs(L);
  snprintf(path, sizeof path, "%s/lua/?.lua;%s/lua/?/init.lua", srcdir, srcdir);
  lua_getglobal(L, "package");
  lua_pushstring(L, path);
  lua_setfield(L, -2, "path");
  lua_pop(L, 1);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_goro_core);  /* this program's copy */
  lua_setfield(L, -2, "goro.core");
  lua_pop(L, 1);
  lua_newtable(L);
  lua_pushcfunction(L, l_pathfind);
  lua_setfield(L, -2, "pathfind");
  lua_setglobal(L, "engine");
  if (luaL_dostring(L, script) != LUA_OK) {  /* load scripts first, */
    fprintf(stderr, "script: %s\n", lua_tostring(L, -1));
    return 1;
  }
  rt = goro_open(L);  /* then hand the state to goro */
  if (rt == NULL) {
    fprintf(stderr, "goro_open: %s\n", goro_errmsg());
    return 1;
  }
  pthread_barrier_init(&frame_start, NULL, NJOBS + 1);
  pthread_barrier_init(&frame_end, NULL, NJOBS + 1);
  for (int i = 0; i < NJOBS; i++)
    pthread_create(&jobs[i], NULL, job_thread, (void *)(intptr_t)(i + 1));

  printf("goro game-loop demo: %d frames, %d job threads calling Lua, "
         "%d entity updates per job per frame\n",
         NFRAMES, NJOBS, ENTITIES_PER_JOB);
  t0 = now();
  for (int frame = 1; frame <= NFRAMES; frame++) {
    int runnable;
    atomic_store(&jobs_in_c, 0);
    pthread_barrier_wait(&frame_start);   /* jobs call into Lua ... */
    runnable = goro_step(rt, 0.002);      /* ... while the frame steps G's */
    pthread_barrier_wait(&frame_end);
    if (runnable < 0) fprintf(stderr, "step: %s\n", goro_errmsg());
    goro_step(rt, 0.001);
    if (goro_call(rt, read_summary, &s) != LUA_OK)
      fprintf(stderr, "summary: %s\n", goro_errmsg());
    if (frame % 10 == 0 || frame == 1)
      printf("frame %2d: %4ld callbacks, %4ld updates applied, %ld G's, %ld M's, "
             "%ld extra M's bound, %ld/%d job threads back in C\n",
             frame, atomic_load(&callbacks), s.applied, s.gs, s.ms, s.extra,
             atomic_load(&jobs_in_c), NJOBS);
  }
  atomic_store(&quit, 1);
  pthread_barrier_wait(&frame_start);
  for (int i = 0; i < NJOBS; i++) pthread_join(jobs[i], NULL);
  for (int i = 0; i < 1000; i++) {  /* let the world G drain the channel */
    long applied = 0;
    goro_step(rt, 0.001);
    goro_call(rt, read_applied, &applied);
    s.applied = applied;
    if (applied == (long)NJOBS * NFRAMES * ENTITIES_PER_JOB) break;
  }
  printf("done in %.0f ms: %d frames, %ld callbacks (each with a nested "
         "Lua -> C -> Lua path query), %ld failed, %ld updates applied\n",
         (now() - t0) * 1000, NFRAMES, atomic_load(&callbacks),
         atomic_load(&failures), s.applied);
  printf("every job thread was an extra M in C between frames: %s\n",
         atomic_load(&jobs_in_c) == NJOBS ? "yes" : "no");
  goro_close(rt);
  lua_close(L);
  return atomic_load(&failures) == 0 ? 0 : 1;
}
