/*
** vm_bridge/chan.c — channels and select (userdata "goro.chan").
**
** Go's semantics: an unbuffered channel is a rendezvous, a buffered one a
** FIFO of `cap` values; receiving from a closed and drained channel gives
** nil, false; sending on a closed channel and closing twice raise.
**
** What a channel is: chan.h. Its buffer is a table of `cap` slots made
** (filled with false) when the channel is made, so that putting a value
** never allocates. Waiting G's sit in recvq/sendq (runtime wait queues);
** each waiter names the lua_State that parked (w->data). A blocked
** sender's value stays on its own stack (at w->vidx); a receiver copies it
** from there. A sender that finds a blocked receiver pushes the value onto
** the receiver's stack, where its continuation finds it on top. Both are
** lua_pushvalue/lua_xmove within room the parked side reserved before it
** parked: they never allocate, so they never raise on a parked state.
** A timer's channel takes the same receive path, and select, but what is
** particular to it (its time, its place in the timer heap) is timer.c's.
**
** Invariants: beside struct chan, in chan.h; chan_ok checks the cheap
** ones. Every operation runs with the P held, so nothing here needs a
** lock.
*/
#include <stdlib.h>

#include "../runtime/errors.h"
#include "chan.h"

#define CHAN_MAXCAP ((lua_Integer)1 << 24)

static const char chan_tag;

/* Buffer slots: nil is kept as this sentinel (a nil would end the array). */
static char nilbox;
#define pushbox(L, idx)                                                    \
  (lua_isnil((L), (idx)) ? lua_pushlightuserdata((L), &nilbox)            \
                         : lua_pushvalue((L), (idx)))

/* Replace the boxed value on top of L with what it stands for. */
static void unbox(lua_State *L) {
  if (lua_touserdata(L, -1) == &nilbox) {
    lua_pop(L, 1);
    lua_pushnil(L);
  }
}

enum { CASE_DEFAULT = 0, CASE_RECV = 1, CASE_SEND = 2 };

/* Upvalues of every function here: the runtime, the channel metatable and
** the case metatable (comparing metatables by identity is much cheaper than
** luaL_checkudata's lookup by name). */
#define CHAN_MT_UV lua_upvalueindex(2)
#define CASE_MT_UV lua_upvalueindex(3)

/* Hand the value at vi to a parked receiver: onto its own stack. */
static void give(lua_State *L, struct goro_waiter *w, int vi) {
  lua_pushvalue(L, vi);
  lua_xmove(L, w->data, 1);
}

/* Push the value a parked sender offers. */
static void take(lua_State *L, struct goro_waiter *w) {
  lua_State *S = w->data;
  lua_pushvalue(S, w->vidx);
  lua_xmove(S, L, 1);
}

/* Before parking: room on our own stack for a value given to us, or for a
** receiver to copy ours. May raise: nothing is queued yet. */
static void reserve(lua_State *L) { luaL_checkstack(L, 2, "goro: parking"); }

/* Push c's buffer (user value 1 of the channel at ci). The debug library
** can replace it: then raise, before the operation has changed anything. */
static void push_buf(lua_State *L, int ci) {
  if (lua_getiuservalue(L, ci, 1) != LUA_TTABLE)
    luaL_error(L, "goro: a channel's buffer was replaced (debug.setuservalue)");
}

/* Put the value at vi at the tail of c's buffer (c at ci). Never raises
** (but for a buffer the debug library replaced). */
static void buf_put(lua_State *L, struct chan *c, int ci, int vi) {
  vi = lua_absindex(L, vi);
  push_buf(L, ci);
  pushbox(L, vi);
  lua_rawseti(L, -2, (c->head + c->count) % c->cap + 1);
  lua_pop(L, 1);
  c->count++;
}

/* Push the value at the head of c's buffer and drop it from there. */
static void buf_take(lua_State *L, struct chan *c, int ci) {
  lua_Integer slot = c->head + 1;
  push_buf(L, ci);
  lua_rawgeti(L, -1, slot);
  lua_pushboolean(L, 0);
  lua_rawseti(L, -3, slot);  /* let the value be collected */
  lua_replace(L, -2);        /* (the value over the buffer: cheaper than a remove) */
  unbox(L);
  c->head = (c->head + 1) % c->cap;
  c->count--;
}

