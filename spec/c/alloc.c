/*
** spec/c/alloc.c — every Lua allocation of two goro programs, made to fail.
**
** Two programs: `script`, a chunk that requires goro and makes runs with
** G's, selects with goro.after timeouts, a waited G that errors, a mutex,
** a deadlock and a failure with {dump = true}; and `host`, an embedding:
** goro_open, G's with a mutex and a select with goro.after, goro_call from
** a pthread whose callback blocks on a channel, goro_step frames and
** goro_close. Each runs under a Lua allocator (lua_newstate) that makes
** the Nth growing allocation fail, in one of two modes:
**
**   once   only the Nth fails (Lua then collects and retries, so this
**          mostly runs an emergency collection at every point);
**   from   the Nth and every later growing one fail, to the end of the
**          child, lua_close included (shrinking never fails: Lua's
**          allocator contract).
**
** A sweep first counts the growing allocations of a clean run (C), then
** runs N = 1, 1 + stride, ... up to C plus a margin, each in a forked
** child with an alarm. Each child must end with the program's result or
** with Lua's memory error ("not enough memory"), exit normally (so that
** LeakSanitizer checks it in the ASan lane) and report nothing; after a
** `once` run of the script, a further goro.run must work. Anything else
** (a wrong result, an error of another kind, a signal, a timeout, a
** sanitizer report) fails the sweep, which names its N.
**
** Only Lua's allocations are swept: the runtime's own C allocations
** (malloc in runtime/) are not made through the Lua allocator. The state,
** its libraries and the compiled chunk are made in the parent, before any
** failure is armed: the sweep starts at the program's `require "goro"`.
** The counts are nearly but not quite the same from run to run (timers,
** the pthread), so N names a point of one run, not an exact allocation.
**
** The whole sweep, not strided: about 390 + 300 points, 1,400 children in
** all, about 75 s a sweep under ASan (LeakSanitizer's check at each exit is
** most of it) and 1 s natively.
**
** Usage (the tests use the first form; the others reproduce one case):
**   test-alloc sweep script|host once|from [stride]
**   test-alloc count script|host
**   test-alloc one script|host once|from N     (in this process: for gdb)
*/
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "luastate.h"

/* ---- the allocator --------------------------------------------------------- */

/* ARM_NONE: the parent, not counting; ARM_COUNT: a clean run, counted. */
enum { ARM_NONE, ARM_COUNT, ARM_ONCE, ARM_FROM };

/* Written before the program starts; the program's allocations all run
** with the P held (one thread at a time), but from several threads. */
static atomic_int arm = ARM_NONE;
static atomic_long fail_at;  /* the growing allocation that fails first */
static atomic_long grown;    /* growing allocations since arming */

static void *alloc(void *ud, void *p, size_t osize, size_t nsize) {
  (void)ud;
  if (nsize == 0) {
    free(p);
    return NULL;
  }
  if (p == NULL || nsize > osize) {  /* (p == NULL: osize is a type tag) */
    int mode = atomic_load(&arm);
    if (mode != ARM_NONE) {
      long n = atomic_fetch_add(&grown, 1) + 1;
      long at = atomic_load(&fail_at);
      if (mode != ARM_COUNT && (n == at || (mode == ARM_FROM && n > at))) return NULL;
    }
  }
  return realloc(p, nsize);
}

static void arm_at(int mode, long n) {
  atomic_store(&grown, 0);
  atomic_store(&fail_at, n);
  atomic_store(&arm, mode);
}

/* ---- outcomes ---------------------------------------------------------------- */

/* What a child reports through memory it shares with the parent. */
enum { OUT_RESULT = 10, OUT_MEMERR = 11, OUT_WRONG = 12 };
struct report {
  long grown;      /* growing allocations the child made after arming */
  char msg[1024];  /* for OUT_WRONG: what was wrong */
};
static struct report *rep;

static void wrong(const char *fmt, const char *what) {
  snprintf(rep->msg, sizeof rep->msg, fmt, what ? what : "(null)");
}

