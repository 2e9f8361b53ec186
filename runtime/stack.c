/*
** runtime/stack.c — G stack pool and the guard-page overflow report.
** See stack.h for the model.
*/
#include "stack.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../arch/sanitize.h"
#include "errors.h"
#include "fatal.h"
#include "lock.h"
#include "signals.h"

#ifdef GORO_ASAN
#include <sanitizer/asan_interface.h>
#endif

/* Valgrind tells a stack switch from a large frame by the stacks it knows.
** A G stack it does not know makes each jump to or from it (arch/ctx.c) a
** push or pop of a frame as large as the distance, and memcheck then calls
** the live frames on the other side uninitialised, or their memory gone.
** Each stack is known to it from its mapping to its unmapping (a pooled
** stack stays known: its next context starts on it). */
#ifdef GORO_VALGRIND
#include <valgrind/valgrind.h>
#define vg_register(st)                                              \
  ((st)->vg_id = VALGRIND_STACK_REGISTER(                            \
       (st)->desc.lo, (char *)(st)->desc.lo + (st)->desc.size - 1))
#define vg_deregister(st) VALGRIND_STACK_DEREGISTER((st)->vg_id)
#else
#define vg_register(st) ((st)->vg_id = 0)
#define vg_deregister(st) ((void)(st))
#endif

static struct {
  struct goro_lock lock;
  size_t size;                  /* protected by lock */
  unsigned keep_hot, keep_cold; /* protected by lock */
  struct goro_stack *hot, *cold;  /* protected by lock */
  struct goro_stack_stats st;   /* protected by lock */
} pool = {
    .lock = GORO_LOCK_INIT(GORO_RANK_STACKS),
    .size = GORO_STACK_DEFAULT,
    .keep_hot = 16,
    .keep_cold = 1024,
};

static _Atomic uint64_t next_id = 1;

static size_t page_size(void) {
  static size_t ps;
  if (ps == 0) ps = (size_t)sysconf(_SC_PAGESIZE);
  return ps;
}

static size_t round_pages(size_t n) {
  size_t ps = page_size();
  return (n + ps - 1) & ~(ps - 1);
}

static void unmap(struct goro_stack *st) {
  vg_deregister(st);
  munmap(st->map, st->maplen);
  free(st);
}

/* Requires: pool.lock. Drops every pooled stack on list *l. */
static void drop_list(struct goro_stack **l) {
  while (*l != NULL) {
    struct goro_stack *st = *l;
    *l = st->next;
    pool.st.pooled--;
    if (l == &pool.hot) pool.st.pooled_hot--;
    pool.st.reserved_bytes -= st->maplen;
    unmap(st);
  }
}

int goroR_stack_configure(size_t size, unsigned keep_hot, unsigned keep_cold) {
  if (size < GORO_STACK_MIN || size > GORO_STACK_MAX) return GORO_EINVAL;
  goroR_lock(&pool.lock);
  size = round_pages(size);
  if (size != pool.size) {
    drop_list(&pool.hot);
    drop_list(&pool.cold);
  }
  pool.size = size;
  pool.keep_hot = keep_hot;
  pool.keep_cold = keep_cold;
  goroR_unlock(&pool.lock);
  return 0;
}

size_t goroR_stack_size(void) {
  size_t n;
  goroR_lock(&pool.lock);
  n = pool.size;
  goroR_unlock(&pool.lock);
  return n;
}

static struct goro_stack *map_stack(size_t size) {
  struct goro_stack *st = malloc(sizeof *st);
  size_t len = GORO_STACK_GUARD + size;
  void *m;
  if (st == NULL) return NULL;
  m = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
           -1, 0);
  if (m == MAP_FAILED) {
    free(st);
    return NULL;
  }
  if (mprotect((char *)m + GORO_STACK_GUARD, size, PROT_READ | PROT_WRITE)) {
    munmap(m, len);
    free(st);
    return NULL;
  }
  st->map = m;
  st->maplen = len;
  st->desc.lo = (char *)m + GORO_STACK_GUARD;
  st->desc.size = size;
  st->desc.id = atomic_fetch_add(&next_id, 1);
  st->next = NULL;
  vg_register(st);
  return st;
}

struct goro_stack *goroR_stack_get(void) {
  struct goro_stack *st;
  size_t size;

  goroR_lock(&pool.lock);
  if ((st = pool.hot) != NULL) {
    pool.hot = st->next;
    pool.st.pooled_hot--;
  } else if ((st = pool.cold) != NULL) {
    pool.cold = st->next;
  }
  if (st != NULL) {
    pool.st.pooled--;
    pool.st.live++;
    goroR_unlock(&pool.lock);
    st->next = NULL;
    return st;
  }
  size = pool.size;
  goroR_unlock(&pool.lock);

  if ((st = map_stack(size)) == NULL) return NULL;
  goroR_lock(&pool.lock);
  pool.st.live++;
  pool.st.created++;
  pool.st.reserved_bytes += st->maplen;
  goroR_unlock(&pool.lock);
  return st;
}