/* The invariants of struct chan (chan.h) that need no walk of a queue.
** They hold between operations: at an operation's entry, and once it has
** queued its waiter or closed the channel. */
static int chan_ok(const struct chan *c) {
  return 0 <= c->count && c->count <= c->cap &&
         (c->cap == 0 ? c->head == 0 : 0 <= c->head && c->head < c->cap) &&
         (c->count == 0 || c->recvq.head == NULL) &&
         (c->count == c->cap || c->sendq.head == NULL) &&
         (!c->closed || (c->recvq.head == NULL && c->sendq.head == NULL)) &&
         (!c->istimer || (c->count == 0 && c->sendq.head == NULL));
}

/* ---- what timer.c and the rest of the bridge share ----------------------- */

struct chan *goroB_checkchan(lua_State *L, int i) {
  struct chan *c = goroB_checktag(L, i, &chan_tag, GORO_CHAN_MT);
  goroR_assert(chan_ok(c));
  return c;
}

void goroB_chan_init(lua_State *L, struct chan *c, lua_Integer cap) {
  c->tag = &chan_tag;
  c->cap = cap;
  c->count = c->head = 0;
  c->closed = 0;
  c->istimer = 0;
  c->recvonly = 0;
  c->recvq.head = c->recvq.tail = NULL;
  c->sendq.head = c->sendq.tail = NULL;
  /* made in a synctest bubble: its waiters are durably blocked there */
  c->recvq.bubble = c->sendq.bubble = goroR_bubble_id(goroB_curg());
  luaL_setmetatable(L, GORO_CHAN_MT);
}

void goroB_chan_leave(struct goro_rt *rt, struct goro_waiter *w) {
  struct goro_waitq *q = w->q;
  if (w->kind == GORO_WAITER_PD) {
    goroR_pd_leave(rt, w);
    return;
  }
  goroR_waitq_remove(w);
  if (q != NULL && w->kind == GORO_WAITER_TCHAN)
    goroB_tchan_unwatch(rt, goroB_tchan_of_recvq(q));
}

/* ---- plain channels ------------------------------------------------------ */

/* Send without blocking: 1 if done, 0 if it would block. Raises on a closed
** channel. (Inline in this file's hot paths, send, recv and select; the
** extern goroB_chan_try_send below serves chanctx.c.) */
static inline int try_send(lua_State *L, struct goro_runtime *R, struct chan *c,
                           int ci, int vi) {
  struct goro_waiter *w;
  if (c->istimer) return luaL_error(L, "send on a timer's channel");
  if (c->recvonly) return luaL_error(L, "send on a context's done channel");
  if (c->closed) return luaL_error(L, "send on closed channel");
  if ((w = goroR_waitq_claim(&c->recvq)) != NULL) {
    give(L, w, vi);
    w->ok = 1;
    goroR_ready(&R->rt, w->g, 1);
    return 1;
  }
  if (c->count < c->cap) {
    buf_put(L, c, ci, vi);
    return 1;
  }
  return 0;
}

/* Receive without blocking: pushes v, ok and returns 1, or returns 0. */
static inline int try_recv(lua_State *L, struct goro_runtime *R, struct chan *c,
                           int ci) {
  struct goro_waiter *w;
  if (c->istimer) return goroB_tchan_try_recv(L, &R->rt, (struct tchan *)c);
  if ((w = goroR_waitq_claim(&c->sendq)) != NULL) {
    if (c->cap == 0) {
      take(L, w);
    } else {  /* full buffer: take the head, the sender's value joins the tail */
      buf_take(L, c, ci);
      take(L, w);
      buf_put(L, c, ci, -1);
      lua_pop(L, 1);
    }
    w->ok = 1;
    goroR_ready(&R->rt, w->g, 1);
    lua_pushboolean(L, 1);
    return 1;
  }
  if (c->count > 0) {
    buf_take(L, c, ci);
    lua_pushboolean(L, 1);
    return 1;
  }
  if (c->closed) {
    lua_pushnil(L);
    lua_pushboolean(L, 0);
    return 1;
  }
  return 0;
}

int goroB_chan_try_send(lua_State *L, struct goro_runtime *R, struct chan *c,
                        int ci, int vi) {
  return try_send(L, R, c, ci, vi);
}

int goroB_chan_try_recv(lua_State *L, struct goro_runtime *R, struct chan *c,
                        int ci) {
  return try_recv(L, R, c, ci);
}

