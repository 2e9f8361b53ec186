/*
** vm_bridge/select.c — goro.select and its cases (userdata "goro.case"):
** ch:case_recv(), ch:case_send(v) and goro.default.
**
** Split from chan.c, whose rules of moving values hold here (chan.h):
** select tries its cases with goroB_chan_try_recv and goroB_chan_try_send,
** and a select that waits puts one waiter on the queue of each case's
** channel (struct bg's sel); the case that claims the G is g->selected,
** and the G leaves every other queue when it runs again (select_k). chan.c
** registers these functions, with its upvalues (chan.h). Every operation
** runs with the P held, so nothing here needs a lock.
*/
#include <stdlib.h>

#include "../runtime/errors.h"
#include "chan.h"

enum { CASE_DEFAULT = 0, CASE_RECV = 1, CASE_SEND = 2 };

/* A case is a userdata {tag, kind, madefor} with metatable "goro.case" and
** two user values: its channel and, for a send, the value. Nothing in Lua
** can change one: select reads a case again when it wakes, and trusts what
** it reads. */
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
** user value UV_CASE) and gives it again: it is that channel's if it is a
** receive case made for it. The debug library may have swapped in any
** value, or another channel's case (whose madefor differs): then a new
** case is made. Comparing madefor costs no call; the case's own user value
** 1 need not be read here, since select checks it whenever it uses the
** case.
*/
static int make_case(lua_State *L, int kind) {
  struct sel_case *sc;
  struct chan *c = goroB_checkchan(L, 1);
  if (kind == CASE_SEND) {
    luaL_checkany(L, 2);
    if (c->istimer) return luaL_error(L, "send on a timer's channel");
    if (c->recvonly) return luaL_error(L, "send on a context's done channel");
  } else if (lua_getiuservalue(L, 1, UV_CASE) == LUA_TUSERDATA) {
    sc = lua_touserdata(L, -1);  /* (a full userdata: never NULL) */
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
    lua_setiuservalue(L, 1, UV_CASE);
  }
  return 1;
}

int goroB_case_recv(lua_State *L) { return make_case(L, CASE_RECV); }
int goroB_case_send(lua_State *L) { return make_case(L, CASE_SEND); }

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
  if (c == NULL || lua_rawlen(L, -1) < sizeof *c || c->tag != &goroB_chan_tag)
    luaL_error(L, "goro: select case %d holds no channel (debug.setuservalue)", i);
  goroR_assert(goroB_chan_ok(c));
  return c;
}

/* Push the value of send case i. */
static void case_value(lua_State *L, int i) { lua_getiuservalue(L, i, 2); }

/* A random integer in [0, m), m < 2^32: xorshift64, its high half scaled
** by a multiply (Lemire's reduction; off uniform by at most m / 2^32),
** where a % would be a 64-bit division, tens of cycles, for every draw. */
static int rng_below(struct goro_runtime *R, int m) {
  uint64_t x = R->rng;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  R->rng = x;
  return (int)(((x >> 32) * (uint64_t)m) >> 32);
}

