/*
** runtime/state.h — the runtime's records: G's, M's, the P (inside struct
** goro_rt), wait queues, timers, carriers, and their states.
**
** This is the header every runtime file shares (the role of Go's
** runtime2.go and Lua's lstate.h): the structs, what each state means, who
** owns a record in that state, and what protects each field. Functions are
** declared in the header of the file that defines them; runtime.h gathers
** them for the bridge. The model is in runtime/HACKING.md.
**
** Protection, as each field says:
**   lock   rt->lock (struct goro_rt, lock.h), taken through goroR_lock
**   P      only the M that holds the P (rt->p_owner) touches it
**   owner  only the M's (or G's) own thread writes it; a signal handler on
**          that thread may read it
**   atomic a C11 atomic, or RD/WR below: read anywhere, often as a hint
*/
#ifndef GORO_RUNTIME_STATE_H
#define GORO_RUNTIME_STATE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../arch/ctx.h"
#include "lock.h"
#include "stack.h"

struct goro_rt;
struct goro_m;
struct goro_netpoll;

/* Worker M's per runtime, counting those in C: the default of max_ms
** (goro.config{max_ms = n}), and the most it may be set to. */
#define GORO_MAX_MS 256
#define GORO_MAX_MS_LIMIT 10000

/* Fields one thread owns and others glance at (as hints, under rt->lock or
** not) are written with WR and read with RD: relaxed atomics, so those
** glances are not data races. */
#define RD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define WR(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

/* ---- G's --------------------------------------------------------------------
** A G is on at most one of: the run queue (or runnext), an M, nowhere
** (parked); its status says which, and who may change it. Every transition
** happens with the P held. A G has a carrier iff it is RUNNING or parked
** stackfully (a locked G parks without one: its M sleeps). */
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

/* A G stack with a context that loops over G runs (sched.c). Attached to a
** G while it runs and while it is parked stackfully; otherwise idle in the
** P's cache, suspended at the top of its loop. */
struct goro_carrier {
  struct goro_stack *st;
  goro_ctx ctx;
  struct goro_carrier *next; /* P: cache link */
};

/* A G waiting in a queue (Go's sudog). Lives in the parked G's record, or
** several per G for select; the waker fills `ok`/`index` before readying.
** q != NULL iff the waiter is on queue q. The last four fields are the
** bridge's: the runtime never reads them. */
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
  uint64_t bubble;                 /* immutable once stamped: the id of the
                                      synctest bubble its object was made
                                      in, 0 for none (HACKING.md, "Virtual
                                      time") */
};

/* A timer in the P's heap, of one of these kinds: the bridge's (a timer's
** channel or a context's deadline: hooks->fire runs), a sleeping G's own (it readies the G), or a
** poll descriptor's deadline (netpoll.c). heapidx >= 0 iff the timer is
** in the heap, at that index. */
enum {
  GORO_TIMER_BRIDGE = 0,
  GORO_TIMER_G,
  GORO_TIMER_PD_READ,
  GORO_TIMER_PD_WRITE,
  GORO_TIMER_BRIDGE_CTX,   /* the bridge's too: a context's deadline */
};

struct goro_timer {
  double when;                     /* P: monotonic seconds (a bubble's
                                      clock if bubbled) */
  int heapidx;                     /* P: index in its heap, or -1 */
  uint8_t kind;                    /* immutable: GORO_TIMER_* */
  uint8_t bubbled;                 /* P: on the running bubble's clock and
                                      in its heap (synctest.c) */
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
  uint16_t userlocks;              /* owner: goro.lockthread() calls not yet
                                      undone (HACKING.md, "Locked G's") */
  uint8_t durable;                 /* G: its coming park is durable (only a
                                      G of its bubble can end it) */
  uint8_t bcounted;                /* P: parked and counted in its bubble's
                                      nblocked */
  const char *waitreason;          /* P: why it waits ("chan receive", ...) */
  float waitsince;                 /* P: when it began to (goroR_stamp) */
  int selected;                    /* P: select: index of the case that won,
                                      -1 while it waits (claimable), 0
                                      once its own timer readied it */
  struct goro_timer timer;         /* P: its wake-up while it sleeps */
  struct goro_carrier *carrier;    /* P: while running or parked stackfully */
  struct goro_g *schedlink;        /* P: run queue link */
  struct goro_g *allnext, *allprev;/* P: all G's */
  struct goro_waitq waiters;       /* P: G's waiting for this one to end */
  struct goro_m *lockedm;          /* owner: the M it must run on, or NULL */
  struct goro_bubble *bubble;      /* P: its synctest bubble, or NULL */
  void *ud;                        /* the bridge's record */
  /* Profiler (prof.c): SIGPROFs taken while this G ran Lua whose stack its
  ** count hook has not recorded yet, and their session. */
  _Atomic int prof_pending;
  _Atomic uint32_t prof_sess;
};