/* ---- goro.chan, send, recv, close ---------------------------------------- */

/* Push a new channel of capacity cap with nuv user values (2 are ours). */
static struct chan *push_chan(lua_State *L, lua_Integer cap, int nuv) {
  struct chan *c = lua_newuserdatauv(L, sizeof(struct chan), nuv);
  goroB_chan_init(L, c, cap);
  lua_createtable(L, (int)cap, 0);
  for (lua_Integer i = 1; i <= cap; i++) {
    lua_pushboolean(L, 0);
    lua_rawseti(L, -2, i);
  }
  lua_setiuservalue(L, -2, 1);
  return c;
}

static int l_chan(lua_State *L) {
  lua_Integer cap = luaL_optinteger(L, 1, 0);
  luaL_argcheck(L, cap >= 0 && cap <= CHAN_MAXCAP, 1, "capacity out of range");
  push_chan(L, cap, 2);
  return 1;
}

struct chan *goroB_chan_push_recvonly(lua_State *L, int nuv) {
  struct chan *c = push_chan(L, 0, nuv);
  c->recvonly = 1;
  return c;
}

static int send_k(lua_State *L, int status, lua_KContext ctx) {
  struct bg *b = goroB_bg_current(L);
  (void)status;
  (void)ctx;
  if (!b->w.ok) return luaL_error(L, "send on closed channel");
  return 0;
}

static int ch_send(lua_State *L) {
  struct goro_runtime *R = goroB_R_of(L);
  struct chan *c = goroB_checkchan(L, 1);
  int top = lua_gettop(L);  /* (one call where luaL_checkany took two) */
  struct bg *b;
  struct goro_context *x;
  if (top < 2) return luaL_argerror(L, 2, "value expected");
  /* Only a context counts: anything else there is ignored, as before
  ** contexts, so that ch:send(other:recv()) (v, ok) still sends v. */
  if (top >= 3 && (x = goroB_toctx(L, 3)) != NULL)
    return goroB_chan_send_ctx(L, R, c, x);
  if (try_send(L, R, c, 1, 2)) return 0;
  b = goroB_bg_block(L, "send");
  reserve(L);
  b->w.data = L;
  b->w.vidx = 2;
  goroR_waitq_push(&c->sendq, &b->w);
  goroR_assert(chan_ok(c));
  return goroB_bg_park(L, b, "send", "chan send", 0, send_k);
}

static int recv_k(lua_State *L, int status, lua_KContext ctx) {
  struct bg *b = goroB_bg_current(L);
  (void)status;
  (void)ctx;
  if (b->w.ok) {  /* the sender put the value on top of our stack */
    lua_pushboolean(L, 1);
  } else {  /* woken by close */
    lua_pushnil(L);
    lua_pushboolean(L, 0);
  }
  return 2;
}

static int ch_recv(lua_State *L) {
  struct goro_runtime *R = goroB_R_of(L);
  struct chan *c = goroB_checkchan(L, 1);
  struct bg *b;
  if (lua_gettop(L) >= 2 && !lua_isnil(L, 2))
    return goroB_chan_recv_ctx(L, c, goroB_optctx(L, 2), 0);
  if (try_recv(L, R, c, 1)) return 2;  /* v, ok: the top two, whatever lies below */
  b = goroB_bg_block(L, "recv");
  reserve(L);
  if (c->istimer) {
    if (goroB_tchan_watch(&R->rt, (struct tchan *)c) != 0)
      return goroB_tchan_nomem(L);
    b->w.kind = GORO_WAITER_TCHAN;
  }
  b->w.data = L;
  goroR_waitq_push(&c->recvq, &b->w);
  goroR_assert(chan_ok(c));
  return goroB_bg_park(L, b, "recv", "chan receive", 0, recv_k);
}

static int ch_close(lua_State *L) {
  struct goro_runtime *R = goroB_R_of(L);
  struct chan *c = goroB_checkchan(L, 1);
  if (c->istimer) return luaL_error(L, "close of a timer's channel");
  if (c->recvonly) return luaL_error(L, "close of a context's done channel");
  if (c->closed) return luaL_error(L, "close of closed channel");
  goroB_chan_close(&R->rt, c);
  return 0;
}

