/*
 * cli_helpers.h - what the CLI's tests share: replies built with wire.h
 * in a few words, and a command run with its stdout and stderr (fds 1
 * and 2) captured.
 */
#ifndef LEDGE_TEST_CLI_HELPERS_H
#define LEDGE_TEST_CLI_HELPERS_H

#include <stdint.h>

#include "net/wire.h"

/* key: value members of a map being written. */
void kv_str(struct wire_w *x, const char *k, const char *v);
void kv_u64(struct wire_w *x, const char *k, uint64_t v);
/* "ok": true */
void ok_true(struct wire_w *x);

/* A part of a wf.start reply's `placed`, and a line of a logs reply
 * (ms: a fixed time in 2026 plus seq; who may be NULL). */
void placed_part(struct wire_w *x, const char *part, const char *kind,
    const char *type, const char *node, uint64_t epoch);
void log_line(struct wire_w *x, uint64_t seq, const char *who,
    const char *level, const char *line);

/* Output captured from fds 1 and 2 (cap_free frees out and err). */
struct cap {
	int fd[2], saved[2];
	char path[2][64];
	char *out, *err;
};

void cap_begin(struct cap *c);
void cap_end(struct cap *c);
void cap_free(struct cap *c);

typedef int (*cmd_fn)(int argc, char **argv);

/* Run a command on a NULL-terminated list of words, capturing output. */
int run(cmd_fn fn, struct cap *c, const char *const *words);

#define RUN(fn, c, ...) run(fn, c, (const char *const[]) { __VA_ARGS__, NULL })

#endif
