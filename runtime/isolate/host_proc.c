/*
 * host_proc.c - `ledge host`: runs one function's callbacks for a node
 * that isolates it (see host_proc.h and isolate.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/arena.h"
#include "code/code.h"
#include "isolate/host_confine.h"
#include "isolate/host_proc.h"
#include "isolate/host_rules.h"
#include "isolate/host_sandbox.h"
#include "isolate/isolate.h"
#include "net/msg.h"
#include "net/wire.h"

/* How often the host checks that its node is still there. */
#define PARENT_CHECK_MS 500

struct hctx {
	struct ledge_ctx pub; /* first: functions see only this */
	struct msg_chan *ch;
	const char *name;
	int parent;
	struct arena arena; /* answers of the current callback */
	char *self;
	ledge_config config;
	ledge_kv *items;
	char **strs;
	size_t nstrs;
	bool broken;   /* the channel failed: end after this callback */
	void *last;    /* the node's last answer: parsed trees point into it */
	uint64_t kind; /* of the callback running (ISO_*) */
	const char *hm, *hp, *hq; /* its HTTP method, path, query (arena) */
};

static inline struct hctx *
H(ledge_ctx *ctx)
{
	return (struct hctx *)ctx;
}

static bool
parent_gone(const struct hctx *h)
{
	return h->parent > 0 && getppid() != h->parent;
}

/* Send w to the node; LEDGE_OK, or LEDGE_ECLOSED once the channel is
 * broken (then every later send fails too). */
static int
send_w(struct hctx *h, struct wire_w *w)
{
	size_t len;
	const void *data = wire_data(w, &len);
	if (w->oom || h->broken || msg_chan_send(h->ch, data, len) != 0) {
		h->broken = true;
		return LEDGE_ECLOSED;
	}
	return 0;
}

/* Wait for the next message (NULL when the node is gone). */
static void *
recv_msg(struct hctx *h, size_t *len)
{
	void *data;
	int r;

	while (!h->broken) {
		r = msg_chan_recv(h->ch, PARENT_CHECK_MS, &data, len);
		if (r == 0) {
			return data;
		}
		if (r != LEDGE_ETIMEDOUT || parent_gone(h)) {
			h->broken = true;
		}
	}
	return NULL;
}

/*
 * Send the request in w (already holding {op, f, ...}; the map header
 * counted `n` pairs) and parse the answer into r.  LEDGE_OK, or
 * LEDGE_ECONN when the node is gone.
 */
static int
rpc(struct hctx *h, struct wire_w *w, struct wire_r *r)
{
	void *data;
	size_t len;
	int rv;

	rv = send_w(h, w);
	wire_w_fini(w);
	free(h->last); /* the caller is done with the previous answer */
	h->last = NULL;
	if (rv != 0 || (data = recv_msg(h, &len)) == NULL) {
		h->broken = true;
		return LEDGE_ECONN;
	}
	h->last = data;
	rv = wire_parse(r, data, len);
	if (rv != 0) {
		h->broken = true;
		return LEDGE_EPROTO;
	}
	return LEDGE_OK;
}

/*
 * Start a request {op:"api", f: f, ...} with `more` further pairs.  With
 * `nr` the node answers nothing: a write whose rules the host checked
 * itself (host_rules.h), sent without waiting; should the node still fail
 * it (out of memory), the callback fails at its end.
 */
static int
req_begin(struct wire_w *w, const char *f, size_t more, bool nr)
{
	if (wire_w_init(w) != 0) {
		return LEDGE_ENOMEM;
	}
	wire_map(w, 2 + more + (nr ? 1 : 0));
	wire_str(w, "op");
	wire_str(w, "api");
	wire_str(w, "f");
	wire_str(w, f);
	if (nr) {
		wire_str(w, "nr");
		wire_bool(w, true);
	}
	return LEDGE_OK;
}

/* Send a request that has no answer. */
static int
post(struct hctx *h, struct wire_w *w)
{
	int rv = send_w(h, w);
	wire_w_fini(w);
	return rv == 0 ? LEDGE_OK : LEDGE_ECONN;
}