/* ---- M's --------------------------------------------------------------------
** What an M is doing, for goro.ms() (written by the M itself). */
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

/*
** About the crossing counters (HACKING.md, "The per-M counters"). ncgo
** counts the M's cgocalls in progress (Lua -> C), ncallback its callbacks
** in progress (C -> Lua), and isExtraInC says that the M is an extra M and
** no Lua frame of its G is live. Only the M's own thread writes them, in an
** order a signal handler on that thread can rely on: a callback clears
** isExtraInC before anything else, and on its return sets it again, last,
** only when the M is extra and ncgo == 0 (golang/go#72870). Every path,
** error unwinding included, leaves them as a normal return would.
*/
struct goro_m {
  uint64_t id;
  goro_ctx g0;                 /* owner: the thread's own stack */
  struct goro_g *curg;         /* owner: the G running on it */
  struct goro_rt *rt;          /* the runtime whose P it holds, or NULL */
  int isextra;                 /* lent to a host thread (extram.c) */
  int isworker;                /* a worker the runtime started */
  int isstep;                  /* a thread's step M (goro_step), kept in
                                  rt->stepms until the runtime ends */
  int exiting;                 /* owner: a worker whose locked G ended:
                                  it leaves its loop and its thread ends */
  int ishome;                  /* a thread that runs the scheduler itself
                                  (goro.run's, a step M): G's locked to it
                                  wait on rt->homeq (HACKING.md) */
  struct goro_m *stepnext;     /* lock: rt->stepms */
  _Atomic int stepping;        /* owner writes: a step M inside goro_step
                                  (goro.ms() lists it then) */
  timer_t steptimer;           /* a step M's deadline timer: SIGURG to its
                                  own thread (valid iff hassteptimer) */
  int hassteptimer;
  volatile int state;          /* enum goro_mstate, for goro.ms() */
  struct goro_g *extrag;       /* an extra M's G (locked to it for good) */
  struct goro_stack *xstack;   /* an extra M's G stack, while it has one */
  goro_ctx xctx;               /* ... and its context (a call target) */
  struct goro_m *xnext;        /* lock: all extra M's */
  struct goro_m *poolnext;     /* lock: the extra-M pool */
  int bound;                   /* lock: bound to a host thread */
  pthread_cond_t parkcv;       /* a locked G's M sleeps on it (lock) */
  struct goro_stackdesc learned;  /* owner: the thread's stack as last
                                  learned (goroR_m_learn_stack) */
  int parkready;               /* lock: its locked G was readied */
  struct goro_m *tnext;        /* lock: M's in run/step (goro.ms) */
  _Atomic int preempt;         /* sysmon asks this M's G to yield */
  pthread_t self;              /* the thread, while it is an M of a runtime */
  void *cgoL;                  /* the bridge's: the lua_State of the
                                  innermost cgocall (owner) */
  struct goro_rt *home;        /* a worker's, step M's or extra M's runtime */
  pthread_t thread;            /* a worker's thread */
  struct goro_m *allnext;      /* lock: the runtime's workers */
  struct goro_m *idlenext;     /* lock: rt->idlem */
  int onidle;                  /* lock: a worker asleep on rt->idlem, not
                                  yet claimed by a waker */
  volatile int ncgo;           /* owner: cgocalls active on this M */
  volatile int ncallback;      /* owner (WR/RD: a closing runtime scans
                                  them): callbacks active on this M */
  volatile int isExtraInC;     /* owner: extra and no Lua frame live */
  /* The goroR_sched_run call in progress on this M (owner). */
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

/* ---- what the bridge plugs in ------------------------------------------------
** Each hook runs with the P held, except `interrupt`. */
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
  uint64_t extra_ms;        /* extra M's made (pooled and bound) */
  uint64_t extra_ms_in_use; /* of them bound to host threads now */
  uint64_t handoffs;        /* cgocalls moved off a step M to a worker */
  uint64_t worker_takes;    /* times a worker took the free P to schedule */
  uint64_t step_overruns;   /* steps that returned > 1 ms past budget */
  double step_overrun_max;  /* the worst, in seconds past the budget */
  uint64_t step_overrun_g;  /* the G that ran last in that step (0: none) */
};

