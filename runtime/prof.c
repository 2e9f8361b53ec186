/*
** runtime/prof.c — the CPU profiler's runtime half. See runtime/prof.h and
** runtime/HACKING.md ("The profiler").
**
** Three parts: per-thread CPU timers (armed for every thread that is an M
** while a profile runs), the SIGPROF handler (lock-free: atomic counts on
** the thread's own M or G, and a count hook armed through the bridge), and
** the sample store with its writers (pprof protobuf in gzip, folded text),
** under prof_lock.
*/
#include "prof.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "fatal.h"
#include "extram.h"
#include "m.h"
#include "timer.h"
#include "signals.h"

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

/* ---- state ---------------------------------------------------------------- */

/* A thread that is an M of some kind (see HACKING.md: attach/detach). */
struct pthr {
  pid_t tid;
  pthread_t self;
  int refs;          /* prof_lock: attachments */
  int armed;         /* prof_lock: `timer` exists */
  timer_t timer;     /* prof_lock */
  struct pthr *next, *prev; /* prof_lock: the attached threads */
};

static __thread struct pthr me __attribute__((tls_model("initial-exec")));

struct loc {
  char *name, *file;
  int start, line;
  uint32_t hash;
};

struct sample {
  uint64_t gid, count;
  uint32_t hash;
  int n;
  uint32_t locs[]; /* leaf first */
};

static pthread_mutex_t prof_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pthr threads = {.next = &threads, .prev = &threads};
static uint64_t nthreads, ntimers;          /* prof_lock */
static int hz;                              /* prof_lock */
static int format;                          /* prof_lock */
static char *outpath;                       /* prof_lock */
static double t_start, t_stop;              /* prof_lock */
static uint32_t last_session;               /* prof_lock */

static struct loc *locs;                    /* prof_lock: the store */
static uint32_t nlocs, loccap;
static uint32_t *lochash;                   /* index+1, 0 empty */
static uint32_t lochcap;
static struct sample **samples;
static uint32_t nsamples, samplecap;
static uint32_t *samphash;
static uint32_t samphcap;
static uint64_t nsampled, nlost;
static uint64_t ext_final, rt_final;        /* prof_lock: counted, at stop */

static _Atomic uint32_t cur_session;        /* 0: not profiling */
static _Atomic int inflight;                /* handlers running now */
static _Atomic uint64_t nsignals, ndropped, nstale, nexternal, nruntime;

static struct sigaction old_prof;

/* ---- hashing ---------------------------------------------------------------- */

static uint32_t fnv(uint32_t h, const void *p, size_t n) {
  const unsigned char *s = p;
  while (n--) h = (h ^ *s++) * 16777619u;
  return h;
}

static uint32_t loc_hash(const struct goro_prof_frame *f) {
  uint32_t h = 2166136261u;
  h = fnv(h, f->name, strlen(f->name) + 1);
  h = fnv(h, f->file, strlen(f->file) + 1);
  h = fnv(h, &f->start, sizeof f->start);
  return fnv(h, &f->line, sizeof f->line);
}

/* Grow an open-addressing index of (position + 1) to `cap` slots, rehashing
** with hashes read by `hashof`. Returns 0 or GORO_ENOMEM. */
static int index_grow(uint32_t **idx, uint32_t *cap, uint32_t n,
                      uint32_t (*hashof)(uint32_t)) {
  uint32_t ncap = *cap ? *cap * 2 : 256;
  uint32_t *t = calloc(ncap, sizeof *t);
  if (t == NULL) return GORO_ENOMEM;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t j = hashof(i) & (ncap - 1);
    while (t[j] != 0) j = (j + 1) & (ncap - 1);
    t[j] = i + 1;
  }
  free(*idx);
  *idx = t;
  *cap = ncap;
  return 0;
}

static uint32_t loc_hashof(uint32_t i) { return locs[i].hash; }
static uint32_t sample_hashof(uint32_t i) { return samples[i]->hash; }

