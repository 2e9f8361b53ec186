/*
** vm_bridge/scope.c — goro.scope: structured concurrency (runtime/HACKING.md,
** "Scopes").
**
**   local s <close> = goro.scope(ctx)
**   s:go(f, ...)   -- a G of the scope; s.ctx is the scope's own context
**   local ok, err = s:wait()
**
** Leaving the block (normally, by an error, by break or return) waits for
** every G started through s, so none outlives it. The first error raised
** in one of them cancels s.ctx (with that error as its cause); every
** error is kept, in order, in one goro.errors value (err[1], err[2], ...;
** tostring joins them by newlines). s:limit(n) lets at most n of the
** scope's G's run at once: s:go waits for a free place. Leaving the block
** by an error first cancels s.ctx (its cause: that error), then waits;
** that error goes on. Leaving it normally when a G failed and nobody
** called s:wait() raises the goro.errors value.
**
** What a scope is: a table {ctx = s.ctx, _where = "file:line"} with the
** metatable "goro.scope", and its state, a struct scope, in the table
** under a private key. A G of the scope runs `run` (below): f under a
** protected call, then the scope's bookkeeping, all in C: a scope's G
** costs about what a plain goro.go does (bench/sched.lua, scope).
** Every field of struct scope is read and written with the P held.
*/
#include <string.h>

#include "sync.h"

static const char scope_tag;
static char state_key;  /* the scope table's key of its struct scope */

/* Upvalues of every function here (goroB_open_scope). */
#define G_MT_UV lua_upvalueindex(2)  /* (goroB_bg_new reads it there) */
#define SCOPE_MT_UV lua_upvalueindex(3)
#define WITH_CANCEL_UV lua_upvalueindex(4)  /* goro.context.with_cancel_cause */
#define BACKGROUND_UV lua_upvalueindex(5)   /* goro.context.background */
#define ERRORS_MT_UV lua_upvalueindex(6)    /* "goro.errors" */

/* The state's user values. */
enum { UV_CANCEL = 1, UV_ERRS, NUV = UV_ERRS };

/*
** Invariants: 0 <= inplace <= limit when limit > 0, else inplace == 0;
** endq holds no live waiter while running == 0; placeq holds none while
** a place is free. Once open is 0 it stays 0 and s:go raises.
*/
struct scope {
  const void *tag;          /* &scope_tag */
  lua_Integer running;      /* G's started by s:go that have not ended */
  lua_Integer limit;        /* s:limit(n): places, or 0 for no limit */
  lua_Integer inplace;      /* places taken (by running G's, and by an s:go
                               handed a place that has not resumed yet) */
  lua_Integer nerrs;        /* errors kept in user value UV_ERRS */
  int open;                 /* s:go may start G's; 0 once wait ended it */
  int waited;               /* its errors were reported (wait, __close) */
  struct goro_waitq endq;   /* G's in wait or __close, until running is 0 */
  struct goro_waitq placeq; /* G's in s:go waiting for a place (FIFO) */
};

/* The state of the scope table at i, pushed, or NULL (with nil or what
** the table holds there pushed) if it has none. */
static struct scope *push_state(lua_State *L, int i) {
  struct scope *s;
  lua_rawgetp(L, i, &state_key);
  s = lua_touserdata(L, -1);
  if (s != NULL && (lua_rawlen(L, -1) != sizeof *s || s->tag != &scope_tag))
    s = NULL;
  return s;
}

/* The state of the scope table at i, or an error naming fname. Pushes
** nothing. */
static struct scope *checkscope(lua_State *L, int i, const char *fname) {
  struct scope *s = NULL;
  if (lua_type(L, i) == LUA_TTABLE) {
    s = push_state(L, i);
    lua_pop(L, 1);  /* (the table keeps it) */
  }
  if (s == NULL)
    luaL_error(L, "bad argument #1 to '%s' (goro.scope expected, got %s)", fname,
               luaL_typename(L, i));
  return s;
}

