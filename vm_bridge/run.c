/*
** vm_bridge/run.c — goro.run, the script's way in, and what a running G
** asks of the scheduler without a wait queue: goro.yield, goro.sleep,
** goro.now. Also how a failed G's error is reported, for goro.run and
** goro_step.
**
** goro.run makes this thread M0: it takes the P, runs the main G to its
** end (or a deadlock, a timeout, an unwaited error), then gives the P back
** with every G abandoned. In script mode the thread that loaded goro holds
** the P between runs; a runtime a host opened (goro_open) is driven by
** goro_step instead, and goro.run refuses it.
**
** Who touches a lua_State: a G touches its own thread; the run's outcome
** is read off the main G's thread after the scheduler has returned.
** Anything that may raise on the scheduler side (the dump) runs inside
** lua_pcall, before the G's are abandoned.
**
** Locks: none held here. goro.run takes and gives back the P through the
** runtime (goroR_p_acquire, goroR_p_release); yield and sleep run on a G,
** with the P.
*/
#include "../arch/ctx.h"
#include "../runtime/errors.h"
#include "bridge.h"
#include "chan.h"

/* ---- yield, sleep, now --------------------------------------------------- */

/* A G in a callback cannot leave its thread, so its yield is a no-op; one
** that goro.lockthread() locked to a worker lets others run and keeps the
** thread; inside a finalizer (the whole universe's collector would wait)
** or on a borrowed stack (call_on_stack: a switch would strand the
** crossing) it raises, as blocking does. */
static int l_yield(lua_State *L) {
  struct bg *b = goroB_bg_current(L);  /* (no wait queue: not bg_block) */
  if (b == NULL) return luaL_error(L, "goro: yield called outside a goroutine");
  if (b->w.g->lockcount > 0) return 0;
  if (goroR_g_sleeps_locked(b->w.g)) {
    goroR_gosched(b->w.g);  /* (in place: locked.c) */
    return 0;
  }
  if (L == b->L && lua_isyieldable(L)) return lua_yield(L, 0);
  if (goroB_in_finalizer(L, b))  /* the collector waits for us */
    return luaL_error(L, "goro: yield would switch away inside a __gc finalizer");
  if (goroA_xrec_self()->depth > 0)
    return luaL_error(L, "goro: yield would switch away from a borrowed stack "
                      "(call_on_stack)");
  goroR_gosched(b->w.g);
  return 0;
}

/* goro.lockthread(["frame"]): the calling G runs only on its current
** thread (or, with "frame", on the host's frame thread: the one that
** called goro_open) until as many goro.unlockthread() (Go's
** LockOSThread). On a worker no other G runs there meanwhile; goro.run's
** thread and a frame thread keep running other G's too
** (runtime/HACKING.md, "Locked G's"). A G moving to the frame thread
** yields and goes on in that thread's next step. */
static int l_lockthread(lua_State *L) {
  static const char *const where[] = {"here", "frame", NULL};
  struct goro_runtime *R = goroB_R_of(L);
  struct bg *b = goroB_bg_current(L);
  struct goro_m *mp = goroR_m_self(), *to = mp;
  int frame = luaL_checkoption(L, 1, "here", where) == 1, rc;
  if (b == NULL || mp == NULL || mp->curg != b->w.g)
    return luaL_error(L, "goro: lockthread called outside a goroutine");
  if (frame && (to = goroR_frame_m(&R->rt)) == NULL)
    return luaL_error(L, "goro: lockthread: no frame thread (the host has "
                      "not called goro_open)");
  if ((rc = goroR_lockthread(&R->rt, b->w.g, to)) != 0)
    return luaL_error(L, "goro: lockthread: %s", rc == GORO_ESTATE
                      ? "already locked to another thread"
                      : "nested too deep");
  if (to == mp) return 0;
  /* To the frame thread: only its steps run the G from now on. */
  if (L == b->L && lua_isyieldable(L)) return lua_yield(L, 0);
  if (goroB_in_finalizer(L, b) || goroA_xrec_self()->depth > 0) {
    goroR_unlockthread(&R->rt, b->w.g);
    return luaL_error(L, "goro: lockthread(\"frame\") would switch away "
                      "inside a __gc finalizer or on a borrowed stack");
  }
  goroR_gosched(b->w.g);
  return 0;
}

