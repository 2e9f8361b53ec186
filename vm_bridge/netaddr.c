/*
** vm_bridge/netaddr.c — network names, socket addresses, name resolution
** and error texts for goro.net (net.c); see netaddr.h.
**
** Name resolution never stops the other G's: a numeric address is parsed
** on the spot (getaddrinfo with AI_NUMERICHOST makes no query); any other
** name is looked up with the system's getaddrinfo (so /etc/hosts,
** nsswitch and DNS behave as for every other program) inside goro_cgocall,
** which lends the P to the other G's while the lookup blocks, as Go's cgo
** resolver does. Locks: none.
*/
#include "netaddr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

struct netspec goroB_net_checknetwork(lua_State *L, int i, int packet) {
  static const char *const names[] = {"tcp", "tcp4", "tcp6", "unix", "udp",
                                      "udp4", "udp6", "unixgram", NULL};
  static const struct netspec specs[] = {
      {AF_UNSPEC, SOCK_STREAM}, {AF_INET, SOCK_STREAM}, {AF_INET6, SOCK_STREAM},
      {AF_UNIX, SOCK_STREAM},   {AF_UNSPEC, SOCK_DGRAM}, {AF_INET, SOCK_DGRAM},
      {AF_INET6, SOCK_DGRAM},   {AF_UNIX, SOCK_DGRAM}};
  int k = luaL_checkoption(L, i, NULL, names);
  if ((specs[k].socktype == SOCK_DGRAM) != (packet != 0))
    luaL_argerror(L, i, packet ? "not a packet network (udp, udp4, udp6, "
                                 "unixgram)"
                               : "not a stream network (tcp, tcp4, tcp6, unix)");
  return specs[k];
}

const char *goroB_net_strerror(int e) {
  static __thread char buf[128];
  switch (e) {
    case ECONNREFUSED: return "connection refused";
    case ECONNRESET: return "connection reset by peer";
    case EPIPE: return "broken pipe";
    case EADDRINUSE: return "address already in use";
    case EADDRNOTAVAIL: return "cannot assign requested address";
    case ETIMEDOUT: return "connection timed out";
    case ENETUNREACH: return "network is unreachable";
    case EHOSTUNREACH: return "no route to host";
    case EACCES: return "permission denied";
    case ENOENT: return "no such file or directory";
    default:  /* the system's text, lower-cased as Go's are */
      snprintf(buf, sizeof buf, "%s", strerror(e));
      buf[0] = (char)tolower((unsigned char)buf[0]);
      return buf;
  }
}

void goroB_net_pushaddr(lua_State *L, const struct sockaddr *sa, socklen_t len) {
  char ip[INET6_ADDRSTRLEN];
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const void *)sa;
    inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
    lua_pushfstring(L, "%s:%d", ip, (int)ntohs(in->sin_port));
  } else if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const void *)sa;
    inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
    lua_pushfstring(L, "[%s]:%d", ip, (int)ntohs(in6->sin6_port));
  } else if (sa->sa_family == AF_UNIX) {
    const struct sockaddr_un *un = (const void *)sa;
    size_t n = len > offsetof(struct sockaddr_un, sun_path)
                   ? len - offsetof(struct sockaddr_un, sun_path) : 0;
    if (n > 0 && un->sun_path[0] == '\0') {  /* abstract: Go writes "@name" */
      lua_pushliteral(L, "@");
      lua_pushlstring(L, un->sun_path + 1, n - 1);
      lua_concat(L, 2);
    } else {
      lua_pushstring(L, n > 0 ? un->sun_path : "");
    }
  } else {
    lua_pushliteral(L, "?");
  }
}

/* ---- resolution ----------------------------------------------------------- */

struct gai {
  const char *host, *port;
  struct addrinfo hints, *res;
  int rc;
};

static void do_gai(void *p) {
  struct gai *g = p;
  g->rc = getaddrinfo(g->host, g->port, &g->hints, &g->res);
}

