/*
** runtime/errors.c — goro_strerror: the text of each of goro.h's codes.
*/
#include "errors.h"

#include <stddef.h>

/* Indexed by -code; the assert below keeps it as long as the list. */
static const char *const texts[] = {
    [0] = "no error",
    [-GORO_ENOMEM] = "not enough memory",
    [-GORO_EINVAL] = "invalid argument",
    [-GORO_ECLOSED] = "runtime is closed",
    [-GORO_ESTATE] = "not allowed in this state",
    [-GORO_EENDED] = "the run ended",
    [-GORO_EGFAILED] = "a goroutine failed",
    [-GORO_EIO] = "input/output error",
    [-GORO_ETIMEDOUT] = "i/o timeout",
};
_Static_assert(sizeof texts / sizeof *texts == 1 - GORO_ELAST,
               "a text for every code of goro.h");

__attribute__((visibility("default"))) const char *goro_strerror(int code) {
  if (code > 0 || code < GORO_ELAST || texts[-code] == NULL) return "unknown error";
  return texts[-code];
}
