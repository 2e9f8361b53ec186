/*
** vm_bridge/file.c — goro.io: files with Lua's file methods whose blocking
** reads and writes hold up only their G.
**
** Regular files are not pollable (epoll refuses them, and a read of a slow
** disk blocks however the fd is set), so every system call that may block
** here — open (a FIFO waits for its other end), read, write, lseek, close
** — goes through goro_cgocall, the path that lends the P to the other G's
** while C runs (HACKING.md, "The host machinery"). Outside any G it simply
** runs on the calling thread.
**
** A file is a userdata (struct gfile) with its own read buffer; writes go
** straight to the fd, so flush has nothing to do and the data is the
** kernel's once write returns. Reads follow Lua's formats ("n", "a", "l",
** "L", a count). Invariants: fd >= 0 while open; buf holds [boff,
** boff+blen); the fd's position is past what buf holds. Locks: none.
**
** read and write take a context as their last argument (after the
** formats, after the strings). Nothing can stop a system call in C, so
** before each one that could block, the G waits for the fd to be ready
** with the context beside it (io.c's goroB_fd_wait_ctx: a pipe, a FIFO,
** a tty wait; a regular file is always ready), and a write to anything
** but a regular file goes in pieces of PIPE_BUF bytes, which a writable
** pipe takes whole. "l", "L", "a" and counts keep what they read in the
** buffer until they have it all, so a read the context ended loses no
** data: the next read finds it (HACKING.md, "The netpoller", Waits with
** a context).
*/
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bridge.h"

#define GORO_FILE_MT "goro.io.file"
#define CHUNK 65536

static const char file_tag;

struct gfile {
  const void *tag;   /* &file_tag */
  int fd;            /* -1 once closed */
  int standard;      /* stdin, stdout, stderr: never closed */
  char *buf;
  size_t boff, blen, bcap;
};

/* ---- system calls through goro_cgocall --------------------------------------- */

struct sys {
  int op, fd, flags, whence;
  const char *path;
  void *p;
  size_t n;
  off_t off;
  ssize_t rc;
  int err;
};

enum { SYS_OPEN, SYS_READ, SYS_WRITE, SYS_SEEK, SYS_CLOSE };

static void do_sys(void *arg) {
  struct sys *s = arg;
  do {
    switch (s->op) {
      case SYS_OPEN: s->rc = open(s->path, s->flags | O_CLOEXEC, 0666); break;
      case SYS_READ: s->rc = read(s->fd, s->p, s->n); break;
      case SYS_WRITE: s->rc = write(s->fd, s->p, s->n); break;
      case SYS_SEEK: s->rc = lseek(s->fd, s->off, s->whence); break;
      default: s->rc = close(s->fd); break;
    }
  } while (s->rc < 0 && errno == EINTR && s->op != SYS_CLOSE);
  s->err = s->rc < 0 ? errno : 0;
}

/* Run s on an M's system stack with the P lent (or here, outside a G). */
static ssize_t sys(lua_State *L, struct sys *s) {
  if (goro_cgocall(L, do_sys, s) != 0) do_sys(s);
  errno = s->err;
  return s->rc;
}

/* Lua's failure triple: nil, "path: message", errno. */
static int fail(lua_State *L, const char *what) {
  int e = errno;
  lua_pushnil(L);
  if (what != NULL)
    lua_pushfstring(L, "%s: %s", what, strerror(e));
  else
    lua_pushstring(L, strerror(e));
  lua_pushinteger(L, e);
  return 3;
}

/* ---- objects ------------------------------------------------------------------- */

static struct gfile *newfile(lua_State *L, int fd, int standard) {
  struct gfile *f = lua_newuserdatauv(L, sizeof *f, 0);
  memset(f, 0, sizeof *f);
  f->tag = &file_tag;
  f->fd = fd;
  f->standard = standard;
  luaL_setmetatable(L, GORO_FILE_MT);
  return f;
}

static struct gfile *checkopen(lua_State *L, int i) {
  struct gfile *f = goroB_checktag(L, i, &file_tag, GORO_FILE_MT);
  if (f->fd < 0) luaL_error(L, "attempt to use a closed file");
  return f;
}

