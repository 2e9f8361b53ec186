/*
** runtime/netpoll.c — the netpoller; see netpoll.h and HACKING.md ("The
** netpoller").
**
** Owns: rt->np (made once, then immutable), its epoll instance, breakfd
** and timerfd, the table of poll descriptors, and each descriptor's
** queues, ready bits, deadlines and timers.
** Invariants: nwaiters is the number of waiters on all descriptors'
** queues; a direction's timer is in the heap only while its queue has a
** waiter and its deadline is set; a descriptor is in the table from its
** open to its last release, and in the epoll set while it is registered;
** only the M that holds the P calls epoll_wait, so an event's descriptor
** is alive while it is handled.
** Locks: none. Everything but polling/broken/lastpoll/nwaiters (atomics,
** read by other threads as hints) is the P's.
*/
#include "netpoll.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "errors.h"
#include "fatal.h"
#include "p.h"
#include "sched.h"
#include "timer.h"
#include "waitq.h"

#define MAXEVENTS 128

/* ---- the poller ------------------------------------------------------------- */

static int add_marker(int epfd, int fd, void *tag) {
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = EPOLLIN;
  ev.data.ptr = tag;
  return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

struct goro_netpoll *goroR_netpoll_get(struct goro_rt *rt, int *err) {
  struct goro_netpoll *np = atomic_load(&rt->np);
  if (np != NULL) return np;
  if ((np = calloc(1, sizeof *np)) == NULL) {
    *err = GORO_ENOMEM;
    return NULL;
  }
  np->epfd = epoll_create1(EPOLL_CLOEXEC);
  np->breakfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  np->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (np->epfd < 0 || np->breakfd < 0 || np->timerfd < 0 ||
      add_marker(np->epfd, np->breakfd, &np->breakfd) != 0 ||
      add_marker(np->epfd, np->timerfd, &np->timerfd) != 0) {
    int e = errno;
    if (np->epfd >= 0) close(np->epfd);
    if (np->breakfd >= 0) close(np->breakfd);
    if (np->timerfd >= 0) close(np->timerfd);
    free(np);
    errno = e;
    *err = e == ENOMEM ? GORO_ENOMEM : GORO_EIO;
    return NULL;
  }
  atomic_store(&np->lastpoll, goroR_now());
  atomic_store(&rt->np, np);
  return np;
}

void goroR_netpoll_free(struct goro_rt *rt) {
  struct goro_netpoll *np = atomic_load(&rt->np);
  if (np == NULL) return;
  for (int fd = 0; fd < np->nfds; fd++) free(np->fds[fd]);  /* (owners let go) */
  free(np->fds);
  close(np->epfd);
  close(np->breakfd);
  close(np->timerfd);
  free(np);
  atomic_store(&rt->np, NULL);
}

void goroR_netpoll_break(struct goro_rt *rt) {
  struct goro_netpoll *np = atomic_load(&rt->np);
  uint64_t one = 1;
  if (np == NULL || !atomic_load(&np->polling)) return;
  if (!atomic_exchange(&np->broken, 1)) (void)!write(np->breakfd, &one, sizeof one);
}

void goroR_netpoll_notify(struct goro_rt *rt) {
  struct goro_netpoll *np = atomic_load(&rt->np);
  uint64_t one = 1;
  if (np == NULL || !(atomic_load(&np->polling) || RD(np->hostpoll))) return;
  if (!atomic_exchange(&np->broken, 1)) (void)!write(np->breakfd, &one, sizeof one);
}

int goroR_netpoll_waiting(struct goro_rt *rt) {
  struct goro_netpoll *np = atomic_load(&rt->np);
  return np != NULL && atomic_load_explicit(&np->nwaiters, memory_order_relaxed) > 0;
}

int goroR_netpoll_overdue(struct goro_rt *rt, double now, double age) {
  struct goro_netpoll *np = atomic_load(&rt->np);
  struct pollfd p;
  if (np == NULL || atomic_load_explicit(&np->nwaiters, memory_order_relaxed) == 0 ||
      atomic_load(&np->polling) || now - atomic_load(&np->lastpoll) < age)
    return 0;
  p.fd = np->epfd;
  p.events = POLLIN;
  return poll(&p, 1, 0) > 0;  /* events pending: someone should look */
}

void goroR_netpoll_publish(struct goro_rt *rt) {
  struct goro_netpoll *np = atomic_load(&rt->np);
  double when;
  if (np == NULL || !np->hostpoll) return;
  if (RD(rt->nrunnable) > 0 || atomic_load(&rt->ncgoret) > 0 || RD(rt->nhome) > 0) {
    /* readable until the next poll drains it */
    uint64_t one = 1;
    if (!atomic_exchange(&np->broken, 1)) (void)!write(np->breakfd, &one, sizeof one);
  }
  when = atomic_load(&rt->next_when);
  if (when != np->timerfd_when) {
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    if (when > 0) {
      its.it_value = goroR_timespec(when);
      if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
        its.it_value.tv_nsec = 1;  /* (0 would disarm it) */
    }
    timerfd_settime(np->timerfd, TFD_TIMER_ABSTIME, &its, NULL);
    np->timerfd_when = when;
  }
}

/* ---- descriptors --------------------------------------------------------------- */

static struct goro_netpoll *np_of(struct goro_rt *rt) { return atomic_load(&rt->np); }

static void timer_init(struct goro_timer *t, int kind) {
  t->heapidx = -1;
  t->kind = kind;
}

struct goro_pd *goroR_pd_open(struct goro_rt *rt, int fd, int owned, int *err) {
  struct goro_netpoll *np = goroR_netpoll_get(rt, err);
  struct goro_pd *pd;
  if (np == NULL) return NULL;
  if (fd < 0) {
    *err = GORO_EINVAL;
    return NULL;
  }
  if (fd < np->nfds && np->fds[fd] != NULL) {
    np->fds[fd]->refs++;
    return np->fds[fd];
  }
  if (fd >= np->nfds) {
    int n = np->nfds ? np->nfds : 64;
    struct goro_pd **t;
    while (n <= fd) n *= 2;
    if ((t = realloc(np->fds, (size_t)n * sizeof *t)) == NULL) {
      *err = GORO_ENOMEM;
      return NULL;
    }
    memset(t + np->nfds, 0, (size_t)(n - np->nfds) * sizeof *t);
    np->fds = t;
    np->nfds = n;
  }
  if ((pd = calloc(1, sizeof *pd)) == NULL) {
    *err = GORO_ENOMEM;
    return NULL;
  }
  pd->fd = fd;
  pd->owned = owned != 0;
  pd->refs = 1;
  timer_init(&pd->rtimer, GORO_TIMER_PD_READ);
  timer_init(&pd->wtimer, GORO_TIMER_PD_WRITE);
  if (pd->owned) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = pd;
    if (epoll_ctl(np->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
      *err = errno == ENOMEM ? GORO_ENOMEM : GORO_EIO;
      free(pd);
      return NULL;
    }
    pd->registered = 1;
  }
  np->fds[fd] = pd;
  np->npds++;
  return pd;
}

/* Wake every waiter of q with `code`; the direction's timer goes. Returns
** how many it readied: a stale waiter (its G was claimed by its context or
** its own timer, and has not run yet) is dropped, not readied. */
static int wake(struct goro_rt *rt, struct goro_pd *pd, struct goro_waitq *q,
                int code) {
  struct goro_netpoll *np = np_of(rt);
  struct goro_waiter *w;
  int n = 0;
  while ((w = goroR_waitq_pop(q)) != NULL) {
    atomic_fetch_sub_explicit(&np->nwaiters, 1, memory_order_relaxed);
    if (!goroR_waiter_claim(w)) continue;  /* (stale) */
    w->ok = code;
    goroR_ready(rt, w->g, 0);
    n++;
  }
  goroR_timer_stop(rt, q == &pd->rq ? &pd->rtimer : &pd->wtimer);
  return n;
}

void goroR_pd_release(struct goro_rt *rt, struct goro_pd *pd) {
  struct goro_netpoll *np = np_of(rt);
  goroR_assert(pd->refs > 0);
  if (--pd->refs > 0) return;
  goroR_assert(pd->rq.head == NULL && pd->wq.head == NULL);
  goroR_timer_stop(rt, &pd->rtimer);
  goroR_timer_stop(rt, &pd->wtimer);
  if (pd->registered) (void)epoll_ctl(np->epfd, EPOLL_CTL_DEL, pd->fd, NULL);
  np->fds[pd->fd] = NULL;
  np->npds--;
  free(pd);
}

void goroR_pd_close(struct goro_rt *rt, struct goro_pd *pd) {
  pd->closing = 1;
  wake(rt, pd, &pd->rq, GORO_ECLOSED);
  wake(rt, pd, &pd->wq, GORO_ECLOSED);
}

int goroR_pd_set_deadline(struct goro_rt *rt, struct goro_pd *pd, int dirs,
                          double when) {
  double now = goroR_now();
  for (int dir = GORO_PD_READ; dir <= GORO_PD_WRITE; dir++) {
    struct goro_waitq *q = dir == GORO_PD_READ ? &pd->rq : &pd->wq;
    struct goro_timer *t = dir == GORO_PD_READ ? &pd->rtimer : &pd->wtimer;
    if (!(dirs & dir)) continue;
    if (dir == GORO_PD_READ)
      pd->rdeadline = when;
    else
      pd->wdeadline = when;
    if (q->head == NULL) continue;
    if (when == 0)
      goroR_timer_stop(rt, t);
    else if (when <= now)
      wake(rt, pd, q, GORO_ETIMEDOUT);
    else if (goroR_timer_start(rt, t, when) != 0)
      return GORO_ENOMEM;
  }
  return 0;
}

/* A foreign descriptor's oneshot registration, for the directions its
** queues wait on now (nothing: left disarmed). 0 or GORO_EIO. */
static int arm(struct goro_netpoll *np, struct goro_pd *pd) {
  struct epoll_event ev;
  uint32_t want = (pd->rq.head ? EPOLLIN | EPOLLRDHUP : 0) |
                  (pd->wq.head ? EPOLLOUT : 0);
  if (want == 0) {
    pd->armed = 0;
    return 0;
  }
  memset(&ev, 0, sizeof ev);
  ev.events = want | EPOLLONESHOT;
  ev.data.ptr = pd;
  if (epoll_ctl(np->epfd, pd->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD,
                pd->fd, &ev) != 0)
    return GORO_EIO;
  pd->registered = 1;
  pd->armed = (int)want;
  return 0;
}

int goroR_pd_wait(struct goro_rt *rt, struct goro_pd *pd, int dir,
                  struct goro_waiter *w) {
  struct goro_netpoll *np = np_of(rt);
  struct goro_waitq *q = dir == GORO_PD_READ ? &pd->rq : &pd->wq;
  struct goro_timer *t = dir == GORO_PD_READ ? &pd->rtimer : &pd->wtimer;
  double deadline = dir == GORO_PD_READ ? pd->rdeadline : pd->wdeadline;
  uint8_t *ready = dir == GORO_PD_READ ? &pd->rready : &pd->wready;
  if (pd->closing) return GORO_ECLOSED;
  if (deadline != 0 && deadline <= goroR_now()) return GORO_ETIMEDOUT;
  if (*ready) {
    *ready = 0;
    return 1;
  }
  if (!pd->owned) {  /* level: the fd may be ready already (no edge to come) */
    struct pollfd p;
    p.fd = pd->fd;
    p.events = dir == GORO_PD_READ ? POLLIN : POLLOUT;
    if (poll(&p, 1, 0) > 0) return 1;
  }
  if (deadline != 0 && t->heapidx < 0 && goroR_timer_start(rt, t, deadline) != 0)
    return GORO_ENOMEM;
  w->index = dir;
  goroR_waitq_push(q, w);
  if (!pd->owned && arm(np, pd) != 0) {
    int e = errno;
    goroR_waitq_remove(w);
    if (q->head == NULL) goroR_timer_stop(rt, t);
    errno = e;
    return GORO_EIO;
  }
  atomic_fetch_add_explicit(&np->nwaiters, 1, memory_order_relaxed);
  pd->nwait++;
  return 0;
}

struct goro_pd *goroR_pd_of_waiter(const struct goro_waiter *w) {
  struct goro_waitq *q = w->q;
  if (q == NULL) return NULL;
  return w->index == GORO_PD_READ
             ? (struct goro_pd *)(void *)((char *)q - offsetof(struct goro_pd, rq))
             : (struct goro_pd *)(void *)((char *)q - offsetof(struct goro_pd, wq));
}

void goroR_pd_leave(struct goro_rt *rt, struct goro_waiter *w) {
  struct goro_waitq *q = w->q;
  struct goro_pd *pd = goroR_pd_of_waiter(w);
  if (q == NULL) return;
  goroR_waitq_remove(w);
  atomic_fetch_sub_explicit(&np_of(rt)->nwaiters, 1, memory_order_relaxed);
  if (q->head == NULL)
    goroR_timer_stop(rt, q == &pd->rq ? &pd->rtimer : &pd->wtimer);
}

void goroR_pd_timer_fire(struct goro_rt *rt, struct goro_timer *t) {
  struct goro_pd *pd;
  if (t->kind == GORO_TIMER_PD_READ) {
    pd = (struct goro_pd *)(void *)((char *)t - offsetof(struct goro_pd, rtimer));
    wake(rt, pd, &pd->rq, GORO_ETIMEDOUT);
  } else {
    pd = (struct goro_pd *)(void *)((char *)t - offsetof(struct goro_pd, wtimer));
    wake(rt, pd, &pd->wq, GORO_ETIMEDOUT);
  }
}

/* ---- polling ------------------------------------------------------------------ */

/* A direction of pd is ready: wake its waiters, or remember the edge when
** nobody live waited (only stale waiters: their G's gave up). */
static void ready(struct goro_rt *rt, struct goro_pd *pd, int dir) {
  struct goro_waitq *q = dir == GORO_PD_READ ? &pd->rq : &pd->wq;
  if ((q->head == NULL || wake(rt, pd, q, 1) == 0) && pd->owned)
    *(dir == GORO_PD_READ ? &pd->rready : &pd->wready) = 1;
}

static void drain(int fd) {
  uint64_t v;
  while (read(fd, &v, sizeof v) > 0) {
  }
}

void goroR_netpoll(struct goro_rt *rt, double until) {
  struct goro_netpoll *np = np_of(rt);
  struct epoll_event ev[MAXEVENTS];
  int timeout = 0, n;
  if (np == NULL) return;
  if (until < 0) {
    timeout = -1;
  } else if (until > 0) {
    double ms = ceil((until - goroR_now()) * 1e3);
    timeout = ms <= 0 ? 0 : ms > 1e9 ? 1000000000 : (int)ms;
  }
  if (timeout != 0) {
    /* Say so first, then look again at what would end the wait: a waker
    ** that changes those after this sees `polling` and writes breakfd
    ** (both sides sequentially consistent: one sees the other). */
    atomic_store(&np->polling, 1);
    if (goroR_p_wanted(rt) || atomic_load(&rt->closing) ||
        atomic_load(&rt->abort))
      timeout = 0;
  }
  n = epoll_wait(np->epfd, ev, MAXEVENTS, timeout);
  atomic_store(&np->polling, 0);
  atomic_store(&np->lastpoll, goroR_now());
  for (int i = 0; i < n; i++) {
    struct goro_pd *pd;
    uint32_t e = ev[i].events;
    if (ev[i].data.ptr == &np->breakfd) {
      drain(np->breakfd);
      atomic_store(&np->broken, 0);
      continue;
    }
    if (ev[i].data.ptr == &np->timerfd) {
      drain(np->timerfd);  /* the loop fires the timers */
      np->timerfd_when = 0;
      continue;
    }
    pd = ev[i].data.ptr;
    if (!pd->owned) pd->armed = 0;  /* oneshot: disarmed by the event */
    if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) ready(rt, pd, GORO_PD_READ);
    if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) ready(rt, pd, GORO_PD_WRITE);
    if (!pd->owned && (pd->rq.head != NULL || pd->wq.head != NULL))
      (void)arm(np, pd);  /* the other direction still waits */
  }
}