static int
ret_of(const struct wire_r *r)
{
	return (int)wire_as_i64(wire_get(wire_root(r), "ret"), LEDGE_EPROTO);
}

/* Copy bytes of the answer into the callback's arena. */
static int
keep_bin(
    struct hctx *h, const struct wire_r *r, const char *key, ledge_bytes *out)
{
	const void *p;
	size_t n;
	void *copy;

	if (!wire_as_bin(wire_get(wire_root(r), key), &p, &n)) {
		out->data = NULL;
		out->len = 0;
		return LEDGE_OK;
	}
	if ((copy = arena_dup(&h->arena, p, n ? n : 1)) == NULL) {
		return LEDGE_ENOMEM;
	}
	out->data = copy;
	out->len = n;
	return LEDGE_OK;
}

static const char *
keep_str(struct hctx *h, wire_v v)
{
	const char *p;
	size_t n;
	char *copy;

	if (!wire_as_str(v, &p, &n) ||
	    (copy = arena_alloc(&h->arena, n + 1)) == NULL) {
		return NULL;
	}
	memcpy(copy, p, n);
	copy[n] = '\0';
	return copy;
}

/* ------------------------------------------------------------------ */
/* The host API, over the channel                                      */

static int
h_send_data(ledge_ctx *ctx, const char *f, const char *output, const void *data,
    size_t len, uint32_t ms, ledge_bytes *reply)
{
	struct hctx *h = H(ctx);
	struct wire_w w;
	struct wire_r r;
	int rv;

	if (output == NULL || (data == NULL && len > 0)) {
		return LEDGE_EINVAL;
	}
	if ((rv = req_begin(&w, f, 3, false)) != LEDGE_OK) {
		return rv;
	}
	wire_str(&w, "o");
	wire_str(&w, output);
	wire_str(&w, "d");
	wire_bin(&w, data, len);
	wire_str(&w, "ms");
	wire_u64(&w, ms);
	if ((rv = rpc(h, &w, &r)) != LEDGE_OK) {
		return rv;
	}
	rv = ret_of(&r);
	if (rv == LEDGE_OK && reply != NULL &&
	    keep_bin(h, &r, "v", reply) != LEDGE_OK) {
		rv = LEDGE_ENOMEM;
	}
	wire_r_fini(&r);
	return rv;
}

static int
h_cast(ledge_ctx *ctx, const char *output, const void *data, size_t len,
    uint32_t delay_ms)
{
	return h_send_data(ctx, "cast", output, data, len, delay_ms, NULL);
}

static int
h_call(ledge_ctx *ctx, const char *output, const void *data, size_t len,
    uint32_t timeout_ms, ledge_bytes *reply)
{
	if (reply == NULL) {
		return LEDGE_EINVAL;
	}
	return h_send_data(ctx, "call", output, data, len, timeout_ms, reply);
}

/* A request with a key and/or data and only a result code back. */
static int
h_kd(ledge_ctx *ctx, const char *f, const void *key, size_t klen,
    const void *data, size_t len, ledge_bytes *value, bool nr)
{
	struct hctx *h = H(ctx);
	struct wire_w w;
	struct wire_r r;
	int rv;

	if ((rv = req_begin(&w, f, 2, nr)) != LEDGE_OK) {
		return rv;
	}
	wire_str(&w, "k");
	wire_bin(&w, key, key ? klen : 0);
	wire_str(&w, "d");
	wire_bin(&w, data, data ? len : 0);
	if (nr) {
		return post(h, &w);
	}
	if ((rv = rpc(h, &w, &r)) != LEDGE_OK) {
		return rv;
	}
	rv = ret_of(&r);
	if (rv == LEDGE_OK && value != NULL &&
	    keep_bin(h, &r, "v", value) != LEDGE_OK) {
		rv = LEDGE_ENOMEM;
	}
	wire_r_fini(&r);
	return rv;
}

static int
h_reply(ledge_ctx *ctx, const void *data, size_t len)
{
	if (H(ctx)->kind != ISO_CALL) {
		return LEDGE_ESTATE;
	}
	if (data == NULL && len > 0) {
		return LEDGE_EINVAL;
	}
	return h_kd(ctx, "reply", NULL, 0, data ? data : "", len, NULL, true);
}