static int is_memerr(int status, const char *msg) {
  return status == LUA_ERRMEM || (msg != NULL && strstr(msg, "not enough memory"));
}

/* report("...") from Lua: the program's result, kept without allocating. */
static char result[256];
static atomic_int reported;

static int l_report(lua_State *L) {
  const char *s = luaL_checkstring(L, 1);
  snprintf(result, sizeof result, "%s", s);
  atomic_store(&reported, 1);
  return 0;
}

/* ---- program `script` -------------------------------------------------------- */

/* Returns "ok"; raises a memory error as it is; anything it did not
** expect, it raises as "wrong: ...". */
static const char *script =
    "local goro = require 'goro'\n"
    "local function check(e, want)\n"
    "  if type(e) == 'string' and e:find('not enough memory', 1, true) then\n"
    "    error(e, 0)\n"
    "  end\n"
    "  if type(e) ~= 'string' or not e:find(want, 1, true) then\n"
    "    error('wrong: ' .. tostring(e), 0)\n"
    "  end\n"
    "end\n"
    "-- 1. G's, a select with timeouts, a waited G that errors, a mutex\n"
    "local ok, r = pcall(goro.run, function()\n"
    "  local ch, res, mu, n = goro.chan(), goro.chan(2), goro.mutex(), 0\n"
    "  goro.go(function()\n"
    "    for i = 1, 3 do ch:send(i); goro.sleep(0.0003) end\n"
    "    ch:close()\n"
    "  end)\n"
    "  goro.go(function()\n"
    "    local sum = 0\n"
    "    while true do\n"
    "      local i, v, ok = goro.select(ch:case_recv(),\n"
    "                                   goro.after(0.0002):case_recv())\n"
    "      if i == 1 then\n"
    "        if not ok then break end\n"
    "        sum = sum + v\n"
    "      end\n"
    "    end\n"
    "    res:send(sum)\n"
    "  end)\n"
    "  local wg = goro.waitgroup()\n"
    "  for _ = 1, 3 do\n"
    "    wg:add(1)\n"
    "    goro.go(function()\n"
    "      mu:lock(); local v = n; goro.yield(); n = v + 1; mu:unlock()\n"
    "      wg:done()\n"
    "    end)\n"
    "  end\n"
    /* (the G fails after a nap: an error counts as waited for only if
    ** g:wait() is already waiting when the G ends, and a preemption right
    ** after goro.go, which an emergency collection inside it invites, let
    ** the G end first once in a sweep) */
    "  local okb, e = goro.go(function() goro.sleep(0.01); error('boom', 0) end):wait()\n"
    "  if okb then error('wrong: the failing G succeeded', 0) end\n"
    "  check(e, 'boom')\n"
    "  wg:wait()\n"
    "  -- a G with two results: its thread goes to the pool, they to its\n"
    "  -- handle in a table (without memory for it, the thread stays)\n"
    "  local okm, a, b = goro.go(function() return 'x', 'y' end):wait()\n"
    "  if not okm then check(a, 'two results') end\n"
    "  if a ~= 'x' or b ~= 'y' then\n"
    "    error('wrong: two results: ' .. tostring(a) .. ', ' .. tostring(b), 0)\n"
    "  end\n"
    "  return res:recv() * 10 + n\n"
    "end)\n"
    "if not ok then check(r, 'wrong') end\n"
    "if r ~= 63 then error('wrong: run 1 returned ' .. tostring(r), 0) end\n"
    "-- 2. a deadlock, with the dump every deadlock carries\n"
    "ok, r = pcall(goro.run, function()\n"
    "  local c = goro.chan()\n"
    "  goro.go(function() c:recv() end)\n"
    "  c:recv()\n"
    "end)\n"
    "if ok then error('wrong: the deadlock returned', 0) end\n"
    "check(r, 'all goroutines are asleep - deadlock!')\n"
    "-- 3. an unwaited G fails with {dump = true}: its error and the dump\n"
    "ok, r = pcall(goro.run, {dump = true}, function()\n"
    "  goro.go(function() goro.after(1):recv() end)\n"
    "  goro.go(function() error('unwaited', 0) end)\n"
    "  goro.sleep(1)\n"
    "end)\n"
    "if ok then error('wrong: the failed run returned', 0) end\n"
    "check(r, 'unwaited')\n"
    "return 'ok'\n";

