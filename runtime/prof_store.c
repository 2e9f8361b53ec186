/*
** runtime/prof_store.c — the profiler's sample store: interned locations,
** samples per distinct (G, stack), the per-G totals, and the names of C
** code. See prof_store.h for the model and runtime/HACKING.md ("The
** profiler") for where samples come from.
**
** Invariants: locs[0..nlocs) are distinct frames and lochash indexes all of
** them; samples[0..nsamples) are distinct (gid, stack) pairs and samphash
** indexes all of them; each index is at most half full. sampled counts the
** samples stored and lost those dropped (a stack never recovered, or no
** memory to store it); a sample is counted in exactly one of the two.
**
** Locks: everything here is guarded by goroR_prof_lock, a leaf. The
** functions of prof.h take it; those of prof_store.h require it.
*/
#include "prof_store.h"

#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"

struct goro_lock goroR_prof_lock = GORO_LOCK_INIT(GORO_RANK_PROF);

static struct goro_prof_loc *locs;          /* prof_lock: the store */
static uint32_t nlocs, loccap;
static uint32_t *lochash;                   /* index+1, 0 empty */
static uint32_t lochcap;
static struct goro_prof_sample **samples;
static uint32_t nsamples, samplecap;
static uint32_t *samphash;
static uint32_t samphcap;
static uint64_t nsampled, nlost;

/* ---- hashing ---------------------------------------------------------------- */

uint32_t goroR_prof_fnv(uint32_t h, const void *p, size_t n) {
  const unsigned char *s = p;
  while (n--) h = (h ^ *s++) * 16777619u;
  return h;
}

uint32_t goroR_prof_loc_hash(const struct goro_prof_frame *f) {
  uint32_t h = GORO_PROF_FNV_SEED;
  h = goroR_prof_fnv(h, f->name, strlen(f->name) + 1);
  h = goroR_prof_fnv(h, f->file, strlen(f->file) + 1);
  h = goroR_prof_fnv(h, &f->start, sizeof f->start);
  return goroR_prof_fnv(h, &f->line, sizeof f->line);
}

int goroR_prof_index_grow(uint32_t **idx, uint32_t *cap, uint32_t n,
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

/* ---- locations and samples ---------------------------------------------------- */

/* The id (index) of frame f, interned. UINT32_MAX on OOM. prof_lock. */
static uint32_t loc_intern(const struct goro_prof_frame *f) {
  uint32_t h = goroR_prof_loc_hash(f), j;
  struct goro_prof_loc *l;
  if ((nlocs + 1) * 2 > lochcap &&
      goroR_prof_index_grow(&lochash, &lochcap, nlocs, loc_hashof) != 0)
    return UINT32_MAX;
  for (j = h & (lochcap - 1); lochash[j] != 0; j = (j + 1) & (lochcap - 1)) {
    l = &locs[lochash[j] - 1];
    if (l->hash == h && l->start == f->start && l->line == f->line &&
        strcmp(l->name, f->name) == 0 && strcmp(l->file, f->file) == 0)
      return lochash[j] - 1;
  }
  if (nlocs == loccap) {
    uint32_t ncap = loccap ? loccap * 2 : 256;
    struct goro_prof_loc *t = realloc(locs, ncap * sizeof *t);
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

/* Add count samples of (gid, ids[0..n)). prof_lock. */
static void sample_add(uint64_t gid, const uint32_t *ids, int n, uint64_t count) {
  uint32_t h = goroR_prof_fnv(goroR_prof_fnv(GORO_PROF_FNV_SEED, &gid, sizeof gid),
                              ids, n * sizeof *ids), j;
  struct goro_prof_sample *s;
  if ((nsamples + 1) * 2 > samphcap &&
      goroR_prof_index_grow(&samphash, &samphcap, nsamples, sample_hashof) != 0)
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
    struct goro_prof_sample **t = realloc(samples, ncap * sizeof *t);
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
  goroR_lock(&goroR_prof_lock);
  if (session != 0 && session == goroR_prof_session()) {
    int k = 0;
    for (int i = 0; i < n; i++)
      if ((ids[k] = loc_intern(&f[i])) != UINT32_MAX) k++;
    if (k == n)
      sample_add(gid, ids, n, count);
    else
      nlost += count;
  }
  goroR_unlock(&goroR_prof_lock);
}

void goroR_prof_lost(uint32_t session, uint64_t count) {
  goroR_lock(&goroR_prof_lock);
  if (session != 0 && session == goroR_prof_session()) nlost += count;
  goroR_unlock(&goroR_prof_lock);
}

void goroR_prof_store_counted(uint64_t count, const char *name) {
  struct goro_prof_frame f = {name, "", 0, 0};
  uint32_t id;
  if (count == 0) return;
  if ((id = loc_intern(&f)) == UINT32_MAX) {
    nlost += count;
    return;
  }
  sample_add(0, &id, 1, count);
}

/* ---- the store as a whole ------------------------------------------------------ */

void goroR_prof_store_reset(void) {
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

void goroR_prof_store_view(struct goro_prof_view *v) {
  v->locs = locs;
  v->nlocs = nlocs;
  v->samples = samples;
  v->nsamples = nsamples;
  v->sampled = nsampled;
  v->lost = nlost;
}

static int cmp_gid(const void *a, const void *b) {
  const uint64_t *x = a, *y = b;
  return (x[0] > y[0]) - (x[0] < y[0]);
}

int goroR_prof_by_g(uint64_t *ids, uint64_t *counts, int max) {
  uint64_t *pairs;
  int n = 0;
  goroR_lock(&goroR_prof_lock);
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
  goroR_unlock(&goroR_prof_lock);
  return n;
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
