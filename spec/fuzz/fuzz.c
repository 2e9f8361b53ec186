/*
** spec/fuzz/fuzz.c — runs the programs spec/fuzz/gen.lua makes, each in a
** fresh Lua state of this process, and fails on the first that does not
** end with "ok" (its own checks: spec/fuzz/prelude.lua).
**
** Two builds of the same driver:
**  - test-fuzz (every lane but TSan and the cross one): a fixed batch,
**      test-fuzz SEED_FIRST SEED_LAST [INPUT...]
**    runs the programs of seeds SEED_FIRST..SEED_LAST (gen.seed_bytes)
**    and of each input, a file or a directory of them (the committed
**    corpus, spec/fuzz/corpus/);
**      test-fuzz --print SEED|INPUT_FILE
**    prints one program, to run or read by hand.
**  - fuzz-goro (scripts/fuzz: clang, -fsanitize=fuzzer,address): a
**    libFuzzer target, whose input bytes are the generator's choices.
** A program that fails prints its label, the error and its text, then
** the batch goes on to the next (the libFuzzer target aborts, so that
** libFuzzer keeps the input). A hang is caught by each run's own timeout
** (goro.run{timeout = 20}) and, past that, by an alarm that names the
** program and aborts. In the ASan lane, LeakSanitizer checks the whole
** batch at exit.
*/
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../c/luastate.h"

/* The program running now, for the batch's alarm. (libFuzzer has its
** own, -timeout, on the same timer: the target leaves it alone.) */
static const char *current = "";
#ifdef GORO_LIBFUZZER
#define alarm(s) ((void)0)
#endif

/* A state whose `require` finds goro (luastate.h) and spec/fuzz/. */
static lua_State *fuzz_state(void) {
  lua_State *L = goro_test_state();
  if (L == NULL) {
    fprintf(stderr, "fuzz: no Lua state\n");
    abort();
  }
  lua_getglobal(L, "package");
  lua_pushstring(L, GORO_SRCDIR "/lua/?.lua;" GORO_SRCDIR "/lua/?/init.lua;" GORO_SRCDIR
                                "/spec/?.lua");
  lua_setfield(L, -2, "path");
  lua_pop(L, 1);
  return L;
}

/* Push the program text the bytes (or, with data == NULL, the seed) choose. */
static int p_program(lua_State *L) {
  const char *label = lua_tostring(L, 3);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "fuzz.gen");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "program");
  if (lua_isnil(L, 1)) {  /* from a seed */
    lua_getfield(L, -2, "seed_bytes");
    lua_pushvalue(L, 2);
    lua_call(L, 1, 1);
  } else {
    lua_pushvalue(L, 1);
  }
  lua_pushstring(L, label);
  lua_call(L, 2, 1);
  return 1;
}

struct tally {
  long programs, failed, deadlocks, committed, received, left;
};

/* Make and run one program. Returns 1 when it ended with "ok". With
** `print`, only prints its text. */
static int run_one(const uint8_t *data, size_t size, long seed, const char *label,
                   struct tally *t, int print) {
  lua_State *L = fuzz_state();
  const char *text;
  int ok;

  lua_pushcfunction(L, p_program);
  if (data != NULL)
    lua_pushlstring(L, (const char *)data, size);
  else
    lua_pushnil(L);
  lua_pushinteger(L, seed);
  lua_pushstring(L, label);
  if (lua_pcall(L, 3, 1, 0) != LUA_OK) {
    fprintf(stderr, "fuzz: %s: the generator failed: %s\n", label, lua_tostring(L, -1));
    lua_close(L);
    return 0;
  }
  text = lua_tostring(L, -1);
  if (print) {
    fputs(text, stdout);
    lua_close(L);
    return 1;
  }
  current = label;
  alarm(60);
  if (luaL_loadbuffer(L, text, strlen(text), "=program") != LUA_OK ||
      lua_pcall(L, 0, 5, 0) != LUA_OK) {
    ok = 0;
  } else {
    const char *r = lua_tostring(L, -5);
    ok = r != NULL && strcmp(r, "ok") == 0;
    if (!ok) lua_pushliteral(L, "the program did not return \"ok\"");
  }
  alarm(0);
  t->programs++;
  if (ok) {
    t->deadlocks += lua_toboolean(L, -4);
    t->committed += lua_tointeger(L, -3);
    t->received += lua_tointeger(L, -2);
    t->left += lua_tointeger(L, -1);
  } else {
    t->failed++;
    fprintf(stderr, "\nfuzz: FAILED: %s\n%s\n---- the program (%s) ----\n%s----\n", label,
            lua_tostring(L, -1) ? lua_tostring(L, -1) : "(no message)", label, text);
  }
  lua_close(L);
  return ok;
}