/* In the parent: a state with the chunk compiled, at index 1. */
static lua_State *script_state(void) {
  lua_State *L = goro_test_prepare(lua_newstate(alloc, NULL));
  if (L == NULL || luaL_loadstring(L, script) != LUA_OK) {
    fprintf(stderr, "alloc: cannot make the script's state\n");
    exit(2);
  }
  return L;
}

static int run_script(lua_State *L, int mode) {
  int status = lua_pcall(L, 0, 1, 0);
  const char *msg = lua_tostring(L, -1);
  int out;
  if (status == LUA_OK && msg != NULL && strcmp(msg, "ok") == 0) {
    out = OUT_RESULT;
  } else if (status != LUA_OK && is_memerr(status, msg)) {
    out = OUT_MEMERR;
  } else {
    wrong("%s", msg);
    return OUT_WRONG;
  }
  lua_settop(L, 0);
  /* Once the single failure has passed, goro must work as before. */
  if (mode == ARM_ONCE &&
      (luaL_dostring(L, "return require('goro').run(function() return 42 end)")
           != LUA_OK ||
       lua_tointeger(L, -1) != 42)) {
    wrong("goro.run after the failure: %s", lua_tostring(L, -1));
    return OUT_WRONG;
  }
  return out;
}

/* ---- program `host` ------------------------------------------------------------ */

/* Loaded before goro_open. No workers: only the steps run G's, and the
** pthread's goro_call, so a count means nearly the same point each run. */
static const char *host_script =
    "local goro = require 'goro'\n"
    "goro.config{workers = 0}\n"
    "local mu, fromhost, out, shared = goro.mutex(), goro.chan(), goro.chan(4), 0\n"
    "function from_host(v) fromhost:send(v) end  -- blocks in the callback\n"
    "for i = 1, 3 do\n"
    "  goro.go(function()\n"
    "    for _ = 1, 3 do\n"
    "      mu:lock(); local v = shared; goro.yield(); shared = v + 1; mu:unlock()\n"
    "    end\n"
    "    out:send(i)\n"
    "  end)\n"
    "end\n"
    "goro.go(function()\n"
    "  local got, n = 0, 0\n"
    "  while n < 2 do\n"
    "    local i, v = goro.select(fromhost:case_recv(),\n"
    "                             goro.after(0.0005):case_recv())\n"
    "    if i == 1 then got, n = got + v, n + 1 end\n"
    "  end\n"
    "  out:send(got)\n"
    "end)\n"
    "goro.go(function()\n"
    "  local sum = 0\n"
    "  for _ = 1, 4 do sum = sum + out:recv() end\n"
    "  report(('done %d %d'):format(shared, sum))\n"
    "end)\n";

static const char host_expect[] = "done 9 36";  /* 1+2+3 and 10+20 */

struct caller {
  goro_runtime *rt;
  atomic_int done;
  int status;
  char msg[512];
};

static int call_from_host(lua_State *T, void *ud) {
  lua_getglobal(T, "from_host");
  lua_pushinteger(T, (lua_Integer)(intptr_t)ud);
  lua_call(T, 1, 0);
  return 0;
}

/* A host thread: two goro_calls, each blocking until a G receives. */
static void *caller_main(void *p) {
  struct caller *c = p;
  c->status = goro_call(c->rt, call_from_host, (void *)(intptr_t)10);
  if (c->status == LUA_OK)
    c->status = goro_call(c->rt, call_from_host, (void *)(intptr_t)20);
  if (c->status != LUA_OK) snprintf(c->msg, sizeof c->msg, "%s", goro_errmsg());
  atomic_store(&c->done, 1);
  return NULL;
}

