/*
** runtime/timer.h — the clock and the P's timer heap.
**
** One binary min-heap of struct goro_timer on `when` (monotonic seconds),
** owned by the P: a sleeping G's own timer, which readies it, or one of the
** bridge's (timers' channels), for which hooks->fire runs. Timers fire at
** every scheduling point. Design: runtime/HACKING.md, "Timers".
*/
#ifndef GORO_RUNTIME_TIMER_H
#define GORO_RUNTIME_TIMER_H

#include <time.h>

#include "state.h"

/* Monotonic seconds. */
double goroR_now(void);
/* The same from the coarse clock (a few ns instead of ~20; ms-grained):
** for wait times shown in dumps. */
double goroR_now_coarse(void);
/* A coarse time stamp that fits a float: seconds since the process's
** first stamp (ms-grained for days), and the seconds since a stamp. For
** the wait times dumps show, where a G record's bytes count. */
float goroR_stamp(void);
double goroR_since(float stamp);
/* A monotonic time in seconds as an absolute timespec for timed waits on
** the runtime's CLOCK_MONOTONIC conditions. Any wait, up to infinity and
** NaN included, comes out valid and within 10^9 s. */
struct timespec goroR_timespec(double t);

/* Put gp in the timer heap to be readied at `when`. The caller then parks
** (either way). Requires: the P; gp's timer not armed. */
void goroR_timer_add(struct goro_rt *rt, struct goro_g *gp, double when);
/* goro.sleep(s) for gp: its timer at its own clock's now + s, in the
** bubble's heap if gp is in the running bubble. Requires: the P; gp's
** timer not armed; s > 0. */
void goroR_timer_sleep(struct goro_rt *rt, struct goro_g *gp, double s);
/* The clock t's times are on: the running bubble's if t is bubbled, else
** goroR_now(). And gp's clock (goro.now() for gp; NULL: real time). */
double goroR_timer_now(struct goro_rt *rt, const struct goro_timer *t);
double goroR_g_now(struct goro_g *gp);
/* Take gp out of the timer heap if it is there. Requires: the P. */
void goroR_timer_del(struct goro_rt *rt, struct goro_g *gp);

/* Timers of any kind (t->heapidx -1 when made; t->kind says whose).
** start (re)arms t for `when` (on the running bubble's clock and heap if
** t->bubbled; with no bubble running then, it stays disarmed): 0, or
** GORO_ENOMEM. stop disarms it if armed
** and says whether it was. Requires: the P. */
int goroR_timer_start(struct goro_rt *rt, struct goro_timer *t, double when);
int goroR_timer_stop(struct goro_rt *rt, struct goro_timer *t);

/* Inside the runtime. Ready every G whose time has come and fire every
** other due timer; returns the earliest remaining time, or 0 if none.
** Requires: the P. */
double goroR_timers_fire(struct goro_rt *rt, double now);
/* The same for bubble b's heap at b->now, and its drop. Requires: the P;
** b == rt->bubble for fire. */
double goroR_bubble_timers_fire(struct goro_rt *rt, struct goro_bubble *b);
void goroR_bubble_timers_drop(struct goro_bubble *b);
/* Drop every timer, disarmed (a run abandons its G's). Requires: the P. */
void goroR_timers_drop(struct goro_rt *rt);
/* Can a timer still make a G runnable: a G sleeps, or a G waits on the
** channel of one of the bridge's timers? Requires: the P. */
int goroR_timers_hope(struct goro_rt *rt);

#endif
