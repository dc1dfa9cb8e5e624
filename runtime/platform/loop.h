/*
 * loop.h - the node's event loop (libevent underneath): timers, signals,
 * file descriptors, and the hand-off of work from other threads.
 *
 * Threads: loop_post may be called from any thread; everything else only
 * from the loop thread (or before the loop runs).  Callbacks run on the
 * loop thread.
 */
#ifndef LEDGE_PLATFORM_LOOP_H
#define LEDGE_PLATFORM_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include <ledge.h>

struct loop;
struct loop_timer;
struct loop_fd;

/*
 * A new loop in *lp.  LEDGE_OK, or LEDGE_ENOMEM when memory or the
 * system's resources (an eventfd, libevent's base) run out.
 */
int loop_new(struct loop **lp);
/* Free the loop; pending posts are run once more (so nothing leaks). */
void loop_free(struct loop *l);

/* Run until loop_exit; returns LEDGE_OK. */
int loop_run(struct loop *l);
/* Make loop_run return after the current callbacks. */
void loop_exit(struct loop *l);

/*
 * Run fn(arg) on the loop thread soon.  Any thread.  Returns LEDGE_OK,
 * or LEDGE_ENOMEM (fn is then not called).
 */
int loop_post(struct loop *l, void (*fn)(void *arg), void *arg);

/* Run everything posted so far (for shutdown, when the loop no longer
 * runs).  Loop thread, or any thread once the loop has stopped. */
void loop_drain(struct loop *l);

/* A timer calling fn(arg); not armed until loop_timer_start. */
struct loop_timer *loop_timer_new(
    struct loop *l, void (*fn)(void *arg), void *arg);
/* (Re)arm to fire once after `ms` milliseconds. */
void loop_timer_start(struct loop_timer *t, uint64_t ms);
void loop_timer_stop(struct loop_timer *t);
void loop_timer_free(struct loop_timer *t);

/* Call fn(arg) on the loop thread whenever signal `signo` arrives.
 * LEDGE_OK, or LEDGE_ENOMEM (memory, or libevent could not add it). */
int loop_signal(struct loop *l, int signo, void (*fn)(void *arg), void *arg);

/* Call fn(arg) whenever `fd` is readable (persistent). */
struct loop_fd *loop_fd_new(
    struct loop *l, int fd, void (*fn)(void *arg), void *arg);
void loop_fd_free(struct loop_fd *f);

/* True when called on the thread running loop_run. */
bool loop_on_thread(struct loop *l);

/* For the HTTP module (the other user of libevent): the event_base. */
void *loop_event_base(struct loop *l);

#endif
