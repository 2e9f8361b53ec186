/*
** goro.h — goro's public C interface.
**
** goro gives Lua 5.4 the concurrency model of Go. This header is for Lua C
** modules and for hosts that embed Lua. Its declarations are plain C that
** LuaJIT's ffi.cdef accepts once the preprocessor lines are removed: no
** macros inside declarations, no bit-fields, fixed-size types.
*/
#ifndef GORO_H
#define GORO_H

/* goro.h names lua_State and nothing else of Lua's (so that code with no
** Lua in it can use goro's error codes). Include lua.h for the rest. */
#ifndef lua_h
typedef struct lua_State lua_State;
#endif

/* goro's version: meson.build's project() version, which these must match
** (spec/01-module_spec.lua checks it, and goro._VERSION is "goro " ..
** GORO_VERSION). */
#define GORO_VERSION_MAJOR 0
#define GORO_VERSION_MINOR 1
#define GORO_VERSION_PATCH 0
#define GORO_VERSION "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif

/* The Lua module: `require "goro.core"` (the facade `require "goro"` loads
** it for you). */
int luaopen_goro_core(lua_State *L);

/* One runtime per Lua universe (the one `require "goro"` uses). */
typedef struct goro_runtime goro_runtime;

/* goro's error codes, the one list: every layer of goro returns these
** (negative) numbers, and goro_strerror gives their text. goro_call and
** goro_step also return Lua's own status codes (LUA_ERRRUN, LUA_ERRMEM),
** which are positive, and goro_errmsg() has the message. */
enum {
  GORO_ENOMEM = -1,   /* not enough memory */
  GORO_EINVAL = -2,   /* invalid argument */
  GORO_ECLOSED = -3,  /* the runtime is closed */
  GORO_ESTATE = -4,   /* not allowed in this state */
  GORO_EENDED = -5,   /* the run ended while this waited */
  GORO_EGFAILED = -6, /* a goroutine failed and nobody waited for it */
  GORO_EIO = -7,      /* a system call failed: goro_errmsg() says which */
  GORO_ETIMEDOUT = -8, /* a deadline passed: "i/o timeout" */
  GORO_ELAST = -8,    /* the lowest code */
  /* Aliases, kept because hosts use these names: */
  GORO_STEP_GFAILED = GORO_EGFAILED, /* goro_step */
  GORO_STEP_CLOSED = GORO_ECLOSED,   /* goro_step */
  GORO_CLOSED = GORO_ECLOSED,        /* goro_call */
  GORO_BADARG = GORO_EINVAL          /* goro_cgocall, goro_profile_start */
};

/* The English text of one of the codes above ("unknown error" for any
** other number). Never NULL; the text is static. */
const char *goro_strerror(int code);

/* A callback body: runs with the P held, on a Lua thread of the universe,
** in protected mode. It follows the lua_CFunction convention (returns how
** many results it pushed; they are discarded): results travel through ud. */
typedef int (*goro_fn)(lua_State *L, void *ud);

/* Attach the runtime to a host-created state and register the linked-in
** core as package.preload["goro.core"], so that `require "goro"` in Lua
** uses this copy of goro. NULL on error (goro_errmsg).
**
** The embedding rule. Until goro_open, the host has L to itself: it opens
** the libraries, registers its functions and runs its scripts (a script
** that requires goro then needs luaopen_goro_core in package.preload, as
** goro_open would put it). goro_open returns with the calling thread NOT
** holding the P, and hands L over: from then on every thread, the one that
** called goro_open included, touches L only inside goro_step or goro_call
** (and in C that Lua calls on a G); a script loaded later is loaded inside
** goro_call. */
goro_runtime *goro_open(lua_State *L);

/* The runtime attached to L's universe, or NULL. */
goro_runtime *goro_runtime_of(lua_State *L);

/* Run ready G's on the calling thread until none is ready or budget_s
** seconds have passed. Returns how many G's are still runnable (>= 0), or
** GORO_STEP_GFAILED / GORO_STEP_CLOSED. */
int goro_step(goro_runtime *rt, double budget_s);

