/*
** spec/c/testmod.c — goro_testmod, a Lua C module for the specs: C code
** that blocks (through goro_cgocall) and calls back into Lua (through
** goro_call), the way a real binding would. It links libgoro.so, so it
** shares the runtime with `require "goro"`.
*/
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <lua.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

#include "../../include/goro.h"

struct nap {
  double s;
};

static void do_nap(void *p) {
  struct nap *n = p;
  struct timespec ts;
  ts.tv_sec = (time_t)n->s;
  ts.tv_nsec = (long)((n->s - (double)ts.tv_sec) * 1e9);
  /* The whole nap: a signal (SIGURG meant for the P's owner just before
  ** this M went into C, SIGPROF) must not cut it short. */
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

/* cgo_sleep(s): sleep in C with the P released. */
static int cgo_sleep(lua_State *L) {
  struct nap n = {luaL_checknumber(L, 1)};
  if (goro_cgocall(L, do_nap, &n) != 0) return luaL_error(L, "cgocall failed");
  return 0;
}

/* Burn the calling thread's CPU for s seconds, inlined into each named
** spinner below so that each is a profiler leaf of its own. The clock is
** read every 100,000 additions (~0.1 ms; longer under TSan): reading a
** thread's CPU clock is a system call, and a sample taken in it has
** "[C] clock_gettime" as its leaf, not the spinner. */
static inline __attribute__((always_inline)) void burn(double s) {
  struct timespec t0, t;
  volatile unsigned long x = 0;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
  do {
    for (int i = 0; i < 100000; i++) x += (unsigned long)i;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  } while ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) * 1e-9 < s);
}

/* (named, exported functions, so the profiler's "[C] goro_testmod_spin"
** leaf can be checked) */
EXPORT __attribute__((noinline)) void goro_testmod_spin(void *p) {
  burn(((struct nap *)p)->s);
}

/* The second half of cgo_spin_two: a leaf of its own. */
EXPORT __attribute__((noinline)) void goro_testmod_spin_b(void *p) {
  burn(((struct nap *)p)->s);
}

/* Alternate 5 ms spells of goro_testmod_spin and goro_testmod_spin_b for
** s seconds of CPU in all: one stay in C whose samples have two leaves. */
static void spin_two(void *p) {
  struct nap *n = p, spell = {0.005};
  for (double done = 0; done < n->s; done += 2 * spell.s) {
    goro_testmod_spin(&spell);
    goro_testmod_spin_b(&spell);
  }
}

/* cgo_spin_two(s): spin_two with the P released. */
static int cgo_spin_two(lua_State *L) {
  struct nap n = {luaL_checknumber(L, 1)};
  if (goro_cgocall(L, spin_two, &n) != 0) return luaL_error(L, "cgocall failed");
  return 0;
}

/* c_busy(s): keep the thread busy for s seconds of wall-clock time in
** plain C, holding the P (what a C module that forgets goro_cgocall
** does). A busy loop, not a sleep: goro's SIGURG would cut a sleep short
** (EINTR), as Go's preemption signal does. */
static int c_busy(lua_State *L) {
  double s = luaL_checknumber(L, 1);
  struct timespec t0, t;
  volatile unsigned long x = 0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  do {
    for (int i = 0; i < 10000; i++) x += (unsigned long)i;
    clock_gettime(CLOCK_MONOTONIC, &t);
  } while ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) * 1e-9 < s);
  return 0;
}

/* cgo_spin(s): burn s seconds of CPU in C with the P released. */
static int cgo_spin(lua_State *L) {
  struct nap n = {luaL_checknumber(L, 1)};
  if (goro_cgocall(L, goro_testmod_spin, &n) != 0) return luaL_error(L, "cgocall failed");
  return 0;
}

struct job {
  goro_runtime *rt;
  int ref;     /* registry: {f, args...}; the callback puts results there */
  int status;
  double nap;  /* seconds to sleep in C before calling back */
};

/* The callback, on a Lua thread of the universe with the P held. */
static int call_packed(lua_State *L, void *ud) {
  struct job *j = ud;
  int n, top;
  lua_rawgeti(L, LUA_REGISTRYINDEX, j->ref);
  n = (int)luaL_len(L, -1);
  top = lua_gettop(L);
  for (int i = 1; i <= n; i++) lua_rawgeti(L, top, i);
  lua_call(L, n - 1, LUA_MULTRET);
  n = lua_gettop(L) - top;
  lua_createtable(L, n, 1);
  lua_insert(L, top + 1);
  for (int i = n; i >= 1; i--) lua_rawseti(L, top + 1, i);
  lua_pushinteger(L, n);
  lua_setfield(L, top + 1, "n");
  lua_rawseti(L, LUA_REGISTRYINDEX, j->ref);  /* results replace the job */
  return 0;
}

static void do_callback(void *p) {
  struct job *j = p;
  if (j->nap > 0) {
    struct nap n = {j->nap};
    do_nap(&n);
  }
  j->status = goro_call(j->rt, call_packed, j);
}

