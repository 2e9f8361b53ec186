/*
** vm_bridge/bridge.h — private to vm_bridge/ (and to the C tests that look
** inside it): the Lua side of the runtime.
**
** One struct goro_runtime per Lua universe, kept in the registry (a full
** userdata under a light-userdata key, whose __gc destroys the runtime;
** universe.c). Each G has a handle, a full userdata of type "goro.g"
** (struct bg), with two user values: 1 = its Lua thread (before the first
** run of a G made with no arguments: its function, or the error that kept
** it from getting a thread; after its end, if the thread went to the
** thread pool, its result), 2 = the function that called goro.go, for the
** dump. A registry table, the G table, anchors the handle of every live G
** at pair b->ref, so the scheduler side can push a G's handle with
** lua_rawgeti, which never allocates and so never raises.
**
** Locks: the bridge's code runs with the P held (a G's Lua code, the
** scheduler's hooks, goro_call and goro_step once they have it), so its
** data needs none: "P" beside a field means "read and written only with
** the P held". The exceptions say so where they are: the interrupt
** fields of struct bg (a signal handler uses them), and the fields of
** struct goro_runtime that entry points read before they take the P.
**
** The declarations after the types are grouped by the file that defines
** them; each file opens with what it owns, its invariants and its locks.
*/
#ifndef GORO_VM_BRIDGE_H
#define GORO_VM_BRIDGE_H

#include <lauxlib.h>
#include <lua.h>
#include <stdatomic.h>
#include <stddef.h>

#include "../include/goro.h"
#include "../runtime/runtime.h"
#include "lua54.h"  /* the Lua API, bound weakly */

/* On the definitions of goro.h's functions: the library is built with
** -fvisibility=hidden and exports only the public API. */
#define GORO_EXPORT __attribute__((visibility("default")))

#define GORO_G_MT "goro.g"
#define GORO_CHAN_MT "goro.chan"
#define GORO_CASE_MT "goro.case"
#define GORO_MUTEX_MT "goro.mutex"
#define GORO_WG_MT "goro.waitgroup"
#define GORO_RWMUTEX_MT "goro.rwmutex"
#define GORO_ONCE_MT "goro.once"
#define GORO_COND_MT "goro.cond"
#define GORO_SEMA_MT "goro.semaphore"
#define GORO_TIMER_MT "goro.timer"
#define GORO_SCOPE_MT "goro.scope"
#define GORO_ERRORS_MT "goro.errors"

#define GORO_CB_KEEP 32  /* spare callback threads kept */
#define GORO_TPOOL 1024  /* reset threads of ended G's kept for new G's
                            (runtime/HACKING.md, "A G's Lua thread") */

/* How far a runtime is shut down (goro_runtime.closed). Each state says
** what may still touch it. */
enum goro_closed {
  GORO_RT_OPEN = 0,   /* in use: goro.run, goro_open, goro_step, goro_call
                         and goro.go accept it */
  GORO_RT_CLOSED,     /* goro_close ran: the P is refused to everyone and
                         every G abandoned (goroR_rt_close) while the Lua
                         state lives on; every entry point refuses it */
  GORO_RT_FINALIZED   /* the runtime userdata's __gc ran (lua_close, after
                         goro_close or not) and destroyed the runtime: the
                         registry is going away, so a hook that still runs
                         (hook_dead, for the G's the destroy abandons)
                         must not touch Lua */
};

