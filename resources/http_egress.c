/*
 * http_egress.c - HTTP requests out.
 *
 * A call (ledge_http_fetch) carries a request and gets the response back;
 * connection failures and timeouts come back as errors, not as crashes.
 * A cast POSTs (or `method`s) the event's bytes to `url` and is consumed
 * once the server answered (a failure is logged; the event is not
 * retried).  Only http:// URLs are supported.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/rlog.h"
#include "node/node.h"
#include "node/node_call.h"
#include "node/node_event.h"
#include "node/res_api.h"
#include "platform/http.h"
#include "workflow/resource.h"

static const char *const methods[] = { "GET", "POST", "PUT", "DELETE", "PATCH",
	NULL };

static const struct res_param params[] = {
	{ .name = "url",
	    .kind = RP_STR,
	    .help = "target of casts; base for relative request URLs" },
	{ .name = "method",
	    .kind = RP_ENUM,
	    .choices = methods,
	    .help = "method for casts (default POST)" },
	{ .name = "content_type",
	    .kind = RP_STR,
	    .help =
	        "content type for casts (default application/octet-stream)" },
	{ .name = "timeout_ms",
	    .kind = RP_INT,
	    .min = 1,
	    .max = 3600000,
	    .help = "default request timeout (default 5000)" },
	{ .name = "max_response",
	    .kind = RP_INT,
	    .min = 0,
	    .max = 1LL << 30,
	    .help = "largest response body in bytes (default 16777216)" },
	{ .name = NULL },
};

struct egress {
	const char *url; /* from the config, may be NULL */
	char *origin;    /* scheme://host[:port] of url, or NULL */
	const char *method;
	const char *ctype;
	uint32_t timeout_ms;
	size_t max_response;
};

struct out_req {
	struct res *r;
	struct node_event *ev;
};

static int
check(const struct workflow *wf, const struct wf_resource *spec, struct diag *d)
{
	const char *url = wf_config_get(&spec->config, "url");
	if (url != NULL && strncasecmp(url, "http://", 7) != 0) {
		for (size_t i = 0; i < spec->config.count; i++) {
			if (strcmp(spec->config.keys[i], "url") == 0) {
				diag_add(d, wf->file, spec->config.pos[i].line,
				    spec->config.pos[i].col,
				    "url '%s' must start with http:// (https "
				    "is "
				    "not supported yet)",
				    url);
			}
		}
		return 1;
	}
	return 0;
}

static int
start(struct res *r, char *err, size_t errlen)
{
	struct egress *e = calloc(1, sizeof *e);
	const char *v;

	if (e == NULL || node_http_client(r->node) == NULL) {
		free(e);
		snprintf(err, errlen, "out of memory");
		return LEDGE_ENOMEM;
	}
	e->url = wf_config_get(&r->spec->config, "url");
	e->method = wf_config_get(&r->spec->config, "method");
	e->ctype = wf_config_get(&r->spec->config, "content_type");
	v = wf_config_get(&r->spec->config, "timeout_ms");
	e->timeout_ms = v ? (uint32_t)strtoul(v, NULL, 10) : 5000;
	v = wf_config_get(&r->spec->config, "max_response");
	e->max_response = v ? (size_t)strtoull(v, NULL, 10) : 16u << 20;
	if (e->url != NULL) {
		const char *host = e->url + 7;
		size_t n = strcspn(host, "/?#");
		if ((e->origin = malloc(7 + n + 1)) == NULL) {
			free(e);
			snprintf(err, errlen, "out of memory");
			return LEDGE_ENOMEM;
		}
		memcpy(e->origin, e->url, 7 + n);
		e->origin[7 + n] = '\0';
	}
	r->priv = e;
	return LEDGE_OK;
}

static void
stop(struct res *r)
{
	struct egress *e = r->priv;
	if (e != NULL) {
		free(e->origin);
		free(e);
		r->priv = NULL;
	}
}