/* ---- synctest bubbles -------------------------------------------------------
** A bubble of virtual time (synctest.c; HACKING.md, "Virtual time"). The
** bridge allocates it (a userdata of the G in synctest.run, the waiter);
** every field is P-only. Invariants: 0 <= nblocked <= ng; nblocked counts
** the bubble's G's with bcounted; the heap holds only bubbled timers and
** timers[i]->heapidx == i; state RUNNING iff rt->bubble == this. */
enum goro_bubble_state {
  GORO_BUBBLE_RUNNING = 0, /* rt->bubble: its clock moves when it idles */
  GORO_BUBBLE_DONE,        /* every G of it ended */
  GORO_BUBBLE_DEADLOCK,    /* idle with no timer: its G's stay parked
                              until the waiter detaches them */
};

struct goro_bubble {
  uint64_t id;                 /* immutable: > 0, unique in the runtime */
  double now;                  /* its clock, in goro.now()'s seconds */
  struct goro_timer **timers;  /* min-heap on when (its clock) */
  int ntimers, timercap;
  int state;                   /* enum goro_bubble_state */
  uint64_t ng, nblocked;       /* live G's; of them durably blocked */
  struct goro_g *waiter;       /* the G in synctest.run, parked */
  struct goro_g *waitg;        /* a G in synctest.wait, or NULL */
  struct goro_g *root;         /* the G running f (NULL once it ended) */
};

/* ---- the runtime of one universe, with its P --------------------------------
**
** About the P's two words (HACKING.md, "P states"). p_owner (under the
** lock) is the M that holds the P, or NULL. p_syscall (atomic) is 0 while
** the owner runs Lua, the owner itself while its G is in C (the P may be
** retaken: CAS to 0), or the owner | 1 while it is parked on a host thread
** idle in C (free to anyone who retakes it). A retake always CASes
** p_syscall from the owner's value to 0 before it clears p_owner.
*/
struct goro_rt {
  struct goro_lock lock;       /* protects the fields marked "lock" */
  _Atomic uintptr_t p_syscall; /* see above */
  _Atomic double syscall_since; /* when the P went in-syscall (sysmon) */
  _Atomic double sysmon_now;   /* the time of sysmon's latest look: what
                                  goes in syscall_since, read for free */
  pthread_cond_t wake;         /* lock: signalled when the P's owner, an
                                  idle worker or a waiter should look again */
  struct goro_m *p_owner;      /* lock: the M holding the P, or NULL */
  _Atomic int closing;         /* set under lock: goroR_rt_close has begun */
  _Atomic int pwaiters;        /* changed under lock: threads waiting in
                                  goroR_p_acquire; read anywhere as a hint */
  int cwaiters, swaiters;      /* lock: of them callers (back from C, host
                                  threads) and schedulers (p_handoff) */
  int owner_idle;              /* lock: the P's owner sleeps on rt->wake in
                                  its idle wait (sched.c) */
  _Atomic(uintptr_t) pstarving; /* set under lock: the caller that has
                                  waited > 1 ms, the only one that may take
                                  the P (0: none; HACKING.md, "Who gets a
                                  free P"); read by the fast paths */
  _Atomic int owed;            /* a caller took the P while G's were ready:
                                  the scheduler runs one G before callers
                                  get the P again (HACKING.md) */
  int max_workers;             /* lock: start at most this many workers */
  int max_ms;                  /* lock: never more workers than this, those
                                  in C included (default GORO_MAX_MS); at it
                                  with every one in C, ready G's wait */
  int workers_on;              /* lock: workers may take the P (host mode,
                                  or while a goro.run is in progress) */
  int nworkers, nidle;         /* lock: workers alive; of them idle */
  struct goro_m *allm;         /* lock: the workers */
  struct goro_m *idlem;        /* lock: idle workers nobody woke yet, the
                                  last to go idle first (worker.c) */
  struct goro_m *timerm;       /* lock: the one idle worker asleep until the
                                  earliest timer, while the P is free */
  double timerm_when;          /* lock: when timerm wakes by itself */
  struct goro_m *transient;    /* lock: threads in goro.run / goro_step */
  struct goro_m *stepms;       /* lock: every step M made (goro_step) */
  struct goro_m *framem;       /* lock: the first of them: the thread that
                                  called goro_open (or first stepped), for
                                  goro.lockthread("frame") */
  /* C calls moved off a step M (HACKING.md, "The frame loop"): G's whose
  ** C waits for a worker, and G's back from it that wait for the P. */
  struct goro_g *cgoq, *cgoqtail;       /* lock */
  int ncgoq;                            /* lock: G's on cgoq */
  struct goro_g *cgoret, *cgorettail;   /* lock */
  _Atomic int ncgoret;                  /* hint: cgoret is not empty */
  _Atomic int step_waits;      /* steps waiting for the P (not counted in
                                  pwaiters: p.c, step_acquire); the holder
                                  gives it up, sysmon asks its G to yield */
  _Atomic uint32_t stepseq;    /* a futex: bumped when waiting steps should
                                  look again (goroR_rt_wake_locked) */
  _Atomic int stepkick;        /* a step gave up without the lock: sysmon
                                  does the wake it owes the others */
  struct goro_m *extram;       /* lock: the extra-M pool */
  struct goro_m *allextra;     /* lock: every extra M */
  int nextram, nextram_inuse;  /* lock: extra M's made; bound now */
  _Atomic int needextram;      /* hint: the next P holder refills the pool */
  _Atomic int nsyscall;        /* G's in goro_cgocall */
  pthread_cond_t sysmon_cv;    /* lock: sysmon sleeps on it */
  int nlocked;                 /* lock: locked G's parked (M's asleep) */
  int nlockedw;                /* lock: workers dedicated to a G that
                                  goro.lockthread() locked to them */
  pthread_t sysmon;            /* lock: the monitor thread, if started */
  _Atomic int sysmon_on;       /* changed under lock */
  uint64_t gen;                /* immutable: this runtime's generation */
  _Atomic uint64_t npreempt;   /* preemption requests sysmon sent */
  _Atomic uint64_t nretake;    /* P's taken from an M in C */

