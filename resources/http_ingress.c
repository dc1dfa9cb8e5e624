/*
 * http_ingress.c - HTTP requests in, as calls or casts to a function.
 *
 * All http-ingress resources of a node share the node's one listener; each
 * adds a route (an exact path or a prefix, and optionally methods).
 *
 * Answers: the function's reply (mode call) or 202 once the event is
 * durably queued (mode cast); 404 for no route, 405 for a method the
 * route does not take, 413 for a body over max_body, 503 when the target's
 * mailbox is full or the node is stopping, 504 when the reply misses
 * timeout_ms, 507 Insufficient Storage when the node's store is full or
 * the function's state quota is used (the function's ledge_state_put
 * said LEDGE_ENOSPC or LEDGE_EQUOTA and it failed, or its record did not
 * fit at commit; a cast is refused before it is queued), 500 when the
 * function fails otherwise (no details leave the node; they are in the
 * log).  A reply is sent only once the effects it reports are durable.
 *
 * Idempotency-Key: a request carrying one is answered once; a retry gets
 * the stored answer (with "Idempotent-Replayed: true"), and a retry while
 * the first is still running gets 409.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/clock.h"
#include "base/hmap.h"
#include "base/rlog.h"
#include "node/commit.h"
#include "node/enqueue.h"
#include "node/idem.h"
#include "node/instance.h"
#include "node/links.h"
#include "node/node.h"
#include "node/node_call.h"
#include "node/node_event.h"
#include "node/res_api.h"
#include "platform/http.h"
#include "platform/loop.h"
#include "store/store.h"
#include "workflow/resource.h"

static const char *const modes[] = { "call", "cast", NULL };
static const char *const outputs[] = { "request", NULL };

static const struct res_param params[] = {
	{ .name = "path",
	    .kind = RP_STR,
	    .help = "exact request path, e.g. /hello" },
	{ .name = "prefix", .kind = RP_STR, .help = "path prefix, e.g. /api/" },
	{ .name = "methods",
	    .kind = RP_LIST,
	    .help = "allowed methods (default: any)" },
	{ .name = "mode",
	    .kind = RP_ENUM,
	    .choices = modes,
	    .help =
	        "call: the reply is the response; cast: answer 202 at once" },
	{ .name = "max_body",
	    .kind = RP_INT,
	    .min = 0,
	    .max = 1LL << 30,
	    .help = "largest request body in bytes (default 1048576)" },
	{ .name = "timeout_ms",
	    .kind = RP_INT,
	    .min = 1,
	    .max = 3600000,
	    .help = "reply deadline before 504 (default 5000)" },
	{ .name = "idempotency_ttl_s",
	    .kind = RP_INT,
	    .min = 0,
	    .max = 30 * 86400,
	    .help =
	        "how long Idempotency-Key answers are kept (default 86400)" },
	{ .name = "key",
	    .kind = RP_STR,
	    .help = "a keyed function's key: path (the rest after prefix), "
	            "header:NAME or query:NAME" },
	{ .name = NULL },
};

static const char *const known_methods[] = { "GET", "POST", "PUT", "DELETE",
	"PATCH", "HEAD", "OPTIONS", NULL };

/* `key:`: well formed, and there exactly when a keyed function is wired
 * to the route. */
