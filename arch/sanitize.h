/*
** arch/sanitize.h — which sanitizers this translation unit is built with.
** GORO_ASAN and GORO_TSAN are defined for gcc and clang alike.
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

#endif
