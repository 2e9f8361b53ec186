/*
** arch/sanitize.h — which sanitizers this translation unit is built with.
** GORO_ASAN and GORO_TSAN are defined for gcc and clang alike.
** GORO_VALGRIND: valgrind's client requests are there to annotate with.
*/
#ifndef GORO_ARCH_SANITIZE_H
#define GORO_ARCH_SANITIZE_H

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GORO_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define GORO_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(GORO_ASAN)
#define GORO_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__) && !defined(GORO_TSAN)
#define GORO_TSAN 1
#endif

/* valgrind/valgrind.h (Debian's valgrind package) costs a few instructions
** a request, which do nothing unless the program runs under valgrind: any
** build that finds the header makes them (but a sanitizer build, which
** valgrind cannot run). A cross compiler does not look in /usr/include. */
#if defined(__has_include) && !defined(GORO_ASAN) && !defined(GORO_TSAN)
#if __has_include(<valgrind/valgrind.h>)
#define GORO_VALGRIND 1
#endif
#endif

#endif