static int
check_key(const struct workflow *wf, const struct wf_resource *spec,
    bool prefix, struct diag *d)
{
	const char *key = wf_config_get(&spec->config, "key");
	struct wf_pos pos = spec->pos;
	int errs = 0;

	for (size_t i = 0; i < spec->config.count; i++) {
		if (strcmp(spec->config.keys[i], "key") == 0) {
			pos = spec->config.pos[i];
		}
	}
	if (key != NULL && strcmp(key, "path") == 0 && !prefix) {
		diag_add(d, wf->file, pos.line, pos.col,
		    "http-ingress '%s': 'key: path' takes the rest of the path "
		    "after 'prefix', and this route has an exact 'path'",
		    spec->name);
		errs++;
	} else if (key != NULL && strcmp(key, "path") != 0 &&
	    !((strncmp(key, "header:", 7) == 0 && key[7] != '\0') ||
	        (strncmp(key, "query:", 6) == 0 && key[6] != '\0'))) {
		diag_add(d, wf->file, pos.line, pos.col,
		    "http-ingress '%s': 'key' must be path, header:NAME or "
		    "query:NAME, found '%s'",
		    spec->name, key);
		errs++;
	}
	const struct wf_function *f;
	if (key == NULL && (f = wf_keyed_target(wf, spec, &pos)) != NULL) {
		diag_add(d, wf->file, pos.line, pos.col,
		    "http-ingress '%s' sends to '%s', which is keyed: say "
		    "where "
		    "its key comes from with 'key: path', 'key: header:NAME' "
		    "or "
		    "'key: query:NAME' in the config",
		    spec->name, f->name);
		errs++;
	}
	return errs;
}

static int
check(const struct workflow *wf, const struct wf_resource *spec, struct diag *d)
{
	const char *path = wf_config_get(&spec->config, "path");
	const char *prefix = wf_config_get(&spec->config, "prefix");
	const char *m[16];
	size_t n, i;
	int errs = 0;

	if ((path == NULL) == (prefix == NULL)) {
		diag_add(d, wf->file, spec->pos.line, spec->pos.col,
		    "http-ingress '%s' needs exactly one of 'path' and "
		    "'prefix' in its config",
		    spec->name);
		errs++;
	}
	for (i = 0; i < spec->config.count; i++) {
		const char *k = spec->config.keys[i];
		const char *v = spec->config.values[i];
		if ((strcmp(k, "path") == 0 || strcmp(k, "prefix") == 0) &&
		    v[0] != '/') {
			diag_add(d, wf->file, spec->config.pos[i].line,
			    spec->config.pos[i].col,
			    "%s '%s' must start with '/'", k, v);
			errs++;
		}
	}
	errs += check_key(wf, spec, prefix != NULL, d);
	n = wf_config_list(&spec->config, "methods", m, 16);
	for (i = 0; i < n && i < 16; i++) {
		size_t j;
		for (j = 0; known_methods[j] != NULL; j++) {
			if (strcasecmp(m[i], known_methods[j]) == 0) {
				break;
			}
		}
		if (known_methods[j] == NULL) {
			diag_add(d, wf->file, spec->pos.line, spec->pos.col,
			    "http-ingress '%s': unknown method '%s'",
			    spec->name, m[i]);
			errs++;
		}
	}
	return errs;
}

extern const struct res_type res_http_ingress;

#define M_GET     1u
#define M_POST    2u
#define M_PUT     4u
#define M_DELETE  8u
#define M_PATCH   16u
#define M_HEAD    32u
#define M_OPTIONS 64u

/* Most request headers accepted (431 beyond). */
#define MAX_HEADERS 100

struct route {
	struct route *next;
	struct res *r;
	const char *path; /* exact path or prefix (from the config) */
	bool prefix;
	unsigned methods; /* 0: any */
	bool cast;
	size_t max_body;
	uint32_t timeout_ms;
	uint32_t idem_ttl_s;
	/* `key:` of a keyed target: the path's rest, a header, a query
	 * parameter (key_name: the header or parameter) */
	enum { KEY_NONE, KEY_PATH, KEY_HEADER, KEY_QUERY } key;
	const char *key_name;
};

/* Per node: the routes of every http-ingress on its listener. */
struct router {
	struct node *node;
	struct http_server *srv;
	struct store_reader *reader; /* loop thread's snapshot reader */
	struct route *routes;
	int nroutes;
	int npending;
	struct hmap inflight; /* idempotency keys being handled */
	void **slot;
};

/* One request on its way through a function. */
struct pending {
	struct router *rt;
	uint32_t route_id;
	struct http_req *req; /* NULL once answered */
	struct loop_timer *timer;
	struct node_call *call; /* our reference (mode call) */
	int err;                /* commit result (mode cast) */
	unsigned char *idem;    /* in-flight key, owned */
	size_t idem_len;
};