/* The id (index) of frame f, interned. UINT32_MAX on OOM. prof_lock. */
static uint32_t loc_intern(const struct goro_prof_frame *f) {
  uint32_t h = loc_hash(f), j;
  struct loc *l;
  if ((nlocs + 1) * 2 > lochcap &&
      index_grow(&lochash, &lochcap, nlocs, loc_hashof) != 0)
    return UINT32_MAX;
  for (j = h & (lochcap - 1); lochash[j] != 0; j = (j + 1) & (lochcap - 1)) {
    l = &locs[lochash[j] - 1];
    if (l->hash == h && l->start == f->start && l->line == f->line &&
        strcmp(l->name, f->name) == 0 && strcmp(l->file, f->file) == 0)
      return lochash[j] - 1;
  }
  if (nlocs == loccap) {
    uint32_t ncap = loccap ? loccap * 2 : 256;
    struct loc *t = realloc(locs, ncap * sizeof *t);
    if (t == NULL) return UINT32_MAX;
    locs = t;
    loccap = ncap;
  }
  l = &locs[nlocs];
  l->name = strdup(f->name);
  l->file = strdup(f->file);
  if (l->name == NULL || l->file == NULL) {
    free(l->name);
    free(l->file);
    return UINT32_MAX;
  }
  l->start = f->start;
  l->line = f->line;
  l->hash = h;
  lochash[j] = ++nlocs;
  return nlocs - 1;
}

static void store_free(void) {
  for (uint32_t i = 0; i < nlocs; i++) {
    free(locs[i].name);
    free(locs[i].file);
  }
  for (uint32_t i = 0; i < nsamples; i++) free(samples[i]);
  free(locs);
  free(lochash);
  free(samples);
  free(samphash);
  locs = NULL;
  samples = NULL;
  lochash = samphash = NULL;
  nlocs = loccap = lochcap = nsamples = samplecap = samphcap = 0;
  nsampled = nlost = 0;
}

/* Add count samples of (gid, ids[0..n)). prof_lock. */
static void sample_add(uint64_t gid, const uint32_t *ids, int n, uint64_t count) {
  uint32_t h = fnv(fnv(2166136261u, &gid, sizeof gid), ids, n * sizeof *ids), j;
  struct sample *s;
  if ((nsamples + 1) * 2 > samphcap &&
      index_grow(&samphash, &samphcap, nsamples, sample_hashof) != 0)
    goto lost;
  for (j = h & (samphcap - 1); samphash[j] != 0; j = (j + 1) & (samphcap - 1)) {
    s = samples[samphash[j] - 1];
    if (s->hash == h && s->gid == gid && s->n == n &&
        memcmp(s->locs, ids, n * sizeof *ids) == 0) {
      s->count += count;
      nsampled += count;
      return;
    }
  }
  if (nsamples == samplecap) {
    uint32_t ncap = samplecap ? samplecap * 2 : 256;
    struct sample **t = realloc(samples, ncap * sizeof *t);
    if (t == NULL) goto lost;
    samples = t;
    samplecap = ncap;
  }
  if ((s = malloc(sizeof *s + n * sizeof *ids)) == NULL) goto lost;
  s->gid = gid;
  s->count = count;
  s->hash = h;
  s->n = n;
  memcpy(s->locs, ids, n * sizeof *ids);
  samples[nsamples] = s;
  samphash[j] = ++nsamples;
  nsampled += count;
  return;
lost:
  nlost += count;
}

void goroR_prof_add(uint32_t session, uint64_t gid,
                   const struct goro_prof_frame *f, int n, uint64_t count) {
  uint32_t ids[GORO_PROF_MAXDEPTH];
  if (n > GORO_PROF_MAXDEPTH) n = GORO_PROF_MAXDEPTH;
  if (n <= 0) {
    goroR_prof_lost(session, count);
    return;
  }
  pthread_mutex_lock(&prof_lock);
  if (session != 0 && session == atomic_load(&cur_session)) {
    int k = 0;
    for (int i = 0; i < n; i++)
      if ((ids[k] = loc_intern(&f[i])) != UINT32_MAX) k++;
    if (k == n)
      sample_add(gid, ids, n, count);
    else
      nlost += count;
  }
  pthread_mutex_unlock(&prof_lock);
}

