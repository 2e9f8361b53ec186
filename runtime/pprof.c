/*
** runtime/pprof.c — writing a profile: pprof (the profile.proto message,
** encoded with protobuf.c and gzipped through zlib at its default level;
** `go tool pprof` and speedscope read it) or folded stacks ("root;...;leaf
** count" a line, as flamegraph.pl and speedscope read them).
**
** It reads the store through a view (prof_store.h) and changes nothing
** there. pprof ids: location i of the store is location i + 1; functions
** are the locations' distinct (name, file, start), numbered in the order
** their first location comes; string 0 is "".
**
** Locks: called with goroR_prof_lock held, which also guards the statics
** below (the context the index callbacks read).
*/
#include "pprof.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ZLIB_CONST
#include <zlib.h>

#include "errors.h"
#include "protobuf.h"

/* ---- the string table ---------------------------------------------------------- */

/* The pprof string table, interned. Strings are not copied. */
struct strtab {
  const char **s;
  uint32_t n, cap;
  uint32_t *idx;
  uint32_t icap;
  int oom;
};

static struct strtab *cur_strtab;  /* prof_lock: for str_hashof */
static uint32_t str_hashof(uint32_t i) {
  return goroR_prof_fnv(GORO_PROF_FNV_SEED, cur_strtab->s[i], strlen(cur_strtab->s[i]));
}