/*
** The runtime of a universe (universe.c). Owners: "P" fields are read and
** written with the P held. running, hostmode and closed are written by the
** thread that owns the Lua state while no G runs (goro.run's caller
** around its run, goro_open's, goro_close's, the __gc's), and read by entry
** points before they take the P.
** Invariants: 0 <= ncbfree <= GORO_CB_KEEP, and cbfree[0, ncbfree) are
** callback threads with empty stacks; 0 <= gsfree <= gsn; failed != NULL
** only while the runtime's user value 1 anchors its handle, and then
** rt.abort is set; 0 <= ntpool <= GORO_TPOOL, and tpool[i] (i < ntpool)
** is an empty thread (status LUA_OK, no frame, no value, no hook) that no
** Lua or C code outside goro holds, anchored at slot i + 1 of the pool
** table (universe.c), whose other slots are false.
*/
struct goro_runtime {
  struct goro_rt rt;      /* the scheduler (runtime/sched.h has its rules) */
  lua_State *L;           /* immutable: the universe's main thread */
  lua_State *LR;          /* immutable: a thread that never runs Lua; P: the
                             scheduler side's non-raising work and its
                             protected calls */
  lua_State *cbfree[GORO_CB_KEEP];  /* P: spare threads for callbacks */
  int ncbfree;            /* P: how many of cbfree are spare */
  int running;            /* inside goro.run (whose M0 holds the P) */
  enum goro_closed closed;/* see enum goro_closed */
  int hostmode;           /* goro_open ran: the P is taken per call */
  struct bg *failed;      /* P: the G whose unwaited error stops the run */
  int gsref;              /* immutable: registry[gsref] is the G table */
  int gsn, gsfree;        /* P: the G table's length in pairs; its first
                             free pair (0: none; a free pair holds the
                             next one) */
  uint64_t rng;           /* P: select's random order (xorshift state) */
  lua_State *tpool[GORO_TPOOL];  /* P: reset threads of ended G's */
  int ntpool;             /* P: how many of tpool are there */
  uint8_t noreuse;        /* P: goro.config{reuse_threads = false} */
  uint64_t nreused;       /* P: threads taken from tpool (goro.stats) */
};

/* struct goro_waiter.kind, the bridge's: what goroB_chan_leave must undo
** beyond taking the waiter off its queue. goroB_bg_block resets it. */
enum {
  GORO_WAITER_PLAIN = 0,  /* nothing */
  GORO_WAITER_TCHAN = 1,  /* a receiver on a timer's channel: a queue left
                             empty takes the timer out of the heap */
  GORO_WAITER_PD = 2      /* a G waiting on a poll descriptor: the runtime
                             takes it off (goroR_pd_leave), and the
                             descriptor's deadline timer with the last */
};

/* kind sits in what was padding after vidx: the waiter, part of every
** parked G's record (the 1,500-byte budget), did not grow for it. */
_Static_assert(offsetof(struct goro_waiter, kind) ==
                       offsetof(struct goro_waiter, vidx) + sizeof(int) &&
                   sizeof(struct goro_waiter) ==
                       offsetof(struct goro_waiter, kind) + sizeof(int),
               "struct goro_waiter grew with the bridge's kind");