/* Split "host:port" / "[v6]:port" / ":port" into host and port buffers. */
static const char *split(const char *a, char *host, size_t hl, char *port,
                         size_t pl) {
  const char *colon;
  size_t n;
  if (a[0] == '[') {
    const char *end = strchr(a, ']');
    if (end == NULL) return "missing ']' in address";
    if (end[1] != ':') return "missing port in address";
    n = (size_t)(end - a - 1);
    colon = end + 1;
    if (n >= hl) return "address too long";
    memcpy(host, a + 1, n);
    host[n] = '\0';
  } else {
    colon = strrchr(a, ':');
    if (colon == NULL) return "missing port in address";
    n = (size_t)(colon - a);
    if (memchr(a, ':', n) != NULL) return "too many colons in address";
    if (n >= hl) return "address too long";
    memcpy(host, a, n);
    host[n] = '\0';
  }
  if (strlen(colon + 1) >= pl) return "port too long";
  strcpy(port, colon + 1);
  if (port[0] == '\0') return "missing port in address";
  return NULL;
}

static struct netaddrs *fail(lua_State *L, const char *fmt, const char *what) {
  lua_pushnil(L);
  lua_pushfstring(L, fmt, what);
  return NULL;
}

struct netaddrs *goroB_net_resolve(lua_State *L, struct netspec ns,
                                   const char *address, int passive) {
  struct netaddrs *out;
  char host[256], port[64];
  struct gai g;
  const char *err;

  if (ns.family == AF_UNIX) {
    struct sockaddr_un *un;
    size_t n = strlen(address);
    if (n == 0 || n >= sizeof un->sun_path) return fail(L, "%s: invalid unix path", address);
    out = lua_newuserdatauv(L, sizeof *out, 0);
    memset(out, 0, sizeof *out);
    un = (struct sockaddr_un *)&out->a[0];
    un->sun_family = AF_UNIX;
    memcpy(un->sun_path, address, n);
    if (address[0] == '@') un->sun_path[0] = '\0';  /* abstract */
    out->len[0] = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
                              (address[0] == '@' ? 0 : 1));
    out->n = 1;
    return out;
  }
  if ((err = split(address, host, sizeof host, port, sizeof port)) != NULL)
    return fail(L, "%s", err);
  memset(&g, 0, sizeof g);
  g.host = host[0] != '\0' ? host : NULL;
  g.port = port;
  g.hints.ai_family = ns.family;
  g.hints.ai_socktype = ns.socktype;
  g.hints.ai_flags = (passive ? AI_PASSIVE : 0) | AI_NUMERICHOST | AI_NUMERICSERV;
  if (g.host == NULL && !passive) g.host = ns.family == AF_INET6 ? "::1" : "127.0.0.1";
  do_gai(&g);  /* numeric: no query, no wait */
  if (g.rc == EAI_NONAME) {  /* a name (or a service name): look it up */
    g.hints.ai_flags = (passive ? AI_PASSIVE : 0) | AI_ADDRCONFIG;
    g.res = NULL;
    if (goro_cgocall(L, do_gai, &g) != 0) do_gai(&g);
  }
  if (g.rc != 0) {
    if (g.rc == EAI_NONAME || g.rc == EAI_NODATA || g.rc == EAI_FAIL)
      return fail(L, "lookup %s: no such host", host);
    if (g.rc == EAI_SERVICE) return fail(L, "unknown port %s", port);
    if (g.rc == EAI_SYSTEM) return fail(L, "lookup %s", goroB_net_strerror(errno));
    return fail(L, "lookup: %s", gai_strerror(g.rc));
  }
  {
    struct netaddrs tmp;  /* (freeaddrinfo before anything may raise) */
    tmp.n = 0;
    for (struct addrinfo *ai = g.res; ai != NULL && tmp.n < GORO_NET_NADDR;
         ai = ai->ai_next) {
      if (ai->ai_addrlen > sizeof tmp.a[0]) continue;
      memcpy(&tmp.a[tmp.n], ai->ai_addr, ai->ai_addrlen);
      tmp.len[tmp.n++] = ai->ai_addrlen;
    }
    freeaddrinfo(g.res);
    if (tmp.n == 0) return fail(L, "lookup %s: no such host", host);
    out = lua_newuserdatauv(L, sizeof *out, 0);
    *out = tmp;
  }
  return out;
}
