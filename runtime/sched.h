/*
** runtime/sched.h — G's, M's, the P, and the scheduling loop.
**
** The model, the states and their owners are in runtime/HACKING.md
** ("The scheduler: G, M, P"). This layer knows nothing about Lua: the bridge
** plugs in how a G's code is resumed (struct goro_hooks) and keeps its own
** record per G in `ud`.
**
** Locks: rt->lock protects P ownership (rt->p_owner) and the wake condition.
** Everything else in struct goro_rt marked "P" is touched only by the M
** that owns the P.
*/
#ifndef GORO_RUNTIME_SCHED_H
#define GORO_RUNTIME_SCHED_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../arch/ctx.h"
#include "stack.h"

struct goro_rt;
struct goro_m;

#define GORO_MAX_MS 256 /* worker M's per runtime, counting those in C */

/* Fields one thread owns and others glance at (as hints, under rt->lock or
** not) are written with WR and read with RD: relaxed atomics, so those
** glances are not data races. */
#define RD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define WR(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

enum goro_gstatus {
  GORO_GRUNNABLE = 1, /* on the run queue; owner: the P */
  GORO_GRUNNING,      /* on an M; owner: that M */
  GORO_GWAITING,      /* parked; owner: its waker (who holds the P) */
  GORO_GSYSCALL,      /* in C through goro_cgocall; owner: its M */
  GORO_GDEAD,         /* finished; freed right after the hooks saw it */
};

/* How a run of a G's code on a carrier ended (set by the resume hook). */
enum goro_outcome {
  GORO_RUN_PARKED = 1, /* stackless park: lua_yieldk after goroR_park_prepare */
  GORO_RUN_YIELDED,    /* gave up the P: goro.yield or a plain yield */
  GORO_RUN_DONE,       /* the G's function returned or failed */
};

/* A G stack with a context that loops over G runs. */
struct goro_carrier {
  struct goro_stack *st;
  goro_ctx ctx;
  struct goro_carrier *next; /* P: cache link */
};

/* A G waiting in a queue (Go's sudog). Lives in the parked G's record, or
** several per G for select; the waker fills `ok`/`index` before readying. */
struct goro_waiter {
  struct goro_g *g;
  struct goro_waiter *next, *prev; /* P: queue links */
  struct goro_waitq *q;            /* P: the queue it is on, or NULL */
  int index;                       /* select: which case this waiter is */
  int ok;                          /* set by the waker */
  void *data;                      /* the bridge's: the lua_State that waits */
  int vidx;                        /* the bridge's: where a sender's value is */
  int kind;                        /* the bridge's: what leaving must undo */
};

struct goro_waitq {
  struct goro_waiter *head, *tail; /* P */
};

/* A timer in the P's heap: the embedded timer of a sleeping G (isg), which
** readies it, or one of the bridge's, for which hooks->fire runs. */
struct goro_timer {
  double when;                     /* P: monotonic seconds */
  int heapidx;                     /* P: index in the heap, or -1 */
  int isg;                         /* a G's own (struct goro_g's timer) */
};

struct goro_g {
  uint64_t id;                     /* immutable */
  uint8_t status;                  /* see enum goro_gstatus */
  uint8_t outcome;                 /* owner: the carrier running it */
  uint8_t parking;                 /* owner: the G; stackless park coming */
  uint8_t isextra;                 /* the G of an extra M (not counted) */
  uint8_t heap;                    /* made by goroR_g_new: freed at its end */
  uint16_t lockcount;              /* owner: nested locks (callbacks; Lua
                                      allows 200 nested C calls) */
  const char *waitreason;          /* P: why it waits ("chan receive", ...) */
  double waitsince;                /* P: monotonic seconds */
  struct goro_timer timer;         /* P: its wake-up while it sleeps */
  int selected;                    /* P: select: index of the case that won */
  struct goro_carrier *carrier;    /* P: while running or parked stackfully */
  struct goro_g *schedlink;        /* P: run queue link */
  struct goro_g *allnext, *allprev;/* P: all G's */
  struct goro_waitq waiters;       /* P: G's waiting for this one to end */
  struct goro_m *lockedm;          /* owner: the M it must run on, or NULL */
  void *ud;                        /* the bridge's record */
  /* Profiler (runtime/prof.c): SIGPROFs taken while this G ran Lua whose
  ** stack its count hook has not recorded yet, and their session. */
  _Atomic int prof_pending;
  _Atomic uint32_t prof_sess;
};

