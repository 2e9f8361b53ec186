/*
** vm_bridge/io.c — waiting on file descriptors from G's: goro.wait_readable
** and goro.wait_writable for Lua, goro_wait_fd for C modules.
**
** Each wait takes a reference on the fd's poll descriptor (runtime/
** netpoll.c) for its duration; a foreign fd (anyone's: pipes, luaposix's,
** inotify, signalfd) is watched level-triggered and oneshot, so a fd
** nobody waits on costs the poller nothing. A wait's timeout is the G's
** own timer, as goro.sleep's is: whichever of the fd and the timer comes
** first readies the G (the timer claims it: selected 0), and the
** continuation tells them apart by that.
**
** A wait given a context (its last argument) waits on the context's done
** channel too, as a two-case select (goroB_pd_block, goroB_pd_unblock:
** net.c's calls and goro.io's files wait the same way; HACKING.md, "The
** netpoller", Waits with a context). Locks: none (everything with the P).
*/
#include <errno.h>
#include <poll.h>
#include <string.h>

#include "bridge.h"

/* What a wait that did not end ready says, as Lua's io returns it. */
static const char *wait_error(int code) {
  switch (code) {
    case GORO_ETIMEDOUT: return "i/o timeout";
    case GORO_ECLOSED: return "use of closed file";
    case GORO_EIO: return strerror(errno);
    default: return goro_strerror(code);
  }
}

int goroB_pd_block(lua_State *L, struct bg *b, struct goro_pd *pd, int dir,
                   int xi, struct goro_context *x) {
  struct goro_rt *rt = &goroB_R_of(L)->rt;
  struct goro_waiter *w = &b->w;
  int rc;
  if (x != NULL) w = goroB_bg_block_ctx(L, b, goroB_ctx_prepare(L, xi, x));
  if ((rc = goroR_pd_wait(rt, pd, dir, w)) != 0) {
    int e = errno;
    if (x != NULL) goroB_bg_unqueue(rt, b);  /* (the done channel's waiter) */
    errno = e;
    return rc;
  }
  w->kind = GORO_WAITER_PD;
  return 0;
}

int goroB_pd_unblock(lua_State *L, struct bg *b) {
  struct goro_rt *rt = &goroB_R_of(L)->rt;
  int code;
  if (b->nsel == 2) {  /* with a context: who claimed the G first? */
    int won = goroB_bg_unblock_ctx(rt, b, &code);
    if (won != 1) code = won == 2 ? 0 : GORO_ETIMEDOUT;
  } else {
    code = b->w.ok;
    if (b->w.g->selected == 0) {  /* its own timer came first: a timeout */
      goroB_chan_leave(rt, &b->w);
      code = GORO_ETIMEDOUT;
    }
  }
  goroR_timer_del(rt, b->w.g);
  return code;
}

/* The end of a wait on pd (the continuation's context): 1 if the fd got
** ready, 0 if the context ended first, else an error code; the reference
** goes. */
static int wait_end(lua_State *L, struct goro_pd *pd) {
  int code = goroB_pd_unblock(L, goroB_bg_current(L));
  goroR_pd_release(&goroB_R_of(L)->rt, pd);
  return code;
}

/* (the context, if any, at 3) */
static int wait_k(lua_State *L, int status, lua_KContext ctx) {
  int code = wait_end(L, (struct goro_pd *)ctx);
  (void)status;
  if (code == 1) {
    lua_pushboolean(L, 1);
    return 1;
  }
  if (code == 0) return goroB_ctx_push_err(L, lua_touserdata(L, 3));
  lua_pushnil(L);
  lua_pushstring(L, wait_error(code));
  return 2;
}

/* goro.wait_readable(fd [, timeout [, ctx]]) / wait_writable -> true |
** nil, err */
static int wait_fd(lua_State *L, int dir, const char *fname) {
  struct goro_runtime *R = goroB_R_of(L);
  lua_Integer fd = luaL_checkinteger(L, 1);
  double timeout = luaL_optnumber(L, 2, -1);
  struct goro_context *x = goroB_optctx(L, 3);
  struct goro_pd *pd;
  struct bg *b;
  int err = 0, rc;
  luaL_argcheck(L, fd >= 0 && fd <= 0x7fffffff, 1, "not a file descriptor");
  lua_settop(L, 3);
  b = goroB_bg_block(L, fname);
  if (x != NULL) {
    if (goroB_ctx_ended(x)) return goroB_ctx_push_err(L, x);
    goroB_ctx_prepare(L, 3, x);  /* (may raise: before the reference) */
  }
  if ((pd = goroR_pd_open(&R->rt, (int)fd, 0, &err)) == NULL)
    return luaL_error(L, "goro: %s: %s", fname,
                      err == GORO_EIO ? strerror(errno) : goro_strerror(err));
  rc = goroB_pd_block(L, b, pd, dir, 3, x);
  if (rc != 0) {  /* ready now, or an error: no wait */
    int e = errno;
    goroR_pd_release(&R->rt, pd);
    errno = e;
    if (rc == 1) {
      lua_pushboolean(L, 1);
      return 1;
    }
    lua_pushnil(L);
    lua_pushstring(L, wait_error(rc));
    return 2;
  }
  if (timeout >= 0) goroR_timer_add(&R->rt, b->w.g, goroR_now() + timeout);
  return goroB_bg_park(L, b, fname, "IO wait", (lua_KContext)pd, wait_k);
}