void goroB_chan_close(struct goro_rt *rt, struct chan *c) {
  goroR_assert(!c->closed && !c->istimer);
  c->closed = 1;
  goroR_waitq_wake_all(rt, &c->recvq, 0);  /* they get nil, false */
  goroR_waitq_wake_all(rt, &c->sendq, 0);  /* they raise */
  goroR_assert(chan_ok(c));
}

/* A timer's channel has length and capacity 0, as in Go 1.23: its time is
** not a buffered value one could count. */
static int ch_len(lua_State *L) {
  struct chan *c = goroB_checkchan(L, 1);
  lua_pushinteger(L, c->istimer ? 0 : c->count);
  return 1;
}

static int ch_cap(lua_State *L) {
  struct chan *c = goroB_checkchan(L, 1);
  lua_pushinteger(L, c->istimer ? 0 : c->cap);
  return 1;
}

static int ch_tostring(lua_State *L) {
  struct chan *c = goroB_checkchan(L, 1);
  if (c->istimer)
    lua_pushfstring(L, "goro.chan(timer, %s): %p",
                    ((struct tchan *)c)->armed ? "armed" : "stopped", (void *)c);
  else
    lua_pushfstring(L, "goro.chan(%I/%I%s): %p", c->count, c->cap,
                    c->closed ? ", closed" : "", (void *)c);
  return 1;
}

/* ---- select -------------------------------------------------------------- */

/* A case is a userdata {tag, kind} with metatable "goro.case" and two user
** values: its channel and, for a send, the value. Nothing in Lua can change
** one: select reads a case again when it wakes, and trusts what it reads. */
static const char case_tag;

struct sel_case {
  const void *tag;  /* &case_tag (goroB_checktag) */
  int kind;
  /* The channel the case was made for: only compared, never followed (it
  ** dangles if the debug library replaced user value 1 and the channel
  ** was collected). What select uses is user value 1, checked there. */
  const struct chan *madefor;
};

/*
** ch:case_recv() and ch:case_send(v). A channel keeps its receive case (its
** user value 2) and gives it again: it is that channel's if it is a receive
** case made for it. The debug library may have swapped in any value, or
** another channel's case (whose madefor differs): then a new case is made.
** Comparing madefor costs no call; the case's own user value 1 need not be
** read here, since select checks it whenever it uses the case.
*/
static int make_case(lua_State *L, int kind) {
  struct sel_case *sc;
  struct chan *c = goroB_checkchan(L, 1);
  if (kind == CASE_SEND) {
    luaL_checkany(L, 2);
    if (c->istimer) return luaL_error(L, "send on a timer's channel");
    if (c->recvonly) return luaL_error(L, "send on a context's done channel");
  } else if (lua_getiuservalue(L, 1, 2) == LUA_TUSERDATA) {  /* (never NULL) */
    sc = lua_touserdata(L, -1);
    if (lua_rawlen(L, -1) >= sizeof *sc && sc->tag == &case_tag &&
        sc->kind == CASE_RECV && sc->madefor == c)
      return 1;  /* the channel's receive case, made before */
  }
  sc = lua_newuserdatauv(L, sizeof *sc, kind == CASE_SEND ? 2 : 1);
  sc->tag = &case_tag;
  sc->kind = kind;
  sc->madefor = c;
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1);
  if (kind == CASE_SEND) {
    lua_pushvalue(L, 2);
    lua_setiuservalue(L, -2, 2);
  }
  lua_pushvalue(L, CASE_MT_UV);
  lua_setmetatable(L, -2);
  if (kind == CASE_RECV) {  /* kept: every receive case of c is the same */
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, 1, 2);
  }
  return 1;
}

static int ch_case_recv(lua_State *L) { return make_case(L, CASE_RECV); }
static int ch_case_send(lua_State *L) { return make_case(L, CASE_SEND); }

/* The kind of the case at i (a "bad argument" error if it is none). */
static int case_kind(lua_State *L, int i) {
  return ((struct sel_case *)goroB_checktag(L, i, &case_tag, "select case"))->kind;
}

/* The case at i, or NULL if it is nil (a "bad argument" error if it is
** neither): case_kind's check, with nil let through, in one lua_touserdata. */
static const struct sel_case *opt_case(lua_State *L, int i) {
  const struct sel_case *sc = lua_touserdata(L, i);
  if (sc == NULL || lua_rawlen(L, i) < sizeof *sc || sc->tag != &case_tag) {
    if (sc == NULL && lua_isnil(L, i)) return NULL;
    luaL_typeerror(L, i, "select case");
  }
  return sc;
}