static unsigned
method_bit(const char *m)
{
	static const struct {
		const char *name;
		unsigned bit;
	} map[] = { { "GET", M_GET }, { "POST", M_POST }, { "PUT", M_PUT },
		{ "DELETE", M_DELETE }, { "PATCH", M_PATCH },
		{ "HEAD", M_HEAD }, { "OPTIONS", M_OPTIONS } };
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
		if (strcasecmp(m, map[i].name) == 0) {
			return map[i].bit;
		}
	}
	return 0;
}

static void
methods_text(unsigned m, char *buf, size_t len)
{
	static const char *const names[] = { "GET", "POST", "PUT", "DELETE",
		"PATCH", "HEAD", "OPTIONS" };
	size_t used = 0;
	buf[0] = '\0';
	for (int i = 0; i < 7; i++) {
		if (m & (1u << i)) {
			used += (size_t)snprintf(buf + used, len - used, "%s%s",
			    used ? ", " : "", names[i]);
			if (used >= len) {
				break;
			}
		}
	}
}

static void
respond_text(struct http_req *req, int status, const char *text)
{
	http_req_respond(req, status, "text/plain; charset=utf-8", NULL, 0,
	    text, strlen(text));
}

static void
router_maybe_free(struct router *rt)
{
	if (rt->nroutes > 0 || rt->npending > 0) {
		return;
	}
	if (rt->srv != NULL) {
		http_server_set_handler(rt->srv, NULL, NULL);
	}
	store_reader_close(rt->reader);
	hmap_fini(&rt->inflight);
	*rt->slot = NULL;
	free(rt);
}

static void
pending_finish(struct pending *p)
{
	struct router *rt = p->rt;
	if (p->idem != NULL) {
		hmap_del(&rt->inflight, p->idem, p->idem_len);
		free(p->idem);
	}
	loop_timer_free(p->timer);
	if (p->call != NULL) {
		node_call_unref(p->call);
	}
	free(p);
	rt->npending--;
	router_maybe_free(rt);
}

/* 507 Insufficient Storage, saying which storage. */
static void
respond_507(struct http_req *req, int err)
{
	respond_text(req, 507,
	    err == LEDGE_EQUOTA ? "insufficient storage: the function's state "
	                          "quota is used\n"
	                        : "insufficient storage: the node's state "
	                          "store is full\n");
}

/* Answer from a completed call (loop thread). */
static void
answer_call(void *arg)
{
	struct pending *p = arg;
	struct node_reply *rep = &p->call->reply;

	if (p->req != NULL) {
		switch (rep->err) {
		case LEDGE_OK:
			http_req_respond(p->req,
			    rep->status ? rep->status : 200,
			    rep->content_type ? rep->content_type
			                      : "text/plain; charset=utf-8",
			    rep->headers, rep->nheaders, rep->body, rep->len);
			break;
		case LEDGE_EFULL:
		case LEDGE_ECLOSED:
		case LEDGE_EUNAVAIL:
			respond_text(p->req, 503, "service unavailable\n");
			break;
		case LEDGE_ETIMEDOUT:
			respond_text(p->req, 504, "gateway timeout\n");
			break;
		case LEDGE_ENOSPC:
		case LEDGE_EQUOTA:
			respond_507(p->req, rep->err);
			break;
		default:
			respond_text(p->req, 500, "internal server error\n");
		}
		p->req = NULL;
	}
	pending_finish(p);
}

/* Any thread: the function answered (or failed). */
static void
on_call_done(struct node_call *call, void *arg)
{
	struct pending *p = arg;
	(void)call;
	if (loop_on_thread(node_loop(p->rt->node))) {
		answer_call(p); /* an inline run answered: no detour */
		return;
	}
	if (loop_post(node_loop(p->rt->node), answer_call, p) != 0) {
		/* Out of memory: the client will see its timeout. */
		return;
	}
}