static int
h_state_get(ledge_ctx *ctx, const void *key, size_t klen, ledge_bytes *value)
{
	if (key == NULL || klen == 0 || value == NULL) {
		return LEDGE_EINVAL;
	}
	return h_kd(ctx, "get", key, klen, NULL, 0, value, false);
}

static int
h_state_put(ledge_ctx *ctx, const void *key, size_t klen, const void *value,
    size_t vlen)
{
	int rv = host_check_put(key, klen, value, vlen);
	if (rv != LEDGE_OK) {
		return rv;
	}
	/* An empty value is a value: send a non-NULL pointer. */
	return h_kd(
	    ctx, "put", key, klen, value ? value : "", vlen, NULL, true);
}

static int
h_state_del(ledge_ctx *ctx, const void *key, size_t klen)
{
	int rv = host_check_key(key, klen);
	if (rv != LEDGE_OK) {
		return rv;
	}
	return h_kd(ctx, "del", key, klen, NULL, 0, NULL, true);
}

static const ledge_config *
h_config(ledge_ctx *ctx)
{
	return &H(ctx)->config;
}

static void
h_logv(ledge_ctx *ctx, int level, const char *fmt, va_list ap)
{
	struct hctx *h = H(ctx);
	struct wire_w w;
	char text[4096];

	vsnprintf(text, sizeof text, fmt, ap);
	if (wire_w_init(&w) != 0) {
		return;
	}
	wire_map(&w, 3);
	wire_str(&w, "op");
	wire_str(&w, "log");
	wire_str(&w, "lv");
	wire_u64(&w, level < 0 ? 0 : (uint64_t)level);
	wire_str(&w, "text");
	wire_str(&w, text);
	send_w(h, &w);
	wire_w_fini(&w);
}

static const char *
h_self(ledge_ctx *ctx)
{
	return H(ctx)->self;
}

/* An HTTP accessor: f with an optional name; the string answer. */
static const char *
h_http_str(ledge_ctx *ctx, const char *f, const char *name, int *ret)
{
	struct hctx *h = H(ctx);
	struct wire_w w;
	struct wire_r r;
	const char *s = NULL;
	int rv;

	if ((rv = req_begin(&w, f, name ? 1 : 0, false)) != LEDGE_OK) {
		*ret = rv;
		return NULL;
	}
	if (name != NULL) {
		wire_str(&w, "n");
		wire_str(&w, name);
	}
	if ((rv = rpc(h, &w, &r)) != LEDGE_OK) {
		*ret = rv;
		return NULL;
	}
	*ret = ret_of(&r);
	if (*ret == LEDGE_OK) {
		s = keep_str(h, wire_get(wire_root(&r), "v"));
	}
	wire_r_fini(&r);
	return s;
}

/* Method, path and query came with the run message. */
static const char *
h_http_method(ledge_ctx *ctx)
{
	return H(ctx)->hm;
}

static const char *
h_http_path(ledge_ctx *ctx)
{
	return H(ctx)->hp;
}

static const char *
h_http_query(ledge_ctx *ctx)
{
	return H(ctx)->hq;
}

static const char *
h_http_header(ledge_ctx *ctx, const char *name)
{
	int ret;
	return name ? h_http_str(ctx, "hh", name, &ret) : NULL;
}

static int
h_http_query_param(ledge_ctx *ctx, const char *name, const char **value)
{
	int ret;
	const char *s;

	if (name == NULL || value == NULL) {
		return LEDGE_EINVAL;
	}
	s = h_http_str(ctx, "qp", name, &ret);
	*value = s;
	return ret == LEDGE_OK && s == NULL ? LEDGE_ENOMEM : ret;
}

static int
h_http_set_header(ledge_ctx *ctx, const char *name, const char *value)
{
	struct hctx *h = H(ctx);
	struct wire_w w;
	int rv;

	if (h->kind != ISO_CALL) {
		return LEDGE_ESTATE;
	}
	if (host_check_header(name, value) != LEDGE_OK) {
		return LEDGE_EINVAL;
	}
	if ((rv = req_begin(&w, "sh", 2, true)) != LEDGE_OK) {
		return rv;
	}
	wire_str(&w, "n");
	wire_str(&w, name);
	wire_str(&w, "v");
	wire_str(&w, value);
	return post(h, &w);
}

