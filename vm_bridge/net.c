/*
** vm_bridge/net.c — goro.net: connections, listeners and packet
** connections whose blocking calls park only their G (runtime/netpoll.c),
** with Go's net semantics and Lua's `nil, err` returns.
**
** A socket object is a userdata (struct sock, one tag for the three
** kinds) that owns a non-blocking, close-on-exec fd and a reference on its
** poll descriptor (edge-triggered: every call tries the system call first
** and waits only on EAGAIN). Calls that may wait are small state machines
** run by `run_op`: an attempt (nettry.c) either finishes (its results
** pushed), or says which direction to wait for; the G then parks
** (stackless when it can) and `sock_k`, the one continuation, runs the
** attempt again. The state an
** operation carries over a wait (bytes written, the address tried) is in
** the continuation's context and the conn's fields; everything else is on
** the G's own Lua stack.
**
** Reads are one at a time, and so are writes (Go's fdMutex): a G that finds
** the direction busy queues for its turn, and the holder hands the turn
** over when its call ends. close wakes every waiter, of the descriptor and
** of the turns, with "use of closed network connection".
**
** A call given a context (its last argument, kept at SOCK_CTXIDX) waits,
** for its turn or on the descriptor, as a two-case select with the
** context's done channel (io.c's goroB_pd_block and goroB_pd_unblock;
** HACKING.md, "The netpoller", Waits with a context): if the context ends
** first, the continuation takes both waiters off their queues, gives the
** turn back if it held it, and returns nil, ctx:err().
** Invariants: fd >= 0 iff pd != NULL (open); rbusy/wbusy iff a call of that
** direction is in progress or handed over; buf holds [boff, boff+blen).
** Locks: none (every call runs with the P).
*/
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netsock.h"

static const char sock_tag;

static struct sock *checksock(lua_State *L, int i, int kind) {
  static const char *const names[] = {"", GORO_CONN_MT, GORO_LISTENER_MT,
                                      GORO_PACKET_MT};
  struct sock *s = goroB_checktag(L, i, &sock_tag, names[kind]);
  if (s->kind != kind) luaL_typeerror(L, i, names[kind]);
  return s;
}

int goroB_net_error(lua_State *L, const char *msg) {
  lua_pushnil(L);
  lua_pushstring(L, msg);
  return 2;
}

/* The text for a wait that did not end ready. */
static const char *wait_text(int code) {
  if (code == GORO_ETIMEDOUT) return "i/o timeout";
  if (code == GORO_ECLOSED) return ECLOSEDTEXT;
  if (code == GORO_EIO) return goroB_net_strerror(errno);
  return goro_strerror(code);
}

/* ---- making and closing ---------------------------------------------------- */

/* Push a socket object of `kind` owning fd (already non-blocking and
** close-on-exec); closes fd and raises if it cannot be made. */
struct sock *goroB_sock_new(lua_State *L, int kind, int fd, int family) {
  static const char *const mts[] = {"", GORO_CONN_MT, GORO_LISTENER_MT,
                                    GORO_PACKET_MT};
  struct goro_runtime *R = goroB_R_of(L);
  struct sock *s = lua_newuserdatauv(L, sizeof *s, 0);  /* (may raise: fd */
  int err = 0;                                         /* leaks then) */
  memset(s, 0, sizeof *s);
  s->tag = &sock_tag;
  s->kind = kind;
  s->fd = -1;
  s->family = family;
  luaL_setmetatable(L, mts[kind]);
  if ((s->pd = goroR_pd_open(&R->rt, fd, 1, &err)) == NULL) {
    close(fd);
    luaL_error(L, "goro.net: %s", err == GORO_EIO ? goroB_net_strerror(errno)
                                                  : goro_strerror(err));
  }
  s->fd = fd;
  return s;
}

/* Wake every G waiting for a turn on q: there is nothing left to do. */
static void turns_fail(struct goro_rt *rt, struct goro_waitq *q) {
  goroR_waitq_wake_all(rt, q, GORO_ECLOSED);
}