/* Cancel the scope at i's context, with the value at cause (0: none). */
static void cancel(lua_State *L, int i, int cause) {
  push_state(L, i);
  lua_getiuservalue(L, -1, UV_CANCEL);
  lua_remove(L, -2);
  if (cause != 0)
    lua_pushvalue(L, cause);
  else
    lua_pushnil(L);
  lua_call(L, 1, 0);
}

/* ---- goro.scope ---------------------------------------------------------- */

static int l_scope(lua_State *L) {
  struct scope *s;
  lua_Debug ar;
  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    lua_pushvalue(L, BACKGROUND_UV);
    lua_call(L, 0, 1);
  } else if (goroB_toctx(L, 1) == NULL) {
    return luaL_typeerror(L, 1, GORO_CTX_MT);
  }
  lua_settop(L, 1);
  lua_pushvalue(L, WITH_CANCEL_UV);
  lua_insert(L, 1);
  lua_call(L, 1, 2);  /* 1: ctx, 2: its cancel */
  lua_createtable(L, 0, 3);  /* 3: the scope */
  lua_pushvalue(L, 1);
  lua_setfield(L, 3, "ctx");
  if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "Sl", &ar)) {  /* for goro.dump */
    lua_pushfstring(L, "%s:%d", ar.short_src, ar.currentline);
    lua_setfield(L, 3, "_where");
  }
  s = lua_newuserdatauv(L, sizeof *s, NUV);
  memset(s, 0, sizeof *s);
  s->tag = &scope_tag;
  s->open = 1;
  /* made in a synctest bubble: its waits are durable there (as a waitgroup's) */
  s->endq.bubble = s->placeq.bubble = goroR_bubble_id(goroB_curg());
  lua_pushvalue(L, 2);
  lua_setiuservalue(L, -2, UV_CANCEL);
  lua_newtable(L);
  lua_setiuservalue(L, -2, UV_ERRS);
  lua_rawsetp(L, 3, &state_key);
  lua_pushvalue(L, SCOPE_MT_UV);
  lua_setmetatable(L, 3);
  return 1;
}

/* ---- a G of the scope ---------------------------------------------------- */

/* Hand the place of an ended G to the first s:go waiting for one, or free
** it. */
static void release_place(struct goro_runtime *R, struct scope *s) {
  if (s->limit == 0) return;
  if (!goroB_sync_grant_first(R, &s->placeq)) s->inplace--;
}

/* After f: keep its error (the first cancels s.ctx), then the G has
** ended for the scope. Stack: 1 the scope, then f's results, or its error
** at 2. Returns f's results, or none after an error (g:wait() gives
** true: the error is the scope's). */
static int run_k(lua_State *L, int status, lua_KContext kc) {
  struct goro_runtime *R = goroB_R_of(L);
  struct scope *s;
  int nres;
  (void)kc;
  if ((s = push_state(L, 1)) == NULL)
    return luaL_error(L, "goro.scope: a scope's state was removed from its table");
  if (status != LUA_OK && status != LUA_YIELD) {
    lua_settop(L, 3);  /* 2: the error, 3: the state */
    lua_getiuservalue(L, 3, UV_ERRS);
    lua_pushvalue(L, 2);
    lua_rawseti(L, -2, ++s->nerrs);
    if (s->nerrs == 1) cancel(L, 1, 2);
    lua_settop(L, 3);
  }
  nres = status == LUA_OK || status == LUA_YIELD ? lua_gettop(L) - 2 : 0;
  s->running--;
  release_place(R, s);
  if (s->running == 0) goroR_waitq_wake_all(&R->rt, &s->endq, 1);
  lua_pop(L, 1);
  return nres;
}

/* The function of every G of a scope: run(s, f, ...). */
static int run(lua_State *L) {
  return run_k(L, lua_pcallk(L, lua_gettop(L) - 2, LUA_MULTRET, 0, 0, run_k), 0);
}