void goroR_prof_lost(uint32_t session, uint64_t count) {
  pthread_mutex_lock(&prof_lock);
  if (session != 0 && session == atomic_load(&cur_session)) nlost += count;
  pthread_mutex_unlock(&prof_lock);
}

/* ---- naming C code ------------------------------------------------------------ */

const char *goroR_prof_cname(uintptr_t pc, char *buf, size_t len) {
  Dl_info info;
  const ElfW(Sym) *sym = NULL;
  if (dladdr1((void *)pc, &info, (void **)&sym, RTLD_DL_SYMENT) != 0) {
    uintptr_t s = (uintptr_t)info.dli_saddr;
    if (info.dli_sname != NULL && sym != NULL && pc >= s &&
        (pc < s + sym->st_size || (sym->st_size == 0 && pc == s))) {
      snprintf(buf, len, "[C] %s", info.dli_sname);
      return buf;
    }
    if (info.dli_fname != NULL && info.dli_fname[0] != '\0') {
      const char *base = strrchr(info.dli_fname, '/');
      snprintf(buf, len, "[C] %s+0x%lx", base ? base + 1 : info.dli_fname,
               (unsigned long)(pc - (uintptr_t)info.dli_fbase));
      return buf;
    }
  }
  snprintf(buf, len, "[C] 0x%lx", (unsigned long)pc);
  return buf;
}

/* ---- timers ------------------------------------------------------------------ */

/* Arm pt's timer on its own CPU clock. prof_lock, a profile on. */
static void arm_locked(struct pthr *pt, uint32_t session) {
  clockid_t clk;
  struct sigevent sev;
  struct itimerspec its;
  long period = 1000000000L / hz;
  if (pt->armed || pthread_getcpuclockid(pt->self, &clk) != 0) return;
  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = SIGPROF;
  sev.sigev_value.sival_int = (int)session;
  sev.sigev_notify_thread_id = pt->tid;
  if (timer_create(clk, &sev, &pt->timer) != 0) return;
  its.it_interval.tv_sec = period / 1000000000L;
  its.it_interval.tv_nsec = period % 1000000000L;
  /* The first tick at a spread offset, so threads that start together do
  ** not tick together. */
  its.it_value.tv_sec = 0;
  its.it_value.tv_nsec = 1 + (long)(((uint64_t)pt->tid * 2654435761u) % (uint64_t)period);
  if (its.it_value.tv_nsec >= 1000000000L) its.it_value.tv_nsec = 999999999L;
  timer_settime(pt->timer, 0, &its, NULL);
  pt->armed = 1;
  ntimers++;
}

static void disarm_locked(struct pthr *pt) {
  if (!pt->armed) return;
  timer_delete(pt->timer);
  pt->armed = 0;
  ntimers--;
}

void goroR_prof_thread_attach(void) {
  pthread_mutex_lock(&prof_lock);
  if (me.refs++ == 0) {
    me.tid = gettid();
    me.self = pthread_self();
    me.next = threads.next;
    me.prev = &threads;
    threads.next->prev = &me;
    threads.next = &me;
    nthreads++;
    uint32_t s = atomic_load(&cur_session);
    if (s != 0) arm_locked(&me, s);
  }
  pthread_mutex_unlock(&prof_lock);
}

void goroR_prof_thread_detach(void) {
  pthread_mutex_lock(&prof_lock);
  if (me.refs <= 0) goroR_throw("profiler: thread detached more than attached");
  if (--me.refs == 0) {
    disarm_locked(&me);
    me.prev->next = me.next;
    me.next->prev = me.prev;
    me.next = me.prev = NULL;
    nthreads--;
  }
  pthread_mutex_unlock(&prof_lock);
}

/* ---- the handler ------------------------------------------------------------- */

static void forward(int sig, siginfo_t *si, void *uc) {
  if (!goroR_sig_forward(&old_prof, sig, si, uc)) atomic_fetch_add(&ndropped, 1);
}