/* C -> Lua from any thread: run fn(L, ud) with the P held, in protected
** mode. (a) From C inside goro_cgocall: a callback nested in the same G,
** back on its stack. (b) From a host thread the runtime did not create: the
** thread gets an extra M on its first call and keeps it until it exits.
** (c) From C called by Lua on this thread: a direct protected call.
** Returns LUA_OK or an error status; goro_errmsg() has the error text with
** its traceback. A Lua error never crosses into the caller's C frames. */
int goro_call(goro_runtime *rt, goro_fn fn, void *ud);

/* Lua -> C from a C function running on a G: run fn(arg) on the M's system
** stack with the P released (other G's keep running), then take the P back.
** fn must not raise Lua errors; it may call goro_call. Returns 0 or a
** negative error code. */
int goro_cgocall(lua_State *L, void (*fn)(void *arg), void *arg);

/* Wait, from a C function running on a G, until fd is ready: events is
** GORO_WAIT_READ or GORO_WAIT_WRITE; timeout_s < 0 waits for as long as it
** takes. Only the G waits (other G's run meanwhile), from any depth a G
** can block at, as Lua's blocking calls do; outside any G it polls on the
** calling thread. Returns `events` when ready, or GORO_ETIMEDOUT,
** GORO_ECLOSED, GORO_EENDED (the run ended), GORO_ESTATE (inside a __gc
** finalizer), GORO_EIO or GORO_EINVAL, with goro_errmsg() saying why. */
enum { GORO_WAIT_READ = 1, GORO_WAIT_WRITE = 2 };
int goro_wait_fd(lua_State *L, int fd, int events, double timeout_s);

/* The thread rule. When a G ends, goro gives its Lua thread to the next
** G (reset: no frame, no value, no hook), unless the thread *escaped*:
** goro handed it out, so that a thread value never stands for two G's.
** coroutine.running() in a G marks its thread so; goro sees no other way
** out but one: C that pushes the G's thread (lua_pushthread) and keeps
** the value past the G's end (in the registry, a table, an upvalue) must
** call goro_escape_thread(L) first. Lua code may turn reuse off for the
** whole runtime with goro.config{reuse_threads = false}.
** goro_escape_thread marks the thread L as escaped if L is the thread of
** the G running on the calling thread, and returns 1; else (a coroutine
** inside a G, or no G) it does nothing and returns 0. Call it from a C
** function that Lua called on L. May raise a Lua memory error (it records
** the thread as coroutine.running() does), with the mark made. */
int goro_escape_thread(lua_State *L);

/* For a host that owns its event loop: an fd that polls readable whenever
** the runtime has work (a runnable G, a due timer, ready I/O), and the
** seconds until its next timer (0: work is due now; -1: no timer). Wait on
** the fd (poll, epoll, libuv's uv_poll_t, GLib...) for at most that long,
** then call goro_step. goro_pollfd returns -1 (goro_errmsg) on failure. */
int goro_pollfd(goro_runtime *rt);
double goro_timeout(goro_runtime *rt);

/* 1 when the calling thread holds an extra M and no Lua frame of it is
** live (it is in C between calls), else 0. Async-signal-safe. */
int goro_is_extra_in_c(void);

/* The last error text of the calling thread ("" if none). */
const char *goro_errmsg(void);

/* Stop the runtime: every G is abandoned, and later calls from any thread
** return an error status. The host owns L again afterwards. Returns 0
** (also for a runtime already closed), GORO_EINVAL for NULL, or
** GORO_ESTATE when called from inside the runtime (a G, a callback,
** goro_step's thread), which would wait for itself: goro_errmsg() says so
** and nothing changes. */
int goro_close(goro_runtime *rt);

/* CPU profiling, process-wide: every thread that runs goro code (workers,
** threads in goro.run or goro_step, host threads with an extra M) is
** sampled on its own CPU clock `hz` times a second. A sample on an extra M
** in C counts as "[external code]". format: "pprof" (gzipped protobuf, as
** `go tool pprof` reads it) or "folded" ("a;b;c count" lines); NULL picks
** folded for a path ending in ".folded", else pprof. Returns 0, or
** GORO_BADARG (bad argument, or a profile is running: goro_errmsg). */
int goro_profile_start(int hz, const char *path, const char *format);
/* Stop the profile and write its file. 0, or LUA_ERRRUN (none running, or
** the write failed: goro_errmsg). */
int goro_profile_stop(void);

#ifdef __cplusplus
}
#endif

#endif
