/*
** vm_bridge/context.c — contexts (userdata "goro.context"), Go's context
** package for Lua: goro.context.background(), with_cancel,
** with_cancel_cause, with_deadline, with_timeout, with_value, cause; and
** ctx:done(), ctx:err(), ctx:deadline(), ctx:value(k). Blocking calls
** take a context as their last argument and wait on its done channel
** beside their own queue (goroB_ctx_prepare, goroB_bg_block_ctx).
**
** What a context is (runtime/HACKING.md, "Contexts"): a node of a tree.
** A cancel node (background, with_cancel, with_deadline) can end; a value
** node (with_value) ends when its nearest cancel ancestor does (c->cn).
** A cancel node that can end is registered with the nearest cancel
** ancestor that can (the intrusive child list), so that ending a node
** ends its whole subtree in one walk, without Lua and without allocating
** (it runs from the timer hook too); an ended node leaves its parent's
** list, so a long-lived parent keeps only its live children, and the
** __gc of a node nobody holds leaves it too. A child anchors its parent
** (user value 1); the parent holds its children by C pointers only.
**
** The done channel is made on first need (ctx:done(), a blocking call),
** a goro channel that only its context may close (chan.h, recvonly). It
** anchors its context (its user value 3), so a G that waits on the
** channel alone keeps the context, and with it the deadline, alive.
**
** Every operation runs with the P held, so nothing here needs a lock.
*/
#include <math.h>
#include <string.h>

#include "../runtime/errors.h"
#include "chan.h"

/* State of a cancel node: who may change it. ACTIVE: whoever ends it (a
** cancel function, its deadline's timer, an ancestor's end) with the P;
** CANCELED and DEADLINE are final. */
enum { CTX_ACTIVE = 0, CTX_CANCELED, CTX_DEADLINE };

enum { CTX_BACKGROUND, CTX_CANCEL, CTX_VALUE };

/* User values of a context. */
enum { UV_PARENT = 1, UV_DONE = 2, UV_CAUSE = 3, UV_KEY = 3, UV_VALUE = 4,
       UV_DLCAUSE = 4 /* a cancel node's: its deadline's cause */ };

/*
** A context. Value nodes use tag, R, cn, kind, and their user values only.
** Invariants (ctx_ok):
**   - cn == self for background and cancel nodes; a value node's cn is
**     the cn of its parent (immutable).
**   - A node is on a parent's child list (parent != NULL) only while
**     ACTIVE, and that parent is ACTIVE and not the background.
**   - t is in the heap only while the node is ACTIVE and has its own
**     deadline (hastimer); a node whose end comes from its parent's
**     deadline has no timer of its own.
**   - done, once made, is closed iff the node is not ACTIVE.
**   - origin is set once the node ended: the node (itself or an ancestor)
**     whose cancel or deadline ended it; it holds the cause.
*/
struct goro_context {
  const void *tag;            /* &ctx_tag (goroB_checktag) */
  struct goro_runtime *R;     /* immutable */
  struct goro_context *cn;        /* immutable: the node whose end is ours */
  struct goro_context *parent;    /* P: the node whose child list we are on */
  struct goro_context *child;     /* P: our first registered child */
  struct goro_context *prev, *next; /* P: siblings on the parent's list */
  struct goro_context *origin;    /* P: once ended, who ended us */
  struct chan *done;          /* P: user value 2 once made, else NULL */
  double deadline;            /* immutable: HUGE_VAL if none */
  int state;                  /* P: CTX_* above */
  int kind;                   /* immutable */
  int hastimer;               /* immutable: t is our own deadline's */
  struct goro_timer t;        /* P: in the heap while ACTIVE (hastimer) */
};

static const char ctx_tag;

/* Upvalue 2 of the goro.context functions: the context metatable (cheaper
** than luaL_setmetatable's lookup by name). */
#define CTX_MT_UV lua_upvalueindex(2)
static char bg_key;  /* registry: the universe's background context */

#define checkctx(L, i) ((struct goro_context *)goroB_checktag(L, i, &ctx_tag, GORO_CTX_MT))

static const char *const errtext[] = {NULL, "context canceled",
                                      "context deadline exceeded"};

static int ctx_ok(const struct goro_context *c) {
  if (c->kind == CTX_VALUE) return c->cn != c && c->cn->kind != CTX_VALUE;
  return c->cn == c &&
         (c->parent == NULL ||
          (c->state == CTX_ACTIVE && c->parent->state == CTX_ACTIVE &&
           c->parent->kind != CTX_BACKGROUND)) &&
         (c->t.heapidx < 0 || (c->state == CTX_ACTIVE && c->hastimer)) &&
         (c->done == NULL || !c->done->closed == (c->state == CTX_ACTIVE)) &&
         ((c->origin != NULL) == (c->state != CTX_ACTIVE));
}

