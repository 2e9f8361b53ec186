/*
** bench/frame.c — how long goro_step(rt, 2 ms) holds a game's frame
** thread, over many frames of mixed work (issue 14's load):
**
**   readers   4 G's read blocking pipes in C through goro_cgocall; the
**             frame loop writes them, a byte each a frame (their C runs
**             on workers: HACKING.md, "The frame loop")
**   spinners  2 G's compute in Lua without ever blocking
**   talkers   a G that sleeps 1 ms and pings another over channels
**
** and the same beside 4 job threads that goro_call into Lua every frame
** (as examples/gameloop's). Prints the distribution of goro_step's
** durations (p50, p99, p99.9, max) and how many steps ended more than 1
** ms late, with the CPU model. Not a test: these machines are shared.
** So each step also reads how long the kernel kept the frame thread
** runnable but not running (/proc/thread-self/schedstat): the second
** row of each load is the steps' durations less that wait, which is
** goro's own part when other programs load the machine.
**
** Usage: frame [srcdir [frames]]   (default 10,000 frames)
*/
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#include "goro.h"
#include "benchutil.h"

#define READERS 4
#define JOBS 4
#define BUDGET 0.002

static goro_runtime *rt;
static atomic_int quit;
static pthread_barrier_t frame_start, frame_end;

struct rd {
  int fd;
  char buf[256];
  ssize_t n;
};

static void do_read(void *p) {
  struct rd *r = p;
  r->n = read(r->fd, r->buf, sizeof r->buf);
}

/* bench.read(fd) -> bytes: a blocking read(2) through goro_cgocall. */
static int l_read(lua_State *L) {
  struct rd r;
  r.fd = (int)luaL_checkinteger(L, 1);
  goro_cgocall(L, do_read, &r);
  lua_pushlstring(L, r.buf, r.n > 0 ? (size_t)r.n : 0);
  return 1;
}

static const char *load =
    "local goro = require 'goro'\n"
    "stop = false\n"
    "for i = 1, #fds do\n"
    "  goro.go(function()\n"
    "    while true do\n"
    "      local s = bench.read(fds[i])\n"
    "      if s == '' or s:find('!', 1, true) then return end\n"
    "    end\n"
    "  end)\n"
    "end\n"
    "for i = 1, 2 do\n"
    "  goro.go(function()\n"
    "    while not stop do local x = 0 for j = 1, 2000 do x = x + j end end\n"
    "  end)\n"
    "end\n"
    "local ping, pong = goro.chan(), goro.chan()\n"
    "goro.go(function()\n"
    "  while not stop do goro.sleep(0.001); ping:send(1); pong:recv() end\n"
    "  ping:close()\n"
    "end)\n"
    "goro.go(function() for v in ping:iter() do pong:send(v) end end)\n"
    "function on_job(id) local t = {} for k = 1, 50 do t[k] = id * k end return #t end\n";

static int call_on_job(lua_State *L, void *ud) {
  lua_getglobal(L, "on_job");
  lua_pushinteger(L, (lua_Integer)(intptr_t)ud);
  lua_call(L, 1, 1);
  return 0;
}

static void *job_thread(void *arg) {
  for (;;) {
    pthread_barrier_wait(&frame_start);
    if (atomic_load(&quit)) break;
    goro_call(rt, call_on_job, arg);
    pthread_barrier_wait(&frame_end);
  }
  return NULL;
}

static int set_stop(lua_State *L, void *ud) {
  (void)ud;
  lua_pushboolean(L, 1);
  lua_setglobal(L, "stop");
  return 0;
}

