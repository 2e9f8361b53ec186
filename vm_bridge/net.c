/*
** vm_bridge/net.c — goro.net: connections, listeners and packet
** connections whose blocking calls park only their G (runtime/netpoll.c),
** with Go's net semantics and Lua's `nil, err` returns.
**
** A socket object is a userdata (struct sock, one tag for the three
** kinds) that owns a non-blocking, close-on-exec fd and a reference on its
** poll descriptor (edge-triggered: every call tries the system call first
** and waits only on EAGAIN). Calls that may wait are small state machines
** run by `run_op`: an attempt either finishes (its results pushed), or says
** which direction to wait for; the G then parks (stackless when it can)
** and `sock_k`, the one continuation, runs the attempt again. The state an
** operation carries over a wait (bytes written, the address tried) is in
** the continuation's context and the conn's fields; everything else is on
** the G's own Lua stack.
**
** Reads are one at a time, and so are writes (Go's fdMutex): a G that finds
** the direction busy queues for its turn, and the holder hands the turn
** over when its call ends. close wakes every waiter, of the descriptor and
** of the turns, with "use of closed network connection".
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

enum { NEED_READ = -1, NEED_WRITE = -2 };

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

static int try_op(lua_State *L, struct sock *s, int op, intptr_t *st);
static int sock_k(lua_State *L, int status, lua_KContext ctx);

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
  for (;;) {
    struct bg *b;
    int r, rc;
    if (s->fd < 0) {
      turn_release(L, s, op_dir(op));
      return goroB_net_error(L, ECLOSEDTEXT);
    }
    r = try_op(L, s, op, &st);
    if (op == OP_CONNECT) s = lua_touserdata(L, 1);  /* (a new socket, maybe) */
    if (r >= 0) {
      turn_release(L, s, op_dir(op));
      return r;
    }
    b = goroB_bg_block(L, op_name(op));
    rc = goroR_pd_wait(&R->rt, s->pd, r == NEED_READ ? GORO_PD_READ : GORO_PD_WRITE,
                       &b->w);
    if (rc == 1) continue;  /* an edge came meanwhile: try again */
    if (rc < 0) {
      turn_release(L, s, op_dir(op));
      goroB_net_error(L, wait_text(rc));
      if (op != OP_WRITE) return 2;
      lua_pushinteger(L, (lua_Integer)st);  /* what was written */
      return 3;
    }
    b->w.kind = GORO_WAITER_PD;
    /* accept and dial keep their absolute deadline (or nil) at index 2 */
    if ((op == OP_ACCEPT || op == OP_CONNECT) && lua_type(L, 2) == LUA_TNUMBER)
      goroR_timer_add(&R->rt, b->g, lua_tonumber(L, 2));
    return goroB_bg_park(L, b, op_name(op), "IO wait", CTX(op, st), sock_k);
  }
}