/* Push the channel of case i; returns it. A case's channel is immutable
** but for the debug library, which can replace it: that raises. */
static struct chan *case_chan(lua_State *L, int i) {
  struct chan *c;
  lua_getiuservalue(L, i, 1);
  c = lua_touserdata(L, -1);
  if (c == NULL || lua_rawlen(L, -1) < sizeof *c || c->tag != &chan_tag)
    luaL_error(L, "goro: select case %d holds no channel (debug.setuservalue)", i);
  goroR_assert(chan_ok(c));
  return c;
}

/* Push the value of send case i. */
static void case_value(lua_State *L, int i) { lua_getiuservalue(L, i, 2); }

static uint64_t rng_next(struct goro_runtime *R) {
  uint64_t x = R->rng;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return R->rng = x;
}

static int select_k(lua_State *L, int status, lua_KContext ctx) {
  struct bg *b = goroB_bg_current(L);
  int i = b->g->selected, kind;
  struct goro_waiter *w = NULL;
  (void)status;
  (void)ctx;
  for (int j = 0; j < b->nsel; j++) {  /* leave every other queue */
    if (b->sel[j].index == i) w = &b->sel[j];
    goroB_chan_leave(&goroB_R_of(L)->rt, &b->sel[j]);
  }
  if (w == NULL) return luaL_error(L, "goro: select woke without a case");
  kind = case_kind(L, i);
  if (kind != CASE_RECV || !w->ok) lua_pushinteger(L, i);
  if (kind == CASE_RECV) {
    if (w->ok) {  /* the sender put the value on top of our stack */
      lua_pushinteger(L, i);
      lua_insert(L, -2);
      lua_pushboolean(L, 1);
    } else {
      lua_pushnil(L);
      lua_pushboolean(L, 0);
    }
  }
  if (!w->ok && kind == CASE_SEND) {
    free(b->sel);
    b->sel = NULL;
    b->nsel = 0;
    return luaL_error(L, "send on closed channel");
  }
  free(b->sel);
  b->sel = NULL;
  b->nsel = 0;
  return kind == CASE_RECV ? 3 : 1;
}