/* What an M is doing, for goro.ms() (written by the M itself). */
enum goro_mstate {
  GORO_M_RUNNING = 1, /* holds the P */
  GORO_M_IDLE,        /* a worker with nothing to do */
  GORO_M_WAITP,       /* waiting for the P */
  GORO_M_SYSCALL,     /* its G is in C (goro_cgocall) */
  GORO_M_PARKED,      /* its locked G is parked: the thread sleeps */
  GORO_M_INC,         /* an extra M bound to a host thread, in C */
  GORO_M_POOLED,      /* an extra M in the pool */
};

/* PCs an M keeps of the SIGPROFs taken during one stay in C. */
#define GORO_PROF_CGO_PCS 16

struct goro_m {
  uint64_t id;
  goro_ctx g0;                 /* owner only: the thread's own stack */
  struct goro_g *curg;         /* owner only: the G running on it */
  struct goro_rt *rt;          /* the runtime whose P it holds, or NULL */
  int isextra;                 /* lent to a host thread (host machinery) */
  int isworker;                /* a worker the runtime started */
  volatile int state;          /* enum goro_mstate, for goro.ms() */
  struct goro_g *extrag;       /* an extra M's G (locked to it for good) */
  struct goro_stack *xstack;   /* an extra M's G stack, while it has one */
  goro_ctx xctx;               /* ... and its context (a call target) */
  struct goro_m *xnext;        /* rt->lock: all extra M's */
  struct goro_m *poolnext;     /* rt->lock: the extra-M pool */
  int bound;                   /* rt->lock: bound to a host thread */
  pthread_cond_t parkcv;       /* a locked G's M sleeps on it (rt->lock) */
  int parkready;               /* rt->lock: its locked G was readied */
  struct goro_m *tnext;        /* rt->lock: M's in run/step (goro.ms) */
  _Atomic int preempt;         /* sysmon asks this M's G to yield */
  pthread_t self;              /* the thread, while it is an M of a runtime */
  void *cgoL;                  /* the bridge's: the lua_State of the
                                  innermost cgocall (owner only) */
  struct goro_rt *home;        /* a worker's runtime */
  pthread_t thread;            /* a worker's thread */
  struct goro_m *allnext;      /* rt->lock: the runtime's workers */
  volatile int ncgo;           /* cgocalls active on this M */
  volatile int ncallback;      /* callbacks active on this M (WR/RD: a
                                  closing runtime scans them) */
  volatile int isExtraInC;     /* extra and no Lua frame live */
  /* The goroR_sched_run call in progress on this M (owner only). */
  struct goro_g *until;        /* stop when this G ends */
  double deadline;             /* stop after this time (0: never) */
  int stop;                    /* why to stop, set where the G ended */
  /* Profiler: SIGPROFs taken while its G was in C (goro_cgocall), a
  ** uniform sample of their PCs (a reservoir, filled by the handler on
  ** this thread with prof_rng) and the first one's session; recorded when
  ** the cgocall returns. */
  _Atomic int prof_cgo;
  _Atomic uint32_t prof_cgo_sess;
  uintptr_t prof_cgo_pcs[GORO_PROF_CGO_PCS];
  uint32_t prof_rng;
};

/* What the bridge plugs in. Each hook runs with the P held. */
struct goro_hooks {
  /* Runs on a carrier: resume gp's code until it parks, yields or ends, and
  ** set gp->outcome. Must not let a Lua error escape. */
  void (*resume)(struct goro_rt *rt, struct goro_g *gp);
  /* gp has ended (status DEAD, waiters already readied, off the P's lists):
  ** the bridge's last look at the record, which it may then let go (a
  ** record from goroR_g_new the runtime frees right after). */
  void (*dead)(struct goro_rt *rt, struct goro_g *gp);
  /* In a signal handler on gp's thread, while gp runs Lua: arrange for a
  ** count hook on the Lua thread gp runs now, which gives up the P
  ** (GORO_INT_PREEMPT) or records gp's pending profile samples
  ** (GORO_INT_PROFILE). Must be async-signal-safe. */
  void (*interrupt)(struct goro_rt *rt, struct goro_g *gp, int why);
  /* A timer that is not a G's is due (the P held; it is out of the heap
  ** and may be started again). The bridge's channel timers send on their
  ** channel. */
  void (*fire)(struct goro_rt *rt, struct goro_timer *t);
  /* Could firing t make a G runnable now (one waits on its channel)? A
  ** run whose timers cannot wake anyone is a deadlock, as in Go 1.23.
  ** NULL: every timer can. */
  int (*wakes)(struct goro_rt *rt, struct goro_timer *t);
};

