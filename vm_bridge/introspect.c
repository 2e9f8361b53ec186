/*
** vm_bridge/introspect.c — what goro tells about itself: goro.stats,
** goro.dump, goro.config, goro.m and goro.ms.
**
** Everything here reads state and builds Lua tables or strings. What only
** the P's owner writes (the G list, the G records) is read with the P held;
** what other threads write (the M lists, the extra M counts, the worker
** limit) the runtime copies out under its own lock (goroR_sched_get_stats,
** goroR_ms_snapshot, goroR_rt_max_workers) and is turned into Lua values
** after, since making a table may raise and no Lua error may cross a held
** runtime lock.
*/
#include <stdio.h>
#include <stdlib.h>

#include <stdatomic.h>

#include "netaddr.h"

/* ---- goro.stats, goro.dump, goro.config ---------------------------------- */

static int l_stats(lua_State *L) {
  struct goro_runtime *R = lua_touserdata(L, lua_upvalueindex(1));
  struct goro_sched_stats s;
  struct goro_stack_stats ss;
  goroR_sched_get_stats(&R->rt, &s);
  goroR_stack_get_stats(&ss);
  lua_createtable(L, 0, 16);
  goroB_setint(L, "gs", s.gs);
  goroB_setint(L, "runnable", s.runnable);
  {
    int ms, idle;
    goroR_rt_get_ms(&R->rt, &ms, &idle);
    goroB_setint(L, "ms", (uint64_t)ms);
    goroB_setint(L, "idle_ms", (uint64_t)idle);
  }
  goroB_setint(L, "max_ms", (uint64_t)goroR_rt_max_ms(&R->rt));
  goroB_setint(L, "waiting_for_m", (uint64_t)goroR_rt_waiting_for_m(&R->rt));
  goroB_setint(L, "extra_ms", s.extra_ms);
  goroB_setint(L, "extra_ms_in_use", s.extra_ms_in_use);
  goroB_setint(L, "cgocalls", s.cgocalls);
  goroB_setint(L, "callbacks", s.callbacks);
  goroB_setint(L, "retakes", s.retakes);
  goroB_setint(L, "preempts", s.preempts);
  goroB_setint(L, "stacks", s.carriers);
  goroB_setint(L, "stacks_cached", s.carriers_cached);
  goroB_setint(L, "sleeping", s.sleeping);
  goroB_setint(L, "timers", s.timers);
  goroB_setint(L, "stackless_parks", s.stackless_parks);
  goroB_setint(L, "stackful_parks", s.stackful_parks);
  goroB_setint(L, "handoffs", s.handoffs);
  goroB_setint(L, "worker_takes", s.worker_takes);
  goroB_setint(L, "step_overruns", s.step_overruns);
  lua_pushnumber(L, s.step_overrun_max);
  lua_setfield(L, -2, "step_overrun_max");
  goroB_setint(L, "step_overrun_g", s.step_overrun_g);
  goroB_setint(L, "switches", s.switches);
  goroB_setint(L, "stacks_pooled", ss.pooled);
  goroB_setint(L, "threads_pooled", (uint64_t)R->ntpool);
  goroB_setint(L, "threads_reused", R->nreused);
  goroB_setint(L, "stack_size", goroR_stack_size());
  goroB_setint(L, "stack_bytes_reserved", ss.reserved_bytes);
  {
    struct goro_netpoll *np = atomic_load(&R->rt.np);
    goroB_setint(L, "io_fds", np != NULL ? (uint64_t)np->npds : 0);
    goroB_setint(L, "io_waiters",
                 np != NULL ? (uint64_t)atomic_load(&np->nwaiters) : 0);
  }
  return 1;
}

/* Push "source:line" of the code that created b, or "[C]". */
static void push_where(lua_State *L, struct goro_runtime *R, struct bg *b) {
  lua_Debug ar;
  goroB_bg_push(L, R, b);
  if (lua_getiuservalue(L, -1, 2) == LUA_TFUNCTION) {
    lua_getinfo(L, ">S", &ar);
    if (b->line > 0)
      lua_pushfstring(L, "%s:%d", ar.short_src, b->line);
    else
      lua_pushstring(L, ar.short_src);
  } else {
    lua_pop(L, 1);
    lua_pushliteral(L, "[C]");
  }
  lua_remove(L, -2);
}

/* For a G of a goro.scope (its handle's user value 3): push " in
** goro.scope <address> opened at <where>" and return 1; else push
** nothing and return 0. */
static int push_scope(lua_State *L, struct goro_runtime *R, struct bg *b) {
  goroB_bg_push(L, R, b);
  if (lua_getiuservalue(L, -1, 3) != LUA_TTABLE) {
    lua_pop(L, 2);
    return 0;
  }
  lua_pushliteral(L, "_where");
  lua_rawget(L, -2);
  lua_pushfstring(L, " in goro.scope %p opened at %s", lua_topointer(L, -2),
                  lua_isstring(L, -1) ? lua_tostring(L, -1) : "?");
  lua_replace(L, -4);
  lua_pop(L, 2);
  return 1;
}