static int select_k(lua_State *L, int status, lua_KContext ctx) {
  struct bg *b = goroB_bg_current(L);
  int i = b->w.g->selected, kind;
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
** at random among the ready ones (as Go's select, which tries its cases in
** a random order; here the cases are looked at in their order, which keeps
** the branches predictable, and the draw is among those that may be
** ready); with goro.default among the cases it never blocks. A nil case is never ready but keeps its position (Go disables a
** case by setting its channel to nil), so `a and a:case_recv()` works; the
** arguments are counted by lua_gettop, trailing nils included. With no case
** at all, or only nil ones, it blocks forever, as Go's empty select does.
*/
int goroB_select(lua_State *L) {
  struct goro_runtime *R = NULL;  /* (fetched when first needed: a call) */
  int n = lua_gettop(L), dflt = 0, nlive = 0, ncand = 0, top;
  struct sel_try {  /* a case that may be ready */
    struct chan *c;
    int i, kind, ci;  /* ci: where its channel is pushed */
  } *cand, small[16];
  struct bg *b;

  /* The candidates of a small select live on the C stack: no allocation
  ** (a larger one's are a userdata, and it makes room for its channels). */
  if (n <= (int)(sizeof small / sizeof small[0])) {
    cand = small;
  } else {
    luaL_checkstack(L, n + 4, "goro: select");
    cand = lua_newuserdatauv(L, sizeof *cand * (size_t)n, 0);
  }
  top = cand == small ? n : n + 1;  /* (what lua_gettop would say) */
  /* One pass checks every case (a bad one raises before anything is
  ** tried) and notes each live one with its kind, which stays true below:
  ** a case's kind never changes, and the debug library can change only
  ** its user values. */
  for (int i = 1; i <= n; i++) {
    const struct sel_case *sc = opt_case(L, i);
    if (sc == NULL) continue;  /* nil: never ready */
    if (sc->kind == CASE_DEFAULT) {
      if (dflt) return luaL_argerror(L, i, "more than one default case");
      dflt = i;
      continue;
    }
    cand[nlive].i = i;
    cand[nlive].kind = sc->kind;
    nlive++;
  }
  /* Then each live case's channel is pushed, and kept there (n + 3 slots
  ** at most with i, v, ok: within LUA_MINSTACK for a small select), and
  ** looked at, in the order of the arguments, so that what each test finds
  ** is what it found last time (a branch a random order would make a coin
  ** toss): a case that may be ready stays a candidate. Only a timer's
  ** channel (brought up to date when tried) and a queue of stale waiters
  ** make a candidate that is not. */
  for (int k = 0; k < nlive; k++) {
    struct chan *c = case_chan(L, cand[k].i);
    int may;
    if (cand[k].kind == CASE_RECV)
      may = c->istimer || c->count > 0 || c->sendq.head != NULL || c->closed;
    else  /* (a send that raises is ready: it raises if chosen, as in Go) */
      may = c->istimer || c->recvonly || c->closed || c->recvq.head != NULL ||
            c->count < c->cap;
    if (may) {
      cand[ncand] = cand[k];
      cand[ncand].c = c;
      cand[ncand].ci = ++top;
      ncand++;
    } else {
      top++;
    }
  }
  /* One candidate chosen uniformly at random, tried, and dropped if it
  ** was not ready after all: the one taken is uniform among the ready. */
  while (ncand > 0) {
    struct sel_try *t;
    int j = 0;
    if (ncand > 1) {
      if (R == NULL) R = goroB_R_of(L);
      j = rng_below(R, ncand);
    }
    t = &cand[j];
    lua_pushinteger(L, t->i);
    if (t->kind == CASE_RECV) {
      if (goroB_chan_try_recv(L, t->c, t->ci)) return 3;  /* i, v, ok */
    } else {
      case_value(L, t->i);
      if (goroB_chan_try_send(L, t->c, t->ci)) return 1;  /* i */
    }
    lua_settop(L, top);
    cand[j] = cand[--ncand];
  }
  if (dflt) {
    lua_pushinteger(L, dflt);
    return 1;
  }

  lua_settop(L, n);
  if (R == NULL) R = goroB_R_of(L);
  b = goroB_bg_block(L, "select");
  luaL_checkstack(L, n + 2, "goro: select");  /* send values + one given */
  for (int i = 1; i <= n; i++) {  /* a finalizer may have run since the */
    if (lua_isnil(L, i)) continue;  /* first look: from here on nothing */
    case_chan(L, i);  /* can raise half-way through (no default here) */
    lua_pop(L, 1);
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
    w->g = b->w.g;
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


void goroB_push_default(lua_State *L) {
  struct sel_case *sc = lua_newuserdatauv(L, sizeof *sc, 0);
  sc->tag = &case_tag;
  sc->kind = CASE_DEFAULT;
  sc->madefor = NULL;
  luaL_setmetatable(L, GORO_CASE_MT);
}
