/*
** vm_bridge/sema.c — goro.semaphore(n), x/sync's weighted semaphore: FIFO
** acquire with an optional context, try_acquire, release. Split from
** sync.c, whose helpers it uses (sync.h); every operation runs with the P
** held, so nothing here needs a lock.
*/
#include "sync.h"

#define checksema(L) ((struct sema *)goroB_checktag(L, 1, &sema_tag, GORO_SEMA_MT))

static const char sema_tag;

/* ---- goro.semaphore ------------------------------------------------------
** golang.org/x/sync/semaphore's Weighted: size tokens, cur of them held.
** Waiters are served strictly in order: a waiter that wants more than is
** free blocks every one behind it, even those that would fit, so a large
** acquire is never starved by small ones. A waiting G's weight stays on its
** own stack (w.data, at index w.vidx), where a releaser reads it
** (lua_tointeger: it never raises).
** Invariants (sema_ok): 0 <= cur <= size; the first waiter wants more than
** is free (release grants every waiter that fits, in order). A waiter
** whose context ended stays, stale, until sema_grant passes over it or
** its G leaves; leaving, it grants those behind it that now fit, as
** x/sync does. */

struct sema {
  const void *tag;       /* &sema_tag */
  lua_Integer size, cur;
  struct goro_waitq q;   /* acquirers, oldest first */
};

static lua_Integer need(const struct goro_waiter *w) {
  return lua_tointeger((lua_State *)w->data, w->vidx);
}

static int sema_ok(const struct sema *s) {
  return 0 <= s->cur && s->cur <= s->size &&
         (s->q.head == NULL || need(s->q.head) > s->size - s->cur);
}

int goroB_sema_new(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  struct sema *s;
  luaL_argcheck(L, n >= 0, 1, "negative size");
  s = goroB_sync_newobj(L, sizeof(struct sema), &sema_tag, 0);
  s->size = n;
  s->q.bubble = goroR_bubble_id(goroB_curg());  /* acquire is durable there */
  return 1;
}

/* The weight argument (default 1). */
static lua_Integer weight(lua_State *L) {
  lua_Integer k = luaL_optinteger(L, 2, 1);
  luaL_argcheck(L, k >= 0, 2, "negative weight");
  return k;
}

/* Grant the waiters in order while the first live one fits. */
static void sema_grant(struct goro_runtime *R, struct sema *s) {
  struct goro_waiter *w;
  while ((w = goroR_waitq_live_head(&s->q)) != NULL &&
         need(w) <= s->size - s->cur) {
    s->cur += need(w);
    goroB_sync_grant_first(R, &s->q);
  }
}

static int sema_ctx_k(lua_State *L, int status, lua_KContext kctx) {
  int ok;
  (void)status;
  if (goroB_bg_unblock_ctx(&goroB_R_of(L)->rt, goroB_bg_current(L), &ok) == 2) {
    sema_grant(goroB_R_of(L), checksema(L));  /* those we held back */
    return goroB_ctx_push_err(L, lua_touserdata(L, (int)kctx));
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* s:acquire([k [, ctx]]) */
static int sema_acquire(lua_State *L) {
  struct sema *s = checksema(L);
  lua_Integer k = weight(L);
  int ended;
  struct goro_context *x = goroB_sync_ctx_arg(L, 3, &ended);
  if (ended) return goroB_ctx_push_err(L, x);
  goroR_assert(sema_ok(s));
  if (k > s->size) {
    if (x != NULL)  /* as x/sync: wait for the context, blocking no one */
      return goroB_sync_wait(L, NULL, x, 3, 0, "acquire", "semaphore acquire", sema_ctx_k);
    return luaL_error(L, "semaphore: acquire of %I exceeds the size %I: it "
                      "could never succeed", (lua_Integer)k, (lua_Integer)s->size);
  }
  if (s->size - s->cur >= k && goroR_waitq_live_head(&s->q) == NULL) {
    s->cur += k;
    return goroB_sync_granted(L, x);
  }
  lua_settop(L, 3);
  lua_pushinteger(L, k);
  lua_replace(L, 2);  /* index 2: the weight, for the releasers */
  return goroB_sync_wait(L, &s->q, x, 3, 2, "acquire", "semaphore acquire", sema_ctx_k);
}

static int sema_try_acquire(lua_State *L) {
  struct sema *s = checksema(L);
  lua_Integer k = weight(L);
  int ok = s->size - s->cur >= k && goroR_waitq_live_head(&s->q) == NULL;
  if (ok) s->cur += k;
  lua_pushboolean(L, ok);
  return 1;
}

static int sema_release(lua_State *L) {
  struct sema *s = checksema(L);
  lua_Integer k = weight(L);
  struct goro_runtime *R = goroB_R_of(L);
  if (k > s->cur) return luaL_error(L, "semaphore: released more than held");
  s->cur -= k;
  sema_grant(R, s);
  goroR_assert(sema_ok(s));
  return 0;
}

const luaL_Reg goroB_sema_methods[] = {
    {"acquire", sema_acquire},
    {"try_acquire", sema_try_acquire},
    {"release", sema_release},
    {NULL, NULL},
};
