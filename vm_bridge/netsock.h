/*
** vm_bridge/netsock.h — private to net.c and netopen.c: goro.net's socket
** object and how its calls run (net.c's header says how).
*/
#ifndef GORO_VM_BRIDGE_NETSOCK_H
#define GORO_VM_BRIDGE_NETSOCK_H

#include <stdint.h>

#include "netaddr.h"

#define GORO_CONN_MT "goro.net.conn"
#define GORO_LISTENER_MT "goro.net.listener"
#define GORO_PACKET_MT "goro.net.packetconn"

/* What a socket object is (one struct, three metatables). */
enum { K_CONN = 1, K_LISTENER, K_PACKET };

/* Invariants: fd >= 0 iff pd != NULL (open); rbusy/wbusy iff a call of
** that direction is in progress or handed over; buf holds [boff,
** boff+blen). Everything is the P's. */
struct sock {
  const void *tag;          /* net.c's sock_tag (goroB_checktag) */
  int kind;                 /* K_* */
  int fd;                   /* -1 once closed */
  int family;
  struct goro_pd *pd;       /* our reference, while open */
  uint8_t rbusy, wbusy;     /* a read / write call holds the turn */
  struct goro_waitq rlq, wlq; /* G's waiting for their turn */
  char *buf;                /* read buffer (read_line, read_exact) */
  size_t boff, blen, bcap;
};

#define ECLOSEDTEXT "use of closed network connection"

/* The most a conn's read buffer holds (read_line, read_exact). */
#define SOCK_BUFMAX ((size_t)64 * 1024 * 1024)

/* Where a call that may wait keeps its context (or nil) on the stack, for
** the attempts and the continuation: above what every call keeps (at most
** 1 the socket, 2 and 3 its arguments or their parsed forms). */
#define SOCK_CTXIDX 4

/* The calls that may wait. */
enum { OP_READ = 1, OP_READLINE, OP_READEXACT, OP_WRITE, OP_ACCEPT,
       OP_CONNECT, OP_READFROM, OP_WRITETO };
/* Push a socket object of `kind` owning fd (already non-blocking and
** close-on-exec), with a reference on its poll descriptor; closes fd and
** raises if it cannot be made. */
struct sock *goroB_sock_new(lua_State *L, int kind, int fd, int family);
/* Close s: 1, or 0 if it was closed already. */
int goroB_sock_close(lua_State *L, struct sock *s);
/* Run call `op` of s (at index 1) with state st: wait for the direction's
** turn, attempt, park on the descriptor as often as needed; returns the
** call's results. The context, if any, is at SOCK_CTXIDX (the stack is at
** least that high): an ended one wins before anything is tried, one that
** ends while the call waits makes it return nil, ctx:err() (a write: and
** how much it wrote). */
int goroB_sock_start(lua_State *L, struct sock *s, int op, intptr_t st);
/* Check the context argument at index i (nil or none: none; anything else
** raises "bad argument") and move it to SOCK_CTXIDX, nil left at i; the
** slots below i stay. */
void goroB_sock_ctxarg(lua_State *L, int i);
/* What an attempt that must wait returns: the direction to wait for. */
enum { NEED_READ = -1, NEED_WRITE = -2 };
/* nettry.c: one attempt of call op on s (at index 1; a dial may put a new
** socket there), state *st: its results' count (>= 0, pushed) or
** NEED_READ / NEED_WRITE. */
int goroB_sock_try(lua_State *L, struct sock *s, int op, intptr_t *st);
/* Push nil, msg; 2. */
int goroB_net_error(lua_State *L, const char *msg);
/* net.c: make the three metatables (the runtime userdata at index r). */
void goroB_net_open_types(lua_State *L, int r);

#endif
