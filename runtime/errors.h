/*
** runtime/errors.h — the runtime's error codes.
**
** Functions in runtime/ return 0 (or a count) on success and one of these
** negative codes on failure; the bridge turns them into Lua errors.
*/
#ifndef GORO_RUNTIME_ERRORS_H
#define GORO_RUNTIME_ERRORS_H

#define GORO_ENOMEM   (-1)  /* out of memory or address space */
#define GORO_EINVAL   (-2)  /* invalid argument */
#define GORO_ECLOSED  (-3)  /* the runtime or object is closed */
#define GORO_ESTATE   (-4)  /* not allowed in the current state */
#define GORO_EENDED   (-5)  /* the run ended while waiting */

/* A static English text for a code ("unknown error" for others). */
const char *goro_strerror(int code);

#endif