/* Close s (a no-op if closed). `wake`: waiters exist or may. The runtime
** may be gone (lua_close finalizes it before or after us): then only the
** fd is closed. */
int goroB_sock_close(lua_State *L, struct sock *s) {
  struct goro_runtime *R = goroB_runtime_get(L);
  if (s->fd < 0) return 0;
  if (R->closed != GORO_RT_FINALIZED) {
    goroR_pd_close(&R->rt, s->pd);  /* parked G's wake: closed */
    turns_fail(&R->rt, &s->rlq);
    turns_fail(&R->rt, &s->wlq);
    goroR_pd_release(&R->rt, s->pd);
  }
  if (s->kind == K_LISTENER && s->family == AF_UNIX) {  /* Go unlinks it */
    struct sockaddr_un un;
    socklen_t len = sizeof un;
    if (getsockname(s->fd, (struct sockaddr *)&un, &len) == 0 &&
        len > offsetof(struct sockaddr_un, sun_path) && un.sun_path[0] != '\0')
      unlink(un.sun_path);
  }
  close(s->fd);
  s->fd = -1;
  s->pd = NULL;
  s->rbusy = s->wbusy = 0;
  free(s->buf);
  s->buf = NULL;
  s->boff = s->blen = s->bcap = 0;
  return 1;
}