static int sock_k(lua_State *L, int status, lua_KContext ctx) {
  struct goro_runtime *R = goroB_R_of(L);
  struct bg *b = goroB_bg_current(L);
  struct sock *s = lua_touserdata(L, 1);
  int op = CTX_OP(ctx), code = b->w.ok;
  (void)status;
  if (b->w.kind == GORO_WAITER_PD) {  /* back from an I/O wait */
    if (b->w.q != NULL) {  /* its own timer came first: a timeout */
      goroB_chan_leave(&R->rt, &b->w);
      code = GORO_ETIMEDOUT;
    }
    goroR_timer_del(&R->rt, b->g);
  }
  if (code != 1) {  /* a failed wait: for the turn (closed) or for I/O */
    if (b->w.kind == GORO_WAITER_PD) turn_release(L, s, op_dir(op));
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
  if (s->fd < 0) return goroB_net_error(L, ECLOSEDTEXT);
  if (*busy) {  /* another G's call: queue for the turn */
    goroR_waitq_push(dir == GORO_PD_READ ? &s->rlq : &s->wlq, &b->w);
    return goroB_bg_park(L, b, op_name(op), "IO wait (turn)", CTX(op, st), sock_k);
  }
  *busy = 1;
  return run_op(L, s, op, st);
}

/* ---- the attempts ------------------------------------------------------------- */

#define BUFMAX ((size_t)64 * 1024 * 1024)

/* Read more into s's buffer: > 0 bytes read, 0 EOF, NEED_READ, or -errno
** - 100 (an error, its errno in errno). */
static int fill(struct sock *s) {
  ssize_t k;
  if (s->boff > 0 && s->blen > 0) memmove(s->buf, s->buf + s->boff, s->blen);
  s->boff = 0;
  if (s->bcap - s->blen < 4096) {
    size_t ncap = s->bcap ? s->bcap * 2 : 8192;
    char *nb;
    if (ncap > BUFMAX || (nb = realloc(s->buf, ncap)) == NULL) {
      errno = ENOMEM;
      return -100;
    }
    s->buf = nb;
    s->bcap = ncap;
  }
  k = recv(s->fd, s->buf + s->blen, s->bcap - s->blen, 0);
  if (k > 0) s->blen += (size_t)k;
  if (k >= 0) return (int)(k > 0);
  return errno == EAGAIN || errno == EWOULDBLOCK ? NEED_READ
         : errno == EINTR ? 1 : -100;
}

static void consume(lua_State *L, struct sock *s, size_t n, size_t skip) {
  lua_pushlstring(L, s->buf + s->boff, n);
  s->boff += n + skip;
  s->blen -= n + skip;
}

static int try_read(lua_State *L, struct sock *s) {
  lua_Integer max = luaL_optinteger(L, 2, 16384);
  char tmp[16384];
  ssize_t k;
  if (max <= 0) max = 1;
  if (s->blen > 0) {  /* what read_line or read_exact left */
    consume(L, s, s->blen < (size_t)max ? s->blen : (size_t)max, 0);
    return 1;
  }
  if ((size_t)max > sizeof tmp) max = sizeof tmp;
  k = recv(s->fd, tmp, (size_t)max, 0);
  if (k > 0) {
    lua_pushlstring(L, tmp, (size_t)k);
    return 1;
  }
  if (k == 0) return goroB_net_error(L, "EOF");
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return NEED_READ;
  return goroB_net_error(L, goroB_net_strerror(errno));
}

static int try_readline(lua_State *L, struct sock *s) {
  lua_Integer max = luaL_optinteger(L, 2, 1024 * 1024);
  for (;;) {
    char *nl = s->blen > 0 ? memchr(s->buf + s->boff, '\n', s->blen) : NULL;
    int r;
    if (nl != NULL) {
      size_t n = (size_t)(nl - (s->buf + s->boff));
      size_t cr = n > 0 && nl[-1] == '\r';
      consume(L, s, n - cr, 1 + cr);
      return 1;
    }
    if ((lua_Integer)s->blen >= max) return goroB_net_error(L, "line too long");
    if ((r = fill(s)) == 0) {  /* EOF: the last line has no newline */
      if (s->blen == 0) return goroB_net_error(L, "EOF");
      consume(L, s, s->blen, 0);
      return 1;
    }
    if (r < 0) return r == NEED_READ ? r : goroB_net_error(L, goroB_net_strerror(errno));
  }
}

static int try_readexact(lua_State *L, struct sock *s) {
  lua_Integer n = luaL_checkinteger(L, 2);
  luaL_argcheck(L, n >= 0 && (size_t)n <= BUFMAX, 2, "size out of range");
  while (s->blen < (size_t)n) {
    int r = fill(s);
    if (r == 0) return goroB_net_error(L, s->blen == 0 ? "EOF" : "unexpected EOF");
    if (r < 0) return r == NEED_READ ? r : goroB_net_error(L, goroB_net_strerror(errno));
  }
  consume(L, s, (size_t)n, 0);
  return 1;
}

static int try_write(lua_State *L, struct sock *s, intptr_t *st) {
  size_t n;
  const char *p = luaL_checklstring(L, 2, &n);
  while ((size_t)*st < n) {
    ssize_t k = send(s->fd, p + *st, n - (size_t)*st, MSG_NOSIGNAL);
    if (k > 0) {
      *st += k;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return NEED_WRITE;
    } else if (errno != EINTR) {
      lua_pushnil(L);
      lua_pushstring(L, goroB_net_strerror(errno));
      lua_pushinteger(L, (lua_Integer)*st);
      return 3;
    }
  }
  lua_pushinteger(L, (lua_Integer)n);
  return 1;
}

static int try_accept(lua_State *L, struct sock *s) {
  for (;;) {
    int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      if (s->family != AF_UNIX) {  /* as Go: no Nagle delay by default */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      }
      goroB_sock_new(L, K_CONN, fd, s->family);
      return 1;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) return NEED_READ;
    if (errno != EINTR && errno != ECONNABORTED)
      return goroB_net_error(L, goroB_net_strerror(errno));
  }
}