  const struct goro_hooks *hooks; /* immutable */
  void *ud;                       /* the bridge's */

  /* The P's state (owner: the M in p_owner). */
  struct goro_g *runhead, *runtail, *runnext;
  uint64_t nrunnable;          /* P; others read it with RD(); counts
                                  runnext too */
  uint64_t schedtick;          /* P (WR): G runs started; sysmon reads it */
  uint64_t lastgid;            /* P: the G whose run started last */
  struct goro_g *homeq;        /* P: runnable G's locked to a home M (the
                                  run's thread, a step M), which only that
                                  M runs; linked by schedlink */
  int nhome;                   /* P (WR): how many */
  int nextstreak;              /* P: consecutive runnext picks */
  struct goro_timer **timers;  /* P: min-heap on when */
  int ntimers, timercap;       /* P */
  int nsleeping;               /* P: of them, G's sleeping */
  struct goro_g *allg;         /* P: all live G's */
  uint64_t ng, nextgid;        /* P */
  struct goro_bubble *bubble;  /* P: the running synctest bubble, or NULL */
  uint64_t nextbubble;         /* P: the last bubble id given */
  struct goro_carrier *carriers;  /* P: idle cache */
  int ncarriers, carriers_in_use; /* P */
  _Atomic int abort;           /* the bridge asks the loops to stop */
  int quiescing;               /* lock: the run is over: a callback's G
                                  parks no more (it unwinds); see
                                  goroR_rt_unwind_callbacks_locked */
  int run_active;              /* lock: a goro.run is on (for sysmon) */
  double run_deadline;         /* lock: its deadline, or 0 */
  struct goro_g *until;        /* P: the main G of the goro.run in progress */
  int until_dead;              /* P: it ended, on whichever M ran it */
  _Atomic double next_when;    /* P writes: earliest timer, 0 if none;
                                  read by sysmon, workers, parked M's */
  struct goro_netpoll *_Atomic np; /* made once by the P's owner, then
                                  immutable (netpoll.c) */
  struct goro_sched_stats st;  /* P */
};

#endif