static int
h_http_respond(ledge_ctx *ctx, int status, const char *content_type,
    const void *body, size_t len)
{
	struct hctx *h = H(ctx);
	struct wire_w w;
	int rv;

	/* In the order the node checks them (exec.c). */
	if (host_check_status(status) != LEDGE_OK) {
		return LEDGE_EINVAL;
	}
	if (h->kind != ISO_CALL) {
		return LEDGE_ESTATE;
	}
	if (content_type != NULL &&
	    host_check_header("content-type", content_type) != LEDGE_OK) {
		return LEDGE_EINVAL;
	}
	if (body == NULL && len > 0) {
		return LEDGE_EINVAL;
	}
	if ((rv = req_begin(&w, "resp", content_type ? 3 : 2, true)) !=
	    LEDGE_OK) {
		return rv;
	}
	wire_str(&w, "st");
	wire_i64(&w, status);
	if (content_type != NULL) {
		wire_str(&w, "ct");
		wire_str(&w, content_type);
	}
	wire_str(&w, "d");
	wire_bin(&w, body ? body : "", len);
	return post(h, &w);
}

static int
h_http_fetch(ledge_ctx *ctx, const char *output, const ledge_http_request *req,
    ledge_http_response *resp)
{
	struct hctx *h = H(ctx);
	struct wire_w w;
	struct wire_r r;
	wire_v hv;
	size_t nh;
	ledge_header *hs;
	int rv;

	if (output == NULL || req == NULL || req->url == NULL || resp == NULL ||
	    (req->headers == NULL && req->nheaders > 0) ||
	    (req->body == NULL && req->body_len > 0)) {
		return LEDGE_EINVAL;
	}
	if ((rv = req_begin(&w, "fetch", req->method ? 6 : 5, false)) !=
	    LEDGE_OK) {
		return rv;
	}
	wire_str(&w, "o");
	wire_str(&w, output);
	if (req->method != NULL) {
		wire_str(&w, "m");
		wire_str(&w, req->method);
	}
	wire_str(&w, "u");
	wire_str(&w, req->url);
	wire_str(&w, "h");
	wire_array(&w, req->nheaders * 2);
	for (size_t i = 0; i < req->nheaders; i++) {
		wire_str(&w, req->headers[i].name ? req->headers[i].name : "");
		wire_str(
		    &w, req->headers[i].value ? req->headers[i].value : "");
	}
	wire_str(&w, "d");
	wire_bin(&w, req->body, req->body ? req->body_len : 0);
	wire_str(&w, "ms");
	wire_u64(&w, req->timeout_ms);
	if ((rv = rpc(h, &w, &r)) != LEDGE_OK) {
		return rv;
	}
	if ((rv = ret_of(&r)) != LEDGE_OK) {
		wire_r_fini(&r);
		return rv;
	}
	memset(resp, 0, sizeof *resp);
	resp->status = (int)wire_as_i64(wire_get(wire_root(&r), "st"), 0);
	hv = wire_get(wire_root(&r), "h");
	nh = wire_is_array(hv) ? wire_len(hv) / 2 : 0;
	hs = nh ? arena_alloc(&h->arena, nh * sizeof *hs) : NULL;
	if (nh > 0 && hs == NULL) {
		wire_r_fini(&r);
		return LEDGE_ENOMEM;
	}
	for (size_t i = 0; i < nh; i++) {
		hs[i].name = keep_str(h, wire_at(hv, 2 * i));
		hs[i].value = keep_str(h, wire_at(hv, 2 * i + 1));
		if (hs[i].name == NULL || hs[i].value == NULL) {
			wire_r_fini(&r);
			return LEDGE_ENOMEM;
		}
	}
	resp->headers = hs;
	resp->nheaders = nh;
	rv = keep_bin(h, &r, "v", &resp->body);
	wire_r_fini(&r);
	return rv;
}