/* ---- the tree ------------------------------------------------------------ */

static void link_child(struct goro_context *p, struct goro_context *c) {
  c->parent = p;
  c->prev = NULL;
  c->next = p->child;
  if (p->child != NULL) p->child->prev = c;
  p->child = c;
}

static void unlink_child(struct goro_context *c) {
  struct goro_context *p = c->parent;
  if (p == NULL) return;
  if (c->prev != NULL) c->prev->next = c->next;
  else p->child = c->next;
  if (c->next != NULL) c->next->prev = c->prev;
  c->parent = c->prev = c->next = NULL;
}

/* End one node: final state, no timer, its done channel closed (its
** waiters readied). Never raises, never allocates. */
static void end_one(struct goro_rt *rt, struct goro_context *n, int why,
                    struct goro_context *origin) {
  n->state = why;
  n->origin = origin;
  if (n->t.heapidx >= 0) goroR_timer_stop(rt, &n->t);
  if (n->done != NULL) goroB_chan_close(rt, n->done);
}

/*
** End c and its whole registered subtree, for reason why (CTX_CANCELED or
** CTX_DEADLINE). Iterative, so that a deep chain cannot overflow the C
** stack: a node is ended when the walk first reaches it, then its
** children are taken off its list one by one and walked; a node keeps its
** parent pointer until the walk climbs back from it. Requires: the P; c
** ACTIVE. Never raises.
*/
static void end_tree(struct goro_rt *rt, struct goro_context *c, int why) {
  struct goro_context *n = c;
  goroR_assert(c->state == CTX_ACTIVE && c->kind == CTX_CANCEL);
  unlink_child(c);
  end_one(rt, c, why, c);
  for (;;) {
    struct goro_context *k = n->child;
    if (k != NULL) {
      n->child = k->next;
      if (k->next != NULL) k->next->prev = NULL;
      k->prev = k->next = NULL;  /* k->parent stays: the way back */
      end_one(rt, k, why, c);
      n = k;
      continue;
    }
    if (n == c) break;
    k = n->parent;
    n->parent = NULL;
    n = k;
  }
  goroR_assert(ctx_ok(c));
}

/* A deadline that has come ends its node now, even if its timer has not
** fired yet (the G asking has not let the scheduler run); a timer a run's
** end dropped goes back in the heap. For c and every registered ancestor:
** a child's deadline may be its parent's. Requires: the P. */
static void sync_deadlines(struct goro_rt *rt, struct goro_context *c) {
  double now = -1;
  for (struct goro_context *x = c; x != NULL; x = x->parent) {
    if (!x->hastimer || x->state != CTX_ACTIVE) continue;
    if (now < 0) now = goroR_timer_now(rt, &x->t);
    if (now >= x->deadline) {
      end_tree(rt, x, CTX_DEADLINE);
      return;  /* (c has ended with it) */
    }
    if (x->t.heapidx < 0) goroR_timer_start(rt, &x->t, x->deadline);
  }
}

void goroB_ctx_fire(struct goro_rt *rt, struct goro_timer *t) {
  struct goro_context *c =
      (struct goro_context *)(void *)((char *)t - offsetof(struct goro_context, t));
  goroR_assert(c->tag == &ctx_tag && c->hastimer);
  if (c->state == CTX_ACTIVE) end_tree(rt, c, CTX_DEADLINE);
}

/* Does a G wait on the done channel of c or of a node under it? Then its
** deadline can still wake someone: no deadlock yet. */
int goroB_ctx_wakes(struct goro_rt *rt, struct goro_timer *t) {
  struct goro_context *c =
      (struct goro_context *)(void *)((char *)t - offsetof(struct goro_context, t));
  struct goro_context *n = c;
  (void)rt;
  for (;;) {
    if (n->done != NULL && goroR_waitq_live(&n->done->recvq)) return 1;
    if (n->child != NULL) {
      n = n->child;
      continue;
    }
    while (n != c && n->next == NULL) n = n->parent;
    if (n == c) return 0;
    n = n->next;
  }
}

/* ---- what blocking calls use --------------------------------------------- */

struct goro_context *goroB_optctx(lua_State *L, int i) {
  if (lua_isnoneornil(L, i)) return NULL;
  return checkctx(L, i);
}

struct goro_context *goroB_toctx(lua_State *L, int i) {
  struct goro_context *c = lua_touserdata(L, i);
  if (c == NULL || lua_rawlen(L, i) < sizeof *c || c->tag != &ctx_tag) return NULL;
  return c;
}