/* Nanoseconds this thread has spent runnable, waiting for a CPU (the
** second field of schedstat); -1 if the kernel does not say. */
static long long run_delay(int fd) {
  char buf[128];
  long long run, wait;
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return -1;
  buf[n] = 0;
  return sscanf(buf, "%lld %lld", &run, &wait) == 2 ? wait : -1;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* One configuration: a fresh state, `frames` frames, durations into d. */
static void run(const char *srcdir, int frames, int jobs, double *d, double *own,
                int *late) {
  lua_State *L = bench_goro_state(srcdir);
  int p[READERS][2];
  pthread_t th[JOBS];
  lua_newtable(L);
  lua_pushcfunction(L, l_read);
  lua_setfield(L, -2, "read");
  lua_setglobal(L, "bench");
  lua_newtable(L);
  for (int i = 0; i < READERS; i++) {
    if (pipe(p[i]) != 0) exit(1);
    lua_pushinteger(L, p[i][0]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setglobal(L, "fds");
  if (luaL_dostring(L, load) != LUA_OK) {
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
    exit(1);
  }
  rt = goro_open(L);
  atomic_store(&quit, 0);
  if (jobs) {
    pthread_barrier_init(&frame_start, NULL, JOBS + 1);
    pthread_barrier_init(&frame_end, NULL, JOBS + 1);
    for (int i = 0; i < JOBS; i++)
      pthread_create(&th[i], NULL, job_thread, (void *)(intptr_t)(i + 1));
  }
  *late = 0;
  int sfd = open("/proc/thread-self/schedstat", O_RDONLY);
  for (int f = 0; f < frames; f++) {
    double t0;
    long long w0, w1;
    if (jobs) pthread_barrier_wait(&frame_start);
    w0 = run_delay(sfd);
    t0 = bench_now();
    goro_step(rt, BUDGET);
    d[f] = bench_now() - t0;
    w1 = run_delay(sfd);
    own[f] = d[f] - (w0 >= 0 && w1 >= w0 ? (double)(w1 - w0) * 1e-9 : 0);
    if (d[f] > BUDGET + 1e-3) (*late)++;
    if (jobs) pthread_barrier_wait(&frame_end);
    for (int i = 0; i < READERS; i++)
      if (write(p[i][1], "x", 1) != 1) exit(1);
  }
  if (sfd >= 0) close(sfd);
  if (jobs) {
    atomic_store(&quit, 1);
    pthread_barrier_wait(&frame_start);
    for (int i = 0; i < JOBS; i++) pthread_join(th[i], NULL);
  }
  goro_call(rt, set_stop, NULL);
  for (int i = 0; i < READERS; i++) close(p[i][1]);  /* readers see EOF */
  for (int f = 0; f < 2000 && goro_step(rt, BUDGET) > 0; f++) {
  }
  goro_close(rt);
  lua_close(L);
  for (int i = 0; i < READERS; i++) close(p[i][0]);
}

static int count_late(const double *d, int n) {
  int late = 0;
  for (int i = 0; i < n; i++) late += d[i] > BUDGET + 1e-3;
  return late;
}

static void report(const char *name, double *d, int n, int late) {
  qsort(d, (size_t)n, sizeof *d, cmp);
  printf("%-34s %8.2f %8.2f %8.2f %8.2f %8d\n", name, d[n / 2] * 1e3,
         d[n * 99 / 100] * 1e3, d[(int)((long)n * 999 / 1000)] * 1e3, d[n - 1] * 1e3,
         late);
}

int main(int argc, char **argv) {
  const char *srcdir = argc > 1 ? argv[1] : ".";
  int frames = argc > 2 ? atoi(argv[2]) : 10000, late;
  double *d = malloc(sizeof *d * (size_t)(frames > 0 ? frames : 1));
  double *own = malloc(sizeof *own * (size_t)(frames > 0 ? frames : 1));
  printf("goro_step(rt, 2 ms) under mixed load, %d frames (%s)\n", frames,
         bench_cpu());
  printf("%-34s %8s %8s %8s %8s %8s\n", "ms per step", "p50", "p99", "p99.9",
         "max", ">+1ms");
  run(srcdir, frames, 0, d, own, &late);
  report("readers, spinners, talkers", d, frames, late);
  report("  less the kernel's delay", own, frames, count_late(own, frames));
  run(srcdir, frames, 1, d, own, &late);
  report("the same + 4 job threads' goro_call", d, frames, late);
  report("  less the kernel's delay", own, frames, count_late(own, frames));
  free(own);
  free(d);
  return 0;
}