static lua_State *host_state(void) {
  lua_State *L = goro_test_prepare(lua_newstate(alloc, NULL));
  if (L == NULL || luaL_loadstring(L, host_script) != LUA_OK) {
    fprintf(stderr, "alloc: cannot make the host's state\n");
    exit(2);
  }
  lua_register(L, "report", l_report);
  return L;
}

static void sleep_us(long us) {
  struct timespec ts = {0, us * 1000};
  nanosleep(&ts, NULL);
}

static int run_host(lua_State *L, int mode) {
  struct caller c = {0};
  goro_runtime *rt;
  pthread_t t;
  int status, out = OUT_RESULT, frames;
  (void)mode;
  status = lua_pcall(L, 0, 0, 0);
  if (status != LUA_OK) {
    if (is_memerr(status, lua_tostring(L, -1))) return OUT_MEMERR;
    wrong("loading the host script: %s", lua_tostring(L, -1));
    return OUT_WRONG;
  }
  if ((rt = goro_open(L)) == NULL) {
    if (is_memerr(LUA_OK, goro_errmsg())) return OUT_MEMERR;
    wrong("goro_open: %s", goro_errmsg());
    return OUT_WRONG;
  }
  c.rt = rt;
  if (pthread_create(&t, NULL, caller_main, &c) != 0) {
    fprintf(stderr, "alloc: pthread_create failed\n");
    exit(2);
  }
  for (frames = 0; frames < 20000; frames++) {
    int n = goro_step(rt, 0.001);
    if (n < 0) {
      if (is_memerr(n == LUA_ERRMEM ? LUA_ERRMEM : LUA_OK, goro_errmsg())) {
        out = OUT_MEMERR;
      } else {
        wrong("goro_step: %s", goro_errmsg());
        out = OUT_WRONG;
      }
      break;
    }
    if (atomic_load(&c.done) && c.status != LUA_OK) break;  /* judged below */
    if (atomic_load(&c.done) && atomic_load(&reported)) break;
    if (n == 0) sleep_us(100);
  }
  goro_close(rt);  /* must also end a goro_call blocked in its callback */
  pthread_join(t, NULL);
  if (out == OUT_RESULT && c.status != LUA_OK) {
    if (is_memerr(c.status, c.msg)) {
      out = OUT_MEMERR;
    } else {
      snprintf(rep->msg, sizeof rep->msg, "goro_call: status %d: %s", c.status, c.msg);
      out = OUT_WRONG;
    }
  }
  if (out == OUT_RESULT && frames == 20000) {
    wrong("%s", "20000 frames and no result");
    out = OUT_WRONG;
  }
  if (out == OUT_RESULT && strcmp(result, host_expect) != 0) {
    wrong("the host program reported \"%s\"", result);
    out = OUT_WRONG;
  }
  return out;
}

/* ---- one run, and the sweep ------------------------------------------------------ */

struct program {
  const char *name;
  lua_State *(*state)(void);
  int (*run)(lua_State *L, int mode);
};

static const struct program programs[] = {
    {"script", script_state, run_script},
    {"host", host_state, run_host},
};

/* One run: arm, run, close. Returns an outcome; rep->grown says how many
** growing allocations it made. */
static int one(const struct program *pr, lua_State *L, int mode, long n) {
  int out;
  arm_at(mode, n);
  out = pr->run(L, mode);
  rep->grown = atomic_load(&grown);  /* (lua_close allocates nothing much) */
  lua_close(L);
  return out;
}

static const char *mode_name(int mode) {
  return mode == ARM_ONCE ? "once" : mode == ARM_FROM ? "from" : "clean";
}