/* (A node's deadline is no later than any of its ancestors': with none,
** no timer of theirs can be due, and there is nothing to bring up to date.) */
int goroB_ctx_ended(struct goro_context *c) {
  struct goro_context *n = c->cn;
  if (n->state == CTX_ACTIVE && n->deadline != HUGE_VAL)
    sync_deadlines(&n->R->rt, n);
  return n->state != CTX_ACTIVE;
}

int goroB_ctx_push_err(lua_State *L, struct goro_context *c) {
  goroR_assert(c->cn->state != CTX_ACTIVE);
  lua_pushnil(L);
  lua_pushstring(L, errtext[c->cn->state]);
  return 2;
}

/* Push the userdata of c's cn (c at i): c itself, or the first cancel
** node up its parent chain. */
static void push_cn(lua_State *L, int i) {
  lua_pushvalue(L, i);
  while (((struct goro_context *)lua_touserdata(L, -1))->kind == CTX_VALUE) {
    lua_getiuservalue(L, -1, UV_PARENT);
    lua_remove(L, -2);
  }
}

/* c's done channel (c at i), made if need be: closed already if c ended.
** Leaves nothing on the stack. May raise (out of memory). */
static struct chan *done_of(lua_State *L, int i, struct goro_context *c) {
  struct goro_context *n = c->cn;
  if (n->done == NULL) {
    struct chan *ch;
    push_cn(L, i);
    ch = goroB_chan_push_recvonly(L, 3);
    lua_pushvalue(L, -2);
    lua_setiuservalue(L, -2, 3);  /* the channel anchors its context */
    if (n->state != CTX_ACTIVE) ch->closed = 1;
    /* (the context's bubble's, whoever makes it: HACKING.md, "Virtual time") */
    ch->recvq.bubble = n->t.bubbled ? goroR_bubble_running(&n->R->rt) : 0;
    lua_setiuservalue(L, -2, UV_DONE);
    lua_pop(L, 1);
    n->done = ch;
  }
  return n->done;
}

struct goro_waitq *goroB_ctx_prepare(lua_State *L, int i, struct goro_context *c) {
  struct chan *ch = done_of(L, i, c);
  goroR_assert(c->cn->state == CTX_ACTIVE);
  return &ch->recvq;
}

/* ---- making contexts ----------------------------------------------------- */

/* Push a new node of `kind` under the context at 1; returns it. */
static struct goro_context *newctx(lua_State *L, int kind) {
  struct goro_context *p = checkctx(L, 1), *c;
  c = lua_newuserdatauv(L, sizeof *c, 4);
  memset(c, 0, sizeof *c);
  c->tag = &ctx_tag;
  c->R = p->R;
  c->kind = kind;
  c->t.heapidx = -1;
  c->t.kind = GORO_TIMER_BRIDGE_CTX;
  c->t.bubbled = goroR_bubble_id(goroB_curg()) != 0;  /* its clock */
  c->deadline = p->cn->deadline;
  c->cn = kind == CTX_VALUE ? p->cn : c;
  lua_pushvalue(L, CTX_MT_UV);
  lua_setmetatable(L, -2);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, UV_PARENT);
  return c;
}

/* Register the new cancel node c under its parent's cn, or end it at
** once if that has ended. */
static void attach(struct goro_context *c, struct goro_context *p) {
  struct goro_context *pn = p->cn;
  if (pn->state == CTX_ACTIVE) sync_deadlines(&c->R->rt, pn);
  if (pn->state != CTX_ACTIVE) {
    c->state = pn->state;
    c->origin = pn->origin;
  } else if (pn->kind != CTX_BACKGROUND) {
    link_child(pn, c);
  }
}

static int cancel_fn(lua_State *L);

/* Push the cancel function of the context on top (withcause: it takes a
** cause). */
static void push_cancel(lua_State *L, int withcause) {
  lua_pushvalue(L, -1);
  lua_pushboolean(L, withcause);
  lua_pushcclosure(L, cancel_fn, 2);
}

/* The cancel function: end the context (and every context under it) as
** canceled, with its cause if it takes one; once it ended, a no-op. */
static int cancel_fn(lua_State *L) {
  struct goro_context *c = lua_touserdata(L, lua_upvalueindex(1));
  if (c->state != CTX_ACTIVE) return 0;
  if (lua_toboolean(L, lua_upvalueindex(2)) && !lua_isnoneornil(L, 1)) {
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, lua_upvalueindex(1), UV_CAUSE);
  }
  end_tree(&c->R->rt, c, CTX_CANCELED);
  return 0;
}

