/*
** runtime/pprof.h — writing a profile to its file. Private to the
** profiler's files: prof.c calls it when a profile stops.
*/
#ifndef GORO_RUNTIME_PPROF_H
#define GORO_RUNTIME_PPROF_H

#include "prof_store.h"

/* Write the store `v` holds to `path` as `format` (GORO_PROF_PPROF or
** GORO_PROF_FOLDED); hz and seconds are the profile's rate and duration.
** 0, GORO_ENOMEM, or GORO_EIO with the errno of what failed (the open, a
** write, the close) in *syserr. Requires: prof_lock (v stays valid). */
int goroR_prof_write(const struct goro_prof_view *v, const char *path,
                     int format, int hz, double seconds, int *syserr);

#endif
