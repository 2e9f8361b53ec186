/*
** runtime/runtime.h — everything the runtime offers the bridge, in one
** include. The runtime never includes lua.h and never raises a Lua error:
** its functions return 0 (or a count) or a negative GORO_E* code
** (errors.h). Each header says what its file owns; state.h holds the
** records they share. Functions under "inside the runtime" in a header are
** for the runtime's own files and its tests.
*/
#ifndef GORO_RUNTIME_RUNTIME_H
#define GORO_RUNTIME_RUNTIME_H

#include "cgo.h"
#include "errors.h"
#include "extram.h"
#include "fork.h"
#include "frame.h"
#include "fatal.h"
#include "lock.h"
#include "locked.h"
#include "m.h"
#include "netpoll.h"
#include "p.h"
#include "prof.h"
#include "rt.h"
#include "sched.h"
#include "signals.h"
#include "stack.h"
#include "state.h"
#include "synctest.h"
#include "sysmon.h"
#include "timer.h"
#include "waitq.h"
#include "worker.h"

#endif