/* Lua -> C -> Lua with the values from stack index `first` on (f, ...). */
static int callback_job(lua_State *L, int first, double nap) {
  struct job j;
  int n = lua_gettop(L) - first + 1;
  luaL_checktype(L, first, LUA_TFUNCTION);
  j.rt = goro_runtime_of(L);
  j.status = LUA_OK;
  j.nap = nap;
  lua_createtable(L, n, 0);
  for (int i = 1; i <= n; i++) {
    lua_pushvalue(L, first + i - 1);
    lua_rawseti(L, -2, i);
  }
  j.ref = luaL_ref(L, LUA_REGISTRYINDEX);
  if (goro_cgocall(L, do_callback, &j) != 0) return luaL_error(L, "cgocall failed");
  lua_rawgeti(L, LUA_REGISTRYINDEX, j.ref);
  luaL_unref(L, LUA_REGISTRYINDEX, j.ref);
  if (j.status != LUA_OK) return luaL_error(L, "%s", goro_errmsg());
  lua_getfield(L, -1, "n");
  n = (int)lua_tointeger(L, -1);
  lua_pop(L, 1);
  luaL_checkstack(L, n, "too many results");
  {
    int t = lua_gettop(L);
    for (int i = 1; i <= n; i++) lua_rawgeti(L, t, i);
  }
  return n;
}

/* cgo_callback(f, ...) -> f's results: C (via goro_cgocall) calls f back
** (via goro_call), a callback nested in this G. An error in f comes back
** as an error here, with f's traceback in the message. */
static int cgo_callback(lua_State *L) { return callback_job(L, 1, 0); }

/* cgo_nap_callback(s, f, ...): the same, sleeping s seconds in C first. */
static int cgo_nap_callback(lua_State *L) {
  return callback_job(L, 2, luaL_checknumber(L, 1));
}

/* direct_call(f, ...): goro_call from C that Lua called on this thread
** (case (c): no cgocall around it). */
static int direct_call(lua_State *L) {
  struct job j;
  int n = lua_gettop(L);
  luaL_checktype(L, 1, LUA_TFUNCTION);
  j.rt = goro_runtime_of(L);
  j.nap = 0;
  lua_createtable(L, n, 0);
  for (int i = 1; i <= n; i++) {
    lua_pushvalue(L, i);
    lua_rawseti(L, -2, i);
  }
  j.ref = luaL_ref(L, LUA_REGISTRYINDEX);
  j.status = goro_call(j.rt, call_packed, &j);
  luaL_unref(L, LUA_REGISTRYINDEX, j.ref);
  if (j.status != LUA_OK) return luaL_error(L, "%s", goro_errmsg());
  return 0;
}

static int is_extra_in_c(lua_State *L) {
  lua_pushboolean(L, goro_is_extra_in_c());
  return 1;
}

/* ---- file descriptors, for the I/O specs ---------------------------------- */

/* pipe([blocking]) -> rfd, wfd: a non-blocking pipe (or a blocking one). */
static int fd_pipe(lua_State *L) {
  int p[2];
  if (pipe2(p, (lua_toboolean(L, 1) ? 0 : O_NONBLOCK) | O_CLOEXEC) != 0)
    return luaL_error(L, "pipe: %s", strerror(errno));
  lua_pushinteger(L, p[0]);
  lua_pushinteger(L, p[1]);
  return 2;
}

/* fd_write(fd, s) -> bytes written | nil, err */
static int fd_write(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 2, &n);
  ssize_t k = write((int)luaL_checkinteger(L, 1), s, n);
  if (k < 0) {
    lua_pushnil(L);
    lua_pushstring(L, errno == EAGAIN ? "EAGAIN" : strerror(errno));
    return 2;
  }
  lua_pushinteger(L, k);
  return 1;
}

/* fd_read(fd, max) -> string | nil, err ("EAGAIN" when nothing is there) */
static int fd_read(lua_State *L) {
  char buf[4096];
  lua_Integer max = luaL_optinteger(L, 2, sizeof buf);
  ssize_t k = read((int)luaL_checkinteger(L, 1), buf,
                   (size_t)(max < (lua_Integer)sizeof buf ? max : (lua_Integer)sizeof buf));
  if (k < 0) {
    lua_pushnil(L);
    lua_pushstring(L, errno == EAGAIN ? "EAGAIN" : strerror(errno));
    return 2;
  }
  lua_pushlstring(L, buf, (size_t)k);
  return 1;
}

/* tid() -> the calling thread's id. */
static int tid(lua_State *L) {
  lua_pushinteger(L, gettid());
  return 1;
}

struct cgo_read_job {
  int fd;
  char buf[512];
  ssize_t n;
  int err;
  pid_t tid;
};

static void do_read(void *p) {
  struct cgo_read_job *j = p;
  j->tid = gettid();
  j->n = read(j->fd, j->buf, sizeof j->buf);
  j->err = errno;
}