/*
** A G's handle (userdata "goro.g"; g.c). The G's record lives in it
** (rec), so the handle outlives the G: b->w.g, the G, is NULL once the G
** has ended (hook_dead), and done, failed and nres then say how it ended.
** Owners: the fields marked "G" belong to the G while it runs (it sets
** them before it parks, and the wakers do not touch them); "hooks" are
** written by the scheduler's hooks (universe.c) while the G is not
** running; all of these only with the P held. The interrupt fields are
** shared with a signal handler on the G's thread (interrupt.c).
** Invariants:
**   - b->w.g is NULL or b->w.g->ud == b; while b->w.g is not NULL, the G
**     table anchors the handle at b->ref > 0.
**   - a blocked G waits in one place: its waiter w on one queue, or its
**     select waiters sel[0, nsel) on one queue each (a wait with a
**     context: sel[0] on the operation's queue, or on none when only the
**     context can end it, and sel[1] on the done channel's), or the timer
**     heap (sleep); a G that is not blocked has w on no queue and no sel
**     (checked by goroB_bg_block, before every blocking operation).
**   - w.kind is GORO_WAITER_TCHAN only for a receiver on a timer's
**     channel; a waiter leaves its queue through goroB_chan_leave, which
**     honours it.
*/
struct bg {
  lua_State *L;           /* hooks: its thread (user value 1); NULL until
                             its first run for a G made with no arguments,
                             whose user value 1 holds its function till
                             then (or, if no thread could be made, the
                             error); NULL again once pooled */
  union {                 /* (never both in use: nargs is 0 after a run) */
    int nargs;            /* hooks: values to pass to the next resume */
    int nres;             /* hooks: once it ended, results (or the error)
                             left on L's stack */
  };
  int nsel;               /* G: select, how many waiters in sel */
  int ref;                /* P: its anchor in the G table (0: none) */
  int line;               /* immutable: line of goro.go's caller (user
                             value 2) */
  struct goro_waiter w;   /* G: its waiter for single-queue parks (wakers
                             set w.ok, claiming it); w.g (hooks) is also
                             the G, NULL once it ended */
  struct goro_waiter *sel;/* G: select, one waiter per case (malloc'd;
                             wakers set their ok, claiming one) */
  /* Interrupts (preemption, profiling; HACKING.md "The profiler"). runL,
  ** want_preempt and armed are read and written with RD/WR: a signal
  ** handler on the G's thread uses them; uhook, umask, ucount are used
  ** only while armed is set (interrupt.c). */
  lua_State *runL;        /* the Lua thread the G runs now, or NULL */
  lua_Hook uhook;         /* the user's hook there, put back when ours fires */
  int ucount;
  uint8_t umask;          /* (a hook mask is a byte in Lua too) */
  uint8_t want_preempt;   /* sysmon asked the G to give up the P */
  uint8_t armed;          /* our count hook is armed, on runL (but on the
                             thread runL named before, inside
                             goroB_bg_run_on; interrupt.c) */
  /* One bit each, in the byte left before rec (only 0 or 1 is assigned).
  ** A bit-field is written by a read-modify-write of its byte, so no
  ** field the signal handler writes may be one. */
  uint8_t done : 1, failed : 1;  /* hooks: it ended; with an error */
  uint8_t waited : 1;     /* hooks: it failed and someone was waiting
                             then (hook_dead's only question; 0 if it
                             did not fail) */
  uint8_t ismain : 1;     /* immutable: made by goro.run */
  uint8_t unwound : 1;    /* G: a park of it failed, its run had ended (an
                             error then is not the run's failure) */
  uint8_t escaped : 1;    /* G: its thread was handed out (coro.c): it
                             never goes to the thread pool */
  uint8_t pooled : 1;     /* hooks: it ended and its thread went to the
                             pool; L is NULL and user value 1 holds its
                             result (nres 1), or a table of its nres > 1
                             results */
  /* The G's record, kept with its handle (one allocation; rec.id stays
  ** readable after the G ends). An extra G's record lives with its M:
  ** only rec.id is set here. */
  struct goro_g rec;
};

/* A handle is the one malloc chunk every G costs, parked or not (bench/
** sched.lua parked: bytes per parked G). With Lua 5.4's Udata header for
** two user values (72 bytes) a 256-byte struct bg is a 328-byte request,
** a 336-byte glibc chunk; from 257 bytes on it takes a 352-byte one. */
_Static_assert(sizeof(struct bg) <= 256,
               "struct bg outgrew its malloc chunk class (see above)");

/* ---- inline helpers ------------------------------------------------------ */

/* The userdata at i if its first field is the type tag `tag` (the address
** of a static of the type's own), else a standard "bad argument" error
** naming tname. Cheaper than any metatable check (channel, mutex and
** waitgroup operations are the fast paths) and immune to
** debug.setmetatable. */
static inline void *goroB_checktag(lua_State *L, int i, const void *tag,
                                  const char *tname) {
  void *p = lua_touserdata(L, i);  /* rawlen is 0 for a light userdata */
  if (p == NULL || lua_rawlen(L, i) < sizeof tag || *(const void **)p != tag)
    luaL_typeerror(L, i, tname);
  return p;
}

/* The runtime of a function with it as upvalue 1: from the calling M when
** there is one (cheaper than an upvalue), else from the upvalue. */
static inline struct goro_runtime *goroB_R_of(lua_State *L) {
  struct goro_m *mp = goroR_m_self();
  if (mp != NULL && mp->rt != NULL) return mp->rt->ud;
  return lua_touserdata(L, lua_upvalueindex(1));
}

struct goro_context;  /* a context (context.c) */

/* The G running on the calling thread's M, or NULL (no M, or between
** G's): whose bubble and clock goro's constructors use. */
static inline struct goro_g *goroB_curg(void) {
  struct goro_m *mp = goroR_m_self();
  return mp != NULL ? mp->curg : NULL;
}

/* ---- util.c -------------------------------------------------------------- */

/* The calling thread's goro_errmsg() text. */
void goroB_seterr(const char *msg);