/* ---- s:go ---------------------------------------------------------------- */

/* Start f(...) in a new G of the scope: 1 the scope, 2 f, then its
** arguments. Requires: a place, if the scope has a limit. */
static int start(lua_State *L, struct scope *s) {
  struct goro_runtime *R = goroB_R_of(L);
  if (!s->open) {  /* (it ended while we waited for a place) */
    release_place(R, s);
    return luaL_error(L, "goro.scope: go on a scope that has ended");
  }
  if (R->closed != GORO_RT_OPEN) {
    release_place(R, s);
    return luaL_error(L, "goro.go: runtime is closed");
  }
  lua_pushcfunction(L, run);
  lua_insert(L, 1);  /* run, s, f, ...: its creator is s:go's caller */
  goroB_bg_new(L, R, 1, lua_gettop(L) - 1, 1, 2);
  s->running++;
  return 1;
}

/* s:go, once a place was handed to it. */
static int go_k(lua_State *L, int status, lua_KContext kc) {
  (void)status;
  (void)kc;
  return start(L, checkscope(L, 1, "go"));
}

/* s:go(f, ...) -> g */
static int scope_go(lua_State *L) {
  struct scope *s = checkscope(L, 1, "go");
  if (lua_type(L, 2) != LUA_TFUNCTION)  /* (#1: the first after s) */
    return luaL_error(L, "bad argument #1 to 'go' (function expected, got %s)",
                      lua_isnone(L, 2) ? "nil" : luaL_typename(L, 2));
  if (!s->open) return luaL_error(L, "goro.scope: go on a scope that has ended");
  if (s->limit > 0) {
    if (s->inplace >= s->limit || goroR_waitq_live(&s->placeq))
      return goroB_sync_park(L, &s->placeq, 0, "go", "scope limit", 0, go_k);
    s->inplace++;
  }
  return start(L, s);
}

/* ---- s:limit, s:wait, __close -------------------------------------------- */

/* s:limit(n): at most n G's of the scope at once (nil: no limit). */
static int scope_limit(lua_State *L) {
  struct scope *s = checkscope(L, 1, "limit");
  lua_Integer n = 0;
  if (s->running > 0 || s->inplace > 0)
    return luaL_error(L, "goro.scope: limit changed while the scope's G's run");
  if (!lua_isnoneornil(L, 2)) {
    if (!lua_isinteger(L, 2) || (n = lua_tointeger(L, 2)) < 1)
      return luaL_error(L, "bad argument #1 to 'limit' (positive integer expected)");
  }
  s->limit = n;
  return 0;
}

/* Push a goro.errors value: a copy of the scope at 1's errors. */
static void push_errors(lua_State *L, struct scope *s) {
  push_state(L, 1);
  lua_getiuservalue(L, -1, UV_ERRS);
  lua_createtable(L, (int)s->nerrs, 0);
  for (lua_Integer i = 1; i <= s->nerrs; i++) {
    lua_rawgeti(L, -2, i);
    lua_rawseti(L, -2, i);
  }
  lua_pushvalue(L, ERRORS_MT_UV);
  lua_setmetatable(L, -2);
  lua_replace(L, -3);
  lua_pop(L, 1);
}

/* What comes after the wait, by who waited (the lua_KContext of finish). */
enum { AFTER_WAIT, AFTER_CLOSE_OK, AFTER_CLOSE_ERR };

static int after(lua_State *L, struct scope *s, int what) {
  s->open = 0;
  cancel(L, 1, 0);
  if (what == AFTER_WAIT) {
    s->waited = 1;
    if (s->nerrs == 0) {
      lua_pushboolean(L, 1);
      return 1;
    }
    lua_pushboolean(L, 0);
    push_errors(L, s);
    return 2;
  }
  if (what == AFTER_CLOSE_OK && s->nerrs > 0 && !s->waited) {
    s->waited = 1;
    push_errors(L, s);
    return lua_error(L);
  }
  return 0;
}

