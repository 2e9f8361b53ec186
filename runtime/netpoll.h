/*
** runtime/netpoll.h — the netpoller: waits on file descriptors that park
** only their G. The design (poll descriptors, who polls, breaking a
** blocked poll, hosts that own the loop) is in HACKING.md, "The
** netpoller".
*/
#ifndef GORO_RUNTIME_NETPOLL_H
#define GORO_RUNTIME_NETPOLL_H

#include "state.h"

/* Directions of a wait (a waiter's `index`), and what events mean. */
enum { GORO_PD_READ = 1, GORO_PD_WRITE = 2 };

/* A poll descriptor (Go's pollDesc). Everything is P-owned. */
struct goro_pd {
  int fd;
  uint8_t owned;            /* edge-triggered, registered for its life */
  uint8_t registered;       /* in the epoll set */
  uint8_t closing;          /* close has begun: waits fail */
  uint8_t rready, wready;   /* an edge came while nobody waited (owned) */
  int refs;                 /* holders (HACKING.md) */
  int armed;                /* foreign: the oneshot events armed now */
  struct goro_waitq rq, wq; /* G's waiting to read, to write */
  double rdeadline, wdeadline; /* 0: none */
  struct goro_timer rtimer, wtimer; /* in the heap while waited on */
  uint64_t nwait;           /* waits that parked (stats) */
};

struct goro_netpoll {
  int epfd, breakfd, timerfd;
  _Atomic int polling;      /* an M is blocked in epoll_wait */
  _Atomic int broken;       /* breakfd was written since the last drain */
  _Atomic double lastpoll;  /* when the P's owner last polled */
  struct goro_pd **fds;     /* P: fd -> pd */
  int nfds;                 /* P: the table's size */
  int npds;                 /* P: descriptors open */
  _Atomic int nwaiters;     /* P writes: G's waiting on a descriptor */
  int hostpoll;             /* P (WR): goro_pollfd was asked for: keep timerfd */
  double timerfd_when;      /* P: what timerfd is armed for (0: nothing) */
};

/* The runtime's poller, made on first use. NULL with *err = GORO_ENOMEM or
** GORO_EIO (and errno) if it cannot be made. Requires: the P. */
struct goro_netpoll *goroR_netpoll_get(struct goro_rt *rt, int *err);

/* The descriptor of fd, made (and counted: refs + 1) if needed. owned:
** goro made fd non-blocking and retries its call before each wait (edge-
** triggered, registered now); else a foreign fd (level, oneshot per wait).
** NULL with *err set on failure. Requires: the P. */
struct goro_pd *goroR_pd_open(struct goro_rt *rt, int fd, int owned, int *err);
/* Drop one reference; the last one takes fd out of the epoll set and frees
** the descriptor (its waiters must be gone). Requires: the P. */
void goroR_pd_release(struct goro_rt *rt, struct goro_pd *pd);
/* Close has begun: every waiter wakes with GORO_ECLOSED, every later wait
** fails at once. The caller closes the fd after its release. */
void goroR_pd_close(struct goro_rt *rt, struct goro_pd *pd);
/* Set the deadline of a direction (GORO_PD_READ, WRITE or both: 3) to
** `when` (monotonic seconds; 0: none). A deadline already passed wakes the
** waiters with GORO_ETIMEDOUT. 0, or GORO_ENOMEM (the timer heap). */
int goroR_pd_set_deadline(struct goro_rt *rt, struct goro_pd *pd, int dirs,
                          double when);

/* Begin a wait of G gp (its waiter w) on pd in direction dir. Returns 1:
** ready now (retry the call), or GORO_ECLOSED / GORO_ETIMEDOUT at once,
** or 0: w is queued and the caller parks gp (reason "IO wait"); once it
** runs again, w->ok is 1 (ready), GORO_ETIMEDOUT or GORO_ECLOSED. May
** return GORO_ENOMEM or GORO_EIO (nothing queued). Requires: the P. */
int goroR_pd_wait(struct goro_rt *rt, struct goro_pd *pd, int dir,
                  struct goro_waiter *w);
/* Take waiter w off its pd's queue (its G is abandoned or woken by
** something else); the direction's timer leaves the heap with its last
** waiter. A no-op if it is on no queue. Requires: the P. */
void goroR_pd_leave(struct goro_rt *rt, struct goro_waiter *w);

/* The descriptor a queued waiter waits on, and its direction; NULL if the
** waiter is on no descriptor's queue. For dumps. Requires: the P. */
struct goro_pd *goroR_pd_of_waiter(const struct goro_waiter *w);

/* ---- inside the runtime ---------------------------------------------------- */

/* Poll: ready the G's whose descriptors are ready. until: 0, do not block;
** > 0, block until that monotonic time at the latest; < 0, until something
** happens. A write to breakfd ends a blocked poll. Requires: the P. */
void goroR_netpoll(struct goro_rt *rt, double until);
/* A timer of a descriptor is due (its kind says which direction). */
void goroR_pd_timer_fire(struct goro_rt *rt, struct goro_timer *t);
/* Break a blocked poll, if one is blocked. Any thread. */
void goroR_netpoll_break(struct goro_rt *rt);
/* Make a blocked poll, and a host polling goro_pollfd, look again (work
** came from off the P: a G back from C on a worker). Any thread. */
void goroR_netpoll_notify(struct goro_rt *rt);
/* Are G's waiting on descriptors? Any thread (a hint). */
int goroR_netpoll_waiting(struct goro_rt *rt);
/* Has nobody polled for `age` seconds while events are pending? For
** sysmon, which then counts it as work. Any thread. */
int goroR_netpoll_overdue(struct goro_rt *rt, double now, double age);
/* Free the poller (the runtime is destroyed; no descriptor is left). */
void goroR_netpoll_free(struct goro_rt *rt);
/* The P is given back: for a host that polls goro_pollfd, make epfd say
** whether work is pending (runnable G's, the next timer). Requires: P. */
void goroR_netpoll_publish(struct goro_rt *rt);

#endif