/* Push ", <address>" for a socket fd (its peer, else its own), or "". */
static void push_fd_peer(lua_State *L, int fd) {
  struct sockaddr_storage a;
  socklen_t len = sizeof a;
  if (getpeername(fd, (struct sockaddr *)&a, &len) == 0 ||
      (len = sizeof a, getsockname(fd, (struct sockaddr *)&a, &len) == 0)) {
    lua_pushliteral(L, ", ");
    goroB_net_pushaddr(L, (struct sockaddr *)&a, len);
    lua_concat(L, 2);
  } else {
    lua_pushliteral(L, "");
  }
}

void goroB_push_dump(lua_State *L, struct goro_runtime *R) {
  goroB_push_dump_of(L, R, NULL);
}

void goroB_push_dump_of(lua_State *L, struct goro_runtime *R,
                        struct goro_bubble *bub) {
  luaL_Buffer buf;
  int waiting = goroR_rt_waiting_for_m(&R->rt);
  luaL_buffinit(L, &buf);
  if (waiting > 0) {  /* the cap on M's holds up ready G's: say so first */
    lua_pushfstring(L, "goro: %d ready goroutine(s) wait for an M: all %d "
                    "worker M's (max_ms, goro.config) are in C\n\n", waiting,
                    goroR_rt_max_ms(&R->rt));
    luaL_addvalue(&buf);
  }
  for (struct goro_g *gp = R->rt.allg; gp != NULL; gp = gp->allnext) {
    struct bg *b = gp->ud;
    int inscope;
    char held[96] = "";
    if (bub != NULL && gp->bubble != bub) continue;
    if (gp->id == R->rt.st.step_overrun_g)  /* it held a frame: say so */
      snprintf(held, sizeof held, ", held a step %.1fms past its budget",
               R->rt.st.step_overrun_max * 1e3);
    if (gp->userlocks > 0)  /* goro.lockthread() */
      snprintf(held + strlen(held), sizeof held - strlen(held),
               ", locked to its thread");
    if (gp->bubble != NULL)  /* goro.synctest */
      snprintf(held + strlen(held), sizeof held - strlen(held), gp->bcounted
               ? ", durably blocked in a synctest bubble"
               : ", in a synctest bubble");
    if (gp->status == GORO_GWAITING && gp->waitreason != NULL) {
      char waited[32];
      /* (a wait with a context has its I/O waiter in sel[0]) */
      const struct goro_waiter *iw = b->nsel == 2 ? &b->sel[0] : &b->w;
      struct goro_pd *pd = iw->kind == GORO_WAITER_PD ? goroR_pd_of_waiter(iw) : NULL;
      snprintf(waited, sizeof waited, "%.3fs", goroR_since(gp->waitsince));
      if (pd != NULL) {  /* IO wait: which fd, which way, whose */
        push_fd_peer(L, pd->fd);
        lua_pushfstring(L, "goroutine %I [%s, %s, fd %d %s%s%s]:\n",
                        (lua_Integer)gp->id, gp->waitreason, waited, pd->fd,
                        iw->index == GORO_PD_READ ? "read" : "write",
                        lua_tostring(L, -1), held);
        lua_remove(L, -2);
      } else {
        lua_pushfstring(L, "goroutine %I [%s, %s%s]:\n", (lua_Integer)gp->id,
                        gp->waitreason, waited, held);
      }
    } else {
      lua_pushfstring(L, "goroutine %I [%s%s]:\n", (lua_Integer)gp->id,
                      goroB_g_status_name(b), held);
    }
    luaL_addvalue(&buf);
    if (b->L != NULL)
      luaL_traceback(L, b->L, NULL, 0);
    else
      lua_pushliteral(L, "(not started)");
    luaL_addvalue(&buf);
    if ((inscope = push_scope(L, R, b)) != 0) lua_pop(L, 1);
    lua_pushfstring(L, "\ncreated by %s at ",
                    b->ismain ? "goro.run" : inscope ? "s:go" : "goro.go");
    luaL_addvalue(&buf);
    push_where(L, R, b);
    luaL_addvalue(&buf);
    if (inscope && push_scope(L, R, b)) luaL_addvalue(&buf);
    lua_pushliteral(L, "\n\n");
    luaL_addvalue(&buf);
  }
  luaL_pushresult(&buf);
}

static int l_dump(lua_State *L) {
  goroB_push_dump(L, lua_touserdata(L, lua_upvalueindex(1)));
  return 1;
}