static int l_unlockthread(lua_State *L) {
  struct bg *b = goroB_bg_current(L);
  if (b == NULL) return luaL_error(L, "goro: unlockthread called outside a goroutine");
  goroR_unlockthread(&goroB_R_of(L)->rt, b->w.g);
  return 0;
}

static int sleep_k(lua_State *L, int status, lua_KContext ctx) {
  (void)L;
  (void)status;
  (void)ctx;
  return 0;
}

/* goro.sleep(s [, ctx]). With a context, it waits on a goro.after's
** channel and the context's end, as a receive with a context does (a
** G's own timer cannot be claimed against a second queue); it then
** returns true, or nil, err if the context ended first. */
static int l_sleep(lua_State *L) {
  double s = luaL_checknumber(L, 1);
  struct bg *b;
  if (lua_gettop(L) >= 2 && !lua_isnil(L, 2)) {
    struct goro_context *x = goroB_optctx(L, 2);
    goroB_bg_block(L, "sleep");  /* (raises outside a G, as without) */
    lua_settop(L, 2);
    goroB_tchan_push(L, goroR_g_now(goroB_curg()) + (s > 0 ? s : 0));
    lua_replace(L, 1);
    return goroB_chan_recv_ctx(L, goroB_checkchan(L, 1), x, 1);
  }
  b = goroB_bg_block(L, "sleep");
  if (!(s > 0)) return 0;  /* as Go: a non-positive duration returns at once */
  goroR_timer_sleep(goroR_m_self()->rt, b->w.g, s);
  return goroB_bg_park(L, b, "sleep", "sleep", 0, sleep_k);
}

/* goro.now(): monotonic seconds; inside a synctest bubble, its clock. */
static int l_now(lua_State *L) {
  lua_pushnumber(L, goroR_g_now(goroB_curg()));
  return 1;
}

/* In protected mode: push the dump of the runtime at argument 1. */
static int pdump(lua_State *L) {
  goroB_push_dump(L, lua_touserdata(L, 1));
  return 1;
}

/* ---- goro.run ------------------------------------------------------------ */

/* In protected mode: the value at 1 through its __tostring, or nothing. */
static int p_tostring(lua_State *L) {
  return luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING;
}

/* Push the error value failed G b raised, as it raised it; returns 1, or 0
** after pushing a text that says why the value is not there. */
static int push_gvalue(lua_State *L, struct bg *b, int hidx) {
  if (b->L == NULL) {  /* it could not start: the error is user value 1 */
    lua_getiuservalue(L, hidx, 1);
    return 1;
  }
  if (!goroB_bg_thread_ok(L, hidx, b)) {  /* (see goroB_bg_thread_ok) */
    lua_pushliteral(L, "(its error is gone: its handle's user value was replaced)");
    return 0;
  }
  /* A thread an error ended has its frame full (lua_resume leaves it so):
  ** the copy needs a slot of its own. */
  if (!lua_checkstack(b->L, 1)) {
    lua_pushliteral(L, "(no memory to copy its error)");
    return 0;
  }
  lua_pushvalue(b->L, -1);
  lua_xmove(b->L, L, 1);
  return 1;
}

/* Push failed G b's traceback ("stack traceback:\n..."), or nil when it has
** no thread left to read it from. */
static void push_gtraceback(lua_State *L, struct bg *b, int hidx) {
  if (b->L == NULL || !goroB_bg_thread_ok(L, hidx, b)) {
    lua_pushnil(L);
    return;
  }
  luaL_traceback(L, b->L, NULL, 0);
  /* (luaL_traceback with no message starts with a newline) */
  if (lua_tostring(L, -1)[0] == '\n') {
    lua_pushstring(L, lua_tostring(L, -1) + 1);
    lua_remove(L, -2);
  }
}

