/*
** runtime/errors.h — the runtime's error codes are goro's public ones.
**
** The one list is include/goro.h's GORO_E* enum (libuv's model: uv.h's
** codes are what its internals return too). Functions in runtime/ return 0
** (or a count) on success and one of those negative codes on failure; the
** bridge turns them into Lua errors or returns them to the host.
** goro_strerror (errors.c) gives their text.
*/
#ifndef GORO_RUNTIME_ERRORS_H
#define GORO_RUNTIME_ERRORS_H

#include "../include/goro.h"

#endif