/* goro.io.open(path [, mode]) -> f | nil, err, errno */
static int l_open(lua_State *L) {
  static const struct { const char *m; int flags; } modes[] = {
      {"r", O_RDONLY}, {"w", O_WRONLY | O_CREAT | O_TRUNC},
      {"a", O_WRONLY | O_CREAT | O_APPEND}, {"r+", O_RDWR},
      {"w+", O_RDWR | O_CREAT | O_TRUNC}, {"a+", O_RDWR | O_CREAT | O_APPEND}};
  const char *path = luaL_checkstring(L, 1);
  const char *mode = luaL_optstring(L, 2, "r");
  char m[3] = {0};
  struct sys s = {0};
  size_t n = strlen(mode);
  int k;
  if (n > 0 && mode[n - 1] == 'b') n--;  /* binary: the same on POSIX */
  luaL_argcheck(L, n >= 1 && n <= 2, 2, "invalid mode");
  memcpy(m, mode, n);
  for (k = 0; k < 6 && strcmp(modes[k].m, m) != 0; k++) {
  }
  luaL_argcheck(L, k < 6, 2, "invalid mode");
  s.op = SYS_OPEN;
  s.path = path;
  s.flags = modes[k].flags;
  if (sys(L, &s) < 0) return fail(L, path);
  newfile(L, (int)s.rc, 0);
  return 1;
}

static int closefile(lua_State *L, struct gfile *f) {
  struct sys s = {0};
  int fd = f->fd;
  f->fd = -1;
  free(f->buf);
  f->buf = NULL;
  f->boff = f->blen = f->bcap = 0;
  if (f->standard) return 0;
  s.op = SYS_CLOSE;
  s.fd = fd;
  return sys(L, &s) < 0 ? -1 : 0;
}

static int f_close(lua_State *L) {
  struct gfile *f = checkopen(L, 1);
  if (f->standard) {
    lua_pushnil(L);
    lua_pushliteral(L, "cannot close standard file");
    return 2;
  }
  if (closefile(L, f) != 0) return fail(L, NULL);
  lua_pushboolean(L, 1);
  return 1;
}

static int f_gc(lua_State *L) {
  struct gfile *f = lua_touserdata(L, 1);
  if (f->fd >= 0 && !f->standard) {  /* (no G to lend the P: close here) */
    close(f->fd);
    f->fd = -1;
  }
  free(f->buf);
  f->buf = NULL;
  return 0;
}

static int f_tostring(lua_State *L) {
  struct gfile *f = goroB_checktag(L, 1, &file_tag, GORO_FILE_MT);
  if (f->fd < 0)
    lua_pushliteral(L, "goro.io.file (closed)");
  else
    lua_pushfstring(L, "goro.io.file (%p)", (void *)f);
  return 1;
}

/* ---- reading -------------------------------------------------------------------- */

/* The context of a read, if it was given one: the stack index of the
** context (0: none). Its end makes fill fail with errno ECANCELED. */
static ssize_t waitfill(lua_State *L, struct gfile *f, int xi) {
  int rc = goroB_fd_wait_ctx(L, f->fd, GORO_PD_READ, xi, lua_touserdata(L, xi), "read");
  if (rc == 1) return 1;
  errno = rc == 0 ? ECANCELED : rc == GORO_EIO ? errno : EIO;
  return -1;
}

/* Read more into f's buffer, after waiting with the context at xi (0:
** none) for the fd to be ready: > 0 bytes, 0 at EOF, < 0 an error
** (errno; ECANCELED: the context ended). Keeps what buf holds. */
static ssize_t fill(lua_State *L, struct gfile *f, int xi) {
  struct sys s = {0};
  if (f->boff > 0 && f->blen > 0) memmove(f->buf, f->buf + f->boff, f->blen);
  f->boff = 0;
  if (f->bcap - f->blen < CHUNK / 4) {
    size_t ncap = f->bcap ? f->bcap * 2 : CHUNK;
    char *nb = realloc(f->buf, ncap);
    if (nb == NULL) luaL_error(L, "not enough memory");
    f->buf = nb;
    f->bcap = ncap;
  }
  if (xi > 0 && waitfill(L, f, xi) < 0) return -1;
  s.op = SYS_READ;
  s.fd = f->fd;
  s.p = f->buf + f->blen;
  s.n = f->bcap - f->blen;
  if (sys(L, &s) > 0) f->blen += (size_t)s.rc;
  return s.rc;
}