/* Push the error of failed G b as the run reports it. The main G's value
** passes unchanged, strings included (goro.run(f) fails as pcall(f) would;
** its traceback goes where the dump goes: run_finish). Another G's value
** is made text first, as lua.c does (through __tostring, or naming its
** type), then gets the G's id and its traceback. */
void goroB_push_gerror(lua_State *L, struct bg *b, int hidx) {
  if (!push_gvalue(L, b, hidx)) {
    lua_pushfstring(L, "goroutine %I: %s", (lua_Integer)b->rec.id, lua_tostring(L, -1));
    lua_remove(L, -2);
    return;
  }
  if (b->ismain) return;
  if (lua_type(L, -1) != LUA_TSTRING) {
    int e = lua_gettop(L);
    if (lua_isstring(L, e)) {
      lua_tostring(L, e);  /* a number: in place */
    } else {  /* its __tostring may raise or block: protected */
      lua_pushcfunction(L, p_tostring);
      lua_pushvalue(L, e);
      if (lua_pcall(L, 1, 1, 0) != LUA_OK || lua_type(L, -1) != LUA_TSTRING) {
        lua_settop(L, e);
        lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, e));
      }
      lua_replace(L, e);
    }
  }
  {
    const char *msg = lua_pushfstring(L, "goroutine %I: %s", (lua_Integer)b->rec.id,
                                      lua_tostring(L, -1));
    if (b->L != NULL) {
      luaL_traceback(L, b->L, msg, 0);
      lua_replace(L, -3);
      lua_pop(L, 1);
    } else {
      lua_replace(L, -2);
    }
  }
}

struct bg *goroB_take_failed(lua_State *L, struct goro_runtime *R) {
  struct bg *f = R->failed;
  if (f == NULL) return NULL;
  R->failed = NULL;
  R->rt.abort = 0;
  lua_rawgetp(L, LUA_REGISTRYINDEX, goroB_runtime_key());
  lua_getiuservalue(L, -1, 1);  /* f's handle: keep it while it is read */
  lua_pushnil(L);
  lua_setiuservalue(L, -3, 1);
  lua_remove(L, -2);
  return f;
}

/* Call opts.report (opts at index 1) with a table saying how the run
** failed: kind, and for a G's error that G's id, its error value and its
** traceback; the dump when one was made (dumpidx, 0 for none). b is the
** failed G, NULL for a deadlock or a timeout. Called last, with the run's
** error already made: the table is built before any user code runs, so
** what report does (another goro.run, even) cannot change what is read
** off b. An error in report propagates: it replaces the run's. */
static void call_report(lua_State *L, const char *kind, struct bg *b, int hidx,
                        int dumpidx) {
  if (lua_type(L, 1) != LUA_TTABLE) return;
  if (lua_getfield(L, 1, "report") != LUA_TFUNCTION) {
    lua_pop(L, 1);
    return;
  }
  lua_createtable(L, 0, 5);
  lua_pushstring(L, kind);
  lua_setfield(L, -2, "kind");
  if (b != NULL) {
    lua_pushinteger(L, (lua_Integer)b->rec.id);
    lua_setfield(L, -2, "g");
    (void)push_gvalue(L, b, hidx);
    lua_setfield(L, -2, "error");
    push_gtraceback(L, b, hidx);
    lua_setfield(L, -2, "traceback");
  }
  if (dumpidx != 0) {
    lua_pushvalue(L, dumpidx);
    lua_setfield(L, -2, "dump");
  }
  lua_call(L, 1, 0);
}