/*
** goro.select(case, ...) -> i, v, ok. Takes one ready case, chosen uniformly
** at random among the ready ones; with goro.default among the cases it never
** blocks. A nil case is never ready but keeps its position (Go disables a
** case by setting its channel to nil), so `a and a:case_recv()` works; the
** arguments are counted by lua_gettop, trailing nils included. With no case
** at all, or only nil ones, it blocks forever, as Go's empty select does.
*/
static int l_select(lua_State *L) {
  struct goro_runtime *R = goroB_R_of(L);
  int n = lua_gettop(L), dflt = 0, nord = 0, nlive = 0, top;
  struct sel_try {  /* a case to try: its index and kind */
    int i, kind;
  } *order, small[16];
  struct bg *b;

  /* The order of a small select lives on the C stack: no allocation,
  ** nothing pushed (the cases are found by index, the top kept in top). */
  order = n <= (int)(sizeof small / sizeof small[0])
              ? small
              : lua_newuserdatauv(L, sizeof *order * (size_t)n, 0);
  /* One pass checks every case (a bad one raises before anything is
  ** tried) and draws a random order of the live ones: Fisher-Yates, inside
  ** out. A kind noted here stays true below: a case's kind never changes,
  ** and the debug library can change only its user values. */
  for (int i = 1; i <= n; i++) {
    const struct sel_case *sc = opt_case(L, i);
    int j;
    if (sc == NULL) continue;  /* nil: never ready */
    if (sc->kind == CASE_DEFAULT) {
      if (dflt) return luaL_argerror(L, i, "more than one default case");
      dflt = i;
      continue;
    }
    j = (int)(rng_next(R) % (uint64_t)(nord + 1));
    order[nord] = order[j];
    order[j].i = i;
    order[j].kind = sc->kind;
    nord++;
  }
  top = lua_gettop(L);
  for (int k = 0; k < nord; k++) {  /* each pushes its channel at top + 1 */
    int i = order[k].i;
    struct chan *c = case_chan(L, i);
    if (order[k].kind == CASE_RECV) {
      lua_pushinteger(L, i);  /* (under v, ok if they come) */
      if (try_recv(L, R, c, top + 1)) return 3;
    } else {
      case_value(L, i);
      if (try_send(L, R, c, top + 1, -1)) {
        lua_pushinteger(L, i);
        return 1;
      }
    }
    lua_settop(L, top);
  }
  if (dflt) {
    lua_pushinteger(L, dflt);
    return 1;
  }

  lua_settop(L, n);
  b = goroB_bg_block(L, "select");
  luaL_checkstack(L, n + 2, "goro: select");  /* send values + one given */
  for (int i = 1; i <= n; i++) {  /* a finalizer may have run since the */
    if (lua_isnil(L, i)) continue;  /* first look: from here on nothing */
    case_chan(L, i);  /* can raise half-way through (no default here) */
    lua_pop(L, 1);
    nlive++;
  }
  b->sel = calloc((size_t)(nlive > 0 ? nlive : 1), sizeof *b->sel);
  if (b->sel == NULL) return luaL_error(L, "select: %s", goro_strerror(GORO_ENOMEM));
  for (int i = 1; i <= n; i++) {  /* timers the heap must watch: may fail */
    struct chan *c;
    if (lua_isnil(L, i) || case_kind(L, i) != CASE_RECV) continue;
    c = case_chan(L, i);
    lua_pop(L, 1);
    if (c->istimer && goroB_tchan_watch(&R->rt, (struct tchan *)c) != 0) {
      while (--i >= 1) {  /* undo: nothing queued yet */
        if (lua_isnil(L, i) || case_kind(L, i) != CASE_RECV) continue;
        c = case_chan(L, i);
        lua_pop(L, 1);
        if (c->istimer) goroB_tchan_unwatch(&R->rt, (struct tchan *)c);
      }
      free(b->sel);
      b->sel = NULL;
      return goroB_tchan_nomem(L);
    }
  }
  for (int i = 1; i <= n; i++) {
    struct goro_waiter *w;
    struct chan *c;
    int kind;
    if (lua_isnil(L, i)) continue;  /* never ready: no queue to wait in */
    w = &b->sel[b->nsel++];
    kind = case_kind(L, i);
    w->g = b->g;
    w->index = i;
    w->data = L;
    c = case_chan(L, i);
    lua_pop(L, 1);
    if (kind == CASE_RECV) {
      if (c->istimer) w->kind = GORO_WAITER_TCHAN;
      goroR_waitq_push(&c->recvq, w);
    } else {  /* our value waits on our stack */
      case_value(L, i);
      w->vidx = lua_gettop(L);
      goroR_waitq_push(&c->sendq, w);
    }
  }
  return goroB_bg_park(L, b, "select", nlive > 0 ? "select" : "select (no cases)", 0,
                       select_k);
}

/* ---- registration -------------------------------------------------------- */

static const luaL_Reg chan_methods[] = {
    {"send", ch_send},
    {"recv", ch_recv},
    {"close", ch_close},
    {"cap", ch_cap},
    {"case_recv", ch_case_recv},
    {"case_send", ch_case_send},
    {"__len", ch_len},
    {"__tostring", ch_tostring},
    {NULL, NULL},
};

static const luaL_Reg chan_funcs[] = {
    {"chan", l_chan},
    {"select", l_select},
    {NULL, NULL},
};

/* Push the upvalues every function here gets (runtime at index r). */
static void push_upvalues(lua_State *L, int r) {
  lua_pushvalue(L, r);
  luaL_newmetatable(L, GORO_CHAN_MT);
  luaL_newmetatable(L, GORO_CASE_MT);
}

/* Expects the runtime userdata on top. */
void goroB_open_chan(lua_State *L) {
  int r = lua_gettop(L);
  luaL_newmetatable(L, GORO_CHAN_MT);
  push_upvalues(L, r);
  luaL_setfuncs(L, chan_methods, 3);
  lua_pushvalue(L, -1);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}

/* Add chan and select to the module table on top (the runtime below it). */
void goroB_open_chan_funcs(lua_State *L) {
  push_upvalues(L, lua_gettop(L) - 1);
  luaL_setfuncs(L, chan_funcs, 3);
}

void goroB_push_default(lua_State *L) {
  struct sel_case *sc = lua_newuserdatauv(L, sizeof *sc, 0);
  sc->tag = &case_tag;
  sc->kind = CASE_DEFAULT;
  sc->madefor = NULL;
  luaL_setmetatable(L, GORO_CASE_MT);
}