/* t[k] = v for the table on top (introspection tables). */
void goroB_setint(lua_State *L, const char *k, uint64_t v);

/* ---- onecopy.c ----------------------------------------------------------- */

/* Raises unless this copy of goro may make L's runtime (no other copy owns
** L's, nor sits in the process's global scope); then names this copy as
** the owner. Called by goroB_runtime_get before it makes a runtime. */
void goroB_onecopy_check(lua_State *L);

/* ---- universe.c ---------------------------------------------------------- */

/* The registry key (light userdata) of the runtime userdata. */
const void *goroB_runtime_key(void);

/* The runtime of L's universe, made on first use. */
struct goro_runtime *goroB_runtime_get(lua_State *L);

/* Anchor the G handle at hidx in the G table, with its thread (at tidx; 0:
** none yet), and return its pair, for b->ref. Both stay on the stack.
** Raises (out of memory) with nothing changed. */
int goroB_bg_anchor(lua_State *L, struct goro_runtime *R, int hidx, int tidx);
/* Is b's thread still user value 1 of its handle (at hidx)? After the G
** ends that is its only anchor, and the debug library can change it: read
** an ended G's thread only when this holds. */
int goroB_bg_thread_ok(lua_State *L, int hidx, struct bg *b);

/* Push the handle of a live G (anchored in R's G table). Never raises. */
void goroB_bg_push(lua_State *L, struct goro_runtime *R, struct bg *b);

/* Spare threads for callbacks (P held). get returns NULL on OOM. */
lua_State *goroB_cb_thread_get(struct goro_runtime *R);
void goroB_cb_thread_put(struct goro_runtime *R, lua_State *T);
/* Give the extra G gp its handle. Requires: the P. 0 on OOM. */
int goroB_bg_extra(struct goro_runtime *R, struct goro_g *gp);

/* Reset threads of ended G's (runtime/HACKING.md, "A G's Lua thread").
** take: the most recently pooled thread, pushed on L (which needs three
** free slots) and no longer anchored by the pool; NULL with nothing
** pushed if the pool is empty or reuse is off. Never raises. drain: drop
** every pooled thread (goro_close, reuse turned off). Requires: the P (or
** the state to itself, for drain after goro_close). */
lua_State *goroB_tpool_take(lua_State *L, struct goro_runtime *R);
void goroB_tpool_drain(lua_State *L, struct goro_runtime *R);

/* ---- interrupt.c --------------------------------------------------------- */

/* Arm our count hook on L (NULL: nothing), saving the user's hook there,
** unless it is armed already. Async-signal-safe; only where b->runL cannot
** change under it (interrupt.c). */
void goroB_bg_arm(struct bg *b, lua_State *L);
/* Put the user's hook back on L, if ours is armed: L is where it is (b->runL,
** or in goroB_bg_run_on the thread runL named before it was cleared). */
void goroB_bg_disarm(struct bg *b, lua_State *L);
/* The runtime's interrupt hook (struct goro_hooks.interrupt). */
void goroB_hook_interrupt(struct goro_rt *rt, struct goro_g *gp, int why);

/* The G of b now runs Lua on thread L (NULL: on none). Disarms a hook left
** on the previous thread (the runL it replaces: an armed hook is there),
** and arms one on L if samples or a preemption are pending. On the M that
** runs the G (or settles it, once it ended): the only thread whose signal
** handler arms b's hook. runL is NULL while armed changes, so a handler
** that comes in between arms nothing. Inline: the scheduler calls it twice
** per run, and its fast path (no hook armed or wanted, the common case) is
** a few loads and tests and two stores (one for L NULL); the fences only
** keep the compiler from moving the stores. */
static inline void goroB_bg_run_on(struct bg *b, lua_State *L) {
  lua_State *old = RD(b->runL);  /* (a handler may arm there till the next
                                    line, and then only there) */
  WR(b->runL, NULL);  /* the handler arms nothing from here on */
  atomic_signal_fence(memory_order_seq_cst);
  if (RD(b->armed)) goroB_bg_disarm(b, old);
  if (L == NULL) return;  /* (runL stays NULL: only run_on writes it) */
  if (b->w.g != NULL &&
      (RD(b->want_preempt) || atomic_load(&b->w.g->prof_pending) > 0))
    goroB_bg_arm(b, L);
  atomic_signal_fence(memory_order_seq_cst);
  WR(b->runL, L);
}

