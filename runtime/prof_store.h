/*
** runtime/prof_store.h — the profiler's sample store and its lock. Private
** to the profiler's files (prof.c, prof_store.c, pprof.c); the rest of goro
** uses runtime/prof.h.
**
** The store interns frames as locations (one per distinct name, file,
** start and line) and keeps one sample per distinct (G, stack), with a
** count. It holds one profile: prof.c empties it when a profile starts and
** the writers read it when the profile stops. Samples are added in normal
** context only (never from the signal handler).
**
** Locks: goroR_prof_lock ("prof_lock" in HACKING.md) is the profiler's one
** lock. It guards the store and, in prof.c, the attached threads, their
** timers and the session's settings. It is a leaf: nothing is taken under
** it, and no signal handler takes it.
*/
#ifndef GORO_RUNTIME_PROF_STORE_H
#define GORO_RUNTIME_PROF_STORE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "lock.h"
#include "prof.h"

extern struct goro_lock goroR_prof_lock;

/* A location: one interned frame. Strings are the store's copies. */
struct goro_prof_loc {
  char *name, *file;
  int start, line;
  uint32_t hash;  /* goroR_prof_loc_hash of the frame */
};

/* A sample: `count` samples of G `gid` (0: none) with this stack. */
struct goro_prof_sample {
  uint64_t gid, count;
  uint32_t hash;
  int n;
  uint32_t locs[];  /* location ids, leaf first */
};

/* The store as it is, for the writers and the stats. The pointers stay
** valid while prof_lock is held and the store does not change. */
struct goro_prof_view {
  const struct goro_prof_loc *locs;
  uint32_t nlocs;
  struct goro_prof_sample *const *samples;
  uint32_t nsamples;
  uint64_t sampled;  /* samples stored */
  uint64_t lost;     /* samples that found no stack, or no memory */
};

/* Requires: prof_lock. */
void goroR_prof_store_view(struct goro_prof_view *v);
/* Empty the store for a new profile. Requires: prof_lock. */
void goroR_prof_store_reset(void);
/* Store `count` samples counted by the signal handler as the one-frame
** stack `name` ("[external code]"); nothing when count is 0. Requires:
** prof_lock. */
void goroR_prof_store_counted(uint64_t count, const char *name);

/* The hashing the store's indexes use, shared with the writers' own. */
uint32_t goroR_prof_fnv(uint32_t h, const void *p, size_t n);
#define GORO_PROF_FNV_SEED 2166136261u
uint32_t goroR_prof_loc_hash(const struct goro_prof_frame *f);
/* Grow an open-addressing index of (position + 1), 0 for an empty slot, to
** twice its slots (256 at first), rehashing entries 0..n-1 with the
** hashes `hashof` gives. Returns 0 or GORO_ENOMEM. */
int goroR_prof_index_grow(uint32_t **idx, uint32_t *cap, uint32_t n,
                          uint32_t (*hashof)(uint32_t));

#endif
