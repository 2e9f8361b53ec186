/*
** runtime/fork.h — what fork() does to the runtime.
**
** A forked child has one thread: the one that called fork. Everything the
** runtime kept about the others — workers, sysmon, host threads' extra
** M's, threads waiting for the P, their condition variables' waiters —
** is gone with them. Around every fork (pthread_atfork) the runtime takes
** all its locks, so that no list is half-changed when memory is copied,
** and in the child it forgets the threads that are not there. HACKING.md,
** "Fork", has what a child may then do.
*/
#ifndef GORO_RUNTIME_FORK_H
#define GORO_RUNTIME_FORK_H

/* Register the fork handlers (once per process; goroR_rt_init calls it). */
void goroR_fork_init(void);

#endif