enum { GORO_INT_PREEMPT = 1, GORO_INT_PROFILE = 2 };

struct goro_sched_stats {
  uint64_t gs;              /* live G's */
  uint64_t runnable;        /* on the run queue */
  uint64_t carriers;        /* carriers attached to G's: G stacks in use */
  uint64_t carriers_cached; /* idle carriers kept by the P */
  uint64_t sleeping;        /* G's in the timer heap */
  uint64_t timers;          /* other timers armed (channel timers) */
  uint64_t stackless_parks, stackful_parks;
  uint64_t switches;        /* g0 -> carrier switches */
  uint64_t retakes;         /* P's taken from an M in C */
  uint64_t preempts;        /* preemption requests sent by sysmon */
  uint64_t cgocalls, callbacks;
  uint64_t inline_runs;     /* G's a carrier ran right after another */
};

struct goro_rt {
  pthread_mutex_t lock;        /* protects p_owner and closing */
  /* The M that holds the P while its G is in C, or 0: the P may then be
  ** retaken (CAS to 0). See HACKING.md, P states. */
  _Atomic uintptr_t p_syscall;
  _Atomic double syscall_since; /* when the P went in-syscall (sysmon) */
  _Atomic double sysmon_now;   /* the time of sysmon's latest look: what
                                  goes in syscall_since, read for free */
  pthread_cond_t wake;         /* signalled when the P-owner should look again */
  struct goro_m *p_owner;      /* lock: the M holding the P, or NULL */
  _Atomic int closing;         /* set under lock: goroR_rt_close has begun */
  _Atomic int pwaiters;        /* changed under lock: threads waiting in
                                  goroR_p_acquire; read anywhere as a hint */
  int cwaiters, swaiters;      /* lock: of them callers (back from C, host
                                  threads) and schedulers (p_handoff) */
  _Atomic int owed;            /* a caller took the P while G's were ready:
                                  the scheduler runs one G before callers
                                  get the P again (HACKING.md) */
  int max_workers;             /* lock: start at most this many workers */
  int workers_on;              /* lock: workers may take the P (host mode,
                                  or while a goro.run is in progress) */
  int nworkers, nidle;         /* lock: workers alive; of them idle */
  struct goro_m *allm;         /* lock: the workers */
  struct goro_m *transient;    /* lock: threads in goro.run / goro_step */
  struct goro_m *extram;       /* lock: the extra-M pool */
  struct goro_m *allextra;     /* lock: every extra M */
  int nextram, nextram_inuse;  /* lock: extra M's made; bound now */
  _Atomic int needextram;      /* hint: the next P holder refills the pool */
  _Atomic int nsyscall;        /* G's in goro_cgocall */
  pthread_cond_t sysmon_cv;    /* lock: sysmon sleeps on it */
  int nlocked;                 /* lock: locked G's parked (M's asleep) */
  pthread_t sysmon;            /* lock: the monitor thread, if started */
  _Atomic int sysmon_on;       /* changed under lock */
  uint64_t gen;                /* immutable: this runtime's generation */
  _Atomic uint64_t npreempt;   /* preemption requests sysmon sent */
  _Atomic uint64_t nretake;    /* P's taken from an M in C */

  const struct goro_hooks *hooks; /* immutable */
  void *ud;                       /* the bridge's */