/* The next byte, or -1 at EOF (or an error: errno set, -2). */
static int peekc(lua_State *L, struct gfile *f, int xi) {
  ssize_t r;
  if (f->blen == 0 && (r = fill(L, f, xi)) <= 0) return r == 0 ? -1 : -2;
  return (unsigned char)f->buf[f->boff];
}

static void skipc(struct gfile *f) {
  f->boff++;
  f->blen--;
}

/* A line, with its "\n" if keep (Lua's "l" and "L"): 1, or 0 at EOF.
** The line stays in the buffer until its end is there (or EOF). */
static int read_line(lua_State *L, struct gfile *f, int keep, int xi) {
  size_t scanned = 0;
  for (;;) {
    char *nl = f->blen > scanned
                   ? memchr(f->buf + f->boff + scanned, '\n', f->blen - scanned)
                   : NULL;
    ssize_t r;
    if (nl != NULL) {
      size_t n = (size_t)(nl - (f->buf + f->boff));
      lua_pushlstring(L, f->buf + f->boff, n + (keep ? 1 : 0));
      f->boff += n + 1;
      f->blen -= n + 1;
      return 1;
    }
    scanned = f->blen;
    if ((r = fill(L, f, xi)) < 0) return -1;
    if (r == 0) break;
  }
  {
    int any = f->blen > 0;
    lua_pushlstring(L, f->buf + f->boff, f->blen);  /* the last line, or "" */
    f->boff += f->blen;
    f->blen = 0;
    return any;
  }
}

static int read_all(lua_State *L, struct gfile *f, int xi) {
  for (;;) {
    ssize_t r = fill(L, f, xi);
    if (r < 0) return -1;
    if (r == 0) break;
  }
  lua_pushlstring(L, f->buf + f->boff, f->blen);
  f->boff += f->blen;
  f->blen = 0;
  return 1;
}

static int read_count(lua_State *L, struct gfile *f, size_t n, int xi) {
  size_t k;
  if (n == 0) {  /* Lua's read(0): "" unless at EOF */
    int c = peekc(L, f, xi);
    if (c == -2) return -1;
    lua_pushliteral(L, "");
    return c >= 0;
  }
  while (f->blen < n) {
    ssize_t r = fill(L, f, xi);
    if (r < 0) return -1;
    if (r == 0) break;
  }
  k = f->blen < n ? f->blen : n;
  lua_pushlstring(L, f->buf + f->boff, k);
  f->boff += k;
  f->blen -= k;
  return k > 0;
}

/* Lua's read_number, in short: a numeral of at most 200 characters. */
static int read_number(lua_State *L, struct gfile *f, int xi) {
  char num[201];
  int n = 0, c, hex = 0;
  const char *digits = "0123456789";
  while ((c = peekc(L, f, xi)) >= 0 && (c == ' ' || (c >= '\t' && c <= '\r'))) skipc(f);
  if (c == '-' || c == '+') {
    num[n++] = (char)c;
    skipc(f);
    c = peekc(L, f, xi);
  }
  if (c == '0') {
    num[n++] = '0';
    skipc(f);
    c = peekc(L, f, xi);
    if (c == 'x' || c == 'X') {
      num[n++] = (char)c;
      skipc(f);
      hex = 1;
      digits = "0123456789abcdefABCDEF";
      c = peekc(L, f, xi);
    }
  }
  for (int part = 0; part < 3 && n < 200; part++) {
    while (c >= 0 && strchr(digits, c) != NULL && c != 0 && n < 200) {
      num[n++] = (char)c;
      skipc(f);
      c = peekc(L, f, xi);
    }
    if (part == 0 && c == '.') {  /* the fraction */
      num[n++] = '.';
      skipc(f);
      c = peekc(L, f, xi);
    } else if (part < 2 && (hex ? (c == 'p' || c == 'P') : (c == 'e' || c == 'E'))) {
      num[n++] = (char)c;  /* the exponent, decimal */
      skipc(f);
      c = peekc(L, f, xi);
      if (c == '-' || c == '+') {
        num[n++] = (char)c;
        skipc(f);
        c = peekc(L, f, xi);
      }
      digits = "0123456789";
      part = 1;
    } else if (part == 0) {
      part = 2;
    }
  }
  num[n] = '\0';
  if (c == -2) return -1;
  if (lua_stringtonumber(L, num) != 0) return 1;
  lua_pushnil(L);  /* not a numeral: fail */
  return 0;
}

