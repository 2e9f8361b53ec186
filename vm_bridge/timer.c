/*
** vm_bridge/timer.c — timers' channels, and goro.after, goro.timer,
** goro.ticker, which deliver on them.
**
** A timer's channel (struct tchan, chan.h) is a channel with a timer
** inside and no buffer, as Go 1.23's: receiving is where its time is
** delivered (how it works: runtime/HACKING.md, "Timers"). chan.c's receive
** path and select call in here for one (goroB_tchan_try_recv, watch,
** unwatch); the scheduler calls in through the hooks (goroB_timer_fire,
** goroB_timer_wakes, which hand a context's deadline to context.c). goro.after returns the channel itself; goro.timer
** and goro.ticker return a small userdata "goro.timer" whose user value is
** the channel (t.ch), with stop and reset.
**
** The timer is in the P's heap only while a G waits on the channel: a
** receiver about to park puts it there (watch), and whoever empties the
** receive queue takes it out (unwatch, fire). Every operation runs with
** the P held, so nothing here needs a lock.
*/
#include <math.h>
#include <string.h>

#include "../runtime/errors.h"
#include "chan.h"

/* ---- timers' channels ---------------------------------------------------- */

/* The invariants of struct tchan (chan.h). They hold between operations:
** not between a receiver's watch and its queueing, which no one sees. */
static int tchan_ok(const struct tchan *tc) {
  return tc->c.istimer && tc->c.count == 0 && tc->c.sendq.head == NULL &&
         tc->t.kind == GORO_TIMER_BRIDGE &&
         (tc->t.heapidx < 0 || (tc->armed && tc->c.recvq.head != NULL));
}

static void tchan_fire(struct goro_rt *rt, struct tchan *tc);

/* Bring tc up to date at `now`: a time that has come is due; a ticker
** moves on to its first tick after now, a one-shot timer disarms. In the
** heap (G's wait) it fires first, as the heap would have, so the time goes
** to the G that waited, not to whoever looks now. */
static void tchan_sync(struct goro_rt *rt, struct tchan *tc, double now) {
  if (!tc->armed || tc->t.when > now) return;
  if (tc->t.heapidx >= 0) {
    goroR_timer_stop(rt, &tc->t);
    tchan_fire(rt, tc);  /* back in the heap if G's still wait */
    if (!tc->armed || tc->t.when > now) return;
  }
  tc->due = 1;
  tc->at = tc->t.when;
  if (tc->period > 0) {
    double at = tc->t.when + tc->period;
    if (at <= now) at += ceil((now - at) / tc->period) * tc->period;
    if (at <= now) at = now + tc->period;  /* (rounding) */
    tc->t.when = at;
  } else {
    tc->armed = 0;
  }
  if (tc->t.heapidx >= 0) {
    if (tc->armed)
      goroR_timer_start(rt, &tc->t, tc->t.when);  /* never fails: it moves */
    else
      goroR_timer_stop(rt, &tc->t);
  }
}

/* Take tc's due time: push it. It is the time the timer was due, however
** late it is received, as Go 1.23 sends. Never raises: the receiver has
** room. */
static void tchan_take(lua_State *L, struct tchan *tc) {
  tc->due = 0;
  lua_pushnumber(L, (lua_Number)tc->at);
}

int goroB_tchan_try_recv(lua_State *L, struct goro_rt *rt, struct tchan *tc) {
  goroR_assert(tchan_ok(tc));
  tchan_sync(rt, tc, goroR_timer_now(rt, &tc->t));
  goroR_assert(tchan_ok(tc));
  if (!tc->due) return 0;
  tchan_take(L, tc);
  lua_pushboolean(L, 1);
  return 1;
}

int goroB_tchan_watch(struct goro_rt *rt, struct tchan *tc) {
  if (tc->armed && tc->t.heapidx < 0) return goroR_timer_start(rt, &tc->t, tc->t.when);
  return 0;
}

void goroB_tchan_unwatch(struct goro_rt *rt, struct tchan *tc) {
  if (tc->c.recvq.head == NULL) goroR_timer_stop(rt, &tc->t);
  goroR_assert(tchan_ok(tc));
}

int goroB_tchan_nomem(lua_State *L) {
  return luaL_error(L, "goro: %s (timer)", goro_strerror(GORO_ENOMEM));
}

