/*
 * orc_logs.c - the ring of function log lines and the `logs` request
 * (orc_logs.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/msg.h"
#include "net/msg_token.h"
#include "net/reply.h"
#include "net/wire.h"
#include "orc/orc_logs.h"
#include "orc/orc_model.h"

void
orc_logs_record(struct orc *o, struct onode *n, wire_v root)
{
	if (o->logs == NULL) {
		return;
	}
	struct log_line *l = &o->logs[++o->log_seq % ORC_LOG_RING];
	free(l->node);
	free(l->wf);
	free(l->who);
	free(l->line);
	l->seq = o->log_seq;
	l->ms = wire_as_u64(wire_get(root, "ms"), 0);
	l->level = (int)wire_as_u64(wire_get(root, "level"), 2);
	l->node = strdup(n->name);
	l->wf = wire_str_dup(wire_get(root, "wf"));
	l->who = wire_str_dup(wire_get(root, "who"));
	l->line = wire_str_dup(wire_get(root, "line"));
	if (!l->wf) {
		l->wf = strdup("");
	}
}

static void
logs(void *ctx, struct msg_req *req, wire_v root)
{
	struct orc *o = ctx;
	char *wf = wire_str_dup(wire_get(root, "wf"));
	uint64_t after = wire_as_u64(wire_get(root, "after"), 0);
	uint64_t first =
	    o->log_seq > ORC_LOG_RING ? o->log_seq - ORC_LOG_RING + 1 : 1;
	size_t n = 0;
	struct wire_w m;

	if (after + 1 > first) {
		first = after + 1;
	}
	for (uint64_t s = first; s <= o->log_seq; s++) {
		struct log_line *l = &o->logs[s % ORC_LOG_RING];
		n += wf == NULL || strcmp(l->wf, wf) == 0;
	}
	if (wire_w_init(&m) != 0) {
		free(wf);
		reply_err(req, REPLY_BUSY, "out of memory");
		return;
	}
	wire_map(&m, 3);
	wire_str(&m, "ok");
	wire_bool(&m, true);
	wire_str(&m, "lines");
	wire_array(&m, n);
	for (uint64_t s = first; s <= o->log_seq; s++) {
		struct log_line *l = &o->logs[s % ORC_LOG_RING];
		if (wf != NULL && strcmp(l->wf, wf) != 0) {
			continue;
		}
		wire_map(&m, 6);
		wire_str(&m, "seq");
		wire_u64(&m, l->seq);
		wire_str(&m, "ms");
		wire_u64(&m, l->ms);
		wire_str(&m, "node");
		wire_str(&m, l->node);
		wire_str(&m, "who");
		wire_str(&m, l->who);
		wire_str(&m, "level");
		wire_u64(&m, (uint64_t)l->level);
		wire_str(&m, "line");
		wire_str(&m, l->line);
	}
	wire_str(&m, "next");
	wire_u64(&m, o->log_seq);
	free(wf);
	reply_wire(req, &m);
}

static const struct reply_route routes[] = {
	{ "logs", logs, MSG_ROLES_READ },
};

const struct reply_route *
orc_logs_routes(size_t *n)
{
	*n = sizeof routes / sizeof routes[0];
	return routes;
}

void
orc_logs_free(struct orc *o)
{
	for (size_t i = 0; o->logs && i < ORC_LOG_RING; i++) {
		free(o->logs[i].node);
		free(o->logs[i].wf);
		free(o->logs[i].who);
		free(o->logs[i].line);
	}
	free(o->logs);
	o->logs = NULL;
}