static void
on_result(void *arg, const struct http_client_result *res)
{
	struct out_req *q = arg;
	struct res *r = q->r;
	struct node_event *ev = q->ev;
	free(q);

	if (ev->kind != NE_CALL) {
		int err = res->err;
		if (err == LEDGE_OK && res->status >= 400) {
			rlog_write(node_log(r->node), RLOG_WARN, r->name,
			    "POST answered %d", res->status);
		}
		node_event_done(r->node, r, ev, err);
		return;
	}
	struct node_reply reply;
	memset(&reply, 0, sizeof reply);
	reply.err = res->err;
	if (res->err == LEDGE_OK) {
		reply.status = res->status;
		if (res->len > 0) {
			if ((reply.body = malloc(res->len)) == NULL) {
				reply.err = LEDGE_ENOMEM;
			} else {
				memcpy(reply.body, res->body, res->len);
				reply.len = res->len;
			}
		}
		if (reply.err == LEDGE_OK && res->nheaders > 0 &&
		    (reply.headers = calloc(
		         res->nheaders, sizeof *reply.headers)) != NULL) {
			for (size_t i = 0; i < res->nheaders; i++) {
				reply.headers[i].name =
				    strdup(res->headers[i].name);
				reply.headers[i].value =
				    strdup(res->headers[i].value);
				reply.nheaders = i + 1;
				if (!reply.headers[i].name ||
				    !reply.headers[i].value) {
					reply.err = LEDGE_ENOMEM;
					break;
				}
			}
		}
		if (reply.err != LEDGE_OK) {
			int e = reply.err;
			node_reply_free(&reply);
			reply.err = e;
		}
	}
	node_event_reply(r->node, ev, &reply);
}

static void
fail_call(struct res *r, struct node_event *ev, int err)
{
	struct node_reply reply;
	memset(&reply, 0, sizeof reply);
	reply.err = err;
	if (ev->kind == NE_CALL) {
		node_event_reply(r->node, ev, &reply);
	} else {
		node_event_done(r->node, r, ev, err);
	}
}

static void
deliver(struct res *r, struct node_event *ev)
{
	struct egress *e = r->priv;
	const struct node_http *h = ev->http;
	struct out_req *q;
	const char *url = e->url, *method = e->method ? e->method : "POST";
	ledge_header ct = { "Content-Type",
		e->ctype ? e->ctype : "application/octet-stream" };
	const ledge_header *hs = &ct;
	size_t nh = 1;
	uint32_t timeout = e->timeout_ms;
	char *joined = NULL;

	if (ev->kind == NE_CALL && h != NULL) {
		/* A request from ledge_http_fetch. */
		url = h->url;
		method = h->method[0] ? h->method : "GET";
		hs = h->headers;
		nh = h->nheaders;
		if (h->timeout_ms) {
			timeout = h->timeout_ms;
		}
		if (url[0] == '/') {
			if (e->origin == NULL) {
				fail_call(r, ev, LEDGE_EINVAL);
				return;
			}
			size_t n = strlen(e->origin) + strlen(url) + 1;
			if ((joined = malloc(n)) == NULL) {
				fail_call(r, ev, LEDGE_ENOMEM);
				return;
			}
			snprintf(joined, n, "%s%s", e->origin, url);
			url = joined;
		}
	}
	if (url == NULL) {
		rlog_write(node_log(r->node), RLOG_WARN, r->name,
		    "no url configured for an event without one");
		fail_call(r, ev, LEDGE_EINVAL);
		return;
	}
	if ((q = malloc(sizeof *q)) == NULL) {
		free(joined);
		fail_call(r, ev, LEDGE_ENOMEM);
		return;
	}
	q->r = r;
	q->ev = ev;
	http_client_request(node_http_client(r->node), method, url, hs, nh,
	    ev->data, ev->len, timeout, e->max_response, on_result, q);
	free(joined);
}

static void
describe(struct res *r, char *buf, size_t len)
{
	struct egress *e = r->priv;
	snprintf(buf, len, "%s", e && e->url ? e->url : "(URLs per request)");
}

const struct res_type res_http_egress = {
	.name = "http-egress",
	.summary = "outgoing HTTP requests, for calls (fetch) and casts (POST)",
	.params = params,
	.accepts_cast = true,
	.accepts_call = true,
	.check = check,
	.start = start,
	.stop = stop,
	.deliver = deliver,
	.describe = describe,
};