/* Async-signal-safe: atomics and plain reads of the thread's own M and G,
** and hooks->interrupt (itself async-signal-safe). See HACKING.md for the
** order of the cases. */
static void on_prof(int sig, siginfo_t *si, void *uc) {
  int saved = errno;
  uint32_t session;
  struct goro_m *mp;
  struct goro_g *gp;

  atomic_fetch_add(&inflight, 1);
  atomic_fetch_add(&nsignals, 1);
  if (si->si_code != SI_TIMER) {  /* not one of our timers: not ours */
    forward(sig, si, uc);
    goto out;
  }
  session = atomic_load(&cur_session);
  if (session == 0 || (uint32_t)si->si_value.sival_int != session) {
    atomic_fetch_add(&nstale, 1);
    goto out;
  }
  if ((mp = goroR_m_self()) == NULL) mp = goroR_extram_bound();
  if (mp == NULL) {
    atomic_fetch_add(&ndropped, 1);
    goto out;
  }
  if (mp->isextra && mp->isExtraInC) {  /* trusted first, as Go does */
    atomic_fetch_add(&nexternal, 1);
    goto out;
  }
  gp = mp->curg;
  if (mp->ncgo > 0 && gp != NULL && gp->status == GORO_GSYSCALL) {
    int k = atomic_fetch_add(&mp->prof_cgo, 1);  /* this is sample k+1 */
    if (k == 0) atomic_store(&mp->prof_cgo_sess, session);
    if (k < GORO_PROF_CGO_PCS) {
      mp->prof_cgo_pcs[k] = goroR_uc_pc(uc);
    } else {  /* reservoir: keep it with probability PCS/(k+1) */
      uint32_t r = mp->prof_rng ? mp->prof_rng : 0x9e3779b9u;
      r ^= r << 13;
      r ^= r >> 17;
      r ^= r << 5;
      mp->prof_rng = r;
      r %= (uint32_t)(k + 1);
      if (r < GORO_PROF_CGO_PCS) mp->prof_cgo_pcs[r] = goroR_uc_pc(uc);
    }
    goto out;
  }
  if (gp != NULL && gp->status == GORO_GRUNNING && mp->rt != NULL &&
      mp->rt->hooks->interrupt != NULL) {
    if (atomic_fetch_add(&gp->prof_pending, 1) == 0)
      atomic_store(&gp->prof_sess, session);
    mp->rt->hooks->interrupt(mp->rt, gp, GORO_INT_PROFILE);
    goto out;
  }
  atomic_fetch_add(&nruntime, 1);
out:
  atomic_fetch_sub(&inflight, 1);
  errno = saved;
}

static void install(void) {
  goroR_sig_install(SIGPROF, on_prof, SIGURG, &old_prof);  /* the two arm */
}                                                         /* the same hook */

void goroR_prof_init(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, install);
}

/* ---- start, stop ----------------------------------------------------------- */

int goroR_prof_on(void) { return atomic_load(&cur_session) != 0; }
uint32_t goroR_prof_session(void) { return atomic_load(&cur_session); }

int goroR_prof_start(int rate, const char *path, int fmt) {
  char *p;
  if (rate <= 0 || rate > GORO_PROF_MAXHZ || path == NULL || path[0] == '\0' ||
      (fmt != GORO_PROF_PPROF && fmt != GORO_PROF_FOLDED))
    return GORO_EINVAL;
  goroR_prof_init();
  if ((p = strdup(path)) == NULL) return GORO_ENOMEM;
  pthread_mutex_lock(&prof_lock);
  if (atomic_load(&cur_session) != 0) {
    pthread_mutex_unlock(&prof_lock);
    free(p);
    return GORO_ESTATE;
  }
  store_free();
  free(outpath);
  outpath = p;
  hz = rate;
  format = fmt;
  t_start = goroR_now();
  t_stop = 0;
  if (++last_session == 0) last_session = 1;  /* 0 means off */
  atomic_store(&nexternal, 0);
  atomic_store(&nruntime, 0);
  ext_final = rt_final = 0;
  atomic_store(&cur_session, last_session);
  for (struct pthr *pt = threads.next; pt != &threads; pt = pt->next)
    arm_locked(pt, last_session);
  pthread_mutex_unlock(&prof_lock);
  return 0;
}

