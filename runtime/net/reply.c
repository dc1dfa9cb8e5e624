/*
 * reply.c - answers to control requests (reply.h).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include "net/msg_token.h"
#include "net/reply.h"

void
reply_wire(struct msg_req *req, struct wire_w *w)
{
	size_t n = 0;
	const void *d = wire_data(w, &n);

	msg_reply(req, d, d != NULL ? n : 0);
	wire_w_fini(w);
}

void
reply_ok(struct msg_req *req)
{
	struct wire_w w;

	if (wire_w_init(&w) != 0) {
		msg_reply(req, NULL, 0);
		return;
	}
	wire_map(&w, 1);
	wire_str(&w, "ok");
	wire_bool(&w, true);
	reply_wire(req, &w);
}

void
reply_err(struct msg_req *req, const char *code, const char *fmt, ...)
{
	char why[2048];
	struct wire_w w;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	if (wire_w_init(&w) != 0) {
		msg_reply(req, NULL, 0);
		return;
	}
	wire_map(&w, 3);
	wire_str(&w, "ok");
	wire_bool(&w, false);
	wire_str(&w, "code");
	wire_str(&w, code);
	wire_str(&w, "error");
	wire_str(&w, why);
	reply_wire(req, &w);
}

void
reply_dispatch(
    struct msg_req *req, const reply_table *tables, size_t ntables, void *ctx)
{
	const struct reply_route *route = NULL;
	struct wire_r r;
	size_t len;
	const void *data = msg_req_data(req, &len);
	wire_v root, t;

	if (wire_parse(&r, data, len) != 0) {
		reply_err(req, REPLY_INVALID, "malformed message");
		return;
	}
	root = wire_root(&r);
	t = wire_get(root, "t");
	for (size_t i = 0; route == NULL && i < ntables; i++) {
		size_t n;
		const struct reply_route *table = tables[i](&n);
		route = reply_route_find(table, n, t);
	}
	/* A route for anyone is open to a sender without a token too. */
	if (route != NULL && route->roles != MSG_ROLE_ANY &&
	    !(msg_req_role(req) & route->roles)) {
		unsigned role = msg_req_role(req);
		if (role == 0) {
			reply_err(req, REPLY_FORBIDDEN,
			    "forbidden: a peer without a valid role token may "
			    "not %s (a process sends the NAME.token beside its "
			    "NAME.crt; `ledge certs issue` makes both)",
			    route->name);
		} else {
			reply_err(req, REPLY_FORBIDDEN,
			    "forbidden: %s may not %s", msg_role_name(role),
			    route->name);
		}
	} else if (route != NULL) {
		route->fn(ctx, req, root);
	} else {
		reply_err(req, REPLY_INVALID, "unknown request type");
	}
	wire_r_fini(&r);
}

const struct reply_route *
reply_route_find(const struct reply_route *table, size_t n, wire_v op)
{
	for (size_t i = 0; i < n; i++) {
		if (wire_str_eq(op, table[i].name)) {
			return &table[i];
		}
	}
	return NULL;
}
