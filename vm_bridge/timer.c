/*
** vm_bridge/timer.c — channel timers: goro.after, goro.timer, goro.ticker.
**
** As Go's runtime timers: an armed timer waits in the P's heap, with no G
** behind it. When it is due the scheduler calls fire (the P held), which
** offers goro.now() to the timer's channel (capacity 1) without blocking:
** while a value is still unread, a new one is dropped, which is how a
** ticker drops ticks for a slow reader. A ticker then re-arms for its next
** period, skipping the periods it is late for.
**
** A timer is a userdata "goro.timer" whose user value 1 is its channel;
** the channel's user value 2 is the timer. So either keeps the other alive
** and, as in Go since 1.23, a timer nobody can reach any more (nor its
** channel) is collected even if armed: its __gc takes it out of the heap.
** fire needs the timer as a Lua value, and the heap has only its address:
** while armed, a weak-valued registry table maps the address to the
** timer. The collector clears that entry before the __gc runs; a timer
** that fires in between finds no entry and stays stopped.
*/
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "../runtime/errors.h"
#include "bridge.h"

static const char timer_tag;
static char armed_key;  /* registry: address -> armed timer (weak values) */

struct ltimer {
  const void *tag;            /* &timer_tag (goro_checktag) */
  struct goro_timer t;        /* in the P's heap while armed */
  double period;              /* a ticker's, else 0 */
  struct goro_runtime *R;
  const void *ch;             /* its channel (kept by user value 1) */
  int dead;                   /* its __gc ran: never armed again */
};

/* The shortest ticker period: Go's nanosecond. Shorter ones would tick at
** every scheduling point anyway, and tiny ones overflow the catch-up. */
#define MIN_PERIOD 1e-9

#define TIMER_OF(tp) \
  ((struct ltimer *)(void *)((char *)(tp) - offsetof(struct ltimer, t)))

static struct ltimer *checktimer(lua_State *L) {
  return goro_checktag(L, 1, &timer_tag, GORO_TIMER_MT);
}

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

/* Arm the timer at index i (t) for `when`; registers it first, so that
** an allocation failure raises with nothing armed. */
static void arm(lua_State *L, int i, struct ltimer *t, double when) {
  i = lua_absindex(L, i);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &armed_key);
  lua_pushvalue(L, i);
  lua_rawsetp(L, -2, t);
  lua_pop(L, 1);
  if (goro_timer_start(&t->R->rt, &t->t, when) != 0) {
    lua_rawgetp(L, LUA_REGISTRYINDEX, &armed_key);
    lua_pushnil(L);
    lua_rawsetp(L, -2, t);
    luaL_error(L, "goro: %s (timer)", goro_strerror(GORO_ENOMEM));
  }
}

/* Disarm t (at index i) and drop a value it sent that nobody took, so
** that no receive after stop or reset gets a stale time (Go 1.23). 1 if
** that stopped a delivery: t was armed, or its value was still waiting.
** Never raises (removing a key never allocates). */
static int disarm(lua_State *L, int i, struct ltimer *t) {
  int stopped = 0;
  i = lua_absindex(L, i);
  if (!t->R->closed && goro_timer_stop(&t->R->rt, &t->t)) {
    stopped = 1;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &armed_key);
    lua_pushnil(L);
    lua_rawsetp(L, -2, t);
    lua_pop(L, 1);
  }
  lua_getiuservalue(L, i, 1);
  if (goro_chan_drain(L, -1) > 0) stopped = 1;
  lua_pop(L, 1);
  return stopped;
}

/* Could firing t ready a G now? One waits on its channel. */
int goro_timer_wakes(struct goro_rt *rt, struct goro_timer *tp) {
  (void)rt;
  return goro_chan_awaited(TIMER_OF(tp)->ch);
}

/* The timer is due (called by the scheduler, the P held, t out of the
** heap). On R's LR thread; nothing here can raise. */
void goro_timer_fire(struct goro_rt *rt, struct goro_timer *tp) {
  struct ltimer *t = TIMER_OF(tp);
  struct goro_runtime *R = rt->ud;
  lua_State *L = R->LR;
  int top = lua_gettop(L);
  double now = goro_now();

  if (!lua_checkstack(L, 8)) return;  /* (cannot happen: LR is idle) */
  lua_rawgetp(L, LUA_REGISTRYINDEX, &armed_key);  /* top+1 */
  if (lua_rawgetp(L, top + 1, t) != LUA_TUSERDATA) {  /* top+2 */
    lua_settop(L, top);  /* being collected */
    return;
  }
  lua_getiuservalue(L, top + 2, 1);  /* top+3: the channel */
  lua_pushnumber(L, (lua_Number)now);
  goro_chan_offer(L, R, top + 3, top + 4);
  if (t->period > 0) {
    double at = t->t.when + t->period;
    if (at <= now) at += ceil((now - at) / t->period) * t->period;
    if (at <= now) at = now + t->period;  /* (rounding) */
    goro_timer_start(rt, &t->t, at);  /* never fails: t's slot is free */
  } else {
    lua_pushnil(L);
    lua_rawsetp(L, top + 1, t);
  }
  lua_settop(L, top);
}