  /* The P's state (owner: the M in p_owner). */
  struct goro_g *runhead, *runtail, *runnext;
  uint64_t nrunnable;          /* P; others read it with RD() */
  uint64_t schedtick;          /* P (WR): G runs started; sysmon reads it */
  int nextstreak;              /* consecutive runnext picks */
  struct goro_timer **timers;  /* min-heap on when */
  int ntimers, timercap;
  int nsleeping;               /* of them, G's sleeping */
  struct goro_g *allg;         /* all live G's */
  uint64_t ng, nextgid;
  struct goro_carrier *carriers;  /* idle cache */
  int ncarriers, carriers_in_use;
  _Atomic int abort;           /* the bridge asks the loops to stop */
  int quiescing;               /* rt->lock: the run is over: a callback's G
                                  parks no more (it unwinds); see
                                  goroR_rt_unwind_callbacks_locked */
  int run_active;              /* rt->lock: a goro.run is on (for sysmon) */
  double run_deadline;         /* rt->lock: its deadline, or 0 */
  struct goro_g *until;        /* P: the main G of the goro.run in progress */
  int until_dead;              /* P: it ended, on whichever M ran it */
  _Atomic double next_when;    /* P writes: earliest timer, 0 if none;
                                  read by sysmon, workers, parked M's */
  struct goro_sched_stats st;
};

/* ---- runtime lifetime ----------------------------------------------------- */

int goroR_rt_init(struct goro_rt *rt, const struct goro_hooks *hooks, void *ud);
/* Frees every G record (calling hooks->dead) and the cached carriers.
** Requires: the P is not held by any M, no G is running. */
void goroR_rt_destroy(struct goro_rt *rt);

/* Before abandoning every G (goro.run is over): let the G's that are in C
** on other M's come back (their stacks lie under the C frames), stopping
** each at its next park. A callback's G parked meanwhile (locked to its M)
** is woken, and its park fails with GORO_EENDED, so that its callback
** unwinds back to the C that waits for it. Requires: mp holds the P; holds
** it again after. */
void goroR_rt_quiesce(struct goro_rt *rt, struct goro_m *mp);

/* Refuse the P to every later goroR_p_acquire, wait for its owner to give it
** back, then abandon every G. The runtime can still be destroyed after. */
void goroR_rt_close(struct goro_rt *rt);

/* ---- M's and the P -------------------------------------------------------- */

/* The M of the calling thread, or NULL. Not inlined: see HACKING.md (TLS). */
struct goro_m *goroR_m_self(void);
/* Make `mp` the calling thread's M (NULL to unset); returns the previous. */
struct goro_m *goroR_m_set(struct goro_m *mp);
void goroR_m_init(struct goro_m *mp);
void goroR_m_destroy(struct goro_m *mp);

/* Take the P for the calling thread's M, waiting while another M holds it.
** Returns 0 or GORO_ECLOSED. */
int goroR_p_acquire(struct goro_rt *rt, struct goro_m *mp);
/* Give the P back; wake (or start) a worker if G's are ready or sleeping.
** Requires: mp holds it. */
void goroR_p_release(struct goro_rt *rt, struct goro_m *mp);

/* The P is free and G's may be ready: wake or start a worker for them. */
void goroR_rt_kick(struct goro_rt *rt);
/* The same, with rt->lock held. */
void goroR_rt_kick_locked(struct goro_rt *rt);
/* Take the P from an owner whose G is in C, or that has it parked.
** Requires: rt->lock. */
int goroR_p_retake_locked(struct goro_rt *rt);

/* The run is over (its main G ended, it failed, its deadline passed, or
** goroR_rt_quiesce waits): the callbacks of G's in C (locked to M's that are
** not extra M's) unwind instead of waiting, each park failing with
** GORO_EENDED, so that their C returns and the run's M, or the quiescer,
** is not held up by a callback that waits for G's that will never run.
** Sets quiescing and wakes the M's of such parked G's. Requires: rt->lock. */
void goroR_rt_unwind_callbacks_locked(struct goro_rt *rt);
/* goro.run begins (deadline 0: none), for sysmon, which unwinds the
** callbacks when the run fails or times out while its M is inside one;
** goroR_rt_quiesce ends it. */
void goroR_rt_run_begin(struct goro_rt *rt, double deadline);
/* An extra M back in its host's C code: keep the P parked on mp if nothing
** needs it (its next callback takes it back with goroR_p_take_parked), else
** release it. Requires: mp holds the P. See HACKING.md, "P states". */
void goroR_p_park(struct goro_rt *rt, struct goro_m *mp);
/* Take back the P parked on mp, if nobody took it meanwhile: 1, or 0. */
int goroR_p_take_parked(struct goro_rt *rt, struct goro_m *mp);
/* If the P is parked on mp, free it. Requires: rt->lock. */
void goroR_p_unpark_locked(struct goro_rt *rt, struct goro_m *mp);