/* The context that ends the arguments of a read or a write, if one does:
** its index, or 0. One that has ended is reported by the caller at once. */
static int ctxarg(lua_State *L) {
  int top = lua_gettop(L);
  return top >= 2 && goroB_toctx(L, top) != NULL ? top : 0;
}

/* A read or a write failed: nil, ctx:err() if the context at xi ended
** it, else Lua's failure triple. */
static int failed(lua_State *L, int xi) {
  if (xi > 0 && errno == ECANCELED) return goroB_ctx_push_err(L, lua_touserdata(L, xi));
  return fail(L, NULL);
}

/* f:read(... [, ctx]) with Lua's formats; nil (fail) for the first one
** that fails; nil, ctx:err() if the context ends first. */
static int f_read(lua_State *L) {
  struct gfile *f = checkopen(L, 1);
  int xi = ctxarg(L), first = 2, n, ok = 1;
  int nargs = lua_gettop(L) - 1 - (xi > 0);
  if (xi > 0 && goroB_ctx_ended(lua_touserdata(L, xi)))
    return goroB_ctx_push_err(L, lua_touserdata(L, xi));
  if (nargs == 0) {
    lua_pushliteral(L, "l");
    if (xi > 0) lua_insert(L, xi++);  /* (the formats come first) */
    nargs = 1;
  }
  luaL_checkstack(L, nargs + LUA_MINSTACK, "too many arguments");
  for (n = first; nargs-- > 0 && ok == 1; n++) {
    if (lua_type(L, n) == LUA_TNUMBER) {
      lua_Integer k = luaL_checkinteger(L, n);
      luaL_argcheck(L, k >= 0, n, "invalid count");
      ok = read_count(L, f, (size_t)k, xi);
    } else {
      const char *p = luaL_checkstring(L, n);
      if (*p == '*') p++;  /* Lua 5.3's "*l" */
      switch (*p) {
        case 'n': ok = read_number(L, f, xi); break;
        case 'l': ok = read_line(L, f, 0, xi); break;
        case 'L': ok = read_line(L, f, 1, xi); break;
        case 'a': ok = read_all(L, f, xi); break;
        default: return luaL_argerror(L, n, "invalid format");
      }
    }
    if (ok < 0) return failed(L, xi);
  }
  if (!ok) {
    lua_pop(L, 1);
    lua_pushnil(L);
  }
  return n - first;
}

static int lines_aux(lua_State *L) {
  struct gfile *f = lua_touserdata(L, lua_upvalueindex(1));
  int n = (int)lua_tointeger(L, lua_upvalueindex(2)), r;
  if (f->fd < 0) return luaL_error(L, "file is already closed");
  lua_settop(L, 0);
  luaL_checkstack(L, n + 2, "too many arguments");
  lua_pushcfunction(L, f_read);
  lua_pushvalue(L, lua_upvalueindex(1));
  for (int i = 1; i <= n; i++) lua_pushvalue(L, lua_upvalueindex(2 + i));
  lua_call(L, n + 1, LUA_MULTRET);  /* f:read(formats...) */
  r = lua_gettop(L);
  if (r > 0 && !lua_isnil(L, 1)) return r;
  if (r > 1 && lua_isstring(L, 2)) return luaL_error(L, "%s", lua_tostring(L, 2));
  return 0;
}