/* cgo_read(fd) -> string, tid: read(2) (blocking, on a blocking fd) in C
** through goro_cgocall, and the id of the thread the C function ran on. */
static int cgo_read(lua_State *L) {
  struct cgo_read_job j;
  j.fd = (int)luaL_checkinteger(L, 1);
  if (goro_cgocall(L, do_read, &j) != 0) return luaL_error(L, "cgocall failed");
  if (j.n < 0) return luaL_error(L, "read: %s", strerror(j.err));
  lua_pushlstring(L, j.buf, (size_t)j.n);
  lua_pushinteger(L, j.tid);
  return 2;
}

static int fd_close(lua_State *L) {
  close((int)luaL_checkinteger(L, 1));
  return 0;
}

struct later {
  int fd;
  double delay;
  char data[64];
};

static void *write_later_main(void *p) {
  struct later *l = p;
  struct timespec ts;
  ts.tv_sec = (time_t)l->delay;
  ts.tv_nsec = (long)((l->delay - (double)ts.tv_sec) * 1e9);
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
  (void)!write(l->fd, l->data, strlen(l->data));
  free(l);
  return NULL;
}

/* write_later(fd, s, delay): a thread goro knows nothing of writes s to fd
** after delay seconds. */
static int write_later(lua_State *L) {
  struct later *l = calloc(1, sizeof *l);
  pthread_t t;
  if (l == NULL) return luaL_error(L, "out of memory");
  l->fd = (int)luaL_checkinteger(L, 1);
  snprintf(l->data, sizeof l->data, "%s", luaL_checkstring(L, 2));
  l->delay = luaL_checknumber(L, 3);
  if (pthread_create(&t, NULL, write_later_main, l) != 0) {
    free(l);
    return luaL_error(L, "pthread_create failed");
  }
  pthread_detach(t);
  return 0;
}

/* wait_fd(fd, "r"|"w", timeout) -> what goro_wait_fd returned, and the
** error text when it is an error. */
static int wait_fd(lua_State *L) {
  int fd = (int)luaL_checkinteger(L, 1);
  const char *dir = luaL_checkstring(L, 2);
  int rc = goro_wait_fd(L, fd, dir[0] == 'w' ? GORO_WAIT_WRITE : GORO_WAIT_READ,
                        luaL_optnumber(L, 3, -1));
  lua_pushinteger(L, rc);
  if (rc < 0) {
    lua_pushstring(L, goro_errmsg());
    return 2;
  }
  return 1;
}

/* raise_nofile(n) -> the soft limit on open fds now (at most the hard one). */
static int raise_nofile(lua_State *L) {
  struct rlimit r;
  rlim_t want = (rlim_t)luaL_checkinteger(L, 1);
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < want) {
    r.rlim_cur = want < r.rlim_max ? want : r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
  getrlimit(RLIMIT_NOFILE, &r);
  lua_pushinteger(L, (lua_Integer)r.rlim_cur);
  return 1;
}

/* linger0(fd): make close() send a reset (SO_LINGER with no time). */
static int linger0(lua_State *L) {
  struct linger lg = {1, 0};
  setsockopt((int)luaL_checkinteger(L, 1), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  return 0;
}

/* keep_thread(escape) -> ref, marked: what a C module that keeps the
** calling thread does (lua_pushthread, then a registry reference), calling
** goro_escape_thread first when escape is true (marked: what it returned,
** or false when not called). held(ref) -> the thread kept at ref. */
static int keep_thread(lua_State *L) {
  int marked = 0, escape = lua_toboolean(L, 1);
  if (escape) marked = goro_escape_thread(L);
  lua_pushthread(L);
  lua_pushinteger(L, luaL_ref(L, LUA_REGISTRYINDEX));
  if (escape)
    lua_pushboolean(L, marked);
  else
    lua_pushboolean(L, 0);
  return 2;
}

static int held(lua_State *L) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, luaL_checkinteger(L, 1));
  return 1;
}

static const luaL_Reg funcs[] = {
    {"keep_thread", keep_thread},
    {"held", held},
    {"raise_nofile", raise_nofile},
    {"linger0", linger0},
    {"pipe", fd_pipe},
    {"fd_write", fd_write},
    {"fd_read", fd_read},
    {"fd_close", fd_close},
    {"tid", tid},
    {"cgo_read", cgo_read},
    {"write_later", write_later},
    {"wait_fd", wait_fd},
    {"cgo_sleep", cgo_sleep},
    {"cgo_callback", cgo_callback},
    {"cgo_nap_callback", cgo_nap_callback},
    {"cgo_spin", cgo_spin},
    {"c_busy", c_busy},
    {"cgo_spin_two", cgo_spin_two},
    {"direct_call", direct_call},
    {"is_extra_in_c", is_extra_in_c},
    {NULL, NULL},
};

EXPORT int luaopen_goro_testmod(lua_State *L) {
  luaL_newlib(L, funcs);
  return 1;
}
