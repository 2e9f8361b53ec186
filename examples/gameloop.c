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
**   loader G      reads "assets" from a pipe with a blocking read(2) in C
**                 (goro_cgocall); the frame loop itself writes the pipe,
**                 so that C must not run on the frame thread: a worker
**                 runs it while the step goes on
**   render G      locked to the frame thread (goro.lockthread), as code
**                 that touches a GL context must be: it runs only inside
**                 the frame's steps, always on that thread
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
#include <unistd.h>

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

/* ---- blocking C, and the thread id ------------------------------------------- */

struct asset_read {
  int fd;
  char buf[256];
  ssize_t n;
  pid_t tid;  /* where the read(2) ran */
};

static void do_read(void *arg) {
  struct asset_read *r = arg;
  r->tid = gettid();
  r->n = read(r->fd, r->buf, sizeof r->buf);
}

/* engine.read_asset(fd) -> bytes, tid: a blocking read in C. */
static int l_read_asset(lua_State *L) {
  struct asset_read r;
  r.fd = (int)luaL_checkinteger(L, 1);
  if (goro_cgocall(L, do_read, &r) != 0) return luaL_error(L, "cgocall failed");
  lua_pushlstring(L, r.buf, r.n > 0 ? (size_t)r.n : 0);
  lua_pushinteger(L, r.tid);
  return 2;
}

/* engine.thread_id() -> the calling thread's id. */
static int l_thread_id(lua_State *L) {
  lua_pushinteger(L, gettid());
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
    "loaded, loaded_off_frame = 0, true\n"
    "goro.go(function()\n"  /* the loader G: blocking C on a worker */
    "  while true do\n"
    "    local bytes, tid = engine.read_asset(asset_fd)\n"
    "    if tid == frame_tid then loaded_off_frame = false end\n"
    "    if #bytes == 0 then break end\n"
    "    loaded = loaded + #bytes\n"
    "  end\n"
    "  loader_done = true\n"
    "end)\n"
    "rendered, render_on_frame = 0, true\n"
    "goro.go(function()\n"  /* the render G: locked to the frame thread */
    "  goro.lockthread('frame')  -- (it moves there if it runs elsewhere)\n"
    "  local t = goro.ticker(0.002)\n"
    "  while true do\n"
    "    t.ch:recv()\n"
    "    if engine.thread_id() ~= frame_tid then render_on_frame = false end\n"
    "    rendered = rendered + 1\n"
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

/* How many updates the world G applied, or -1 while the loader G has not
** read its pipe to the end. */
static int read_applied(lua_State *L, void *ud) {
  lua_getglobal(L, "world");
  lua_getfield(L, -1, "applied");
  lua_getglobal(L, "loader_done");
  *(long *)ud = lua_toboolean(L, -1) ? (long)lua_tointeger(L, -2) : -1;
  return 0;
}

static struct {
  long loaded, rendered;
  int off_frame, on_frame;
} frame_gs;

static int read_frame_gs(lua_State *L, void *ud) {
  (void)ud;
  lua_getglobal(L, "loaded");
  frame_gs.loaded = (long)lua_tointeger(L, -1);
  lua_getglobal(L, "loaded_off_frame");
  frame_gs.off_frame = lua_toboolean(L, -1);
  lua_getglobal(L, "rendered");
  frame_gs.rendered = (long)lua_tointeger(L, -1);
  lua_getglobal(L, "render_on_frame");
  frame_gs.on_frame = lua_toboolean(L, -1);
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
  int assets[2];
  long loaded = 0, rendered = 0;
  int off_frame = 0, on_frame = 0;
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
  lua_pushcfunction(L, l_read_asset);
  lua_setfield(L, -2, "read_asset");
  lua_pushcfunction(L, l_thread_id);
  lua_setfield(L, -2, "thread_id");
  lua_setglobal(L, "engine");
  if (pipe(assets) != 0) return 1;
  lua_pushinteger(L, assets[0]);
  lua_setglobal(L, "asset_fd");
  lua_pushinteger(L, gettid());
  lua_setglobal(L, "frame_tid");
  /* goro.h, goro_open: the host has L to itself until goro_open */
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
    if (frame % 5 == 0 &&  /* the frame loop feeds the loader's pipe */
        write(assets[1], "asset-bytes-", 12) != 12)
      perror("write");
    if (goro_call(rt, read_summary, &s) != LUA_OK)
      fprintf(stderr, "summary: %s\n", goro_errmsg());
    if (frame % 10 == 0 || frame == 1)
      printf("frame %2d: %4ld callbacks, %4ld updates applied, %ld G's, %ld M's, "
             "%ld extra M's bound, %ld/%d job threads back in C\n",
             frame, atomic_load(&callbacks), s.applied, s.gs, s.ms, s.extra,
             atomic_load(&jobs_in_c), NJOBS);
  }
  close(assets[1]);  /* the loader reads EOF and ends */
  atomic_store(&quit, 1);
  pthread_barrier_wait(&frame_start);
  for (int i = 0; i < NJOBS; i++) pthread_join(jobs[i], NULL);
  for (int i = 0; i < 1000; i++) {  /* let the world G drain the channel,
                                       and the loader G read to the end */
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
  goro_call(rt, read_frame_gs, (long[]){0});
  loaded = frame_gs.loaded;
  rendered = frame_gs.rendered;
  off_frame = frame_gs.off_frame;
  on_frame = frame_gs.on_frame;
  printf("loader G: %ld bytes read by read(2) through goro_cgocall, none on the "
         "frame thread: %s\n", loaded, off_frame ? "yes" : "no");
  printf("render G (goro.lockthread): %ld wakes, all on the frame thread: %s\n",
         rendered, on_frame ? "yes" : "no");
  close(assets[0]);
  goro_close(rt);
  lua_close(L);
  return atomic_load(&failures) == 0 && off_frame && on_frame ? 0 : 1;
}