/* tc's time has come, and it is out of the heap: deliver it to a waiting
** G, if any; a ticker goes back in the heap while G's wait. */
static void tchan_fire(struct goro_rt *rt, struct tchan *tc) {
  struct goro_waiter *w;
  tchan_sync(rt, tc, goroR_timer_now(rt, &tc->t));
  if (tc->due && (w = goroR_waitq_claim(&tc->c.recvq)) != NULL) {
    tchan_take(w->data, tc);
    w->ok = 1;
    goroR_ready(rt, w->g, 1);
  }
  if (tc->armed && tc->c.recvq.head != NULL)  /* a ticker, G's still wait */
    goroR_timer_start(rt, &tc->t, tc->t.when);  /* never fails: tc's slot */
  goroR_assert(tchan_ok(tc));
}

void goroB_timer_fire(struct goro_rt *rt, struct goro_timer *tp) {
  if (tp->kind == GORO_TIMER_BRIDGE_CTX) goroB_ctx_fire(rt, tp);
  else tchan_fire(rt, goroB_tchan_of_timer(tp));
}

int goroB_timer_wakes(struct goro_rt *rt, struct goro_timer *tp) {
  if (tp->kind == GORO_TIMER_BRIDGE_CTX) return goroB_ctx_wakes(rt, tp);
  return goroB_tchan_of_timer(tp)->c.recvq.head != NULL;
}

/* Disarm tc and drop a due time; out of the heap. 1 if that stopped a
** delivery (it was armed, or a time was due). Never raises. */
static int tchan_stop(struct goro_rt *rt, struct tchan *tc) {
  int stopped = tc->armed || tc->due;
  tc->armed = tc->due = 0;
  goroR_timer_stop(rt, &tc->t);
  goroR_assert(tchan_ok(tc));
  return stopped;
}

/* Stop tc, then arm it for `when` (a ticker with a new period if period >
** 0), in the heap if G's wait on it; returns what the stop returned. May
** raise (out of memory). */
static int tchan_arm(lua_State *L, struct goro_rt *rt, struct tchan *tc,
                     double when, double period) {
  int stopped = tchan_stop(rt, tc);
  if (period > 0) tc->period = period;
  tc->t.when = when;
  tc->armed = 1;
  if (tc->c.recvq.head != NULL && goroB_tchan_watch(rt, tc) != 0)
    goroB_tchan_nomem(L);
  goroR_assert(tchan_ok(tc));
  return stopped;
}

/* Push a new timer's channel, armed for `when` (monotonic seconds); a
** ticker if period > 0. May raise (out of memory). */
static struct tchan *tchan_new(lua_State *L, double when, double period) {
  struct tchan *tc = lua_newuserdatauv(L, sizeof *tc, 2);
  goroB_chan_init(L, &tc->c, 1);
  tc->c.istimer = 1;
  tc->t.heapidx = -1;
  tc->t.kind = GORO_TIMER_BRIDGE;
  tc->t.bubbled = tc->c.recvq.bubble != 0;  /* on its bubble's clock */
  tc->t.when = when;
  tc->period = period;
  tc->at = 0;
  tc->armed = 1;
  tc->due = 0;
  return tc;
}

/* The timer's channel at index i, or a "bad argument" error. */
static struct tchan *checktchan(lua_State *L, int i) {
  struct chan *c = goroB_checkchan(L, i);
  if (!c->istimer) luaL_argerror(L, i, "not a timer's channel");
  return (struct tchan *)c;
}

/* ---- goro.after, goro.timer, goro.ticker --------------------------------- */

static const char timer_tag;

struct ltimer {
  const void *tag;  /* &timer_tag (goroB_checktag) */
};

/* The shortest ticker period: Go's nanosecond. Shorter ones would tick at
** every scheduling point anyway, and tiny ones overflow the catch-up. */
#define MIN_PERIOD 1e-9

/* Seconds from argument i: a number; NaN and negative ones count as 0 (at
** once, as sleep does), which keeps every timer's time after the clock's
** zero (a next_when of 0 means "no timer"). */
static double checkseconds(lua_State *L, int i) {
  double s = (double)luaL_checknumber(L, i);
  return s > 0 ? s : 0;
}