/* ---- g.c ----------------------------------------------------------------- */

/* The running G's handle if L runs inside one, else NULL. */
struct bg *goroB_bg_current(lua_State *L);

/* The running G's handle, its waiter reset; a Lua error naming `fname` if
** L is outside any G. For operations about to block. */
struct bg *goroB_bg_block(lua_State *L, const char *fname);

/* The index of the context's waiter in a wait with a context: apart from
** 1 and from both directions of a descriptor (GORO_PD_READ, _WRITE),
** which an I/O waiter's index becomes (HACKING.md, "The netpoller"). */
#define GOROB_CTX_INDEX 3

/* For a blocking call given a context: b (just reset by goroB_bg_block)
** waits with two select waiters, sel[0] for the operation (index 1; the
** caller queues it where its wakers look; goroR_pd_wait makes its index
** the direction) and sel[1] on the context's done queue dq (index
** GOROB_CTX_INDEX; queued here). Whoever claims one first wins, as in a
** select; returns sel[0]. Raises (out of memory) with nothing queued.
** Requires: dq from goroB_ctx_prepare. */
struct goro_waiter *goroB_bg_block_ctx(lua_State *L, struct bg *b,
                                       struct goro_waitq *dq);
/* In the continuation of a park from goroB_bg_block_ctx: take both waiters
** off their queues and return which won (1: the operation, with *ok the
** waker's ok; 2: the context ended; 0: the G's own timer, for a call
** that has a timeout of its own besides). */
int goroB_bg_unblock_ctx(struct goro_rt *rt, struct bg *b, int *ok);

/* Does L (or the G's own thread under it) run a __gc finalizer right now?
** Cheap unless the universe's collector is stopped. */
int goroB_in_finalizer(lua_State *L, struct bg *b);
/* Park the running G (stackless if it can yield, stackful otherwise), then
** continue with k(L, LUA_OK, ctx) once readied. Its waiters must be queued;
** if it may not park here (a finalizer, a borrowed stack) it leaves the
** queues and raises, naming the blocking function fname. `reason` is what
** goro.dump() shows. May park. */
/* A stackful park of b (goroR_park) failed with rc, its waiters already
** off their queues: the run ended (b's error then is not the run's
** failure) or the runtime closed. Raises, naming fname. */
int goroB_bg_park_failed(lua_State *L, struct bg *b, int rc, const char *fname);
int goroB_bg_park(lua_State *L, struct bg *b, const char *fname,
                  const char *reason, lua_KContext ctx, lua_KFunction k);
/* NULL if the running G b may park on L now, else why not: a format with
** one %s, for the blocking function's name. For an operation that must
** know before it changes anything (cond:wait unlocks its mutex). */
const char *goroB_bg_cannot_park(lua_State *L, struct bg *b);

/* Take b out of every queue it waits in and out of the timer heap (before
** raising instead of parking, or once b has ended). Requires: the P. */
void goroB_bg_unqueue(struct goro_rt *rt, struct bg *b);

/* Make a G running the function at fidx with the nargs values after it,
** and leave its handle on L; lazy: a G with no arguments gets its thread
** at its first run. Upvalue 2 of the calling function is the G handle
** metatable. scopeidx > 0: the index of the goro.scope the G belongs to
** (its handle's user value 3, for the dump). Its creator is the caller of
** the calling function. Raises (out of memory) only before the G exists. */
struct bg *goroB_bg_new(lua_State *L, struct goro_runtime *R, int fidx,
                       int nargs, int lazy, int scopeidx);

/* "dead", "runnable", "running", "waiting" or "syscall": b's status as
** g:status() and the dump name it. */
const char *goroB_g_status_name(struct bg *b);

/* Register the G handle's type (called by luaopen_goro_core). */
void goroB_open_g(lua_State *L);
/* go and self, for the module table (upvalues: the runtime, the G handle
** metatable). */
extern const luaL_Reg goroB_g_funcs[];

/* ---- chan.c -------------------------------------------------------------- */

/* Take waiter w off its queue; a timer's channel left with no waiter
** leaves the P's heap (runtime/HACKING.md, "Timers"). Requires: the P. */
void goroB_chan_leave(struct goro_rt *rt, struct goro_waiter *w);