static void
on_timeout(void *arg)
{
	struct pending *p = arg;
	if (p->req != NULL) {
		respond_text(p->req, 504, "gateway timeout\n");
		p->req = NULL;
	}
	/* p lives on until the call completes (its key stays in flight, so
	 * a retry cannot run the request a second time meanwhile). */
}

static void
answer_cast(void *arg)
{
	struct pending *p = arg;
	if (p->req != NULL) {
		if (p->err == LEDGE_OK) {
			respond_text(p->req, 202, "accepted\n");
		} else if (p->err == LEDGE_ENOSPC) {
			respond_507(p->req, p->err);
		} else {
			respond_text(p->req, 500, "internal server error\n");
		}
		p->req = NULL;
	}
	pending_finish(p);
}

/* Committer thread: the cast's queue entry is durable (or failed). */
static void
on_cast_committed(void *arg, int err)
{
	struct pending *p = arg;
	p->err = err;
	loop_post(node_loop(p->rt->node), answer_cast, p);
}

static const struct route *
match(struct router *rt, const char *path, unsigned m, unsigned *allowed)
{
	const struct route *best = NULL;
	size_t best_len = 0;
	*allowed = 0;
	for (const struct route *ro = rt->routes; ro != NULL; ro = ro->next) {
		size_t len = strlen(ro->path);
		bool hit = ro->prefix ? strncmp(path, ro->path, len) == 0
		                      : strcmp(path, ro->path) == 0;
		if (!hit) {
			continue;
		}
		/* HEAD goes wherever GET goes (the body is left out). */
		unsigned want = m == M_HEAD ? (M_HEAD | M_GET) : m;
		if (ro->methods != 0 && !(ro->methods & want)) {
			*allowed |= ro->methods;
			continue;
		}
		/* An exact route beats any prefix; longer prefixes win. */
		if (!ro->prefix) {
			return ro;
		}
		if (best == NULL || len > best_len) {
			best = ro;
			best_len = len;
		}
	}
	return best;
}

/* A stored answer for a retried Idempotency-Key, sent if there is one. */
static bool
replay_idem(struct router *rt, const struct route *ro, const char *key,
    struct http_req *req)
{
	struct idem_answer a;
	bool found = false;
	if (store_reader_begin(rt->reader) != LEDGE_OK) {
		return false;
	}
	if (idem_get(rt->reader, ro->r->id, key, clock_wall_ms(), &a) ==
	    LEDGE_OK) {
		char ctype[256];
		size_t n = a.ctype_len < sizeof ctype - 1 ? a.ctype_len
		                                          : sizeof ctype - 1;
		ledge_header h = { "Idempotent-Replayed", "true" };
		memcpy(ctype, a.ctype, n);
		ctype[n] = '\0';
		/* No type stored: the default the first answer had. */
		http_req_respond(req, a.status,
		    n ? ctype : "text/plain; charset=utf-8", &h, 1, a.body,
		    a.len);
		found = true;
	}
	store_reader_end(rt->reader);
	return found;
}

static int
hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0'
	    : c >= 'a' && c <= 'f'  ? c - 'a' + 10
	    : c >= 'A' && c <= 'F'  ? c - 'A' + 10
	                            : -1;
}

/* Decode %XX and '+' of n bytes at s into out (at most cap bytes); the
 * length, or -1 when it does not fit or a %XX is malformed. */
static long
query_decode(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];
		if (c == '%') {
			int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
			int lo = hi >= 0 ? hexval(s[i + 2]) : -1;
			if (hi < 0 || lo < 0) {
				return -1;
			}
			c = hi << 4 | lo;
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		if (o == cap) {
			return -1;
		}
		out[o++] = (char)c;
	}
	return (long)o;
}

/*
 * The key of a request for a keyed target into buf (LEDGE_KEY_MAX bytes):
 * its length, or 0 with a reason for a 400 in why.
 */