static int l_close(lua_State *L) {
  struct sock *s = goroB_checktag(L, 1, &sock_tag, "goro.net object");
  if (!goroB_sock_close(L, s)) return goroB_net_error(L, ECLOSEDTEXT);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_gc(lua_State *L) {
  goroB_sock_close(L, lua_touserdata(L, 1));
  return 0;
}

/* ---- turns and waits ---------------------------------------------------------- */

#define CTX(op, st) ((lua_KContext)(((intptr_t)(st) << 4) | (op)))
#define CTX_OP(ctx) ((int)((ctx) & 15))
#define CTX_ST(ctx) ((intptr_t)(ctx) >> 4)

static int op_dir(int op) {
  return op == OP_WRITE || op == OP_CONNECT || op == OP_WRITETO ? GORO_PD_WRITE
                                                                 : GORO_PD_READ;
}

static void turn_release(lua_State *L, struct sock *s, int dir) {
  struct goro_waitq *q = dir == GORO_PD_READ ? &s->rlq : &s->wlq;
  struct goro_waiter *w;
  if (s->fd < 0) return;  /* (closed meanwhile: the turns are gone) */
  if ((w = goroR_waitq_claim(q)) != NULL) {  /* theirs now: still busy */
    w->ok = 1;
    goroR_ready(&goroB_R_of(L)->rt, w->g, 0);
  } else if (dir == GORO_PD_READ) {
    s->rbusy = 0;
  } else {
    s->wbusy = 0;
  }
}

static int sock_k(lua_State *L, int status, lua_KContext ctx);

void goroB_sock_ctxarg(lua_State *L, int i) {
  goroB_optctx(L, i);
  lua_settop(L, i > SOCK_CTXIDX ? i : SOCK_CTXIDX);
  if (i == SOCK_CTXIDX) return;
  lua_pushvalue(L, i);
  lua_replace(L, SOCK_CTXIDX);
  lua_pushnil(L);
  lua_replace(L, i);
}

/* The call's context x ended first: its turn (if it held it) given back
** by the caller, a dial's socket closed; nil, ctx:err() (a write: and
** what it wrote, st). */
static int ctx_fail(lua_State *L, struct sock *s, int op, intptr_t st,
                    struct goro_context *x) {
  if (op == OP_CONNECT) goroB_sock_close(L, s);  /* (a dial's socket: ours) */
  goroB_ctx_push_err(L, x);
  if (op != OP_WRITE) return 2;
  lua_pushinteger(L, (lua_Integer)st);
  return 3;
}

/* The call's name, for errors raised while it blocks. */
static const char *op_name(int op) {
  static const char *const names[] = {"", "read", "read_line", "read_exact", "write",
                                      "accept", "dial", "read_from", "write_to"};
  return names[op];
}

/* Attempt op until it finishes (release the turn, return its results) or
** must wait: then park on the descriptor, sock_k continuing. */
static int run_op(lua_State *L, struct sock *s, int op, intptr_t st) {
  struct goro_runtime *R = goroB_R_of(L);
  struct goro_context *x = goroB_toctx(L, SOCK_CTXIDX);
  for (;;) {
    struct bg *b;
    int r, rc;
    if (s->fd < 0) {
      turn_release(L, s, op_dir(op));
      return goroB_net_error(L, ECLOSEDTEXT);
    }
    r = goroB_sock_try(L, s, op, &st);
    if (op == OP_CONNECT) s = lua_touserdata(L, 1);  /* (a new socket, maybe) */
    if (r >= 0) {
      turn_release(L, s, op_dir(op));
      return r;
    }
    if (x != NULL && goroB_ctx_ended(x)) {  /* (it ended while we ran) */
      turn_release(L, s, op_dir(op));
      return ctx_fail(L, s, op, st, x);
    }
    b = goroB_bg_block(L, op_name(op));
    rc = goroB_pd_block(L, b, s->pd, r == NEED_READ ? GORO_PD_READ : GORO_PD_WRITE,
                        SOCK_CTXIDX, x);
    if (rc == 1) continue;  /* an edge came meanwhile: try again */
    if (rc < 0) {
      turn_release(L, s, op_dir(op));
      goroB_net_error(L, wait_text(rc));
      if (op != OP_WRITE) return 2;
      lua_pushinteger(L, (lua_Integer)st);  /* what was written */
      return 3;
    }
    /* accept and dial keep their absolute deadline (or nil) at index 2 */
    if ((op == OP_ACCEPT || op == OP_CONNECT) && lua_type(L, 2) == LUA_TNUMBER)
      goroR_timer_add(&R->rt, b->w.g, lua_tonumber(L, 2));
    return goroB_bg_park(L, b, op_name(op), "IO wait", CTX(op, st), sock_k);
  }
}

static int sock_k(lua_State *L, int status, lua_KContext ctx) {
  struct bg *b = goroB_bg_current(L);
  struct sock *s = lua_touserdata(L, 1);
  /* an I/O wait holds the turn; a wait for the turn does not */
  int io = (b->nsel == 2 ? b->sel[0].kind : b->w.kind) == GORO_WAITER_PD;
  int op = CTX_OP(ctx), code = goroB_pd_unblock(L, b);
  (void)status;
  if (code != 1) {  /* a failed wait: for the turn (closed) or for I/O */
    if (io) turn_release(L, s, op_dir(op));
    if (code == 0)
      return ctx_fail(L, s, op, CTX_ST(ctx), lua_touserdata(L, SOCK_CTXIDX));
    if (op == OP_CONNECT) goroB_sock_close(L, s);  /* (a dial's socket: ours) */
    goroB_net_error(L, wait_text(code));
    if (op != OP_WRITE) return 2;
    lua_pushinteger(L, (lua_Integer)CTX_ST(ctx));  /* what was written */
    return 3;
  }
  return run_op(L, s, op, CTX_ST(ctx));
}

/* Begin op on s (at index 1): wait for the direction's turn, then run it. */
int goroB_sock_start(lua_State *L, struct sock *s, int op, intptr_t st) {
  int dir = op_dir(op);
  uint8_t *busy = dir == GORO_PD_READ ? &s->rbusy : &s->wbusy;
  struct bg *b = goroB_bg_block(L, op_name(op));
  struct goro_context *x = goroB_toctx(L, SOCK_CTXIDX);
  if (s->fd < 0) return goroB_net_error(L, ECLOSEDTEXT);
  if (x != NULL) {
    if (goroB_ctx_ended(x)) return ctx_fail(L, s, op, st, x);
    /* its done channel now, while raising is harmless: the waits below
    ** then cannot raise for it with the turn held */
    goroB_ctx_prepare(L, SOCK_CTXIDX, x);
  }
  if (*busy) {  /* another G's call: queue for the turn */
    struct goro_waiter *w = &b->w;
    if (x != NULL) w = goroB_bg_block_ctx(L, b, goroB_ctx_prepare(L, SOCK_CTXIDX, x));
    goroR_waitq_push(dir == GORO_PD_READ ? &s->rlq : &s->wlq, w);
    return goroB_bg_park(L, b, op_name(op), "IO wait (turn)", CTX(op, st), sock_k);
  }
  *busy = 1;
  return run_op(L, s, op, st);
}

/* ---- conn methods ---------------------------------------------------------------- */

/* Check a read's size (index 2) before the call takes the direction's
** turn: an error raised with the turn held would leave the conn's reads
** waiting for it for good. */
static void check_size(lua_State *L, int op) {
  if (op == OP_READEXACT) {
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_argcheck(L, n >= 0 && (size_t)n <= SOCK_BUFMAX, 2, "size out of range");
  } else {
    luaL_optinteger(L, 2, 0);
  }
}

/* conn:read([max [, ctx]]), read_line([max [, ctx]]), read_exact(n [, ctx]) */
static int read_call(lua_State *L, int op) {
  struct sock *s = checksock(L, 1, K_CONN);
  check_size(L, op);
  goroB_sock_ctxarg(L, 3);
  return goroB_sock_start(L, s, op, 0);
}
static int l_read(lua_State *L) { return read_call(L, OP_READ); }
static int l_read_line(lua_State *L) { return read_call(L, OP_READLINE); }
static int l_read_exact(lua_State *L) { return read_call(L, OP_READEXACT); }

/* conn:write(s [, ctx]) -> n | nil, err, written */
static int l_write(lua_State *L) {
  struct sock *s = checksock(L, 1, K_CONN);
  luaL_checkstring(L, 2);
  goroB_sock_ctxarg(L, 3);
  return goroB_sock_start(L, s, OP_WRITE, 0);
}

static int l_close_write(lua_State *L) {
  struct sock *s = checksock(L, 1, K_CONN);
  if (s->fd < 0) return goroB_net_error(L, ECLOSEDTEXT);
  if (shutdown(s->fd, SHUT_WR) != 0) return goroB_net_error(L, goroB_net_strerror(errno));
  lua_pushboolean(L, 1);
  return 1;
}

/* set_deadline(t), set_read_deadline(t), set_write_deadline(t): t in
** goro.now() seconds; nil clears it. */
static int set_deadline(lua_State *L, int dirs) {
  struct sock *s = goroB_checktag(L, 1, &sock_tag, "goro.net object");
  double t = lua_isnoneornil(L, 2) ? 0 : luaL_checknumber(L, 2);
  if (s->fd < 0) return goroB_net_error(L, ECLOSEDTEXT);
  if (!lua_isnoneornil(L, 2) && !(t > 0)) t = 1e-9;  /* passed already */
  if (goroR_pd_set_deadline(&goroB_R_of(L)->rt, s->pd, dirs, t) != 0)
    return luaL_error(L, "goro.net: %s", goro_strerror(GORO_ENOMEM));
  lua_pushboolean(L, 1);
  return 1;
}

static int l_set_deadline(lua_State *L) { return set_deadline(L, 3); }
static int l_set_read_deadline(lua_State *L) { return set_deadline(L, GORO_PD_READ); }
static int l_set_write_deadline(lua_State *L) { return set_deadline(L, GORO_PD_WRITE); }

static int addr(lua_State *L, int peer) {
  struct sock *s = goroB_checktag(L, 1, &sock_tag, "goro.net object");
  struct sockaddr_storage a;
  socklen_t len = sizeof a;
  if (s->fd < 0) return goroB_net_error(L, ECLOSEDTEXT);
  if ((peer ? getpeername : getsockname)(s->fd, (struct sockaddr *)&a, &len) != 0)
    return goroB_net_error(L, goroB_net_strerror(errno));
  goroB_net_pushaddr(L, (struct sockaddr *)&a, len);
  return 1;
}

static int l_local_addr(lua_State *L) { return addr(L, 0); }
static int l_remote_addr(lua_State *L) { return addr(L, 1); }

static int l_fd(lua_State *L) {
  struct sock *s = goroB_checktag(L, 1, &sock_tag, "goro.net object");
  lua_pushinteger(L, s->fd);
  return 1;
}

static int sockopt(lua_State *L, int level, int name) {
  struct sock *s = checksock(L, 1, K_CONN);
  int on = lua_toboolean(L, 2);
  if (s->fd < 0) return goroB_net_error(L, ECLOSEDTEXT);
  if (setsockopt(s->fd, level, name, &on, sizeof on) != 0)
    return goroB_net_error(L, goroB_net_strerror(errno));
  lua_pushboolean(L, 1);
  return 1;
}

static int l_set_nodelay(lua_State *L) { return sockopt(L, IPPROTO_TCP, TCP_NODELAY); }
static int l_set_keepalive(lua_State *L) { return sockopt(L, SOL_SOCKET, SO_KEEPALIVE); }

static int l_tostring(lua_State *L) {
  struct sock *s = goroB_checktag(L, 1, &sock_tag, "goro.net object");
  static const char *const kinds[] = {"", "conn", "listener", "packetconn"};
  lua_pushfstring(L, "goro.net.%s(fd %d%s): %p", kinds[s->kind], s->fd,
                  s->fd < 0 ? ", closed" : "", (void *)s);
  return 1;
}

/* ---- listeners ------------------------------------------------------------------ */

/* l:accept([timeout [, ctx]]) -> conn | nil, err */
static int l_accept(lua_State *L) {
  struct sock *s = checksock(L, 1, K_LISTENER);
  goroB_sock_ctxarg(L, 3);
  if (!lua_isnoneornil(L, 2)) {  /* index 2: the absolute deadline */
    double t = luaL_checknumber(L, 2);
    lua_pushnumber(L, goroR_now() + (t > 0 ? t : 0));
    lua_replace(L, 2);
  }
  return goroB_sock_start(L, s, OP_ACCEPT, 0);
}

/* ---- packet connections ---------------------------------------------------------- */

/* pc:read_from([max [, ctx]]) -> data, addr | nil, err */
static int l_read_from(lua_State *L) {
  struct sock *s = checksock(L, 1, K_PACKET);
  check_size(L, OP_READFROM);
  goroB_sock_ctxarg(L, 3);
  return goroB_sock_start(L, s, OP_READFROM, 0);
}

/* pc:write_to(data, addr [, ctx]) -> n | nil, err */
static int l_write_to(lua_State *L) {
  struct sock *s = checksock(L, 1, K_PACKET);
  struct netspec ns = {s->family == AF_UNIX ? AF_UNIX : AF_UNSPEC, SOCK_DGRAM};
  luaL_checkstring(L, 2);
  goroB_sock_ctxarg(L, 4);
  if (goroB_net_resolve(L, ns, luaL_checkstring(L, 3), 0) == NULL) return 2;
  lua_replace(L, 3);  /* 3: the destination, resolved */
  return goroB_sock_start(L, s, OP_WRITETO, 0);
}

/* ---- registration ---------------------------------------------------------------- */

static const luaL_Reg common[] = {
    {"close", l_close},
    {"set_deadline", l_set_deadline},
    {"set_read_deadline", l_set_read_deadline},
    {"set_write_deadline", l_set_write_deadline},
    {"local_addr", l_local_addr},
    {"fd", l_fd},
    {"__close", l_close},
    {"__gc", l_gc},
    {"__tostring", l_tostring},
    {NULL, NULL},
};

static const luaL_Reg conn_methods[] = {
    {"read", l_read},
    {"read_line", l_read_line},
    {"read_exact", l_read_exact},
    {"write", l_write},
    {"close_write", l_close_write},
    {"remote_addr", l_remote_addr},
    {"set_nodelay", l_set_nodelay},
    {"set_keepalive", l_set_keepalive},
    {NULL, NULL},
};

static const luaL_Reg listener_methods[] = {
    {"accept", l_accept},
    {"addr", l_local_addr},
    {NULL, NULL},
};

static const luaL_Reg packet_methods[] = {
    {"read_from", l_read_from},
    {"write_to", l_write_to},
    {NULL, NULL},
};

/* Make the three metatables; the runtime userdata is at index r. */
void goroB_net_open_types(lua_State *L, int r) {
  static const char *const mts[] = {GORO_CONN_MT, GORO_LISTENER_MT, GORO_PACKET_MT};
  static const luaL_Reg *const methods[] = {conn_methods, listener_methods,
                                            packet_methods};
  for (int k = 0; k < 3; k++) {
    luaL_newmetatable(L, mts[k]);
    lua_pushvalue(L, r);
    luaL_setfuncs(L, common, 1);
    lua_pushvalue(L, r);
    luaL_setfuncs(L, methods[k], 1);
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
  }
}