#ifdef GORO_LIBFUZZER

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct tally t = {0};
  if (!run_one(data, size, 0, "libFuzzer input", &t, 0)) abort();
  return 0;
}

#else

/* Known bugs: seeds the batch skips, each with its reason. */
static const struct {
  long seed;
  const char *why;
} skipped[] = {
    {0, NULL},
};

static void say_current(const char *what) {
  (void)!write(2, what, strlen(what));
  (void)!write(2, current, strlen(current));
  (void)!write(2, "\n", 1);
}

static void on_alarm(int sig) {
  (void)sig;
  say_current("fuzz: timed out (past goro.run's own timeout): ");
  abort();
}

/* goro's fatal errors, ASan's and UBSan's reports (abort_on_error) and
** the alarm all end in abort(): name the program first. Then the default
** action (SA_RESETHAND). */
static void on_abort(int sig) {
  say_current("fuzz: aborted while running ");
  raise(sig);
}

static uint8_t *read_file(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  uint8_t *buf;
  long n;
  if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0) {
    fprintf(stderr, "fuzz: cannot read %s\n", path);
    exit(2);
  }
  rewind(f);
  buf = malloc((size_t)n + 1);
  if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
    fprintf(stderr, "fuzz: cannot read %s\n", path);
    exit(2);
  }
  fclose(f);
  *size = (size_t)n;
  return buf;
}

static void run_file(const char *path, struct tally *t) {
  char label[512];
  size_t size;
  uint8_t *data = read_file(path, &size);
  snprintf(label, sizeof label, "from %s", path);
  run_one(data, size, 0, label, t, 0);
  free(data);
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A file, or every file of a directory, in name order. */
static void run_input(const char *path, struct tally *t) {
  DIR *d = opendir(path);
  struct dirent *e;
  char **names = NULL;
  size_t n = 0;
  if (d == NULL) {
    run_file(path, t);
    return;
  }
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    names = realloc(names, (n + 1) * sizeof *names);
    if (names == NULL || asprintf(&names[n], "%s/%s", path, e->d_name) < 0) abort();
    n++;
  }
  closedir(d);
  qsort(names, n, sizeof *names, by_name);
  for (size_t i = 0; i < n; i++) {
    run_file(names[i], t);
    free(names[i]);
  }
  free(names);
}

static const char *skip_reason(long seed) {
  for (size_t i = 0; i < sizeof skipped / sizeof skipped[0]; i++)
    if (skipped[i].why != NULL && skipped[i].seed == seed) return skipped[i].why;
  return NULL;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  struct tally t = {0};
  char label[512];
  double t0 = now();
  long first, last, nskipped = 0;

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_abort;
  sa.sa_flags = SA_RESETHAND | SA_NODEFER;
  sigaction(SIGABRT, &sa, NULL);
  signal(SIGALRM, on_alarm);
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc == 3 && strcmp(argv[1], "--print") == 0) {
    char *end;
    long seed = strtol(argv[2], &end, 10);
    if (*end == '\0') {
      snprintf(label, sizeof label, "seed %ld", seed);
      return !run_one(NULL, 0, seed, label, &t, 1);
    } else {
      size_t size;
      uint8_t *data = read_file(argv[2], &size);
      snprintf(label, sizeof label, "from %s", argv[2]);
      int ok = run_one(data, size, 0, label, &t, 1);
      free(data);
      return !ok;
    }
  }
  if (argc < 3) {
    fprintf(stderr, "usage: test-fuzz SEED_FIRST SEED_LAST [INPUT...]\n"
                    "       test-fuzz --print SEED|INPUT_FILE\n");
    return 2;
  }
  first = atol(argv[1]);
  last = atol(argv[2]);
  for (long seed = first; seed <= last; seed++) {
    const char *why = skip_reason(seed);
    if (why != NULL) {
      printf("[SKIP] seed %ld: %s\n", seed, why);
      nskipped++;
      continue;
    }
    snprintf(label, sizeof label, "seed %ld", seed);
    run_one(NULL, 0, seed, label, &t, 0);
    if ((seed - first + 1) % 100 == 0)
      printf("fuzz: %ld programs, %ld failed, %.1f s\n", t.programs, t.failed, now() - t0);
  }
  for (int i = 3; i < argc; i++) run_input(argv[i], &t);
  printf("fuzz: %ld programs (%ld ended in the deadlock they were made for), %ld skipped; "
         "%ld values sent, %ld received, %ld left buffered; %ld failed; %.1f s\n",
         t.programs, t.deadlocks, nskipped, t.committed, t.received, t.left, t.failed,
         now() - t0);
  return t.failed != 0;
}

#endif