static int l_background(lua_State *L) {
  struct goro_runtime *R = goroB_R_of(L);
  struct goro_context *c;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &bg_key) != LUA_TNIL) return 1;
  lua_pop(L, 1);
  c = lua_newuserdatauv(L, sizeof *c, 4);
  memset(c, 0, sizeof *c);
  c->tag = &ctx_tag;
  c->R = R;
  c->kind = CTX_BACKGROUND;
  c->cn = c;
  c->t.heapidx = -1;
  c->t.kind = GORO_TIMER_BRIDGE_CTX;
  c->deadline = HUGE_VAL;
  luaL_setmetatable(L, GORO_CTX_MT);
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &bg_key);
  return 1;
}

static int with_cancel(lua_State *L, int withcause) {
  struct goro_context *c = newctx(L, CTX_CANCEL);
  attach(c, lua_touserdata(L, 1));
  push_cancel(L, withcause);
  goroR_assert(ctx_ok(c));
  return 2;
}

static int l_with_cancel(lua_State *L) { return with_cancel(L, 0); }
static int l_with_cancel_cause(lua_State *L) { return with_cancel(L, 1); }

/* with_deadline(parent, t): t in goro.now()'s seconds. A deadline no
** earlier than the parent's costs no timer: the parent's end is ours.
** withcause: argument 3 is what cause() says if the deadline ends it. */
static int with_deadline(lua_State *L, double when, int withcause) {
  struct goro_context *c;
  lua_settop(L, 3);
  c = newctx(L, CTX_CANCEL);
  if (withcause) {
    lua_pushvalue(L, 3);
    lua_setiuservalue(L, -2, UV_DLCAUSE);
  }
  attach(c, lua_touserdata(L, 1));
  if (when < c->deadline) {
    c->deadline = when;
    if (c->state == CTX_ACTIVE) {
      c->hastimer = 1;
      if (goroR_timer_now(&c->R->rt, &c->t) >= when) {
        end_tree(&c->R->rt, c, CTX_DEADLINE);
      } else if (goroR_timer_start(&c->R->rt, &c->t, when) != 0) {
        unlink_child(c);
        c->hastimer = 0;
        return luaL_error(L, "goro: %s (context deadline)",
                          goro_strerror(GORO_ENOMEM));
      }
    }
  }
  push_cancel(L, 0);
  goroR_assert(ctx_ok(c));
  return 2;
}

static int deadline_arg(lua_State *L, int withcause) {
  double t = (double)luaL_checknumber(L, 2);
  checkctx(L, 1);
  luaL_argcheck(L, t == t, 2, "deadline is NaN");
  return with_deadline(L, t, withcause);
}

static int timeout_arg(lua_State *L, int withcause) {
  double s = (double)luaL_checknumber(L, 2);
  checkctx(L, 1);
  return with_deadline(L, goroR_g_now(goroB_curg()) + (s > 0 ? s : 0), withcause);
}

static int l_with_deadline(lua_State *L) { return deadline_arg(L, 0); }
static int l_with_timeout(lua_State *L) { return timeout_arg(L, 0); }
static int l_with_deadline_cause(lua_State *L) { return deadline_arg(L, 1); }
static int l_with_timeout_cause(lua_State *L) { return timeout_arg(L, 1); }

static int l_with_value(lua_State *L) {
  luaL_argcheck(L, !lua_isnoneornil(L, 2), 2, "key is nil");
  luaL_checkany(L, 3);
  lua_settop(L, 3);
  newctx(L, CTX_VALUE);
  lua_pushvalue(L, 2);
  lua_setiuservalue(L, -2, UV_KEY);
  lua_pushvalue(L, 3);
  lua_setiuservalue(L, -2, UV_VALUE);
  return 1;
}

/* goro.context.cause(ctx): nil while ctx lives; once it ended, the cause
** given to the cancel that ended it (with_cancel_cause's), or to the
** with_*_cause whose deadline ended it; else its err. */
static int l_cause(lua_State *L) {
  struct goro_context *c = checkctx(L, 1), *o;
  if (!goroB_ctx_ended(c)) return 0;
  o = c->cn->origin;
  lua_pushvalue(L, 1);
  while (lua_touserdata(L, -1) != (void *)o) {  /* o is c or an ancestor */
    if (lua_getiuservalue(L, -1, UV_PARENT) != LUA_TUSERDATA)
      return luaL_error(L, "goro: context chain broken (debug.setuservalue)");
    lua_remove(L, -2);
  }
  if (lua_getiuservalue(L, -1, c->cn->state == CTX_DEADLINE ? UV_DLCAUSE
                                                             : UV_CAUSE) == LUA_TNIL) {
    lua_pushstring(L, errtext[c->cn->state]);
  }
  return 1;
}