/* Wait until every G of the scope at 1 has ended (again, if one started
** another meanwhile), then end the scope and continue as `what` says. */
static int finish_k(lua_State *L, int status, lua_KContext kc) {
  struct scope *s = checkscope(L, 1, "wait");
  (void)status;
  if (s->running > 0)
    return goroB_sync_park(L, &s->endq, 0, "wait", "scope", kc, finish_k);
  return after(L, s, (int)kc);
}

/* s:wait() -> true, or false, err (goro.errors: every error, in order). */
static int scope_wait(lua_State *L) {
  checkscope(L, 1, "wait");
  lua_settop(L, 1);
  return finish_k(L, LUA_OK, AFTER_WAIT);
}

/* The end of the block: an error leaving it (at 2) cancels s.ctx first. */
static int scope_close(lua_State *L) {
  checkscope(L, 1, "close");
  lua_settop(L, 2);
  if (!lua_isnil(L, 2)) {
    cancel(L, 1, 2);
    return finish_k(L, LUA_OK, AFTER_CLOSE_ERR);
  }
  return finish_k(L, LUA_OK, AFTER_CLOSE_OK);
}

static int scope_tostring(lua_State *L) {
  struct scope *s = checkscope(L, 1, "tostring");
  lua_pushfstring(L, "goro.scope(%I running%s)", s->running, s->open ? "" : ", ended");
  return 1;
}

/* tostring of a goro.errors value: its errors, one per line. */
static int errors_tostring(lua_State *L) {
  luaL_Buffer b;
  lua_Integer n;
  luaL_checktype(L, 1, LUA_TTABLE);
  n = (lua_Integer)lua_rawlen(L, 1);
  luaL_buffinit(L, &b);
  for (lua_Integer i = 1; i <= n; i++) {
    if (i > 1) luaL_addlstring(&b, "\n", 1);
    lua_rawgeti(L, 1, i);
    luaL_tolstring(L, -1, NULL);
    lua_remove(L, -2);
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  return 1;
}

/* ---- registration -------------------------------------------------------- */

static const luaL_Reg scope_methods[] = {
    {"go", scope_go},
    {"limit", scope_limit},
    {"wait", scope_wait},
    {NULL, NULL},
};

static const luaL_Reg scope_metamethods[] = {
    {"__close", scope_close},
    {"__tostring", scope_tostring},
    {NULL, NULL},
};

/* Push the upvalues of every function here (the runtime at r, the module
** table, with its context table, at m). */
static void push_upvalues(lua_State *L, int r, int m) {
  lua_pushvalue(L, r);
  luaL_getmetatable(L, GORO_G_MT);
  luaL_getmetatable(L, GORO_SCOPE_MT);
  lua_getfield(L, m, "context");
  lua_getfield(L, -1, "with_cancel_cause");
  lua_getfield(L, -2, "background");
  lua_remove(L, -3);
  luaL_getmetatable(L, GORO_ERRORS_MT);
}

/* Add goro.scope to the module table on top (the runtime below it; after
** goroB_open_context). */
void goroB_open_scope(lua_State *L) {
  int m = lua_gettop(L), r = m - 1;
  luaL_newmetatable(L, GORO_SCOPE_MT);
  luaL_newmetatable(L, GORO_ERRORS_MT);
  lua_pushcfunction(L, errors_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);
  lua_newtable(L);
  push_upvalues(L, r, m);
  luaL_setfuncs(L, scope_methods, 6);
  lua_setfield(L, -2, "__index");
  push_upvalues(L, r, m);
  luaL_setfuncs(L, scope_metamethods, 6);
  lua_pop(L, 1);
  push_upvalues(L, r, m);
  lua_pushcclosure(L, l_scope, 6);
  lua_setfield(L, m, "scope");
}