/* Run one case in a forked child. Returns 1 when it ended as it must. */
static int forked(const struct program *pr, lua_State *L, int mode, long n,
                  int verbose) {
  pid_t pid;
  int st, ok;
  memset(rep, 0, sizeof *rep);
  fflush(stdout);
  fflush(stderr);
  pid = fork();
  if (pid < 0) {
    perror("alloc: fork");
    exit(2);
  }
  if (pid == 0) {
    alarm(20);  /* a clean run takes well under a second, even under ASan */
    exit(one(pr, L, mode, n));  /* exit, not _exit: LeakSanitizer checks */
  }
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  ok = WIFEXITED(st) && (WEXITSTATUS(st) == OUT_RESULT || WEXITSTATUS(st) == OUT_MEMERR);
  if (!ok) {
    printf("FAIL %s %s N=%ld: ", pr->name, mode_name(mode), n);
    if (WIFSIGNALED(st))
      printf("killed by signal %d%s\n", WTERMSIG(st),
             WTERMSIG(st) == SIGALRM ? " (timeout)" : "");
    else if (WEXITSTATUS(st) == OUT_WRONG)
      printf("%s\n", rep->msg);
    else
      printf("exit status %d (a sanitizer report?)\n", WEXITSTATUS(st));
    printf("  reproduce: test-alloc one %s %s %ld\n", pr->name, mode_name(mode), n);
  } else if (verbose) {
    printf("%s %s N=%ld: %s after %ld growing allocations\n", pr->name,
           mode_name(mode), n, WEXITSTATUS(st) == OUT_RESULT ? "result" : "memory error",
           rep->grown);
  }
  return ok ? (WEXITSTATUS(st) == OUT_RESULT ? 1 : 2) : 0;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int sweep(const struct program *pr, int mode, long stride) {
  long count, last, n, runs = 0, results = 0, memerrs = 0, bad = 0;
  double t0 = now();
  lua_State *L = pr->state();  /* each child runs its own copy of it */
  if (!forked(pr, L, ARM_COUNT, 0, 0)) return 1;
  count = rep->grown;
  last = count + count / 20 + 20;  /* runs differ a little: go past the end */
  printf("%s %s: a clean run makes %ld growing allocations; N = 1..%ld, stride %ld\n",
         pr->name, mode_name(mode), count, last, stride);
  for (n = 1; n <= last; n += stride) {
    int r = forked(pr, L, mode, n, 0);
    runs++;
    if (r == 1) results++;
    if (r == 2) memerrs++;
    if (r == 0 && ++bad >= 20) {
      printf("stopping after 20 failures\n");
      break;
    }
  }
  printf("%s %s: %ld runs (%ld results, %ld memory errors), %ld failed, %.1f s\n",
         pr->name, mode_name(mode), runs, results, memerrs, bad, now() - t0);
  lua_close(L);
  return bad != 0;
}

static const struct program *program_named(const char *s) {
  for (size_t i = 0; i < sizeof programs / sizeof programs[0]; i++)
    if (strcmp(programs[i].name, s) == 0) return &programs[i];
  return NULL;
}

static int usage(void) {
  fprintf(stderr, "usage: test-alloc sweep script|host once|from [stride]\n"
                  "       test-alloc count script|host\n"
                  "       test-alloc one script|host once|from N\n");
  return 2;
}

int main(int argc, char **argv) {
  const struct program *pr;
  int mode;
  rep = mmap(NULL, sizeof *rep, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
             -1, 0);
  if (rep == MAP_FAILED) return 2;
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 3 || (pr = program_named(argv[2])) == NULL) return usage();
  if (strcmp(argv[1], "count") == 0) {
    lua_State *L = pr->state();
    int ok = forked(pr, L, ARM_COUNT, 0, 1);
    lua_close(L);
    return !ok;
  }
  if (argc < 4) return usage();
  if (strcmp(argv[3], "once") == 0)
    mode = ARM_ONCE;
  else if (strcmp(argv[3], "from") == 0)
    mode = ARM_FROM;
  else
    return usage();
  if (strcmp(argv[1], "sweep") == 0)
    return sweep(pr, mode, argc > 4 ? atol(argv[4]) : 1);
  if (strcmp(argv[1], "one") == 0 && argc > 4) {
    int out = one(pr, pr->state(), mode, atol(argv[4]));
    printf("%s %s N=%s: %s (%ld growing allocations)\n", pr->name, argv[3], argv[4],
           out == OUT_RESULT ? "result" : out == OUT_MEMERR ? "memory error" : rep->msg,
           rep->grown);
    return out == OUT_WRONG;
  }
  return usage();
}
