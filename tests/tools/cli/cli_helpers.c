/*
 * cli_helpers.c - what the CLI's tests share (cli_helpers.h).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli_helpers.h"

void
kv_str(struct wire_w *x, const char *k, const char *v)
{
	wire_str(x, k);
	wire_str(x, v);
}

void
kv_u64(struct wire_w *x, const char *k, uint64_t v)
{
	wire_str(x, k);
	wire_u64(x, v);
}

void
ok_true(struct wire_w *x)
{
	wire_str(x, "ok");
	wire_bool(x, true);
}

void
placed_part(struct wire_w *x, const char *part, const char *kind,
    const char *type, const char *node, uint64_t epoch)
{
	wire_map(x, 5);
	kv_str(x, "part", part);
	kv_str(x, "kind", kind);
	kv_str(x, "type", type);
	kv_str(x, "node", node);
	kv_u64(x, "epoch", epoch);
}

void
log_line(struct wire_w *x, uint64_t seq, const char *who, const char *level,
    const char *line)
{
	wire_map(x, 6);
	kv_u64(x, "seq", seq);
	kv_u64(x, "ms", 1795778523123ull + seq); /* 2026-11-27T... */
	kv_str(x, "node", "edge-1");
	kv_str(x, "who", who);
	kv_str(x, "level", level);
	kv_str(x, "line", line);
}

void
cap_begin(struct cap *c)
{
	fflush(stdout);
	fflush(stderr);
	for (int i = 0; i < 2; i++) {
		snprintf(c->path[i], sizeof c->path[i], "/tmp/cli-cap-XXXXXX");
		c->fd[i] = mkstemp(c->path[i]);
		cr_assert_geq(c->fd[i], 0);
		c->saved[i] = dup(i + 1);
		dup2(c->fd[i], i + 1);
	}
}

static char *
slurp(const char *path)
{
	FILE *fp = fopen(path, "rb");
	char *b = calloc(1, 1 << 20);
	size_t n;
	cr_assert(fp && b);
	n = fread(b, 1, (1 << 20) - 1, fp);
	b[n] = '\0';
	fclose(fp);
	return b;
}

void
cap_end(struct cap *c)
{
	fflush(stdout);
	fflush(stderr);
	for (int i = 0; i < 2; i++) {
		dup2(c->saved[i], i + 1);
		close(c->saved[i]);
		close(c->fd[i]);
	}
	c->out = slurp(c->path[0]);
	c->err = slurp(c->path[1]);
	unlink(c->path[0]);
	unlink(c->path[1]);
}

void
cap_free(struct cap *c)
{
	free(c->out);
	free(c->err);
}

int
run(cmd_fn fn, struct cap *c, const char *const *words)
{
	int argc = 0, rc;
	while (words[argc] != NULL) {
		argc++;
	}
	cap_begin(c);
	rc = fn(argc, (char **)words);
	cap_end(c);
	return rc;
}
