/*
** vm_bridge/timer.c — goro.after, goro.timer, goro.ticker.
**
** Each delivers on a timer's channel (chan.h; how it works: runtime/
** HACKING.md, "Timers"). goro.after returns the channel itself; goro.timer
** and goro.ticker return a small userdata "goro.timer" whose user value is
** the channel (t.ch), with stop and reset.
*/
#include <string.h>

#include "chan.h"

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
  return goroB_checktchan(L, -1);
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

/* goro.after(s) -> ch: ch receives goro.now() once, s seconds from now. */
static int l_after(lua_State *L) {
  double s = checkseconds(L, 1);
  goroB_tchan_new(L, goroR_now() + s, 0);
  return 1;
}

/* goro.timer(s) -> t: t.ch receives goro.now() once, s seconds from now,
** unless t:stop() comes first. */
static int l_timer(lua_State *L) {
  double s = checkseconds(L, 1);
  goroB_tchan_new(L, goroR_now() + s, 0);
  return push_timer(L);
}

/* goro.ticker(s) -> t: t.ch receives goro.now() every s seconds until
** t:stop(). */
static int l_ticker(lua_State *L) {
  double s = checkperiod(L, 1);
  goroB_tchan_new(L, goroR_now() + s, s);
  return push_timer(L);
}

/* t:stop() -> did it stop a delivery? Once it returns, t.ch receives
** nothing more from t, not even a time that came before (Go 1.23). */
static int t_stop(lua_State *L) {
  lua_pushboolean(L, goroB_tchan_stop(rt_of(L), tchan_of(L)));
  return 1;
}

/* t:reset(s) -> did it stop a delivery? A timer fires s seconds from now;
** a ticker ticks every s seconds from now on. */
static int t_reset(lua_State *L) {
  struct tchan *tc = tchan_of(L);
  double s = tc->period > 0 ? checkperiod(L, 2) : checkseconds(L, 2);
  lua_pushboolean(L, goroB_tchan_arm(L, rt_of(L), tc, goroR_now() + s,
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
