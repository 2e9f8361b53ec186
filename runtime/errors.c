/*
** runtime/errors.c — texts for the runtime's error codes.
*/
#include "errors.h"

const char *goro_strerror(int code) {
  switch (code) {
    case 0: return "no error";
    case GORO_ENOMEM: return "not enough memory";
    case GORO_EINVAL: return "invalid argument";
    case GORO_ECLOSED: return "runtime is closed";
    case GORO_ESTATE: return "not allowed in this state";
    case GORO_EENDED: return "the run ended";
    default: return "unknown error";
  }
}
