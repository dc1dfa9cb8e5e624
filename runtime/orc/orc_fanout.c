/*
 * orc_fanout.c - one request to several nodes, answers gathered
 * (orc_fanout.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ledge.h>

#include "net/msg.h"
#include "orc/orc_fanout.h"

struct fan {
	size_t n, pending;
	struct orc_fan_ans *ans;
	void (*done)(void *arg, const struct orc_fan_ans *ans, size_t n);
	void *arg;
};

struct leg {
	struct fan *f;
	size_t i;
};

static void
on_answer(void *arg, int err, const void *data, size_t len)
{
	struct leg *l = arg;
	struct fan *f = l->f;
	struct orc_fan_ans *a = &f->ans[l->i];

	a->err = err;
	if (err == MSG_OK && (a->data = malloc(len ? len : 1)) != NULL) {
		memcpy(a->data, data, len);
		a->len = len;
	} else if (err == MSG_OK) {
		a->err = MSG_ECLOSED; /* out of memory: as if not answered */
	}
	free(l);
	if (--f->pending > 0) {
		return;
	}
	f->done(f->arg, f->ans, f->n);
	for (size_t i = 0; i < f->n; i++) {
		free(f->ans[i].data);
	}
	free(f->ans);
	free(f);
}

int
orc_fanout(struct onode *const *nodes, size_t n, const void *data, size_t len,
    uint32_t timeout_ms,
    void (*done)(void *arg, const struct orc_fan_ans *ans, size_t n), void *arg)
{
	struct fan *f = calloc(1, sizeof *f);
	struct leg **legs = calloc(n + 1, sizeof *legs);

	if (f == NULL || legs == NULL || n == 0 ||
	    (f->ans = calloc(n, sizeof *f->ans)) == NULL) {
		goto oom;
	}
	for (size_t i = 0; i < n; i++) {
		if ((legs[i] = calloc(1, sizeof *legs[i])) == NULL) {
			goto oom;
		}
		legs[i]->f = f;
		legs[i]->i = i;
		snprintf(f->ans[i].node, sizeof f->ans[i].node, "%s",
		    nodes[i]->name);
	}
	f->n = f->pending = n;
	f->done = done;
	f->arg = arg;
	/* All legs exist before the first is sent: an answer may come
	 * (and the last one free f) before this loop ends. */
	for (size_t i = 0; i < n; i++) {
		msg_call(nodes[i]->client, data, len, timeout_ms, on_answer,
		    legs[i]);
	}
	free(legs);
	return LEDGE_OK;
oom:
	for (size_t i = 0; legs != NULL && i < n; i++) {
		free(legs[i]);
	}
	free(legs);
	if (f != NULL) {
		free(f->ans);
	}
	free(f);
	return LEDGE_ENOMEM;
}
