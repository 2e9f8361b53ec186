/*
** vm_bridge/netaddr.h — private to net.c and netaddr.c: network names,
** socket addresses, name resolution and Go's error texts.
*/
#ifndef GORO_VM_BRIDGE_NETADDR_H
#define GORO_VM_BRIDGE_NETADDR_H

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "bridge.h"

/* What a network name ("tcp", "udp6", "unix", ...) says. */
struct netspec {
  int family;    /* AF_UNSPEC (tcp, udp: either), AF_INET, AF_INET6, AF_UNIX */
  int socktype;  /* SOCK_STREAM or SOCK_DGRAM */
};

/* The network at index i, or a "bad argument" error. `packet`: a packet
** network (udp*, unixgram) is wanted, else a stream one (tcp*, unix). */
struct netspec goroB_net_checknetwork(lua_State *L, int i, int packet);

/* Resolved addresses: a userdata pushed on the stack (so a G that is
** abandoned mid-dial leaks nothing) with up to NADDR of them. */
#define GORO_NET_NADDR 16
struct netaddrs {
  int n;
  socklen_t len[GORO_NET_NADDR];
  struct sockaddr_storage a[GORO_NET_NADDR];
};

/* Resolve `address` ("host:port", "[v6]:port", ":port", or a path for
** unix) for ns, pushing a struct netaddrs. A host that is not a numeric
** address is looked up with getaddrinfo through goro_cgocall, so only this
** G waits. `passive`: for listen (an empty host means every interface).
** Returns it, or NULL with nil, err pushed instead (as Go's texts: "no such
** host", "missing port in address"...). May raise (memory). */
struct netaddrs *goroB_net_resolve(lua_State *L, struct netspec ns,
                                   const char *address, int passive);

/* Push "ip:port", "[ip6]:port" or a unix path for a socket address. */
void goroB_net_pushaddr(lua_State *L, const struct sockaddr *sa, socklen_t len);

/* Go's text for an errno from a socket call ("connection refused", ...). */
const char *goroB_net_strerror(int e);

#endif