/* Register the channel and case types (the runtime userdata on top). */
void goroB_open_chan(lua_State *L);
/* Add chan and select to the module table on top (the runtime below it). */
void goroB_open_chan_funcs(lua_State *L);
/* ch:recv(ctx) for the channel c at 1 and the context x at 2 (what lies
** above is dropped): v, true; nil, false when closed; nil, false, err
** when x ends first. sleeping: the channel is goro.sleep(s, ctx)'s
** goro.after, and the results are true, or nil, err. May park. */
struct chan;
int goroB_chan_recv_ctx(lua_State *L, struct chan *c, struct goro_context *x,
                        int sleeping);

/* ---- select.c ------------------------------------------------------------ */

/* Push goro.default, the case that makes select never block. */
void goroB_push_default(lua_State *L);

/* ---- timer.c ------------------------------------------------------------- */

/* The runtime's hooks for the bridge's timers (struct goro_hooks.fire and
** .wakes): t is a timer's channel's timer or a context's deadline
** (GORO_TIMER_BRIDGE_CTX, handed to context.c), never a G's. */
void goroB_timer_fire(struct goro_rt *rt, struct goro_timer *t);
int goroB_timer_wakes(struct goro_rt *rt, struct goro_timer *t);
/* Push a new timer's channel that delivers once, at `when` (goro.after).
** May raise (out of memory). */
void goroB_tchan_push(lua_State *L, double when);

/* ---- context.c ----------------------------------------------------------- */

#define GORO_CTX_MT "goro.context"

/* The context at index i, or NULL if that slot is nil or none; anything
** else is a "bad argument" error. The slot where a blocking call takes a
** context (its last argument; runtime/HACKING.md, "Contexts"). */
struct goro_context *goroB_optctx(lua_State *L, int i);
/* The context at index i, or NULL if the value there is not one. */
struct goro_context *goroB_toctx(lua_State *L, int i);
/* Has c ended (canceled, or its deadline passed)? Ends it now if its
** deadline passed and its timer has not fired yet. */
int goroB_ctx_ended(struct goro_context *c);
/* Push nil, c's error ("context canceled" or "context deadline exceeded")
** and return 2. Requires: c ended. */
int goroB_ctx_push_err(lua_State *L, struct goro_context *c);
/* Before a G waits on c (at index i): make the channel its end closes and
** put its deadline in the heap; returns that channel's receive queue.
** May raise: call it before queuing anything. Requires: c not ended. */
struct goro_waitq *goroB_ctx_prepare(lua_State *L, int i, struct goro_context *c);
/* The runtime's hooks, through timer.c's, for a context's deadline. */
void goroB_ctx_fire(struct goro_rt *rt, struct goro_timer *t);
int goroB_ctx_wakes(struct goro_rt *rt, struct goro_timer *t);
/* Register the context type and add goro's `context` table to the module
** table on top (the runtime userdata below it). */
void goroB_open_context(lua_State *L);

/* ---- scope.c ------------------------------------------------------------- */

/* Add goro.scope to the module table on top (the runtime below it; after
** goroB_open_context). */
void goroB_open_scope(lua_State *L);

/* Add after, timer and ticker to the module table on top (the runtime
** userdata below it). */
void goroB_open_timer_funcs(lua_State *L);

/* ---- run.c --------------------------------------------------------------- */

/* Push the error of failed G b as runs report it (id and traceback). hidx
** is the index of b's handle on L (read when b never got a thread). */
void goroB_push_gerror(lua_State *L, struct bg *b, int hidx);
/* Take the G whose unwaited error stopped the run (NULL if none); its
** handle is pushed to keep it alive while the caller reads it. */
struct bg *goroB_take_failed(lua_State *L, struct goro_runtime *R);

/* run, yield, sleep and now, for the module table (upvalues: the runtime,
** the G handle metatable). */
extern const luaL_Reg goroB_run_funcs[];

/* ---- synctest.c ---------------------------------------------------------- */

/* goro.synctest's core functions, for the module table (upvalues: the
** runtime, the G handle metatable). Registers the bubble type. */
void goroB_open_synctest(lua_State *L);

