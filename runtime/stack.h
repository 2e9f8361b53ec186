/*
** runtime/stack.h — G stacks: mmap'd, guarded, pooled.
**
** A goro_stack is a private anonymous mapping: a PROT_NONE guard region at
** the low end and `size` usable bytes above it, reserved with MAP_NORESERVE
** so that only the pages a G really touches cost memory. Stacks are reused
** through a process-wide pool with two tiers: up to `keep_hot` pooled stacks
** keep their pages; the next `keep_cold` have their pages given back with
** madvise(MADV_DONTNEED) as they enter the pool; beyond that a returned stack
** is unmapped.
**
** A write into the guard region is caught by a SIGSEGV/SIGBUS handler that
** runs on an alternate signal stack, prints
**   goro: fatal: stack overflow on stack <id> sp=<sp> stack=[<lo>,<hi>)
** and aborts. The handler finds the stack through the thread's crossing record
** (arch/ctx.h: goroA_xrec_self()->stack), which every switch keeps current.
** Faults anywhere else go to the handler that was installed before ours.
**
** Locks: the pool lock protects the pool lists and the counters; it is a leaf
** (nothing else is taken while holding it).
*/
#ifndef GORO_RUNTIME_STACK_H
#define GORO_RUNTIME_STACK_H

#include <stddef.h>
#include <stdint.h>

#include "../arch/ctx.h"

#define GORO_STACK_MIN (512u * 1024u)  /* Lua's 200 C levels, stock libs */
#define GORO_STACK_MAX ((size_t)1 << 40) /* 1 TiB of address space */
#ifdef __SANITIZE_ADDRESS__
#define GORO_STACK_DEFAULT (4u * 1024u * 1024u)  /* ASan frames are ~3x */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GORO_STACK_DEFAULT (4u * 1024u * 1024u)
#endif
#endif
#ifndef GORO_STACK_DEFAULT
#define GORO_STACK_DEFAULT (1024u * 1024u)
#endif
#define GORO_STACK_GUARD (64u * 1024u)  /* larger than any sane C frame */

struct goro_stack {
  struct goro_stackdesc desc;   /* usable range and id; immutable */
  void *map;                    /* mapping base (the guard starts here) */
  size_t maplen;                /* guard + usable bytes */
  struct goro_stack *next;      /* pool link; protected by the pool lock */
  unsigned vg_id;               /* valgrind's id of desc's range; immutable */
};

struct goro_stack_stats {
  uint64_t live;            /* handed out and not yet returned */
  uint64_t pooled;          /* in the pool, hot and cold */
  uint64_t pooled_hot;      /* in the pool with their pages kept */
  uint64_t reserved_bytes;  /* address space of live and pooled stacks */
  uint64_t created;         /* mappings made since start */
  uint64_t released;        /* returns whose pages were given back */
};

/* Set the size of stacks made from now on (rounded up to pages; at least
** GORO_STACK_MIN) and the pool tiers. Pooled stacks of another size are
** dropped. Returns 0 or GORO_EINVAL. */
int goroR_stack_configure(size_t size, unsigned keep_hot, unsigned keep_cold);

/* The configured usable size of new stacks. */
size_t goroR_stack_size(void);

/* Take a stack from the pool, or map a new one. NULL if out of memory. */
struct goro_stack *goroR_stack_get(void);

/* Give a stack back. Its contents are dead from now on. */
void goroR_stack_put(struct goro_stack *st);

/* Unmap every pooled stack. */
void goroR_stack_trim(void);

void goroR_stack_get_stats(struct goro_stack_stats *out);

/* The pool's lock, for runtime/fork.c alone (taken around a fork). */
struct goro_lock *goroR_stack_lock(void);

/* Install the process-wide guard-page handler (once; later calls are no-ops)
** and give the calling thread an alternate signal stack if it has none.
** Every thread that runs G stacks calls it. Returns 0 or GORO_ENOMEM. */
int goroR_stack_thread_init(void);

/* Remove and free the alternate signal stack goroR_stack_thread_init made for
** this thread, if it made one. */
void goroR_stack_thread_fini(void);

#endif