static size_t
request_key(const struct route *ro, struct http_req *req, char *buf, char *why,
    size_t wlen)
{
	const char *v = NULL;
	size_t n = 0;

	if (ro->key == KEY_PATH) {
		v = http_req_path(req) + strlen(ro->path);
		n = strlen(v);
		if (n == 0) {
			snprintf(why, wlen,
			    "no key: the path must go on after %s\n", ro->path);
			return 0;
		}
	} else if (ro->key == KEY_HEADER) {
		if ((v = http_req_header(req, ro->key_name)) == NULL ||
		    (n = strlen(v)) == 0) {
			snprintf(why, wlen, "no key: header %s is missing\n",
			    ro->key_name);
			return 0;
		}
	} else if (ro->key == KEY_QUERY) {
		size_t nl = strlen(ro->key_name);
		for (const char *p = http_req_query(req); *p != '\0';) {
			size_t seg = strcspn(p, "&");
			const char *eq = memchr(p, '=', seg);
			char name[256];
			long kl = query_decode(
			    p, eq ? (size_t)(eq - p) : seg, name, sizeof name);
			if (eq != NULL && kl == (long)nl &&
			    memcmp(name, ro->key_name, nl) == 0) {
				long vl = query_decode(eq + 1,
				    seg - (size_t)(eq + 1 - p), buf,
				    LEDGE_KEY_MAX);
				if (vl <= 0) {
					snprintf(why, wlen,
					    vl == 0
					        ? "no key: query "
					          "parameter %s is empty\n"
					        : "bad key: query parameter "
					          "%s is malformed or over "
					          "256 bytes\n",
					    ro->key_name);
					return 0;
				}
				return (size_t)vl;
			}
			p += seg + (p[seg] == '&');
		}
		snprintf(why, wlen, "no key: query parameter %s is missing\n",
		    ro->key_name);
		return 0;
	}
	if (n > LEDGE_KEY_MAX) {
		snprintf(why, wlen, "bad key: %zu bytes, the most is %d\n", n,
		    LEDGE_KEY_MAX);
		return 0;
	}
	memcpy(buf, v, n);
	return n;
}

static struct node_event *
make_event(const struct route *ro, struct node_target *t, struct http_req *req)
{
	ledge_header hs[MAX_HEADERS];
	size_t nh = http_req_headers(req, hs, MAX_HEADERS);
	struct node_event *ev = node_event_new(
	    ro->cast ? NE_CAST : NE_CALL, t->id, NULL, http_req_body_len(req));
	if (ev == NULL) {
		return NULL;
	}
	http_req_body_copy(req, ev->data);
	ev->flags = NEF_HTTPIN;
	ev->source = ro->r->id;
	ev->http = node_http_new(http_req_method(req), http_req_path(req),
	    http_req_query(req), NULL, hs, nh > MAX_HEADERS ? MAX_HEADERS : nh);
	if (ev->http == NULL) {
		node_event_free(ev);
		return NULL;
	}
	ev->http->idem_ttl_s = ro->idem_ttl_s;
	return ev;
}

/* The stored answer of an accepted cast with an Idempotency-Key. */
static int
add_idem_202(struct commit_rec *rec, struct pending *p, const char *key,
    const struct node_event *ev)
{
	if (key == NULL || p->route_id == 0 || ev->http->idem_ttl_s == 0) {
		return LEDGE_OK;
	}
	struct idem_answer a = {
		.expires_ms =
		    clock_wall_ms() + (uint64_t)ev->http->idem_ttl_s * 1000,
		.status = 202,
		.ctype = "text/plain; charset=utf-8",
		.body = "accepted\n",
		.len = 9,
	};
	return idem_add(rec, p->route_id, key, &a);
}

static int
start_cast(struct router *rt, struct pending *p, struct node_target *t,
    struct node_event *ev, const char *key)
{
	struct node *n = rt->node;
	struct commit_rec *rec;