/*
** goro.config{workers = n, max_ms = n} -> the configuration. workers: how
** many worker M's may run ready G's while no other thread holds the P
** (default 4; 0 for hosts that want Lua to run only on their own threads).
** max_ms: how many worker M's there may be at all, those whose G is in C
** included (default GORO_MAX_MS, 256); once that many are in C, ready G's
** wait (goro.stats().waiting_for_m, and goro.dump() says so).
** reuse_threads: a boolean, true by default: the threads of ended G's that
** did not escape go to the next G's (runtime/HACKING.md, "A G's Lua
** thread"); false empties the pool and keeps every thread to its G.
*/
static int l_config(lua_State *L) {
  struct goro_runtime *R = lua_touserdata(L, lua_upvalueindex(1));
  if (!lua_isnoneornil(L, 1)) {  /* check every option, then set them */
    lua_Integer workers, max_ms;
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "workers");
    lua_getfield(L, 1, "max_ms");
    workers = lua_tointeger(L, -2);
    max_ms = lua_tointeger(L, -1);
    luaL_argcheck(L, lua_isnil(L, -2) || (lua_isinteger(L, -2) && workers >= 0 &&
                  workers <= 1024), 1, "workers must be an integer in [0, 1024]");
    if (!lua_isnil(L, -1) && !(lua_isinteger(L, -1) && max_ms >= 1 &&
                               max_ms <= GORO_MAX_MS_LIMIT))
      return luaL_argerror(L, 1, lua_pushfstring(L, "max_ms must be an integer "
                           "in [1, %d]", GORO_MAX_MS_LIMIT));
    if (lua_getfield(L, 1, "reuse_threads") != LUA_TNIL &&
        lua_type(L, -1) != LUA_TBOOLEAN)
      return luaL_argerror(L, 1, "reuse_threads must be a boolean");
    if (!lua_isnil(L, -3)) goroR_rt_set_workers(&R->rt, (int)workers);
    if (!lua_isnil(L, -2)) goroR_rt_set_max_ms(&R->rt, (int)max_ms);
    if (!lua_isnil(L, -1)) {
      R->noreuse = !lua_toboolean(L, -1);
      if (R->noreuse) goroB_tpool_drain(L, R);
    }
    lua_pop(L, 3);
  }
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, goroR_rt_max_workers(&R->rt));
  lua_setfield(L, -2, "workers");
  lua_pushinteger(L, goroR_rt_max_ms(&R->rt));
  lua_setfield(L, -2, "max_ms");
  lua_pushinteger(L, (lua_Integer)goroR_stack_size());
  lua_setfield(L, -2, "stack_size");
  lua_pushboolean(L, !R->noreuse);
  lua_setfield(L, -2, "reuse_threads");
  return 1;
}

/* ---- goro.m(), goro.ms() ------------------------------------------------- */

static const char *mstate_name(int st) {
  switch (st) {
    case GORO_M_RUNNING: return "running";
    case GORO_M_IDLE: return "idle";
    case GORO_M_WAITP: return "waiting for P";
    case GORO_M_SYSCALL: return "syscall";
    case GORO_M_PARKED: return "parked";
    case GORO_M_INC: return "in C";
    case GORO_M_POOLED: return "pooled";
    default: return "?";
  }
}

static void push_m(lua_State *L, const struct goro_msnap *s, int full) {
  lua_createtable(L, 0, 8);
  lua_pushinteger(L, (lua_Integer)s->id);
  lua_setfield(L, -2, "id");
  lua_pushboolean(L, s->extra);
  lua_setfield(L, -2, "extra");
  lua_pushboolean(L, s->extra && s->inc);
  lua_setfield(L, -2, "is_extra_in_c");
  lua_pushinteger(L, s->ncgo);
  lua_setfield(L, -2, "ncgo");
  lua_pushinteger(L, s->ncallback);
  lua_setfield(L, -2, "ncallback");
  if (full) {
    lua_pushstring(L, mstate_name(s->state));
    lua_setfield(L, -2, "state");
    lua_pushboolean(L, s->worker);
    lua_setfield(L, -2, "worker");
    if (s->g != 0) {
      lua_pushinteger(L, (lua_Integer)s->g);
      lua_setfield(L, -2, "g");
    }
  }
}

/* goro.m() -> {id, extra, is_extra_in_c, ncgo, ncallback} of the calling
** thread's M, or nil outside the runtime. */
static int l_m(lua_State *L) {
  struct goro_m *mp = goroR_m_self();
  struct goro_msnap s;
  if (mp == NULL) return 0;
  goroR_m_snap(mp, &s);
  push_m(L, &s, 0);
  return 1;
}

/* goro.ms() -> an array with every M: also its state and its G's id. */
static int l_ms(lua_State *L) {
  struct goro_runtime *R = lua_touserdata(L, lua_upvalueindex(1));
  struct goro_msnap *v;
  int n = 0, cap;

  do {  /* a snapshot (no Lua under the runtime's lock), then the table; */
    cap = n + 8;  /* the buffer is a userdata: an error frees it */
    v = lua_newuserdatauv(L, sizeof *v * (size_t)cap, 0);
    n = goroR_ms_snapshot(&R->rt, v, cap);
  } while (n > cap);  /* (M's came meanwhile) */
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    push_m(L, &v[i], 1);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

const luaL_Reg goroB_introspect_funcs[] = {
    {"stats", l_stats}, {"dump", l_dump}, {"config", l_config},
    {"m", l_m},         {"ms", l_ms},     {NULL, NULL},
};