/* Dial: s (index 1) is the socket of the address tried now, *st its index
** in the resolved list at index 3 (+1 once connect is in progress). On a
** failure the next address is tried with a fresh socket, as Go does. */
static int try_connect(lua_State *L, struct sock *s, intptr_t *st) {
  struct netaddrs *as = lua_touserdata(L, 3);
  int i = (int)(*st >> 1), e;
  socklen_t len = sizeof e;
  if (*st & 1) {  /* connect was in progress: how did it end? */
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0) e = errno;
    if (e == 0) {
      lua_settop(L, 1);
      return 1;
    }
  } else {
    if (connect(s->fd, (struct sockaddr *)&as->a[i], as->len[i]) == 0) {
      lua_settop(L, 1);
      return 1;
    }
    if (errno == EINPROGRESS || errno == EINTR) {
      *st |= 1;
      return NEED_WRITE;
    }
    e = errno;
  }
  /* This address failed: the next one, on a socket of its own. */
  if (++i >= as->n) {
    goroB_sock_close(L, s);
    return goroB_net_error(L, goroB_net_strerror(e));
  }
  {
    int fd = socket(as->a[i].ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return goroB_net_error(L, goroB_net_strerror(errno));
    goroB_sock_close(L, s);
    /* the new socket takes the old one's place at index 1 (s's pointer
    ** stays valid for the caller's loop only through the stack) */
    s = goroB_sock_new(L, K_CONN, fd, as->a[i].ss_family);
    lua_replace(L, 1);
  }
  *st = (intptr_t)i << 1;
  return try_connect(L, lua_touserdata(L, 1), st);
}

static int try_readfrom(lua_State *L, struct sock *s) {
  lua_Integer max = luaL_optinteger(L, 2, 65536);
  struct sockaddr_storage from;
  socklen_t len = sizeof from;
  luaL_Buffer b;
  char *p;
  ssize_t k;
  if (max <= 0) max = 1;
  p = luaL_buffinitsize(L, &b, (size_t)max);
  k = recvfrom(s->fd, p, (size_t)max, 0, (struct sockaddr *)&from, &len);
  if (k < 0) {
    int e = errno;
    lua_pop(L, 1);  /* the buffer's box */
    if (e == EAGAIN || e == EWOULDBLOCK || e == EINTR) return NEED_READ;
    return goroB_net_error(L, goroB_net_strerror(e));
  }
  luaL_pushresultsize(&b, (size_t)k);
  goroB_net_pushaddr(L, (struct sockaddr *)&from, len);
  return 2;
}

/* write_to: the data at 2, its resolved destination at 3. */
static int try_writeto(lua_State *L, struct sock *s) {
  size_t n;
  const char *p = lua_tolstring(L, 2, &n);
  struct netaddrs *to = lua_touserdata(L, 3);
  ssize_t k = sendto(s->fd, p, n, MSG_NOSIGNAL, (struct sockaddr *)&to->a[0],
                     to->len[0]);
  if (k >= 0) {
    lua_pushinteger(L, (lua_Integer)k);
    return 1;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return NEED_WRITE;
  return goroB_net_error(L, goroB_net_strerror(errno));
}

static int try_op(lua_State *L, struct sock *s, int op, intptr_t *st) {
  switch (op) {
    case OP_READ: return try_read(L, s);
    case OP_READLINE: return try_readline(L, s);
    case OP_READEXACT: return try_readexact(L, s);
    case OP_WRITE: return try_write(L, s, st);
    case OP_ACCEPT: return try_accept(L, s);
    case OP_CONNECT: return try_connect(L, s, st);
    case OP_READFROM: return try_readfrom(L, s);
    default: return try_writeto(L, s);
  }
}

/* ---- conn methods ---------------------------------------------------------------- */

static int l_read(lua_State *L) {
  return goroB_sock_start(L, checksock(L, 1, K_CONN), OP_READ, 0);
}
static int l_read_line(lua_State *L) {
  return goroB_sock_start(L, checksock(L, 1, K_CONN), OP_READLINE, 0);
}
static int l_read_exact(lua_State *L) {
  return goroB_sock_start(L, checksock(L, 1, K_CONN), OP_READEXACT, 0);
}
static int l_write(lua_State *L) {
  struct sock *s = checksock(L, 1, K_CONN);
  luaL_checkstring(L, 2);
  lua_settop(L, 2);
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

/* l:accept([timeout]) -> conn | nil, err */
static int l_accept(lua_State *L) {
  struct sock *s = checksock(L, 1, K_LISTENER);
  if (!lua_isnoneornil(L, 2)) {  /* index 2: the absolute deadline */
    double t = luaL_checknumber(L, 2);
    lua_pushnumber(L, goroR_now() + (t > 0 ? t : 0));
    lua_replace(L, 2);
  }
  lua_settop(L, 2);
  return goroB_sock_start(L, s, OP_ACCEPT, 0);
}

/* ---- packet connections ---------------------------------------------------------- */

/* pc:read_from([max]) -> data, addr | nil, err */
static int l_read_from(lua_State *L) {
  struct sock *s = checksock(L, 1, K_PACKET);
  lua_settop(L, 2);
  return goroB_sock_start(L, s, OP_READFROM, 0);
}

/* pc:write_to(data, addr) -> n | nil, err */
static int l_write_to(lua_State *L) {
  struct sock *s = checksock(L, 1, K_PACKET);
  struct netspec ns = {s->family == AF_UNIX ? AF_UNIX : AF_UNSPEC, SOCK_DGRAM};
  luaL_checkstring(L, 2);
  lua_settop(L, 3);
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
