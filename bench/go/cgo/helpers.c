// C side of bench/go/cgo: calls into Go the ways goro's bench/cgo.c calls
// into Lua.
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "_cgo_export.h"

void empty(void) {}

void loop_callback(int n) {
  for (int i = 0; i < n; i++) goCallback();
}

static void *thread_loop(void *arg) {
  int n = (int)(intptr_t)arg;
  goCallback();  // warm: bind the M first
  for (int i = 0; i < n; i++) goCallback();
  return 0;
}

void host_thread_loop(int n) {
  pthread_t t;
  pthread_create(&t, 0, thread_loop, (void *)(intptr_t)n);
  pthread_join(t, 0);
}

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

// Each new thread times its own first call into Go.
static void *thread_once(void *arg) {
  double *out = arg;
  double t = now_ns();
  goCallback();
  *out = now_ns() - t;
  return 0;
}

// The best (smallest) first-call time over n new threads, in ns.
double first_calls(int n) {
  double best = 1e30;
  for (int i = 0; i < n; i++) {
    pthread_t t;
    double v = 0;
    pthread_create(&t, 0, thread_once, &v);
    pthread_join(t, 0);
    if (v < best) best = v;
  }
  return best;
}