/* Push a new timer with a new channel; period 0 for a one-shot one. */
static struct ltimer *new_timer(lua_State *L, double period) {
  struct ltimer *t = lua_newuserdatauv(L, sizeof *t, 1);
  t->tag = &timer_tag;
  t->t.heapidx = -1;
  t->t.isg = 0;
  t->period = period;
  t->R = lua_touserdata(L, lua_upvalueindex(1));
  t->dead = 0;
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_setmetatable(L, -2);
  goro_chan_new(L, 1, 2);
  t->ch = lua_touserdata(L, -1);
  lua_pushvalue(L, -2);
  lua_setiuservalue(L, -2, 2);  /* channel -> timer */
  lua_setiuservalue(L, -2, 1);  /* timer -> channel */
  if (t->R->closed) luaL_error(L, "goro: runtime is closed");
  return t;
}

/* goro.after(s) -> ch: ch receives goro.now() once, s seconds from now. */
static int l_after(lua_State *L) {
  double s = checkseconds(L, 1);
  struct ltimer *t = new_timer(L, 0);
  arm(L, -1, t, goro_now() + s);
  lua_getiuservalue(L, -1, 1);
  return 1;
}

/* goro.timer(s) -> t: t.ch receives goro.now() once, s seconds from now,
** unless t:stop() comes first. */
static int l_timer(lua_State *L) {
  double s = checkseconds(L, 1);
  struct ltimer *t = new_timer(L, 0);
  arm(L, -1, t, goro_now() + s);
  return 1;
}

/* goro.ticker(s) -> t: t.ch receives goro.now() every s seconds until
** t:stop(). */
static int l_ticker(lua_State *L) {
  double s = checkperiod(L, 1);
  struct ltimer *t = new_timer(L, s);
  arm(L, -1, t, goro_now() + s);
  return 1;
}

/* t:stop() -> did it stop a delivery? Once it returns, t.ch receives
** nothing more from t, not even a value sent before (Go 1.23). */
static int t_stop(lua_State *L) {
  lua_pushboolean(L, disarm(L, 1, checktimer(L)));
  return 1;
}

/* t:reset(s) -> did it stop a delivery? A timer fires s seconds from now;
** a ticker ticks every s seconds from now on. */
static int t_reset(lua_State *L) {
  struct ltimer *t = checktimer(L);
  double s = t->period > 0 ? checkperiod(L, 2) : checkseconds(L, 2);
  int was = disarm(L, 1, t);
  if (t->R->closed) return luaL_error(L, "goro: runtime is closed");
  if (t->period > 0) t->period = s;
  lua_settop(L, 1);
  if (!t->dead) arm(L, 1, t, goro_now() + s);
  lua_pushboolean(L, was);
  return 1;
}

/* Out of the heap for good: a finalizer that runs after this one may
** resurrect t, but must not arm it again, since the collector will free t
** later without a second __gc to take it out of the heap. */
static int t_gc(lua_State *L) {
  struct ltimer *t = checktimer(L);
  t->dead = 1;
  if (!t->R->closed) goro_timer_stop(&t->R->rt, &t->t);
  return 0;
}

static int t_index(lua_State *L) {
  checktimer(L);
  if (lua_type(L, 2) == LUA_TSTRING && strcmp(lua_tostring(L, 2), "ch") == 0) {
    lua_getiuservalue(L, 1, 1);
    return 1;
  }
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(1));  /* the methods */
  return 1;
}

static int t_tostring(lua_State *L) {
  struct ltimer *t = checktimer(L);
  lua_pushfstring(L, "goro.%s(%s): %p", t->period > 0 ? "ticker" : "timer",
                  t->t.heapidx >= 0 ? "armed" : "stopped", (void *)t);
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

void goro_open_timer_funcs(lua_State *L) {
  int r = lua_gettop(L) - 1;
  lua_newtable(L);  /* armed timers, weak values */
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "v");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &armed_key);

  luaL_newmetatable(L, GORO_TIMER_MT);
  lua_newtable(L);
  luaL_setfuncs(L, methods, 0);
  lua_pushcclosure(L, t_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, t_gc);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, t_tostring);
  lua_setfield(L, -2, "__tostring");

  lua_pushvalue(L, r);
  lua_insert(L, -2);  /* upvalues: the runtime, the timer metatable */
  luaL_setfuncs(L, funcs, 2);
}