static double checkperiod(lua_State *L, int i) {
  double s = (double)luaL_checknumber(L, i);
  luaL_argcheck(L, s > 0, i, "non-positive interval");
  return s < MIN_PERIOD ? MIN_PERIOD : s;
}

static struct goro_rt *rt_of(lua_State *L) { return &goroB_R_of(L)->rt; }

/* Push the timer's channel of timer object 1 (checked: the debug library
** can change a user value). */
static struct tchan *tchan_of(lua_State *L) {
  goroB_checktag(L, 1, &timer_tag, GORO_TIMER_MT);
  lua_getiuservalue(L, 1, 1);
  return checktchan(L, -1);
}

/* Push a timer object (upvalue 2: its metatable) for the channel on top,
** which it replaces. */
static int push_timer(lua_State *L) {
  struct ltimer *t = lua_newuserdatauv(L, sizeof *t, 1);
  t->tag = &timer_tag;
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_setmetatable(L, -2);
  lua_insert(L, -2);
  lua_setiuservalue(L, -2, 1);
  return 1;
}

void goroB_tchan_push(lua_State *L, double when) { tchan_new(L, when, 0); }

/* goro.after(s) -> ch: ch receives goro.now() once, s seconds from now. */
static int l_after(lua_State *L) {
  double s = checkseconds(L, 1);
  tchan_new(L, goroR_g_now(goroB_curg()) + s, 0);
  return 1;
}

/* goro.timer(s) -> t: t.ch receives goro.now() once, s seconds from now,
** unless t:stop() comes first. */
static int l_timer(lua_State *L) {
  double s = checkseconds(L, 1);
  tchan_new(L, goroR_g_now(goroB_curg()) + s, 0);
  return push_timer(L);
}

/* goro.ticker(s) -> t: t.ch receives goro.now() every s seconds until
** t:stop(). */
static int l_ticker(lua_State *L) {
  double s = checkperiod(L, 1);
  tchan_new(L, goroR_g_now(goroB_curg()) + s, s);
  return push_timer(L);
}

/* t:stop() -> did it stop a delivery? Once it returns, t.ch receives
** nothing more from t, not even a time that came before (Go 1.23). */
static int t_stop(lua_State *L) {
  lua_pushboolean(L, tchan_stop(rt_of(L), tchan_of(L)));
  return 1;
}

/* t:reset(s) -> did it stop a delivery? A timer fires s seconds from now;
** a ticker ticks every s seconds from now on. */
static int t_reset(lua_State *L) {
  struct tchan *tc = tchan_of(L);
  double s = tc->period > 0 ? checkperiod(L, 2) : checkseconds(L, 2);
  lua_pushboolean(L, tchan_arm(L, rt_of(L), tc,
                              goroR_timer_now(rt_of(L), &tc->t) + s,
                              tc->period > 0 ? s : 0));
  return 1;
}

static int t_index(lua_State *L) {
  if (lua_type(L, 2) == LUA_TSTRING && strcmp(lua_tostring(L, 2), "ch") == 0) {
    tchan_of(L);
    return 1;
  }
  goroB_checktag(L, 1, &timer_tag, GORO_TIMER_MT);
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(1));  /* the methods */
  return 1;
}

static int t_tostring(lua_State *L) {
  struct tchan *tc = tchan_of(L);
  lua_pushfstring(L, "goro.%s(%s): %p", tc->period > 0 ? "ticker" : "timer",
                  tc->armed ? "armed" : "stopped", lua_touserdata(L, 1));
  return 1;
}

static const luaL_Reg methods[] = {
    {"stop", t_stop},
    {"reset", t_reset},
    {NULL, NULL},
};

static const luaL_Reg funcs[] = {
    {"after", l_after},
    {"timer", l_timer},
    {"ticker", l_ticker},
    {NULL, NULL},
};

void goroB_open_timer_funcs(lua_State *L) {
  int r = lua_gettop(L) - 1;
  luaL_newmetatable(L, GORO_TIMER_MT);
  lua_newtable(L);
  lua_pushvalue(L, r);
  luaL_setfuncs(L, methods, 1);
  lua_pushcclosure(L, t_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, t_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushvalue(L, r);
  lua_insert(L, -2);  /* upvalues: the runtime, the timer metatable */
  luaL_setfuncs(L, funcs, 2);
}