/* Keyed functions run in the node's process only (wf_keyed.c): a host
 * offers the table up to the key calls, which then say LEDGE_ENOTSUP. */
static const ledge_host_api host_api = {
	.size = offsetof(ledge_host_api, key),
	.abi = LEDGE_ABI_VERSION,
	.cast = h_cast,
	.call = h_call,
	.reply = h_reply,
	.state_get = h_state_get,
	.state_put = h_state_put,
	.state_del = h_state_del,
	.config = h_config,
	.logv = h_logv,
	.self = h_self,
	.http_method = h_http_method,
	.http_path = h_http_path,
	.http_query = h_http_query,
	.http_query_param = h_http_query_param,
	.http_header = h_http_header,
	.http_set_header = h_http_set_header,
	.http_respond = h_http_respond,
	.http_fetch = h_http_fetch,
};

/* ------------------------------------------------------------------ */
/* Setup and the run loop                                              */

/* {op:"setup", self, config:[k, v, ...]}: keep them for the host's life.
 * LEDGE_OK, LEDGE_EPROTO (not a setup message) or LEDGE_ENOMEM. */
static int
take_setup(struct hctx *h, const void *data, size_t len)
{
	struct wire_r r;
	wire_v root, cfg;
	size_t n;

	if (wire_parse(&r, data, len) != 0) {
		return LEDGE_EPROTO;
	}
	root = wire_root(&r);
	if (!wire_str_eq(wire_get(root, "op"), "setup") ||
	    (h->self = wire_str_dup(wire_get(root, "self"))) == NULL) {
		wire_r_fini(&r);
		return LEDGE_EPROTO;
	}
	cfg = wire_get(root, "config");
	n = wire_is_array(cfg) ? wire_len(cfg) / 2 : 0;
	h->items = calloc(n + 1, sizeof *h->items);
	h->strs = calloc(2 * n + 1, sizeof *h->strs);
	if (h->items == NULL || h->strs == NULL) {
		wire_r_fini(&r);
		return LEDGE_ENOMEM;
	}
	for (size_t i = 0; i < 2 * n; i++) {
		if ((h->strs[i] = wire_str_dup(wire_at(cfg, i))) == NULL) {
			wire_r_fini(&r);
			return LEDGE_ENOMEM;
		}
		h->nstrs++;
	}
	for (size_t i = 0; i < n; i++) {
		h->items[i].key = h->strs[2 * i];
		h->items[i].value = h->strs[2 * i + 1];
	}
	h->config.count = n;
	h->config.items = h->items;
	wire_r_fini(&r);
	return 0;
}

static void
send_hello(struct hctx *h, const char *err)
{
	struct wire_w w;
	if (wire_w_init(&w) != 0) {
		return;
	}
	wire_map(&w, err ? 2 : 1);
	wire_str(&w, "op");
	wire_str(&w, "hello");
	if (err != NULL) {
		wire_str(&w, "err");
		wire_str(&w, err);
	}
	send_w(h, &w);
	wire_w_fini(&w);
}

/* Run one {op:"run"} message; the answer is {op:"done", rc}. */
static void
run_one(struct hctx *h, const ledge_function *fn, const struct wire_r *r)
{
	wire_v root = wire_root(r);
	ledge_bytes msg = { NULL, 0 };
	struct wire_w w;
	int rc = LEDGE_OK;

	if (!wire_as_bin(wire_get(root, "msg"), &msg.data, &msg.len)) {
		msg.data = NULL;
		msg.len = 0;
	}
	arena_reset(&h->arena);
	h->kind = wire_as_u64(wire_get(root, "kind"), 99);
	h->hm = keep_str(h, wire_get(root, "hm"));
	h->hp = keep_str(h, wire_get(root, "hp"));
	h->hq = keep_str(h, wire_get(root, "hq"));
	switch (h->kind) {
	case ISO_CAST:
		rc = fn->cast ? fn->cast(&h->pub, msg) : LEDGE_ENOTSUP;
		break;
	case ISO_CALL:
		rc = fn->call ? fn->call(&h->pub, msg) : LEDGE_ENOTSUP;
		break;
	case ISO_INIT:
		rc = fn->init ? fn->init(&h->pub, &h->config) : LEDGE_OK;
		break;
	case ISO_STOP:
		if (fn->stop != NULL) {
			fn->stop(&h->pub);
		}
		break;
	default:
		rc = LEDGE_EINVAL;
	}
	if (wire_w_init(&w) != 0) {
		h->broken = true;
		return;
	}
	wire_map(&w, 2);
	wire_str(&w, "op");
	wire_str(&w, "done");
	wire_str(&w, "rc");
	wire_i64(&w, rc);
	send_w(h, &w);
	wire_w_fini(&w);
}