/* Let workers take the P (host mode; during goro.run) or not (between
** runs in script mode, when the interpreter's thread owns the state). */
void goroR_rt_workers_on(struct goro_rt *rt, int on);

/* At most n worker M's from now on (0: only the host's threads run G's). */
void goroR_rt_set_workers(struct goro_rt *rt, int n);
/* How many M's serve the runtime (threads in goro.run or goro_step,
** workers, extra M's bound to host threads), and how many workers idle. */
void goroR_rt_get_ms(struct goro_rt *rt, int *ms, int *idle);

/* Register mp as a thread of rt for goro.ms() (goro.run, goro_step) or
** drop it again. */
void goroR_m_register(struct goro_rt *rt, struct goro_m *mp);
void goroR_m_unregister(struct goro_rt *rt, struct goro_m *mp);

/* ---- cgocall and callbacks (runtime/cgo.c) -------------------------------- */

/* The G running on mp enters C: ncgo++, the G becomes SYSCALL and the P
** P_SYSCALL (it may be retaken). Requires: mp holds the P, runs gp. */
void goroR_syscall_enter(struct goro_rt *rt, struct goro_m *mp);
/* Back from C: take the P back (fast if nobody retook it, else wait), then
** ncgo--, the G RUNNING again. */
void goroR_syscall_exit(struct goro_rt *rt, struct goro_m *mp);

/* A callback starts on mp (extra M or nested in a cgocall): isExtraInC = 0
** first, ncallback++, get the P, lock curg to mp, curg RUNNING. Returns 0,
** or GORO_ECLOSED (nothing changed) for a new entry into a closing runtime. */
int goroR_callback_enter(struct goro_rt *rt, struct goro_m *mp);
/* The callback returns: curg back to SYSCALL (nested) or parked in C
** (extra M), unlock, ncallback--, isExtraInC = isextra && ncgo == 0. */
void goroR_callback_exit(struct goro_rt *rt, struct goro_m *mp);

/* Where a crossing to stack d should put its frames on mp: below the newest
** crossing that left d, else at mp's saved g0 position (d is mp's g0), else
** at d's top. */
void *goroR_crossing_target(struct goro_m *mp, const struct goro_stackdesc *d);

/* Learn the bounds of the calling thread's stack into mp->g0 (for
** sanitizers and the crossing record). */
void goroR_m_learn_stack(struct goro_m *mp);

/* ---- extra M's (runtime/cgo.c) --------------------------------------------- */

/* The extra M bound to the calling thread for rt, binding one first if
** needed (signals blocked meanwhile). NULL if out of memory. */
struct goro_m *goroR_extram_get(struct goro_rt *rt);
/* The extra M bound to the calling thread (any runtime), or NULL. */
struct goro_m *goroR_extram_bound(void);
/* Top the pool up to two spares. Requires: the P. */
void goroR_extram_refill(struct goro_rt *rt);

/* Free every extra M (the runtime is being destroyed). */
void goroR_extram_free_all(struct goro_rt *rt);

/* Put rt on the process-wide list of live runtimes (exiting host threads
** check it); goroR_extram_free_all takes it off. */
uint64_t goroR_live_add(struct goro_rt *rt);

/* ---- sysmon (runtime/cgo.c) ------------------------------------------------ */

/* Start the monitor thread if it is not running. */
void goroR_sysmon_start(struct goro_rt *rt);
/* Stop and join it. Requires: rt->closing. */
void goroR_sysmon_stop(struct goro_rt *rt);
/* Install the SIGURG preemption handler (once per process). */
void goroR_preempt_init(void);

/* ---- G's ------------------------------------------------------------------ */

/* A new runnable G (status RUNNABLE, at the tail of the run queue).
** Requires: the P. NULL if out of memory. */
struct goro_g *goroR_g_new(struct goro_rt *rt, void *ud);
/* The same in zeroed memory of the caller's, which must outlive the G
** (hooks->dead is its last use by the runtime). Cannot fail. */
void goroR_g_init(struct goro_rt *rt, struct goro_g *gp, void *ud);

