/*
** vm_bridge/nettry.c — the attempts of goro.net's calls: one try of a
** read, a write, an accept, a connect (the next resolved address on a
** failure, as Go does), a read_from or a write_to, on a non-blocking fd.
** An attempt finishes (its results pushed) or says which direction it
** must wait for; net.c's run_op parks the G and tries again. Split from
** net.c, whose invariants hold here (netsock.h). Locks: none.
*/
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "netsock.h"


/* Read more into s's buffer: > 0 bytes read, 0 EOF, NEED_READ, or -errno
** - 100 (an error, its errno in errno). */
static int fill(struct sock *s) {
  ssize_t k;
  if (s->boff > 0 && s->blen > 0) memmove(s->buf, s->buf + s->boff, s->blen);
  s->boff = 0;
  if (s->bcap - s->blen < 4096) {
    size_t ncap = s->bcap ? s->bcap * 2 : 8192;
    char *nb;
    if (ncap > SOCK_BUFMAX || (nb = realloc(s->buf, ncap)) == NULL) {
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
  lua_Integer n = lua_tointeger(L, 2);  /* (checked by net.c's read_call) */
  goroR_assert(n >= 0 && (size_t)n <= SOCK_BUFMAX);
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

int goroB_sock_try(lua_State *L, struct sock *s, int op, intptr_t *st) {
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
