/*
** runtime/prof.h — the CPU profiler's runtime half, as the rest of goro
** sees it: per-thread CPU timers, the SIGPROF handler, and the sample store
** with its pprof and folded writers. Its files: prof.c (timers, handler,
** start and stop), prof_store.c (the samples), pprof.c (the file) and
** protobuf.c (the encoder pprof.c uses); prof_store.h and pprof.h are
** private to them.
**
** The design (which threads get timers, how the handler classifies a
** sample, why Lua stacks are read from a count hook and not from the
** handler) is in runtime/HACKING.md ("The profiler"). This layer knows
** nothing of Lua: the bridge hands it finished frames.
**
** Locks: prof_lock is a leaf (taken last; nothing is taken under it). The
** signal handler takes no lock at all.
*/
#ifndef GORO_RUNTIME_PROF_H
#define GORO_RUNTIME_PROF_H

#include <stddef.h>
#include <stdint.h>

enum goro_prof_format { GORO_PROF_PPROF = 1, GORO_PROF_FOLDED };

#define GORO_PROF_MAXDEPTH 128 /* frames kept per sample, leaf first */
#define GORO_PROF_MAXHZ 1000

/* One frame, leaf first. Strings are copied by goroR_prof_add. */
struct goro_prof_frame {
  const char *name;  /* "f", "[C] table.sort", "[external code]" */
  const char *file;  /* source, or "" */
  int start;         /* line the function starts at, or 0 */
  int line;          /* current line, or 0 */
};

struct goro_prof_stats {
  int on;                /* a profile is being taken */
  uint32_t session;      /* number of the current or last profile */
  uint64_t threads;      /* threads attached (each an M of some kind) */
  uint64_t timers;       /* timers armed now */
  uint64_t signals;      /* SIGPROFs the handler saw, ever */
  uint64_t samples;      /* samples in the current or last profile */
  uint64_t external;     /* of them [external code] */
  uint64_t runtime;      /* of them [goro runtime] */
  uint64_t dropped;      /* signals on threads with no M, or not ours */
  uint64_t stale;        /* signals of an earlier profile, or after stop */
  uint64_t lost;         /* pending samples that never found their stack */
  double seconds;        /* the profile's duration (so far) */
  int hz;
};

/* Start a profile of every thread that is an M now or becomes one. 0, or
** GORO_EINVAL (bad hz/format), GORO_ESTATE (already on), GORO_ENOMEM. */
int goroR_prof_start(int hz, const char *path, int format);
/* Stop it, wait for handlers in flight, and write the file. 0, or
** GORO_ESTATE (not on), GORO_ENOMEM, or GORO_EIO with the errno of the
** failed open, write or close in *syserr (the samples stay for
** goro_prof_summary). `path` (may be NULL) gets the file's name. */
int goroR_prof_stop(char *path, size_t pathlen, int *syserr);
int goroR_prof_on(void);
/* The session a sample taken now belongs to (0 when off). */
uint32_t goroR_prof_session(void);

/* Record `count` samples of G `gid` (0: none) with frames f[0..n) (leaf
** first), if `session` is still the one running. Normal context only. */
void goroR_prof_add(uint32_t session, uint64_t gid,
                   const struct goro_prof_frame *f, int n, uint64_t count);
/* Samples whose stack could not be recovered. */
void goroR_prof_lost(uint32_t session, uint64_t count);

/* "[C] symbol" (or "[C] library+0xoff", or "[C] 0xaddr") for a code
** address, into buf. Normal context only. */
const char *goroR_prof_cname(uintptr_t pc, char *buf, size_t len);

/* The calling thread became an M (of any kind) / stopped being one.
** Calls nest: the timer lives while the count is above zero. */
void goroR_prof_thread_attach(void);
void goroR_prof_thread_detach(void);

void goroR_prof_get_stats(struct goro_prof_stats *out);
/* Samples per G in the current or last profile: fills up to max pairs,
** returns how many G's there are. */
int goroR_prof_by_g(uint64_t *ids, uint64_t *counts, int max);

/* In a forked child (runtime/fork.c): only the calling thread is left and
** no timer; no profile is running in the child. Requires: prof_lock,
** taken by the fork's prepare handler. */
void goroR_prof_atfork_child(void);
/* The profiler's lock, for runtime/fork.c alone. */
struct goro_lock *goroR_prof_lockp(void);

/* Install the SIGPROF handler (once per process; it stays). */
void goroR_prof_init(void);

#endif
