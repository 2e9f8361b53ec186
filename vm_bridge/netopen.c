/*
** vm_bridge/netopen.c — goro.net's functions: listen, dial, lookup,
** listen_packet. They make the socket objects net.c runs (a dial is one of
** its calls: connect, parking while it is in progress, trying each
** resolved address in turn as Go does). Locks: none.
*/
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netsock.h"

/* A socket for ns and the first of its resolved addresses, options set. */
static int open_socket(lua_State *L, struct netspec ns, struct netaddrs *as) {
  int fd = socket(as->a[0].ss_family, ns.socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) luaL_error(L, "goro.net: socket: %s", goroB_net_strerror(errno));
  return fd;
}

/* A listen or listen_packet whose bind or listen failed with errno:
** closes fd and returns nil, "listen NETWORK ADDRESS: reason". */
static int listen_failed(lua_State *L, int fd, const char *address) {
  int e = errno;
  close(fd);
  lua_pushnil(L);
  lua_pushfstring(L, "listen %s %s: %s", lua_tostring(L, 1), address,
                  goroB_net_strerror(e));
  return 2;
}

/* goro.net.listen(network, address [, {backlog =, reuseport =}]) */
static int l_listen(lua_State *L) {
  struct netspec ns = goroB_net_checknetwork(L, 1, 0);
  const char *address = luaL_checkstring(L, 2);
  int backlog = SOMAXCONN, reuseport = 0, fd, one = 1;
  struct netaddrs *as;
  if (!lua_isnoneornil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    if (lua_getfield(L, 3, "backlog") != LUA_TNIL)
      backlog = (int)luaL_checkinteger(L, -1);
    reuseport = lua_getfield(L, 3, "reuseport") != LUA_TNIL && lua_toboolean(L, -1);
    lua_pop(L, 2);
  }
  if ((as = goroB_net_resolve(L, ns, address, 1)) == NULL) return 2;
  fd = open_socket(L, ns, as);
  if (ns.family != AF_UNIX) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (reuseport) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&as->a[0], as->len[0]) != 0 ||
      listen(fd, backlog) != 0)
    return listen_failed(L, fd, address);
  goroB_sock_new(L, K_LISTENER, fd, as->a[0].ss_family);
  return 1;
}

/* goro.net.dial(network, address [, timeout [, ctx]]) -> conn | nil, err.
** Resolving a name runs in C, where the context cannot stop it: an ended
** context wins before it, and the connect looks again after. */
static int l_dial(lua_State *L) {
  struct netspec ns = goroB_net_checknetwork(L, 1, 0);
  const char *address = luaL_checkstring(L, 2);
  double timeout = luaL_optnumber(L, 3, -1);
  struct goro_context *x;
  struct netaddrs *as;
  int fd;
  goroB_sock_ctxarg(L, 4);
  goroB_bg_block(L, "dial");  /* (raises outside a G, as blocking calls do) */
  if ((x = goroB_toctx(L, SOCK_CTXIDX)) != NULL && goroB_ctx_ended(x))
    return goroB_ctx_push_err(L, x);
  if ((as = goroB_net_resolve(L, ns, address, 0)) == NULL) return 2;
  lua_replace(L, 3);  /* (the timeout was read) */
  fd = socket(as->a[0].ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return goroB_net_error(L, goroB_net_strerror(errno));
  /* The stack becomes what try_connect expects: 1 the socket, 2 the
  ** absolute deadline or nil, 3 the addresses, 4 the context or nil. */
  goroB_sock_new(L, K_CONN, fd, as->a[0].ss_family);  /* 5 */
  lua_replace(L, 1);
  if (timeout >= 0)
    lua_pushnumber(L, goroR_now() + timeout);
  else
    lua_pushnil(L);
  lua_replace(L, 2);
  if (ns.family != AF_UNIX) {  /* as Go: no Nagle delay by default */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return goroB_sock_start(L, lua_touserdata(L, 1), OP_CONNECT, 0);
}

/* goro.net.lookup(host) -> {addr, ...} | nil, err */
static int l_lookup(lua_State *L) {
  const char *host = luaL_checkstring(L, 1);
  struct netspec ns = {AF_UNSPEC, SOCK_STREAM};
  struct netaddrs *as;
  if (strchr(host, ':') != NULL && host[0] != '[')
    lua_pushfstring(L, "[%s]:0", host);
  else
    lua_pushfstring(L, "%s:0", host);
  if ((as = goroB_net_resolve(L, ns, lua_tostring(L, -1), 0)) == NULL) return 2;
  lua_createtable(L, as->n, 0);
  for (int i = 0; i < as->n; i++) {  /* the address without the port */
    char ip[64];
    const char *s;
    goroB_net_pushaddr(L, (struct sockaddr *)&as->a[i], as->len[i]);
    s = lua_tostring(L, -1);
    snprintf(ip, sizeof ip, "%s", s[0] == '[' ? s + 1 : s);
    *strrchr(ip, s[0] == '[' ? ']' : ':') = '\0';
    lua_pop(L, 1);
    lua_pushstring(L, ip);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* goro.net.listen_packet(network, address) -> pc | nil, err */
static int l_listen_packet(lua_State *L) {
  struct netspec ns = goroB_net_checknetwork(L, 1, 1);
  const char *address = luaL_checkstring(L, 2);
  struct netaddrs *as;
  int fd;
  if ((as = goroB_net_resolve(L, ns, address, 1)) == NULL) return 2;
  fd = open_socket(L, ns, as);
  if (bind(fd, (struct sockaddr *)&as->a[0], as->len[0]) != 0)
    return listen_failed(L, fd, address);
  goroB_sock_new(L, K_PACKET, fd, as->a[0].ss_family);
  return 1;
}

static const luaL_Reg funcs[] = {
    {"listen", l_listen},
    {"dial", l_dial},
    {"lookup", l_lookup},
    {"listen_packet", l_listen_packet},
    {NULL, NULL},
};

/* Add `net` to the module table on top (the runtime userdata below it). */
void goroB_open_net(lua_State *L) {
  int r = lua_gettop(L) - 1;
  goroB_net_open_types(L, r);
  lua_createtable(L, 0, 4);
  lua_pushvalue(L, r);
  luaL_setfuncs(L, funcs, 1);
  lua_setfield(L, -2, "net");
}