/* f:lines(...) -> an iterator calling f:read(...) */
static int f_lines(lua_State *L) {
  int n = lua_gettop(L) - 1;
  checkopen(L, 1);
  luaL_argcheck(L, n <= 250, 252, "too many arguments");
  lua_pushvalue(L, 1);
  lua_pushinteger(L, n);
  for (int i = 2; i <= n + 1; i++) lua_pushvalue(L, i);
  lua_pushcclosure(L, lines_aux, 2 + n);
  return 1;
}

/* ---- writing, seeking ------------------------------------------------------------ */

/* f:write(... [, ctx]) -> f | nil, err, errno | nil, ctx:err() */
static int f_write(lua_State *L) {
  struct gfile *f = checkopen(L, 1);
  int xi = ctxarg(L), piece = 0;
  int nargs = xi > 0 ? xi - 1 : lua_gettop(L);
  if (xi > 0) {
    struct stat st;
    if (goroB_ctx_ended(lua_touserdata(L, xi)))
      return goroB_ctx_push_err(L, lua_touserdata(L, xi));
    piece = fstat(f->fd, &st) != 0 || !S_ISREG(st.st_mode);
  }
  for (int i = 2; i <= nargs; i++) {
    size_t n, off = 0;
    const char *p = luaL_checklstring(L, i, &n);
    while (off < n) {
      struct sys s = {0};
      if (xi > 0) {
        int rc = goroB_fd_wait_ctx(L, f->fd, GORO_PD_WRITE, xi,
                                   lua_touserdata(L, xi), "write");
        if (rc != 1) {
          errno = rc == 0 ? ECANCELED : rc == GORO_EIO ? errno : EIO;
          return failed(L, xi);
        }
      }
      s.op = SYS_WRITE;
      s.fd = f->fd;
      s.p = (void *)(p + off);
      s.n = n - off;
      if (piece && s.n > PIPE_BUF) s.n = PIPE_BUF;
      if (sys(L, &s) < 0) return fail(L, NULL);
      off += (size_t)s.rc;
    }
  }
  lua_pushvalue(L, 1);
  return 1;
}

static int f_seek(lua_State *L) {
  static const char *const names[] = {"set", "cur", "end", NULL};
  static const int whences[] = {SEEK_SET, SEEK_CUR, SEEK_END};
  struct gfile *f = checkopen(L, 1);
  int op = luaL_checkoption(L, 2, "cur", names);
  lua_Integer off = luaL_optinteger(L, 3, 0);
  struct sys s = {0};
  s.op = SYS_SEEK;
  s.fd = f->fd;
  s.whence = whences[op];
  s.off = (off_t)off;
  if (whences[op] == SEEK_CUR) s.off -= (off_t)f->blen;  /* what we hold */
  if (sys(L, &s) < 0) return fail(L, NULL);
  f->boff = f->blen = 0;
  lua_pushinteger(L, (lua_Integer)s.rc);
  return 1;
}

static int f_flush(lua_State *L) {
  checkopen(L, 1);  /* writes are the kernel's as soon as they return */
  lua_pushvalue(L, 1);
  return 1;
}

/* ---- registration ---------------------------------------------------------------- */

static const luaL_Reg methods[] = {
    {"read", f_read},   {"lines", f_lines}, {"write", f_write},
    {"seek", f_seek},   {"flush", f_flush}, {"close", f_close},
    {"__gc", f_gc},     {"__close", f_gc},  {"__tostring", f_tostring},
    {NULL, NULL},
};

/* Add `io` (goro.io) to the module table on top. */
void goroB_open_file(lua_State *L) {
  luaL_newmetatable(L, GORO_FILE_MT);
  luaL_setfuncs(L, methods, 0);
  lua_pushvalue(L, -1);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  lua_createtable(L, 0, 4);
  lua_pushcfunction(L, l_open);
  lua_setfield(L, -2, "open");
  newfile(L, 0, 1);
  lua_setfield(L, -2, "stdin");
  newfile(L, 1, 1);
  lua_setfield(L, -2, "stdout");
  newfile(L, 2, 1);
  lua_setfield(L, -2, "stderr");
  lua_setfield(L, -2, "io");
}
