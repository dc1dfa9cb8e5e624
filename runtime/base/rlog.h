/*
 * rlog.h - the runtime's log: one line per message on a stream, tagged
 * with time, level and where it comes from.
 *
 * A struct rlog is created by the program (no global logger) and passed
 * to whatever logs.  Thread-safe: lines from different threads never mix.
 */
#ifndef LEDGE_BASE_RLOG_H
#define LEDGE_BASE_RLOG_H

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

enum rlog_level {
	RLOG_ERROR = 0,
	RLOG_WARN = 1,
	RLOG_INFO = 2,
	RLOG_DEBUG = 3,
};

struct rlog {
	FILE *fp;  /* borrowed; stderr by default */
	int level; /* messages above it are dropped */
	pthread_mutex_t mu;
	/* Optional: also given every line written (e.g. to forward function
	 * logs to the orchestrator), on the writing thread, with the formatted
	 * message; it must not log itself. */
	void (*tap)(void *arg, int level, const char *who, const char *msg);
	void *tap_arg;
};

/* Set up a log writing to `fp` (not owned) at `level`. */
void rlog_init(struct rlog *l, FILE *fp, int level);
void rlog_fini(struct rlog *l);

/* Parse "error", "warn", "info", "debug"; -1 if none of them. */
int rlog_level_parse(const char *s);

/*
 * Write "TIME LEVEL [who] message".  `who` names the source (a node, a
 * "workflow/function", a resource); NULL for the runtime itself.
 */
void rlog_write(struct rlog *l, int level, const char *who, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));
void rlog_vwrite(
    struct rlog *l, int level, const char *who, const char *fmt, va_list ap);

#endif