	/* A full store: refused before it is queued (and handed on). */
	if (!store_fits(node_store(n), ev->len + 256)) {
		store_count_refused(node_store(n), STORE_REFUSED_FULL);
		return LEDGE_ENOSPC;
	}
	rec = commit_rec_new();
	/* Durable and numbered before either form, as the outbox entry for
	 * another node records it. */
	ev->flags |= NEF_DURABLE;
	ev->qid = node_next_qid(n);
	if (rec == NULL || enqueue_durable(n, rec, t, ev) != LEDGE_OK ||
	    add_idem_202(rec, p, key, ev) != LEDGE_OK) {
		commit_rec_free(rec);
		return LEDGE_ENOMEM;
	}
	rec->done = on_cast_committed;
	rec->arg = p;
	commit_submit(node_commit(n), rec);
	if (t->kind == NT_REMOTE) {
		/* For another node: the link delivers it. */
		node_event_free(ev);
		return LEDGE_OK;
	}
	/* Early release: the consumer's record can only commit after
	 * this one. */
	node_send_inline(n, t, ev);
	return LEDGE_OK;
}

static void
on_request(void *arg, struct http_req *req)
{
	struct router *rt = arg;
	const char *path = http_req_path(req);
	unsigned m = method_bit(http_req_method(req)), allowed;
	const struct route *ro;
	struct node_target *t;
	struct node_event *ev;
	struct pending *p;
	const char *key;
	int rv;

	if (node_stopping(rt->node)) {
		respond_text(req, 503, "stopping\n");
		return;
	}
	if ((ro = match(rt, path, m, &allowed)) == NULL) {
		if (allowed != 0) {
			char text[128];
			methods_text(allowed, text, sizeof text);
			ledge_header h = { "Allow", text };
			http_req_respond(req, 405, "text/plain; charset=utf-8",
			    &h, 1, "method not allowed\n", 19);
		} else {
			respond_text(req, 404, "not found\n");
		}
		return;
	}
	if (http_req_body_len(req) > ro->max_body) {
		respond_text(req, 413, "payload too large\n");
		return;
	}
	if (http_req_headers(req, NULL, 0) > MAX_HEADERS) {
		respond_text(req, 431, "too many headers\n");
		return;
	}
	char kbuf[LEDGE_KEY_MAX], why[256], ikey[IDEM_MAX_KEY + 1];
	size_t klen = 0;
	if (ro->key != KEY_NONE &&
	    (klen = request_key(ro, req, kbuf, why, sizeof why)) == 0) {
		respond_text(req, 400, why);
		return;
	}
	key = ro->idem_ttl_s ? http_req_header(req, "Idempotency-Key") : NULL;
	if (key != NULL) {
		if (key[0] == '\0' || strlen(key) > IDEM_HEADER_MAX) {
			respond_text(req, 400,
			    "Idempotency-Key must have 1 to 200 characters\n");
			return;
		}
		if (klen > 0) {
			/* Per key: the same Idempotency-Key sent to two keys
			 * is two requests. */
			key = idem_key_for(ikey, key, kbuf, klen);
		}
		if (replay_idem(rt, ro, key, req)) {
			return;
		}
	}
	if ((t = node_res_output(ro->r, "request", 0)) == NULL) {
		respond_text(req, 503, "no function is wired to this route\n");
		return;
	}
	if (klen == 0 && node_target_keyed(t)) {
		respond_text(req, 400,
		    "no key: the function is keyed and this route has no "
		    "'key:'\n");
		return;
	}
	if ((t = node_target_for_key(t, kbuf, klen)) == NULL) {
		/* A keyed function's slot that is placed nowhere now. */
		respond_text(req, 503,
		    "service unavailable: no node runs "
		    "this key's slot now\n");
		return;
	}
	if ((p = calloc(1, sizeof *p)) == NULL) {
		respond_text(req, 503, "service unavailable\n");
		return;
	}
	p->rt = rt;
	p->route_id = ro->r->id;
	if (key != NULL) {
		p->idem_len = 4 + strlen(key);
		if ((p->idem = malloc(p->idem_len)) == NULL) {
			free(p);
			respond_text(req, 503, "service unavailable\n");
			return;
		}
		store_be32(p->idem, ro->r->id);
		memcpy(p->idem + 4, key, p->idem_len - 4);
		if (hmap_get(&rt->inflight, p->idem, p->idem_len) != NULL) {
			free(p->idem);
			free(p);
			respond_text(req, 409,
			    "a request with this Idempotency-Key is in "
			    "progress\n");
			return;
		}
	}
	if ((rv = node_admit(t)) != LEDGE_OK) {
		free(p->idem);
		free(p);
		respond_text(req, 503,
		    rv == LEDGE_EFULL ? "busy: try again later\n"
		                      : "service unavailable\n");
		return;
	}
	if ((ev = make_event(ro, t, req)) == NULL ||
	    (klen > 0 && node_event_set_key(ev, kbuf, klen) != LEDGE_OK)) {
		node_event_free(ev);
		if (t->kind == NT_INSTANCE) {
			mb_unreserve(&t->inst->mb);
		}
		free(p->idem);
		free(p);
		respond_text(req, 503, "service unavailable\n");
		return;
	}
	node_admitted(t, ev);
	if (p->idem != NULL &&
	    hmap_put(&rt->inflight, p->idem, p->idem_len, p, NULL) != 0) {
		free(p->idem);
		p->idem = NULL;
	}
	p->req = req;
	rt->npending++;
	if (ro->cast) {
		int crv = start_cast(rt, p, t, ev, key);
		if (crv != LEDGE_OK) {
			if (ev->flags & NEF_RESERVED &&
			    t->kind == NT_INSTANCE) {
				mb_unreserve(&t->inst->mb);
			}
			ev->flags &= (uint8_t)~NEF_RESERVED;
			node_event_free(ev);
			if (crv == LEDGE_ENOSPC) {
				respond_507(req, crv);
			} else {
				respond_text(req, 503, "service unavailable\n");
			}
			p->req = NULL;
			pending_finish(p);
		}
		return;
	}
	if ((p->call = node_call_new(true, on_call_done, p)) == NULL ||
	    (p->timer = loop_timer_new(node_loop(rt->node), on_timeout, p)) ==
	        NULL) {
		if (t->kind == NT_INSTANCE) {
			mb_unreserve(&t->inst->mb);
		}
		if (p->call != NULL) {
			node_call_unref(p->call); /* the event's reference */
		}
		node_event_free(ev);
		respond_text(req, 503, "service unavailable\n");
		p->req = NULL;
		pending_finish(p);
		return;
	}
	ev->call = p->call; /* the event holds the second reference */
	loop_timer_start(p->timer, ro->timeout_ms);
	node_send_inline(rt->node, t, ev); /* may answer (and free p) */
}

