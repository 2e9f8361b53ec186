/*
** runtime/protobuf.h — a small protobuf encoder: a growing byte buffer and
** the two kinds of field a pprof profile uses, varint (wire type 0) and
** length-delimited (wire type 2). Private to the profiler's writers
** (pprof.c). Go's runtime/pprof keeps its own encoder the same way: the
** format needs a few dozen lines, not a library.
**
** Invariants: p[0..n) is what was written; once an allocation fails, oom is
** set and the buffer ignores further writes, so a caller checks oom once at
** the end. A buffer belongs to its caller: no locks.
*/
#ifndef GORO_RUNTIME_PROTOBUF_H
#define GORO_RUNTIME_PROTOBUF_H

#include <stddef.h>
#include <stdint.h>

struct goro_pb_buf {
  unsigned char *p;  /* malloc'ed; the caller frees it */
  size_t n, cap;
  int oom;
};

/* Append n raw bytes. */
void goroR_pb_put(struct goro_pb_buf *b, const void *p, size_t n);
/* Append v as a base-128 varint. */
void goroR_pb_varint(struct goro_pb_buf *b, uint64_t v);
/* A varint field: key (field << 3 | 0), then v. */
void goroR_pb_int(struct goro_pb_buf *b, int field, uint64_t v);
/* A length-delimited field (bytes, a string, a packed repeated field or an
** embedded message): key (field << 3 | 2), length, then p[0..n). */
void goroR_pb_bytes(struct goro_pb_buf *b, int field, const void *p, size_t n);
/* The embedded message m as field `field` of b; m's oom carries over. */
void goroR_pb_message(struct goro_pb_buf *b, int field, const struct goro_pb_buf *m);

#endif