/* ---- introspect.c -------------------------------------------------------- */

/* Push the dump of every G: id, status or wait reason and how long, where
** it was created, and its Lua traceback. Requires: the P. May raise
** (memory). */
void goroB_push_dump(lua_State *L, struct goro_runtime *R);
/* The same for the G's of bubble bub only (synctest's deadlock). */
void goroB_push_dump_of(lua_State *L, struct goro_runtime *R,
                        struct goro_bubble *bub);

/* stats, dump, config, m and ms, for the module table (upvalue 1: the
** runtime). */
extern const luaL_Reg goroB_introspect_funcs[];

/* ---- io.c ---------------------------------------------------------------- */

/* wait_readable and wait_writable, for the module table. */
extern const luaL_Reg goroB_io_funcs[];
/* Queue the running G b (just reset by goroB_bg_block) on pd for direction
** dir and, if x is not NULL, on the done channel of the context x (at
** index xi) beside it: a two-case select (HACKING.md, "The netpoller",
** Waits with a context). As goroR_pd_wait: 0 queued (the caller parks
** next), 1 ready now (retry the call), or an error code (errno kept for
** GORO_EIO); nothing is left queued unless it returns 0. Raises (out of
** memory) only before anything is queued. Requires: x not ended. */
int goroB_pd_block(lua_State *L, struct bg *b, struct goro_pd *pd, int dir,
                   int xi, struct goro_context *x);
/* In the continuation of a wait from goroB_pd_block, or of a plain wait
** on another queue (a conn's turn): take b's waiters off every queue and
** its timer out of the heap, and say how the wait ended: the waker's ok (1
** ready, GORO_ETIMEDOUT, GORO_ECLOSED), GORO_ETIMEDOUT if the G's own
** timer came first, or 0 if the context did. */
int goroB_pd_unblock(lua_State *L, struct bg *b);
/* Wait until fd (anyone's, blocking or not) is ready for dir or the
** context x (at index xi) ends, parking the G stackfully (for a caller
** deep in C, as goro.io's reads): 1 ready (a regular file always is), 0
** the context ended (before, or while it waited), or an error code
** (GORO_EIO with errno). Raises where the G may not park, naming fname.
** May park. */
int goroB_fd_wait_ctx(lua_State *L, int fd, int dir, int xi,
                      struct goro_context *x, const char *fname);

/* ---- sync.c -------------------------------------------------------------- */

/* Register the types of Go's sync and x/sync's semaphore (mutex, waitgroup,
** rwmutex, once, cond, semaphore; the runtime userdata on top); then add
** their constructors to the module table on top (the runtime below it). */
void goroB_open_sync(lua_State *L);
void goroB_open_sync_funcs(lua_State *L);

/* ---- coro.c, net.c, file.c ----------------------------------------------- */

/* coro.c: replace coroutine.running, resume and close with versions that
** keep Lua code from resuming or closing a G's thread. */
void goroB_open_coro(lua_State *L);
/* coro.c: mark the thread of G b, L (b->L == L), escaped: handed out, so
** never pooled, and refused by coroutine.resume and close. May raise
** (memory), with b marked already. */
void goroB_bg_escape(lua_State *L, struct bg *b);
/* net.c: add `net` (goro.net) to the module table on top (the runtime
** userdata below it). */
void goroB_open_net(lua_State *L);
/* file.c: add `io` (goro.io) to the module table on top. */
void goroB_open_file(lua_State *L);

/* ---- call.c -------------------------------------------------------------- */

/* goro_call's trampoline (the profiler names it). */
int goroB_cb_trampoline(lua_State *L);

/* ---- profile.c ----------------------------------------------------------- */

/* Record n profile samples of G gid (session sess) with L's Lua stack,
** under a "[C] <pc>" leaf if pc != 0 (a sample in a cgocall). Skips its
** own C frame; inside a count hook or a C function of L. */
void goroB_prof_record(lua_State *L, uint64_t gid, uint32_t sess, int n,
                      uintptr_t pc);

/* Start a profile if GORO_CPUPROFILE names a file (once per process; it
** is written at exit). */
void goroB_prof_env(void);

/* goro.profile's functions, for the module table. */
extern const luaL_Reg goroB_prof_funcs[];

#endif