void goroR_stack_put(struct goro_stack *st) {
  enum { HOT, COLD, UNMAP } where;

  /* Decide under the lock and count the stack where it will go, so that
  ** concurrent puts cannot overfill a tier; do the slow work unlocked. */
  goroR_lock(&pool.lock);
  goroR_assert(pool.st.live > 0);
  pool.st.live--;
  if (st->desc.size != pool.size) {
    where = UNMAP;
  } else if (pool.st.pooled_hot < pool.keep_hot) {
    where = HOT;
    pool.st.pooled_hot++;
  } else if (pool.st.pooled - pool.st.pooled_hot < pool.keep_cold) {
    where = COLD;
    pool.st.released++;
  } else {
    where = UNMAP;
  }
  if (where == UNMAP)
    pool.st.reserved_bytes -= st->maplen;
  else
    pool.st.pooled++;
  goroR_unlock(&pool.lock);

  if (where == UNMAP) {
    unmap(st);
    return;
  }
#ifdef GORO_ASAN
  /* Frames that died with their context leave poisoned redzones behind;
  ** the next user of this stack must start clean. */
  __asan_unpoison_memory_region(st->desc.lo, st->desc.size);
#endif
  if (where == COLD) madvise(st->desc.lo, st->desc.size, MADV_DONTNEED);

  goroR_lock(&pool.lock);
  if (where == HOT) {
    st->next = pool.hot;
    pool.hot = st;
  } else {
    st->next = pool.cold;
    pool.cold = st;
  }
  goroR_unlock(&pool.lock);
}

void goroR_stack_trim(void) {
  goroR_lock(&pool.lock);
  drop_list(&pool.hot);
  drop_list(&pool.cold);
  goroR_unlock(&pool.lock);
}

struct goro_lock *goroR_stack_lock(void) { return &pool.lock; }

void goroR_stack_get_stats(struct goro_stack_stats *out) {
  goroR_lock(&pool.lock);
  *out = pool.st;
  goroR_unlock(&pool.lock);
}

/* ---- the guard-page report ------------------------------------------------ */

static struct sigaction old_segv, old_bus;
static pthread_once_t handler_once = PTHREAD_ONCE_INIT;
static __thread void *own_altstack __attribute__((tls_model("initial-exec")));
#define ALTSTACK_SIZE (64u * 1024u)

/* Async-signal-safe: appends s to buf at *n. */
static void put_str(char *buf, size_t *n, size_t cap, const char *s) {
  while (*s && *n < cap) buf[(*n)++] = *s++;
}

static void put_hex(char *buf, size_t *n, size_t cap, uintptr_t v) {
  char tmp[2 + 16];
  int i = 0, k;
  tmp[i++] = '0';
  tmp[i++] = 'x';
  for (k = (int)(sizeof v * 2) - 1; k >= 0; k--)
    tmp[i++] = "0123456789abcdef"[(v >> (k * 4)) & 15];
  for (k = 0; k < i && *n < cap; k++) buf[(*n)++] = tmp[k];
}

static void put_dec(char *buf, size_t *n, size_t cap, uint64_t v) {
  char tmp[24];
  int i = 0;
  do tmp[i++] = (char)('0' + v % 10); while ((v /= 10) != 0);
  while (i > 0 && *n < cap) buf[(*n)++] = tmp[--i];
}

/* Hand a fault that is not ours to whoever handled it before us. */
static void chain(int sig, siginfo_t *si, void *uc) {
  if (!goroR_sig_forward(sig == SIGSEGV ? &old_segv : &old_bus, sig, si, uc)) {
    /* Default action: restore it and return; the fault repeats and kills
    ** the process the usual way (core dump included). */
    signal(sig, SIG_DFL);
  }
}

static void on_fault(int sig, siginfo_t *si, void *uc) {
  const struct goro_stackdesc *d = goroA_xrec_self()->stack;
  uintptr_t a = (uintptr_t)si->si_addr, lo;
  char buf[256];
  size_t n = 0;

  if (d == NULL || d->lo == NULL || d->id == 0) {
    chain(sig, si, uc);
    return;
  }
  lo = (uintptr_t)d->lo;
  if (a >= lo || a < lo - GORO_STACK_GUARD) {
    chain(sig, si, uc);
    return;
  }
  put_str(buf, &n, sizeof buf, "goro: fatal: stack overflow on stack ");
  put_dec(buf, &n, sizeof buf, d->id);
  put_str(buf, &n, sizeof buf, " sp=");
  put_hex(buf, &n, sizeof buf, goroR_uc_sp(uc));
  put_str(buf, &n, sizeof buf, " stack=[");
  put_hex(buf, &n, sizeof buf, lo);
  put_str(buf, &n, sizeof buf, ",");
  put_hex(buf, &n, sizeof buf, lo + d->size);
  put_str(buf, &n, sizeof buf, ")\n");
  (void)!write(2, buf, n);
  signal(SIGABRT, SIG_DFL);
  abort();
}

static void install_handler(void) {
  goroR_sig_install(SIGSEGV, on_fault, 0, &old_segv);
  goroR_sig_install(SIGBUS, on_fault, 0, &old_bus);
}

int goroR_stack_thread_init(void) {
  stack_t cur, ss;
  pthread_once(&handler_once, install_handler);
  if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE))
    return 0;  /* the thread has one (the host's, or ASan's): use it */
  ss.ss_sp = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (ss.ss_sp == MAP_FAILED) return GORO_ENOMEM;
  ss.ss_size = ALTSTACK_SIZE;
  ss.ss_flags = 0;
  if (sigaltstack(&ss, NULL) != 0) {
    munmap(ss.ss_sp, ALTSTACK_SIZE);
    return GORO_ENOMEM;
  }
  own_altstack = ss.ss_sp;
  return 0;
}

void goroR_stack_thread_fini(void) {
  stack_t ss;
  if (own_altstack == NULL) return;
  memset(&ss, 0, sizeof ss);
  ss.ss_flags = SS_DISABLE;
  sigaltstack(&ss, NULL);
  munmap(own_altstack, ALTSTACK_SIZE);
  own_altstack = NULL;
}