/* ---- methods ------------------------------------------------------------- */

static int ctx_done(lua_State *L) {
  struct goro_context *c = checkctx(L, 1);
  goroB_ctx_ended(c);  /* (a passed deadline closes the channel now) */
  done_of(L, 1, c);
  push_cn(L, 1);
  lua_getiuservalue(L, -1, UV_DONE);
  return 1;
}

static int ctx_err(lua_State *L) {
  struct goro_context *c = checkctx(L, 1);
  if (!goroB_ctx_ended(c)) {
    lua_pushnil(L);
    return 1;
  }
  lua_pushstring(L, errtext[c->cn->state]);
  return 1;
}

static int ctx_deadline(lua_State *L) {
  struct goro_context *c = checkctx(L, 1);
  if (c->cn->deadline == HUGE_VAL) return 0;
  lua_pushnumber(L, (lua_Number)c->cn->deadline);
  return 1;
}

/* ctx:value(k): the value of the nearest with_value up the chain whose
** key is k (raw equality), or nil. */
static int ctx_value(lua_State *L) {
  checkctx(L, 1);
  lua_settop(L, 2);
  lua_pushvalue(L, 1);
  for (;;) {
    struct goro_context *c = lua_touserdata(L, -1);
    if (c == NULL || c->tag != &ctx_tag) return 0;  /* (debug library) */
    if (c->kind == CTX_VALUE) {
      lua_getiuservalue(L, -1, UV_KEY);
      if (lua_rawequal(L, -1, 2)) {
        lua_getiuservalue(L, -2, UV_VALUE);
        return 1;
      }
      lua_pop(L, 1);
    }
    if (c->kind == CTX_BACKGROUND) return 0;
    lua_getiuservalue(L, -1, UV_PARENT);
    lua_remove(L, -2);
  }
}

static int ctx_tostring(lua_State *L) {
  struct goro_context *c = checkctx(L, 1);
  static const char *const kinds[] = {"background", "cancel", "value"};
  const char *st = c->cn->state == CTX_ACTIVE ? "active" : errtext[c->cn->state] + 8;
  lua_pushfstring(L, "goro.context(%s, %s): %p", kinds[c->kind], st, (void *)c);
  return 1;
}

/* A node nobody holds any more leaves the tree: off its parent's list,
** its children unregistered (they are unreachable too: each anchors its
** parent), its timer out of the heap. */
static int ctx_gc(lua_State *L) {
  struct goro_context *c = lua_touserdata(L, 1);
  if (c == NULL || c->tag != &ctx_tag || c->R->closed == GORO_RT_FINALIZED)
    return 0;
  if (c->t.heapidx >= 0) goroR_timer_stop(&c->R->rt, &c->t);
  unlink_child(c);
  while (c->child != NULL) unlink_child(c->child);
  return 0;
}

/* ---- registration -------------------------------------------------------- */

static const luaL_Reg ctx_methods[] = {
    {"done", ctx_done},
    {"err", ctx_err},
    {"deadline", ctx_deadline},
    {"value", ctx_value},
    {NULL, NULL},
};

static const luaL_Reg ctx_funcs[] = {
    {"background", l_background},
    {"with_cancel", l_with_cancel},
    {"with_cancel_cause", l_with_cancel_cause},
    {"with_deadline", l_with_deadline},
    {"with_timeout", l_with_timeout},
    {"with_deadline_cause", l_with_deadline_cause},
    {"with_timeout_cause", l_with_timeout_cause},
    {"with_value", l_with_value},
    {"cause", l_cause},
    {NULL, NULL},
};

void goroB_open_context(lua_State *L) {
  int r = lua_gettop(L) - 1;
  luaL_newmetatable(L, GORO_CTX_MT);
  lua_newtable(L);
  lua_pushvalue(L, r);
  luaL_setfuncs(L, ctx_methods, 1);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, ctx_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushcfunction(L, ctx_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  lua_createtable(L, 0, 10);
  lua_pushvalue(L, r);
  luaL_getmetatable(L, GORO_CTX_MT);
  luaL_setfuncs(L, ctx_funcs, 2);
  lua_pushstring(L, errtext[CTX_CANCELED]);
  lua_setfield(L, -2, "canceled");
  lua_pushstring(L, errtext[CTX_DEADLINE]);
  lua_setfield(L, -2, "deadline_exceeded");
  lua_setfield(L, -2, "context");
}