/* After the loop: turn the outcome into results or an error on L. The dump,
** when one was made (hasdump), is on top. */
static int run_finish(lua_State *L, struct goro_runtime *R, struct bg *mb,
                      int mbidx, int rc, double timeout, int hasdump) {
  int dumpidx = hasdump ? lua_gettop(L) : 0;
  struct bg *f = goroB_take_failed(L, R);
  int hidx = mbidx;  /* the handle of the G reported on */
  if (dumpidx != 0 && lua_type(L, dumpidx) != LUA_TSTRING) {  /* its error */
    lua_pushliteral(L, "(no dump: out of memory)");
    lua_replace(L, dumpidx);
  }
  if (f != NULL) {
    mb = f;
    hidx = lua_gettop(L);  /* f's handle, pushed to keep it */
    rc = GORO_SCHED_DONE;
  }
  switch (rc) {
    case GORO_SCHED_DONE:
      if (mb->failed) {
        goroB_push_gerror(L, mb, hidx);  /* (the main G has a thread) */
        if (dumpidx != 0 && lua_type(L, -1) == LUA_TSTRING) {
          /* dump = true: the message also says where (the main G's
          ** traceback; another G's has it already) and lists every G */
          if (mb->ismain) {
            push_gtraceback(L, mb, hidx);
            if (lua_isstring(L, -1)) {
              lua_pushliteral(L, "\n");
              lua_insert(L, -2);
              lua_concat(L, 3);
            } else {
              lua_pop(L, 1);
            }
          }
          lua_pushliteral(L, "\n\nall goroutines at the failure:\n\n");
          lua_pushvalue(L, dumpidx);
          lua_concat(L, 3);
        }
        call_report(L, "error", mb, hidx, dumpidx);
        return lua_error(L);
      }
      if (!goroB_bg_thread_ok(L, hidx, mb))
        return luaL_error(L, "goro.run: the main goroutine's results are gone "
                          "(its handle's user value was replaced)");
      lua_settop(L, 0);
      luaL_checkstack(L, mb->nres, "too many results");
      lua_xmove(mb->L, L, mb->nres);
      return mb->nres;
    case GORO_SCHED_NOMEM:
      return luaL_error(L, "goro.run: %s (no stack for a goroutine)",
                        goro_strerror(GORO_ENOMEM));
    case GORO_SCHED_BUDGET:
      lua_pushfstring(L, "goro.run: timed out after %f s\n\n", timeout);
      break;
    case GORO_SCHED_DEADLOCK:
      lua_pushliteral(L, "all goroutines are asleep - deadlock!\n\n");
      break;
    default:
      return luaL_error(L, "goro.run: stopped (scheduler result %d, closing %d)",
                        rc, (int)R->rt.closing);
  }
  lua_pushvalue(L, dumpidx);  /* made before the G's were abandoned */
  lua_concat(L, 2);
  call_report(L, rc == GORO_SCHED_DEADLOCK ? "deadlock" : "timeout", NULL, 0, dumpidx);
  return lua_error(L);
}