int goroB_fd_wait_ctx(lua_State *L, int fd, int dir, int xi,
                      struct goro_context *x, const char *fname) {
  struct goro_runtime *R = goroB_R_of(L);
  struct bg *b = goroB_bg_block(L, fname);
  struct goro_pd *pd;
  const char *why;
  int err = 0, rc;
  if (goroB_ctx_ended(x)) return 0;
  goroB_ctx_prepare(L, xi, x);  /* (may raise: before the reference) */
  if ((why = goroB_bg_cannot_park(L, b)) != NULL) return luaL_error(L, why, fname);
  if ((pd = goroR_pd_open(&R->rt, fd, 0, &err)) == NULL) {
    if (err == GORO_EIO) return GORO_EIO;
    return luaL_error(L, "goro: %s: %s", fname, goro_strerror(err));
  }
  if ((rc = goroB_pd_block(L, b, pd, dir, xi, x)) != 0) {
    int e = errno;
    goroR_pd_release(&R->rt, pd);
    errno = e;
    return rc;
  }
  /* Park right here, stackfully (the caller is deep in a read), as
  ** goro_wait_fd does. */
  if ((rc = goroR_park(b->w.g, "IO wait")) != 0) {
    goroB_bg_unqueue(&R->rt, b);
    goroR_pd_release(&R->rt, pd);
    return goroB_bg_park_failed(L, b, rc, fname);
  }
  return wait_end(L, pd);
}

static int l_wait_readable(lua_State *L) {
  return wait_fd(L, GORO_PD_READ, "wait_readable");
}

static int l_wait_writable(lua_State *L) {
  return wait_fd(L, GORO_PD_WRITE, "wait_writable");
}

/* ---- goro_wait_fd: the same for C ----------------------------------------- */

/* Not on a G: a plain poll on this thread (there is no P to lend). */
static int poll_here(int fd, int events, double timeout_s) {
  struct pollfd p;
  int ms = timeout_s < 0 ? -1 : timeout_s > 2e6 ? 2000000000 : (int)(timeout_s * 1e3);
  int n;
  p.fd = fd;
  p.events = (short)((events & GORO_WAIT_READ ? POLLIN : 0) |
                     (events & GORO_WAIT_WRITE ? POLLOUT : 0));
  p.revents = 0;
  do n = poll(&p, 1, ms);
  while (n < 0 && errno == EINTR);
  if (n < 0) return GORO_EIO;
  if (n == 0) return GORO_ETIMEDOUT;
  return (p.revents & (POLLIN | POLLHUP | POLLERR) ? GORO_WAIT_READ : 0) |
         (p.revents & (POLLOUT | POLLHUP | POLLERR) ? GORO_WAIT_WRITE : 0);
}

GORO_EXPORT int goro_wait_fd(lua_State *L, int fd, int events, double timeout_s) {
  struct goro_m *mp = goroR_m_self();
  struct goro_runtime *R;
  struct goro_pd *pd;
  struct bg *b;
  int err = 0, rc, dir;
  if (fd < 0 || (events != GORO_WAIT_READ && events != GORO_WAIT_WRITE)) {
    goroB_seterr("goro_wait_fd: bad argument (events: GORO_WAIT_READ or "
                 "GORO_WAIT_WRITE)");
    return GORO_EINVAL;
  }
  if (mp == NULL || mp->curg == NULL || mp->curg->status != GORO_GRUNNING ||
      mp->rt == NULL)
    return poll_here(fd, events, timeout_s);
  R = mp->rt->ud;
  b = mp->curg->ud;
  dir = events == GORO_WAIT_READ ? GORO_PD_READ : GORO_PD_WRITE;
  if (goroB_in_finalizer(L, b)) {
    goroB_seterr("goro_wait_fd: would block inside a __gc finalizer");
    return GORO_ESTATE;
  }
  if (goroA_xrec_self()->depth > 0) {
    goroB_seterr("goro_wait_fd: would block on a borrowed stack");
    return GORO_ESTATE;
  }
  goroB_bg_block(L, "goro_wait_fd");  /* (on a G: it cannot raise) */
  if ((pd = goroR_pd_open(&R->rt, fd, 0, &err)) == NULL) {
    goroB_seterr(err == GORO_EIO ? strerror(errno) : goro_strerror(err));
    return err;
  }
  rc = goroR_pd_wait(&R->rt, pd, dir, &b->w);
  if (rc == 0) {  /* queued: park right here, stackfully */
    b->w.kind = GORO_WAITER_PD;
    if (timeout_s >= 0)
      goroR_timer_add(&R->rt, b->w.g, goroR_now() + timeout_s);
    if (goroR_park(b->w.g, "IO wait") != 0) {  /* the run ended meanwhile */
      goroB_bg_unqueue(&R->rt, b);
      goroR_pd_release(&R->rt, pd);
      goroB_seterr("goro_wait_fd: the run ended while it waited");
      return GORO_EENDED;
    }
    rc = wait_end(L, pd);
  } else {
    goroR_pd_release(&R->rt, pd);
  }
  if (rc == 1) return events;
  goroB_seterr(wait_error(rc));
  return rc;
}

const luaL_Reg goroB_io_funcs[] = {
    {"wait_readable", l_wait_readable},
    {"wait_writable", l_wait_writable},
    {NULL, NULL},
};