static int64_t str_id(struct strtab *t, const char *s) {
  uint32_t h = goroR_prof_fnv(GORO_PROF_FNV_SEED, s, strlen(s)), j;
  cur_strtab = t;
  if (t->oom) return 0;
  if ((t->n + 1) * 2 > t->icap &&
      goroR_prof_index_grow(&t->idx, &t->icap, t->n, str_hashof) != 0) {
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

/* ---- pprof ------------------------------------------------------------------------ */

/* A ValueType message {type, unit} as field `field` of b. */
static void pb_valuetype(struct goro_pb_buf *b, int field, struct strtab *st,
                         const char *type, const char *unit) {
  struct goro_pb_buf m = {0};
  goroR_pb_int(&m, 1, str_id(st, type));
  goroR_pb_int(&m, 2, str_id(st, unit));
  goroR_pb_message(b, field, &m);
  free(m.p);
}

/* pprof functions: one per (name, file, start), each with the first
** location that names it (fn_first) and, per location, its function id
** (fn_of, 1-based). Built by encode_pprof, under prof_lock. */
static const struct goro_prof_loc *fn_locs;
static uint32_t *fn_of, *fn_first;
static uint32_t fn_hashof(uint32_t i) {
  struct goro_prof_frame f = {fn_locs[i].name, fn_locs[i].file, fn_locs[i].start, 0};
  return goroR_prof_loc_hash(&f);
}
static uint32_t fn_first_hashof(uint32_t f) { return fn_hashof(fn_first[f]); }

/* Fill fn_of and fn_first for v's locations; the number of functions, or
** -1 on OOM. */
static int64_t functions(const struct goro_prof_view *v) {
  const struct goro_prof_loc *locs = v->locs;
  uint32_t *fidx = NULL, ficap = 0, nfn = 0;
  fn_locs = locs;
  fn_of = calloc(v->nlocs + 1, sizeof *fn_of);
  fn_first = calloc(v->nlocs + 1, sizeof *fn_first);
  if (fn_of == NULL || fn_first == NULL) goto oom;
  for (uint32_t i = 0; i < v->nlocs; i++) {
    uint32_t j, found = 0;
    if ((nfn + 1) * 2 > ficap &&
        goroR_prof_index_grow(&fidx, &ficap, nfn, fn_first_hashof) != 0)
      goto oom;
    for (j = fn_hashof(i) & (ficap - 1); fidx[j] != 0; j = (j + 1) & (ficap - 1)) {
      const struct goro_prof_loc *a = &locs[fn_first[fidx[j] - 1]], *b = &locs[i];
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
  free(fidx);
  return nfn;
oom:
  free(fidx);
  return -1;
}

/* The profile.proto message for v into out. 0 or GORO_ENOMEM. */
static int encode_pprof(struct goro_pb_buf *out, const struct goro_prof_view *v,
                        int hz, double seconds) {
  const struct goro_prof_loc *locs = v->locs;
  struct strtab st = {0};
  struct goro_pb_buf m = {0}, sub = {0};
  char exe[256] = "goro";  /* the string table points into it */
  int64_t period = 1000000000LL / hz, nfn;

  str_id(&st, "");
  if ((nfn = functions(v)) < 0) goto oom;
  pb_valuetype(out, 1, &st, "samples", "count");
  pb_valuetype(out, 1, &st, "cpu", "nanoseconds");
  for (uint32_t i = 0; i < v->nsamples; i++) {  /* 2: sample */
    const struct goro_prof_sample *s = v->samples[i];
    m.n = 0;
    sub.n = 0;
    for (int k = 0; k < s->n; k++) goroR_pb_varint(&sub, s->locs[k] + 1);
    goroR_pb_bytes(&m, 1, sub.p, sub.n);
    sub.n = 0;
    goroR_pb_varint(&sub, s->count);
    goroR_pb_varint(&sub, s->count * (uint64_t)period);
    goroR_pb_bytes(&m, 2, sub.p, sub.n);
    if (s->gid != 0) {
      sub.n = 0;
      goroR_pb_int(&sub, 1, str_id(&st, "goroutine"));
      goroR_pb_int(&sub, 3, s->gid);
      goroR_pb_bytes(&m, 3, sub.p, sub.n);
    }
    goroR_pb_bytes(out, 2, m.p, m.n);
  }
  {  /* 3: one mapping for the whole program, already symbolized (so
     ** pprof neither looks for a binary nor symbolizes) */
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    const char *base;
    if (k > 0) exe[k] = '\0';
    base = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
    m.n = 0;
    goroR_pb_int(&m, 1, 1);
    goroR_pb_int(&m, 5, str_id(&st, base));
    goroR_pb_int(&m, 7, 1);  /* has_functions */
    goroR_pb_int(&m, 8, 1);  /* has_filenames */
    goroR_pb_int(&m, 9, 1);  /* has_line_numbers */
    goroR_pb_bytes(out, 3, m.p, m.n);
  }
  for (uint32_t i = 0; i < v->nlocs; i++) {  /* 4: location */
    m.n = 0;
    sub.n = 0;
    goroR_pb_int(&m, 1, i + 1);
    goroR_pb_int(&m, 2, 1);  /* mapping */
    goroR_pb_int(&sub, 1, fn_of[i]);
    if (locs[i].line > 0) goroR_pb_int(&sub, 2, locs[i].line);
    goroR_pb_bytes(&m, 4, sub.p, sub.n);
    goroR_pb_bytes(out, 4, m.p, m.n);
  }
  for (int64_t f = 0; f < nfn; f++) {  /* 5: function */
    const struct goro_prof_loc *l = &locs[fn_first[f]];
    m.n = 0;
    goroR_pb_int(&m, 1, f + 1);
    goroR_pb_int(&m, 2, str_id(&st, l->name));
    goroR_pb_int(&m, 3, str_id(&st, l->name));
    goroR_pb_int(&m, 4, str_id(&st, l->file));
    if (l->start > 0) goroR_pb_int(&m, 5, l->start);
    goroR_pb_bytes(out, 5, m.p, m.n);
  }
  goroR_pb_int(out, 9, (uint64_t)(time(NULL) * 1000000000LL));  /* time_nanos */
  goroR_pb_int(out, 10, (uint64_t)(seconds * 1e9));            /* duration */
  pb_valuetype(out, 11, &st, "cpu", "nanoseconds");            /* period_type */
  goroR_pb_int(out, 12, (uint64_t)period);
  for (uint32_t i = 0; i < st.n; i++)  /* 6: string_table (ids fixed above) */
    goroR_pb_bytes(out, 6, st.s[i], strlen(st.s[i]));
  out->oom |= m.oom | sub.oom | st.oom;
  free(m.p);
  free(sub.p);
  free(st.s);
  free(st.idx);
  free(fn_first);
  free(fn_of);
  fn_of = fn_first = NULL;
  return out->oom ? GORO_ENOMEM : 0;
oom:
  free(fn_first);
  free(fn_of);
  fn_of = fn_first = NULL;
  free(st.s);
  free(st.idx);
  return GORO_ENOMEM;
}

/* p[0..n) as gzip (RFC 1952) into f: deflate at zlib's default level,
** with the gzip wrapper zlib writes for windowBits 16 + 15. Returns 0,
** GORO_ENOMEM, or GORO_EIO with errno set. */
static int write_gzip(FILE *f, const unsigned char *p, size_t n) {
  unsigned char out[16384];
  z_stream z;
  int flush, rc = 0;
  memset(&z, 0, sizeof z);
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    return GORO_ENOMEM;  /* the only way it fails with these arguments */
  }
  z.next_in = p;
  do {
    z.avail_in = n > UINT_MAX ? UINT_MAX : (uInt)n;
    n -= z.avail_in;
    flush = n == 0 ? Z_FINISH : Z_NO_FLUSH;
    do {  /* until deflate leaves room in out: it has taken all the input */
      size_t len;
      z.next_out = out;
      z.avail_out = sizeof out;
      deflate(&z, flush);  /* cannot fail: the stream and buffers are ours */
      len = sizeof out - z.avail_out;
      if (fwrite(out, 1, len, f) != len) rc = -1;
    } while (z.avail_out == 0);
  } while (flush != Z_FINISH);
  deflateEnd(&z);
  return rc != 0 || ferror(f) ? GORO_EIO : 0;
}

/* ---- folded ---------------------------------------------------------------------- */

static int cmp_sample(const void *a, const void *b) {
  const struct goro_prof_sample *x = *(struct goro_prof_sample *const *)a;
  const struct goro_prof_sample *y = *(struct goro_prof_sample *const *)b;
  for (int i = 0; i < x->n && i < y->n; i++)
    if (x->locs[x->n - 1 - i] != y->locs[y->n - 1 - i])
      return x->locs[x->n - 1 - i] < y->locs[y->n - 1 - i] ? -1 : 1;
  return (x->n > y->n) - (x->n < y->n);
}

/* Folded: "root;...;leaf count" per distinct stack (G's merged), root to
** leaf. Frames are "name (file:start)" for Lua functions. */
static int write_folded(FILE *f, const struct goro_prof_view *vw) {
  uint32_t nsamples = vw->nsamples;
  struct goro_prof_sample **v = malloc((nsamples + 1) * sizeof *v);
  if (v == NULL) return GORO_ENOMEM;
  if (nsamples > 0) memcpy(v, vw->samples, nsamples * sizeof *v);
  qsort(v, nsamples, sizeof *v, cmp_sample);
  for (uint32_t i = 0; i < nsamples;) {
    uint64_t count = 0;
    uint32_t j = i;
    while (j < nsamples && cmp_sample(&v[i], &v[j]) == 0) count += v[j++]->count;
    for (int k = v[i]->n - 1; k >= 0; k--) {
      const struct goro_prof_loc *l = &vw->locs[v[i]->locs[k]];
      if (l->file[0] != '\0')
        fprintf(f, "%s (%s:%d)%s", l->name, l->file, l->start, k ? ";" : "");
      else
        fprintf(f, "%s%s", l->name, k ? ";" : "");
    }
    fprintf(f, " %llu\n", (unsigned long long)count);
    i = j;
  }
  free(v);
  return ferror(f) ? GORO_EIO : 0;
}

/* ---- the file ---------------------------------------------------------------------- */

int goroR_prof_write(const struct goro_prof_view *v, const char *path,
                     int format, int hz, double seconds, int *syserr) {
  FILE *f;
  int rc;
  *syserr = 0;
  if ((f = fopen(path, "wb")) == NULL) {
    *syserr = errno;
    return GORO_EIO;
  }
  if (format == GORO_PROF_FOLDED) {
    rc = write_folded(f, v);
  } else {
    struct goro_pb_buf b = {0};
    rc = encode_pprof(&b, v, hz, seconds);
    if (rc == 0) rc = write_gzip(f, b.p, b.n);
    free(b.p);
  }
  if (rc == GORO_EIO) *syserr = errno ? errno : EIO;
  if (fclose(f) != 0 && rc == 0) {
    rc = GORO_EIO;
    *syserr = errno ? errno : EIO;
  }
  return rc;
}