/*
** goro.run([opts,] f, ...) -> f's results. Runs f as the main G on this
** thread, which becomes M0 and holds the P until f returns; G's still alive
** then are abandoned. opts: stack_size (bytes), timeout (seconds), dump
** (true: a failure's message also lists every G), report (a function
** called with a table describing a failure before goro.run raises it).
*/
static int l_run(lua_State *L) {
  struct goro_runtime *R = lua_touserdata(L, lua_upvalueindex(1));
  struct goro_m m0, *oldm;
  struct bg *mb;
  int fidx = 1, rc, dump = 0, hasdump = 0, main_alive, mbidx, cancel;
  double timeout = 0, deadline = 0;

  if (lua_istable(L, 1)) {
    fidx = 2;
    if (lua_getfield(L, 1, "stack_size") != LUA_TNIL) {
      int isint;
      lua_Integer sz = lua_tointegerx(L, -1, &isint);  /* 2^20 as a float too */
      if (!isint || lua_type(L, -1) != LUA_TNUMBER)
        return luaL_error(L, "goro.run: stack_size must be an integer");
      if (sz < 0 || goroR_stack_configure((size_t)sz, 16, 1024) != 0)
        return luaL_error(L, "goro.run: stack_size must be between %d bytes "
                          "and 2^40 (got %I)", (int)GORO_STACK_MIN, sz);
    }
    if (lua_getfield(L, 1, "timeout") != LUA_TNIL) {
      if (lua_type(L, -1) != LUA_TNUMBER)
        return luaL_error(L, "goro.run: timeout must be a number");
      timeout = lua_tonumber(L, -1);
      if (!(timeout > 0)) return luaL_error(L, "goro.run: timeout must be > 0");
    }
    dump = lua_getfield(L, 1, "dump") != LUA_TNIL && lua_toboolean(L, -1);
    if (lua_getfield(L, 1, "report") != LUA_TNIL && !lua_isfunction(L, -1))
      return luaL_error(L, "goro.run: report must be a function");
    lua_pop(L, 4);
  }
  luaL_checktype(L, fidx, LUA_TFUNCTION);
  if (R->closed != GORO_RT_OPEN)
    return luaL_error(L, "goro.run: runtime is closed");
  if (R->running || goroB_bg_current(L) != NULL)
    return luaL_error(L, "goro.run: already running (nested goro.run?)");
  if (R->hostmode)
    return luaL_error(L, "goro.run: the host drives this runtime (goro_open)");
  if (goroR_stack_thread_init() != 0)
    return luaL_error(L, "goro.run: %s", goro_strerror(GORO_ENOMEM));
  mb = goroB_bg_new(L, R, fidx, lua_gettop(L) - fidx, 0, 0);  /* handle stays on L */
  mbidx = lua_gettop(L);
  mb->ismain = 1;
  if (timeout > 0) deadline = goroR_now() + timeout;

  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);  /* see goro_call */
  goroR_m_init(&m0);
  m0.ishome = 1;  /* it schedules: G's locked to it wait for it (locked.c) */
  goroR_m_learn_stack(&m0);
  oldm = goroR_m_set(&m0);
  goroR_m_register(&R->rt, &m0);
  goroR_p_acquire(&R->rt, &m0);
  goroR_rt_workers_on(&R->rt, 1);  /* they may serve while M0's G is in C */
  goroR_sysmon_start(&R->rt);
  goroR_rt_run_begin(&R->rt, deadline);
  R->running = 1;
  rc = goroR_sched_run(&R->rt, &m0, mb->w.g, deadline);
  R->running = 0;
  /* The main G ended only because sysmon unwound its callback at the
  ** deadline (a failed G would be in R->failed): the run timed out. */
  if (rc == GORO_SCHED_DONE && mb->unwound && R->failed == NULL)
    rc = GORO_SCHED_BUDGET;
  if (rc == GORO_SCHED_DEADLOCK || rc == GORO_SCHED_BUDGET ||
      (dump && (R->failed != NULL || mb->failed))) {
    hasdump = 1;
    lua_pushcfunction(L, pdump);
    lua_pushlightuserdata(L, R);
    /* Nothing may raise while this thread holds the P: if even the dump
    ** fails, its error object (for a memory error, Lua's own preallocated
    ** message) stands in for it. */
    (void)lua_pcall(L, 1, 1, 0);
  }
  goroR_rt_quiesce(&R->rt, &m0);  /* G's in C on other M's come back first */
  main_alive = mb->w.g != NULL;
  /* Abandon first: the reset below may collect objects only the main G's
  ** stack held (a channel it waited on, a timer's channel in the heap), so
  ** no queue and no timer may point into them by then. */
  goroR_g_abandon_all(&R->rt);
  if (main_alive) {
    lua_resetthread(mb->L);  /* close its to-be-closed variables */
    goroR_g_abandon_all(&R->rt);  /* and what they started, if anything */
  }
  goroR_rt_workers_on(&R->rt, 0);  /* between runs this thread owns the state */
  goroR_p_release(&R->rt, &m0);
  goroR_m_unregister(&R->rt, &m0);
  goroR_m_set(oldm);
  goroR_m_destroy(&m0);
  pthread_setcancelstate(cancel, NULL);
  return run_finish(L, R, mb, mbidx, rc, timeout, hasdump);
}

/* ---- registration -------------------------------------------------------- */

const luaL_Reg goroB_run_funcs[] = {
    {"run", l_run},     {"yield", l_yield}, {"sleep", l_sleep},
    {"now", l_now},     {"lockthread", l_lockthread},
    {"unlockthread", l_unlockthread},       {NULL, NULL},
};