/* End every G without running it again (goro.run is over, or the runtime
** closes): its carrier is freed, then it gets hooks->dead.
** Requires: the P, and no G running. */
void goroR_g_abandon_all(struct goro_rt *rt);

/* Make a waiting G runnable. `next`: run it right after the current G
** (Go's runnext), for hand-offs from the running G. Requires: the P. */
void goroR_ready(struct goro_rt *rt, struct goro_g *gp, int next);

/* Stackless park, step 1: mark the coming yield as a park. The caller then
** returns lua_yieldk(...). Requires: gp is running. */
void goroR_park_prepare(struct goro_g *gp, const char *reason);

/* Stackful park: switch to the scheduler; returns when gp is readied. A
** locked G's M sleeps instead (no switch). Returns 0, or GORO_ECLOSED if
** the runtime closed while a locked G slept, or GORO_EENDED if its run
** ended (goroR_rt_quiesce): the caller must unwind.
** Requires: gp is running. May park. */
int goroR_park(struct goro_g *gp, const char *reason);

/* Stackful yield: back to the tail of the run queue. May park. */
void goroR_gosched(struct goro_g *gp);

/* Put gp in the timer heap to be readied at `when` (monotonic seconds).
** The caller then parks (either way). Requires: the P. */
void goroR_timer_add(struct goro_rt *rt, struct goro_g *gp, double when);
/* Take gp out of the timer heap if it is there. Requires: the P. */
void goroR_timer_del(struct goro_rt *rt, struct goro_g *gp);

/* Timers of any kind (t->heapidx -1 when made; t->isg for a G's own).
** start (re)arms t for `when`: 0, or GORO_ENOMEM. stop disarms it if armed
** and says whether it was. Timers are dropped, disarmed, when a goro.run
** abandons its G's. Requires: the P. */
int goroR_timer_start(struct goro_rt *rt, struct goro_timer *t, double when);
int goroR_timer_stop(struct goro_rt *rt, struct goro_timer *t);

/* ---- wait queues ---------------------------------------------------------- */

void goroR_waitq_push(struct goro_waitq *q, struct goro_waiter *w);
/* A waiter is claimable while its G has not been woken through another one
** (select queues one waiter per case; the G's `selected` is -1 while it
** waits). Claiming records which waiter won in gp->selected. */
int goroR_waiter_claim(struct goro_waiter *w);
/* Pop the first claimable waiter of q, dropping stale ones; NULL if none. */
struct goro_waiter *goroR_waitq_claim(struct goro_waitq *q);
struct goro_waiter *goroR_waitq_pop(struct goro_waitq *q);
void goroR_waitq_remove(struct goro_waiter *w);  /* no-op if not queued */
/* Empty q without waking anyone. */
void goroR_waitq_remove_all(struct goro_waitq *q);
/* Claim and ready every waiter of q, telling each `ok` (1: what it waited
** for happened; 0: it was closed under it). Requires: the P. */
void goroR_waitq_wake_all(struct goro_rt *rt, struct goro_waitq *q, int ok);

/* ---- the loop ------------------------------------------------------------- */

enum goro_sched_result {
  GORO_SCHED_DONE = 1, /* `until` is dead */
  GORO_SCHED_IDLE,     /* step mode: nothing ready now */
  GORO_SCHED_BUDGET,   /* the deadline passed */
  GORO_SCHED_DEADLOCK, /* run mode: nothing can ever run again */
  GORO_SCHED_ABORT,    /* rt->abort was set */
  GORO_SCHED_NOMEM,    /* no stack for a G */
};

/* Run G's on the calling M, which holds the P. With `until`, run until that
** G is dead, sleeping for timers; without, run until nothing is ready. Either
** way stop once the monotonic clock passes `deadline` (0: no deadline); a
** G that never parks is not interrupted (no preemption yet). */
int goroR_sched_run(struct goro_rt *rt, struct goro_m *mp, struct goro_g *until,
                   double deadline);

/* Monotonic seconds. */
double goroR_now(void);
/* A monotonic time in seconds as an absolute timespec (for timed waits on
** the runtime's CLOCK_MONOTONIC conditions). */
struct timespec goroR_timespec(double t);

void goroR_sched_get_stats(struct goro_rt *rt, struct goro_sched_stats *out);

#endif