static struct router *
router_get(struct node *n, char *err, size_t errlen)
{
	void **slot = node_type_slot(n, &res_http_ingress);
	struct router *rt;

	if (slot == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (*slot != NULL) {
		return *slot;
	}
	if (node_http(n) == NULL) {
		snprintf(err, errlen,
		    "this node has no HTTP listener (start it with --http "
		    "ADDR)");
		return NULL;
	}
	if ((rt = calloc(1, sizeof *rt)) == NULL ||
	    store_reader_open(node_store(n), &rt->reader) != LEDGE_OK) {
		if (rt != NULL) {
			store_reader_close(rt->reader);
		}
		free(rt);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	rt->node = n;
	rt->srv = node_http(n);
	rt->slot = slot;
	hmap_init(&rt->inflight);
	http_server_set_handler(rt->srv, on_request, rt);
	*slot = rt;
	return rt;
}

static void
update_max_body(struct router *rt)
{
	size_t max = 0;
	for (struct route *ro = rt->routes; ro != NULL; ro = ro->next) {
		if (ro->max_body > max) {
			max = ro->max_body;
		}
	}
	http_server_set_max_body(rt->srv, max);
}

static uint64_t
cfg_u64(struct res *r, const char *key, uint64_t dflt)
{
	const char *v = wf_config_get(&r->spec->config, key);
	return v ? strtoull(v, NULL, 10) : dflt;
}

static int
start(struct res *r, char *err, size_t errlen)
{
	struct router *rt = router_get(r->node, err, errlen);
	struct route *ro;
	const char *m[16];
	size_t nm;

	if (rt == NULL) {
		return LEDGE_ENOMEM; /* or no HTTP listener: err says which */
	}
	if ((ro = calloc(1, sizeof *ro)) == NULL) {
		snprintf(err, errlen, "out of memory");
		router_maybe_free(rt);
		return LEDGE_ENOMEM;
	}
	ro->r = r;
	ro->path = wf_config_get(&r->spec->config, "path");
	if (ro->path == NULL) {
		ro->path = wf_config_get(&r->spec->config, "prefix");
		ro->prefix = true;
	}
	nm = wf_config_list(&r->spec->config, "methods", m, 16);
	for (size_t i = 0; i < nm && i < 16; i++) {
		ro->methods |= method_bit(m[i]);
	}
	const char *mode = wf_config_get(&r->spec->config, "mode");
	ro->cast = mode != NULL && strcmp(mode, "cast") == 0;
	ro->max_body = (size_t)cfg_u64(r, "max_body", 1u << 20);
	ro->timeout_ms = (uint32_t)cfg_u64(r, "timeout_ms", 5000);
	ro->idem_ttl_s = (uint32_t)cfg_u64(r, "idempotency_ttl_s", 86400);
	const char *key = wf_config_get(&r->spec->config, "key");
	if (key != NULL && strcmp(key, "path") == 0) {
		ro->key = KEY_PATH;
	} else if (key != NULL && strncmp(key, "header:", 7) == 0) {
		ro->key = KEY_HEADER;
		ro->key_name = key + 7;
	} else if (key != NULL && strncmp(key, "query:", 6) == 0) {
		ro->key = KEY_QUERY;
		ro->key_name = key + 6;
	}
	for (struct route *o = rt->routes; o != NULL; o = o->next) {
		if (o->prefix == ro->prefix && strcmp(o->path, ro->path) == 0 &&
		    (o->methods == 0 || ro->methods == 0 ||
		        (o->methods & ro->methods))) {
			snprintf(err, errlen,
			    "the route %s%s is already served by %s", ro->path,
			    ro->prefix ? " (prefix)" : "", o->r->name);
			free(ro);
			router_maybe_free(rt);
			return LEDGE_EINVAL;
		}
	}
	ro->next = rt->routes;
	rt->routes = ro;
	rt->nroutes++;
	update_max_body(rt);
	r->priv = ro;
	return LEDGE_OK;
}

static void
stop(struct res *r)
{
	struct route *ro = r->priv;
	struct router *rt;
	if (ro == NULL) {
		return;
	}
	rt = *node_type_slot(r->node, &res_http_ingress);
	for (struct route **pp = &rt->routes; *pp; pp = &(*pp)->next) {
		if (*pp == ro) {
			*pp = ro->next;
			break;
		}
	}
	free(ro);
	r->priv = NULL;
	rt->nroutes--;
	if (rt->nroutes > 0) {
		update_max_body(rt);
	}
	router_maybe_free(rt);
}

static void
describe(struct res *r, char *buf, size_t len)
{
	struct route *ro = r->priv;
	struct node_target *t = node_res_output(r, "request", 0);
	struct http_server *s = node_http(r->node);
	char m[128];
	if (ro == NULL || s == NULL) {
		snprintf(buf, len, "(not started)");
		return;
	}
	methods_text(ro->methods, m, sizeof m);
	snprintf(buf, len, "%s http://%s:%d%s%s -> %s (%s)",
	    ro->methods ? m : "any method", http_server_host(s),
	    http_server_port(s), ro->path, ro->prefix ? "*" : "",
	    t ? t->name : "(nothing)", ro->cast ? "cast, 202" : "call");
}

const struct res_type res_http_ingress = {
	.name = "http-ingress",
	.summary = "HTTP requests on the node's listener become calls or casts",
	.params = params,
	.outputs = outputs,
	.check = check,
	.start = start,
	.stop = stop,
	.describe = describe,
};