/*
 * A node that was killed left its socket and folder behind: remove them
 * (the node does it itself when it stops a host; then this finds
 * nothing).
 */
static void
remove_socket(const char *url)
{
	char path[512], *slash;

	if (strncmp(url, "ipc://", 6) != 0 ||
	    snprintf(path, sizeof path, "%s", url + 6) >= (int)sizeof path) {
		return;
	}
	unlink(path);
	if ((slash = strrchr(path, '/')) != NULL && slash != path) {
		*slash = '\0';
		rmdir(path);
	}
}

/* Become the host's user, then enter the sandbox: after the channel is
 * up (its socket is the node's), before any code is loaded.  0, or -1
 * with why. */
static int
lock_down(const struct host_args *a, char *why, size_t n)
{
	char e[400];
	int fd = -1;

	if (host_confine_user(a->user, e, sizeof e) != LEDGE_OK) {
		snprintf(why, n, "cannot drop privileges: %s", e);
		return -1;
	}
	if (!a->sandbox) {
		return 0;
	}
	if (a->report != NULL &&
	    (fd = open(a->report, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	         0600)) < 0) {
		snprintf(
		    why, n, "cannot open %s: %s", a->report, strerror(errno));
		return -1;
	}
	if (host_sandbox_enter(a->allow, fd, e, sizeof e) != LEDGE_OK) {
		snprintf(why, n, "cannot enter the sandbox: %s", e);
		return -1;
	}
	return 0;
}

int
host_proc_main(const struct host_args *a)
{
	struct hctx h = {
		.pub.api = &host_api, .name = a->name, .parent = a->parent
	};
	const ledge_function *fn = NULL;
	char err[512], locked[512] = "";
	void *dl = NULL, *data;
	size_t len;
	int status = 1;

	arena_init(&h.arena, 16384);
	if (msg_chan_dial(a->url, &h.ch, err, sizeof err) != 0) {
		fprintf(stderr, "ledge host %s: %s\n", a->name, err);
		arena_fini(&h.arena);
		return 1;
	}
	(void)lock_down(a, locked, sizeof locked);
	if ((data = recv_msg(&h, &len)) == NULL) {
		status = 0; /* the node went before it said anything */
		goto out;
	}
	if (take_setup(&h, data, len) != 0) {
		free(data);
		send_hello(&h, "a malformed setup message");
		goto out;
	}
	free(data);
	if (locked[0] != '\0') {
		send_hello(&h, locked);
		goto out;
	}
	if (code_dlopen(a->code, &dl, &fn, err, sizeof err) != LEDGE_OK) {
		send_hello(&h, err);
		goto out;
	}
	send_hello(&h, NULL);
	while ((data = recv_msg(&h, &len)) != NULL) {
		struct wire_r r;
		if (wire_parse(&r, data, len) != 0) {
			free(data);
			break;
		}
		if (wire_str_eq(wire_get(wire_root(&r), "op"), "run")) {
			run_one(&h, fn, &r);
		}
		wire_r_fini(&r);
		free(data);
		free(h.last);
		h.last = NULL;
	}
	status = 0;
out:
	msg_chan_free(h.ch);
	for (size_t i = 0; i < h.nstrs; i++) {
		free(h.strs[i]);
	}
	free(h.strs);
	free(h.items);
	free(h.self);
	free(h.last);
	arena_fini(&h.arena);
	/* The code is not unloaded: the process ends here anyway, and a
	 * function's destructors should not run after its node is gone. */
	(void)dl;
	if (!a->sandbox) {
		remove_socket(a->url); /* a sandboxed host may not */
	}
	return status;
}