static int write_out(void);

int goroR_prof_stop(char *path, size_t pathlen) {
  int rc;
  pthread_mutex_lock(&prof_lock);
  if (atomic_load(&cur_session) == 0) {
    pthread_mutex_unlock(&prof_lock);
    return GORO_ESTATE;
  }
  for (struct pthr *pt = threads.next; pt != &threads; pt = pt->next)
    disarm_locked(pt);
  atomic_store(&cur_session, 0);
  pthread_mutex_unlock(&prof_lock);
  /* A handler that read the session before it went to 0 may still arm a
  ** hook or count; wait for it (handlers are short and never block). */
  while (atomic_load(&inflight) != 0) sched_yield();
  pthread_mutex_lock(&prof_lock);
  t_stop = goroR_now();
  rc = write_out();
  if (path != NULL && pathlen > 0) snprintf(path, pathlen, "%s", outpath);
  pthread_mutex_unlock(&prof_lock);
  return rc;
}

void goroR_prof_get_stats(struct goro_prof_stats *out) {
  pthread_mutex_lock(&prof_lock);
  out->on = atomic_load(&cur_session) != 0;
  out->session = last_session;
  out->threads = nthreads;
  out->timers = ntimers;
  out->signals = atomic_load(&nsignals);
  out->external = ext_final + atomic_load(&nexternal);
  out->runtime = rt_final + atomic_load(&nruntime);
  out->samples = nsampled + atomic_load(&nexternal) + atomic_load(&nruntime);
  out->dropped = atomic_load(&ndropped);
  out->stale = atomic_load(&nstale);
  out->lost = nlost;
  out->seconds = last_session == 0 ? 0
                 : (t_stop > 0 ? t_stop : goroR_now()) - t_start;
  out->hz = hz;
  pthread_mutex_unlock(&prof_lock);
}

static int cmp_gid(const void *a, const void *b) {
  const uint64_t *x = a, *y = b;
  return (x[0] > y[0]) - (x[0] < y[0]);
}

int goroR_prof_by_g(uint64_t *ids, uint64_t *counts, int max) {
  uint64_t *pairs;
  int n = 0;
  pthread_mutex_lock(&prof_lock);
  pairs = malloc((nsamples + 1) * 2 * sizeof *pairs);
  if (pairs != NULL) {
    for (uint32_t i = 0; i < nsamples; i++) {
      if (samples[i]->gid == 0) continue;
      pairs[2 * n] = samples[i]->gid;
      pairs[2 * n + 1] = samples[i]->count;
      n++;
    }
    qsort(pairs, n, 2 * sizeof *pairs, cmp_gid);
    int k = 0;
    for (int i = 0; i < n; i++) {
      if (k > 0 && pairs[2 * (k - 1)] == pairs[2 * i]) {
        pairs[2 * (k - 1) + 1] += pairs[2 * i + 1];
        continue;
      }
      pairs[2 * k] = pairs[2 * i];
      pairs[2 * k + 1] = pairs[2 * i + 1];
      k++;
    }
    n = k;
    for (int i = 0; i < n && i < max; i++) {
      ids[i] = pairs[2 * i];
      counts[i] = pairs[2 * i + 1];
    }
    free(pairs);
  }
  pthread_mutex_unlock(&prof_lock);
  return n;
}

/* ---- writers ------------------------------------------------------------------ */

struct buf {
  unsigned char *p;
  size_t n, cap;
  int oom;
};

static void put(struct buf *b, const void *p, size_t n) {
  if (b->oom) return;
  if (b->n + n > b->cap) {
    size_t ncap = b->cap ? b->cap : 4096;
    while (ncap < b->n + n) ncap *= 2;
    unsigned char *t = realloc(b->p, ncap);
    if (t == NULL) {
      b->oom = 1;
      return;
    }
    b->p = t;
    b->cap = ncap;
  }
  memcpy(b->p + b->n, p, n);
  b->n += n;
}

