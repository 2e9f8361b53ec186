/*
** spec/c/hostutil.h — a host program's view of goro, for the C tests whose
** own threads call into Lua (spec/c/cgo_*.c): one Lua state with goro and
** goro_testmod loaded (luastate.h), its runtime open in host mode
** (goro_open), and small helpers around goro_call. Each test binary links
** spec/c/hostutil.c and spec/c/testmod.c.
*/
#ifndef GORO_SPEC_HOSTUTIL_H
#define GORO_SPEC_HOSTUTIL_H

#include "luastate.h"

/* The state and its runtime, made by open_state (one a test). */
extern lua_State *L;
extern goro_runtime *rt;

/* Make L, run the Lua chunk `setup` on it (unless NULL) before the runtime
** opens, then open rt. Asserts that each step worked. */
void open_state(const char *setup);
/* goro_close(rt), then lua_close(L). */
void close_state(void);

/* Run the Lua chunk `code` through goro_call from the calling thread;
** returns goro_call's status. */
int lua_do(const char *code);
/* The integer global `global`, read through goro_call (asserts the call
** worked). */
long long lua_int(const char *global);

void sleep_ms(double ms);

/* Under qemu-user (a time scale above 1: crit.h), run once, in a state of
** its own, the paths a G takes in a host's step (its start, goro.config
** starting workers, goro_cgocall handed off, a callback, C that holds the
** P): the first pass through code is translated, tens of ms, and would
** spend the budget of the test's first step. Natively it does nothing. */
void warm_up_steps(void);

#endif
