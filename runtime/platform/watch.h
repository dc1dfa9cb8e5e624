/*
 * watch.h - tell the node when a code file it runs is replaced.
 *
 * Watches the folders of the given files with inotify (a compiler or
 * `cp` usually replaces a file by writing it or renaming a new one over
 * it, so the folder is what sees both), and calls back once per file
 * after changes settle for a short while.
 *
 * Threads: loop thread only.
 */
#ifndef LEDGE_PLATFORM_WATCH_H
#define LEDGE_PLATFORM_WATCH_H

#include <ledge.h>

struct loop;
struct watch;

/* fn(arg, path) is called on the loop thread with a watched file's path.
 * LEDGE_OK, or LEDGE_ENOMEM (memory, or inotify's resources). */
int watch_new(struct watch **wp, struct loop *l,
    void (*fn)(void *arg, const char *path), void *arg);
void watch_free(struct watch *w);

/* Watch one more file (its folder must exist).  LEDGE_OK; LEDGE_ENOENT
 * (inotify cannot watch the folder: missing, or no permission);
 * LEDGE_ETOOBIG (folder name over PATH_MAX); LEDGE_ENOMEM. */
int watch_add(struct watch *w, const char *path);

#endif