static void put_varint(struct buf *b, uint64_t v) {
  unsigned char t[10];
  int n = 0;
  do {
    t[n++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v != 0);
  put(b, t, n);
}

/* Protobuf fields: varint (wire type 0) and length-delimited (2). */
static void pb_int(struct buf *b, int field, uint64_t v) {
  put_varint(b, (uint64_t)field << 3);
  put_varint(b, v);
}

static void pb_bytes(struct buf *b, int field, const void *p, size_t n) {
  put_varint(b, (uint64_t)field << 3 | 2);
  put_varint(b, n);
  put(b, p, n);
}

/* The pprof string table, interned. */
struct strtab {
  const char **s;
  uint32_t n, cap;
  uint32_t *idx;
  uint32_t icap;
  int oom;
};

static struct strtab *cur_strtab;
static uint32_t str_hashof(uint32_t i) {
  return fnv(2166136261u, cur_strtab->s[i], strlen(cur_strtab->s[i]));
}

static int64_t str_id(struct strtab *t, const char *s) {
  uint32_t h = fnv(2166136261u, s, strlen(s)), j;
  cur_strtab = t;
  if (t->oom) return 0;
  if ((t->n + 1) * 2 > t->icap && index_grow(&t->idx, &t->icap, t->n, str_hashof)) {
    t->oom = 1;
    return 0;
  }
  for (j = h & (t->icap - 1); t->idx[j] != 0; j = (j + 1) & (t->icap - 1))
    if (strcmp(t->s[t->idx[j] - 1], s) == 0) return t->idx[j] - 1;
  if (t->n == t->cap) {
    uint32_t ncap = t->cap ? t->cap * 2 : 64;
    const char **ns = realloc(t->s, ncap * sizeof *ns);
    if (ns == NULL) {
      t->oom = 1;
      return 0;
    }
    t->s = ns;
    t->cap = ncap;
  }
  t->s[t->n] = s;
  t->idx[j] = ++t->n;
  return t->n - 1;
}

/* Pseudo-frames for the samples counted in the handler. */
static void add_counted(uint64_t count, const char *name) {
  struct goro_prof_frame f = {name, "", 0, 0};
  uint32_t id;
  if (count == 0) return;
  if ((id = loc_intern(&f)) == UINT32_MAX) {
    nlost += count;
    return;
  }
  sample_add(0, &id, 1, count);
}

static void pb_valuetype(struct buf *b, int field, struct strtab *st,
                         const char *type, const char *unit) {
  struct buf m = {0};
  pb_int(&m, 1, str_id(st, type));
  pb_int(&m, 2, str_id(st, unit));
  pb_bytes(b, field, m.p, m.n);
  b->oom |= m.oom;
  free(m.p);
}

/* pprof functions: one per (name, file, start), each with the first
** location that names it (fn_first) and, per location, its function id
** (fn_of, 1-based). Built by encode_pprof, under prof_lock. */
static uint32_t *fn_of, *fn_first;
static uint32_t fn_hashof(uint32_t i) {
  struct goro_prof_frame f = {locs[i].name, locs[i].file, locs[i].start, 0};
  return loc_hash(&f);
}
static uint32_t fn_first_hashof(uint32_t f) { return fn_hashof(fn_first[f]); }

static int encode_pprof(struct buf *out) {
  struct strtab st = {0};
  struct buf m = {0}, sub = {0};
  char exe[256] = "goro";  /* the string table points into it */
  uint32_t *fidx = NULL, ficap = 0, nfn = 0;
  int64_t period = 1000000000LL / hz;

  str_id(&st, "");
  fn_of = calloc(nlocs + 1, sizeof *fn_of);
  fn_first = calloc(nlocs + 1, sizeof *fn_first);
  if (fn_of == NULL || fn_first == NULL) goto oom;
  for (uint32_t i = 0; i < nlocs; i++) {  /* functions, deduplicated */
    uint32_t j, found = 0;
    if ((nfn + 1) * 2 > ficap && index_grow(&fidx, &ficap, nfn, fn_first_hashof) != 0)
      goto oom;
    for (j = fn_hashof(i) & (ficap - 1); fidx[j] != 0; j = (j + 1) & (ficap - 1)) {
      struct loc *a = &locs[fn_first[fidx[j] - 1]], *b = &locs[i];
      if (a->start == b->start && strcmp(a->name, b->name) == 0 &&
          strcmp(a->file, b->file) == 0) {
        found = fidx[j];
        break;
      }
    }
    if (!found) {
      fn_first[nfn] = i;
      fidx[j] = found = ++nfn;
    }
    fn_of[i] = found;
  }

  pb_valuetype(out, 1, &st, "samples", "count");
  pb_valuetype(out, 1, &st, "cpu", "nanoseconds");
  for (uint32_t i = 0; i < nsamples; i++) {  /* 2: sample */
    struct sample *s = samples[i];
    m.n = 0;
    sub.n = 0;
    for (int k = 0; k < s->n; k++) put_varint(&sub, s->locs[k] + 1);
    pb_bytes(&m, 1, sub.p, sub.n);
    sub.n = 0;
    put_varint(&sub, s->count);
    put_varint(&sub, s->count * (uint64_t)period);
    pb_bytes(&m, 2, sub.p, sub.n);
    if (s->gid != 0) {
      sub.n = 0;
      pb_int(&sub, 1, str_id(&st, "goroutine"));
      pb_int(&sub, 3, s->gid);
      pb_bytes(&m, 3, sub.p, sub.n);
    }
    pb_bytes(out, 2, m.p, m.n);
  }
  {  /* 3: one mapping for the whole program, already symbolized (so
     ** pprof neither looks for a binary nor symbolizes) */
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    const char *base;
    if (k > 0) exe[k] = '\0';
    base = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
    m.n = 0;
    pb_int(&m, 1, 1);
    pb_int(&m, 5, str_id(&st, base));
    pb_int(&m, 7, 1);  /* has_functions */
    pb_int(&m, 8, 1);  /* has_filenames */
    pb_int(&m, 9, 1);  /* has_line_numbers */
    pb_bytes(out, 3, m.p, m.n);
  }
  for (uint32_t i = 0; i < nlocs; i++) {  /* 4: location */
    m.n = 0;
    sub.n = 0;
    pb_int(&m, 1, i + 1);
    pb_int(&m, 2, 1);  /* mapping */
    pb_int(&sub, 1, fn_of[i]);
    if (locs[i].line > 0) pb_int(&sub, 2, locs[i].line);
    pb_bytes(&m, 4, sub.p, sub.n);
    pb_bytes(out, 4, m.p, m.n);
  }
  for (uint32_t f = 0; f < nfn; f++) {  /* 5: function */
    struct loc *l = &locs[fn_first[f]];
    m.n = 0;
    pb_int(&m, 1, f + 1);
    pb_int(&m, 2, str_id(&st, l->name));
    pb_int(&m, 3, str_id(&st, l->name));
    pb_int(&m, 4, str_id(&st, l->file));
    if (l->start > 0) pb_int(&m, 5, l->start);
    pb_bytes(out, 5, m.p, m.n);
  }
  pb_int(out, 9, (uint64_t)(time(NULL) * 1000000000LL));  /* time_nanos */
  pb_int(out, 10, (uint64_t)((t_stop - t_start) * 1e9));  /* duration */
  {
    struct buf vt = {0};
    pb_int(&vt, 1, str_id(&st, "cpu"));
    pb_int(&vt, 2, str_id(&st, "nanoseconds"));
    pb_bytes(out, 11, vt.p, vt.n);  /* period_type */
    out->oom |= vt.oom;
    free(vt.p);
  }
  pb_int(out, 12, (uint64_t)period);
  for (uint32_t i = 0; i < st.n; i++)  /* 6: string_table (ids fixed above) */
    pb_bytes(out, 6, st.s[i], strlen(st.s[i]));
  out->oom |= m.oom | sub.oom | st.oom;
  free(m.p);
  free(sub.p);
  free(st.s);
  free(st.idx);
  free(fidx);
  free(fn_first);
  free(fn_of);
  fn_of = fn_first = NULL;
  return out->oom ? GORO_ENOMEM : 0;
oom:
  free(fidx);
  free(fn_first);
  free(fn_of);
  fn_of = fn_first = NULL;
  free(st.s);
  free(st.idx);
  return GORO_ENOMEM;
}

static uint32_t crc32(const unsigned char *p, size_t n) {
  static uint32_t table[256];
  static int made;
  uint32_t c = 0xffffffffu;
  if (!made) {
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t k = i;
      for (int j = 0; j < 8; j++) k = k & 1 ? 0xedb88320u ^ (k >> 1) : k >> 1;
      table[i] = k;
    }
    made = 1;
  }
  while (n--) c = table[(c ^ *p++) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

/* gzip (RFC 1952) holding deflate stored blocks (RFC 1951 §3.2.4): no
** compression, which every gzip reader accepts. */
static int write_gzip(FILE *f, const unsigned char *p, size_t n) {
  static const unsigned char hdr[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff};
  unsigned char t[8];
  uint32_t crc = crc32(p, n), size = (uint32_t)n;
  fwrite(hdr, 1, sizeof hdr, f);
  do {
    size_t len = n > 65535 ? 65535 : n;
    t[0] = n == len;  /* BFINAL on the last block; BTYPE 00 */
    t[1] = len & 0xff;
    t[2] = len >> 8;
    t[3] = ~len & 0xff;
    t[4] = (~len >> 8) & 0xff;
    fwrite(t, 1, 5, f);
    fwrite(p, 1, len, f);
    p += len;
    n -= len;
  } while (n > 0);
  for (int i = 0; i < 4; i++) t[i] = crc >> (8 * i);
  for (int i = 0; i < 4; i++) t[4 + i] = size >> (8 * i);
  fwrite(t, 1, 8, f);
  return ferror(f) ? -1 : 0;
}

static int cmp_sample(const void *a, const void *b) {
  const struct sample *x = *(struct sample *const *)a, *y = *(struct sample *const *)b;
  for (int i = 0; i < x->n && i < y->n; i++)
    if (x->locs[x->n - 1 - i] != y->locs[y->n - 1 - i])
      return x->locs[x->n - 1 - i] < y->locs[y->n - 1 - i] ? -1 : 1;
  return (x->n > y->n) - (x->n < y->n);
}

/* Folded: "root;...;leaf count" per distinct stack (G's merged), root to
** leaf. Frames are "name (file:start)" for Lua functions. */
static int write_folded(FILE *f) {
  struct sample **v = malloc((nsamples + 1) * sizeof *v);
  if (v == NULL) return GORO_ENOMEM;
  if (nsamples > 0) memcpy(v, samples, nsamples * sizeof *v);
  qsort(v, nsamples, sizeof *v, cmp_sample);
  for (uint32_t i = 0; i < nsamples;) {
    uint64_t count = 0;
    uint32_t j = i;
    while (j < nsamples && cmp_sample(&v[i], &v[j]) == 0) count += v[j++]->count;
    for (int k = v[i]->n - 1; k >= 0; k--) {
      struct loc *l = &locs[v[i]->locs[k]];
      if (l->file[0] != '\0')
        fprintf(f, "%s (%s:%d)%s", l->name, l->file, l->start, k ? ";" : "");
      else
        fprintf(f, "%s%s", l->name, k ? ";" : "");
    }
    fprintf(f, " %llu\n", (unsigned long long)count);
    i = j;
  }
  free(v);
  return ferror(f) ? -1 : 0;
}

/* Write the profile to outpath. prof_lock. */
static int write_out(void) {
  FILE *f;
  int rc;
  ext_final = atomic_exchange(&nexternal, 0);
  rt_final = atomic_exchange(&nruntime, 0);
  add_counted(ext_final, "[external code]");
  add_counted(rt_final, "[goro runtime]");
  if ((f = fopen(outpath, "wb")) == NULL) return -errno;
  if (format == GORO_PROF_FOLDED) {
    rc = write_folded(f);
  } else {
    struct buf b = {0};
    rc = encode_pprof(&b);
    if (rc == 0) rc = write_gzip(f, b.p, b.n);
    free(b.p);
  }
  if (fclose(f) != 0 && rc == 0) rc = -1;
  return rc == -1 ? -(errno ? errno : EIO) : rc;
}
