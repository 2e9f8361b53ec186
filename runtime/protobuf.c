/*
** runtime/protobuf.c — see protobuf.h.
*/
#include "protobuf.h"

#include <stdlib.h>
#include <string.h>

void goroR_pb_put(struct goro_pb_buf *b, const void *p, size_t n) {
  if (b->oom || n == 0) return;
  if (b->n + n > b->cap) {
    size_t ncap = b->cap ? b->cap : 4096;
    while (ncap < b->n + n) ncap *= 2;
    unsigned char *t = realloc(b->p, ncap);
    if (t == NULL) {
      b->oom = 1;
      return;
    }
    b->p = t;
    b->cap = ncap;
  }
  memcpy(b->p + b->n, p, n);
  b->n += n;
}

void goroR_pb_varint(struct goro_pb_buf *b, uint64_t v) {
  unsigned char t[10];
  int n = 0;
  do {
    t[n++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v != 0);
  goroR_pb_put(b, t, n);
}

void goroR_pb_int(struct goro_pb_buf *b, int field, uint64_t v) {
  goroR_pb_varint(b, (uint64_t)field << 3);
  goroR_pb_varint(b, v);
}

void goroR_pb_bytes(struct goro_pb_buf *b, int field, const void *p, size_t n) {
  goroR_pb_varint(b, (uint64_t)field << 3 | 2);
  goroR_pb_varint(b, n);
  goroR_pb_put(b, p, n);
}

void goroR_pb_message(struct goro_pb_buf *b, int field, const struct goro_pb_buf *m) {
  goroR_pb_bytes(b, field, m->p, m->n);
  b->oom |= m->oom;
}
