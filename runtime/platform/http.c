/*
 * http.c - evhttp server and client behind http.h.
 */
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/http_struct.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "platform/http.h"
#include "platform/loop.h"

struct http_server {
	struct loop *loop;
	struct evhttp *http;
	struct evhttp_bound_socket *sock;
	http_handler fn;
	void *arg;
	char host[256];
	int port;
	struct http_req *live; /* requests held by handlers */
	struct {
		const char *path;
		http_handler fn;
		void *arg;
	} paths[4];
	int npaths;
};

struct http_req {
	struct http_server *srv;
	struct evhttp_request *req; /* NULL once the connection is gone */
	struct evhttp_connection *conn;
	char *path;        /* decoded, owned */
	const char *query; /* inside req's URI, or "" */
	char *query_copy;  /* owned copy (survives a dead req) */
	struct http_req *prev, *next;
};

static const char *
reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 202:
		return "Accepted";
	case 204:
		return "No Content";
	case 301:
		return "Moved Permanently";
	case 302:
		return "Found";
	case 304:
		return "Not Modified";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 413:
		return "Payload Too Large";
	case 429:
		return "Too Many Requests";
	case 500:
		return "Internal Server Error";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return status < 300 ? "OK"
		    : status < 500  ? "Error"
		                    : "Server Error";
	}
}

static const char *
method_name(enum evhttp_cmd_type t)
{
	switch (t) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_OPTIONS:
		return "OPTIONS";
	case EVHTTP_REQ_TRACE:
		return "TRACE";
	case EVHTTP_REQ_CONNECT:
		return "CONNECT";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	default:
		return "UNKNOWN";
	}
}

static int
method_type(const char *m, enum evhttp_cmd_type *out)
{
	static const struct {
		const char *name;
		enum evhttp_cmd_type t;
	} map[] = { { "GET", EVHTTP_REQ_GET }, { "POST", EVHTTP_REQ_POST },
		{ "HEAD", EVHTTP_REQ_HEAD }, { "PUT", EVHTTP_REQ_PUT },
		{ "DELETE", EVHTTP_REQ_DELETE },
		{ "OPTIONS", EVHTTP_REQ_OPTIONS },
		{ "PATCH", EVHTTP_REQ_PATCH } };
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
		if (strcasecmp(m, map[i].name) == 0) {
			*out = map[i].t;
			return LEDGE_OK;
		}
	}
	return LEDGE_EINVAL;
}

/*
 * The version of libevent's own answers.  libevent reads any "HTTP/d.d"
 * with a major version up to 1 and answers in the request's version:
 * the 505 of on_request covers the requests it hands on, but the answers
 * libevent writes itself (400 for a bad header line, 413, 501, the
 * "100 Continue" of Expect) come before any handler of ours, and a
 * fuzzer found "HTTP/1.5 400".  The server speaks 1.1 (RFC 9110 6.2: a
 * response carries the highest version the server conforms to), so each
 * status line whose version is not 1.0 or 1.1 is rewritten as HTTP/1.1
 * in the connection's output buffer.
 *
 * Where a status line is: libevent keeps one answer at a time on a
 * connection and writes it whole (status line, headers, body) before it
 * sends any byte, and it reads the next request only once that answer is
 * sent.  So an answer starts where data is added to an empty buffer, or
 * right after the interim "100 Continue" head libevent writes alone.
 */

/* Is [0, len) of b just libevent's interim answer to Expect:
 * "HTTP/d.d 100 Continue" and an empty line (nothing else is a whole head
 * without headers)? */
static bool
only_interim(struct evbuffer *b, size_t len)
{
	static const char tail[] = " 100 Continue\r\n\r\n";
	char head[64];
	const char *sp;

	if (len >= sizeof head || len < 5 + sizeof tail - 1 ||
	    evbuffer_copyout(b, head, len) != (ev_ssize_t)len) {
		return false;
	}
	head[len] = '\0';
	sp = strchr(head, ' ');
	return strncmp(head, "HTTP/", 5) == 0 && sp != NULL &&
	    strcmp(sp, tail) == 0;
}

static void
fix_version(struct evbuffer *b, const struct evbuffer_cb_info *info, void *arg)
{
	static _Thread_local bool fixing; /* our own edits call us again */
	struct evbuffer *before = NULL;
	size_t want, vlen;
	const char *line, *sp;

	(void)arg;
	if (fixing || info->n_added == 0 ||
	    (info->orig_size > 0 && !only_interim(b, info->orig_size))) {
		return;
	}
	/* The added data begins with a status line (a short one, whole). */
	want = info->orig_size + 32;
	if (want > evbuffer_get_length(b)) {
		want = evbuffer_get_length(b);
	}
	if ((line = (const char *)evbuffer_pullup(b, (ev_ssize_t)want)) ==
	    NULL) {
		return;
	}
	line += info->orig_size;
	want -= info->orig_size;
	if (want < 5 || memcmp(line, "HTTP/", 5) != 0 ||
	    (sp = memchr(line, ' ', want)) == NULL) {
		return;
	}
	vlen = (size_t)(sp - line);
	if (vlen == 8 &&
	    (memcmp(line, "HTTP/1.1", 8) == 0 ||
	        memcmp(line, "HTTP/1.0", 8) == 0)) {
		return;
	}
	fixing = true;
	/* Set aside what precedes the answer (an interim answer), put the
	 * version right at the head, then put the rest back in front.  The
	 * socket's writer keeps the front of its output frozen between
	 * writes (as libevent's http.c does, it is thawed for the edit). */
	evbuffer_unfreeze(b, 1);
	if (info->orig_size == 0 ||
	    ((before = evbuffer_new()) != NULL &&
	        evbuffer_remove_buffer(b, before, info->orig_size) ==
	            (int)info->orig_size)) {
		evbuffer_drain(b, vlen);
		evbuffer_prepend(b, "HTTP/1.1", 8);
	}
	if (before != NULL) {
		evbuffer_prepend_buffer(b, before);
		evbuffer_free(before);
	}
	evbuffer_freeze(b, 1);
	fixing = false;
}

/* evhttp's maker of each accepted connection's bufferevent. */
static struct bufferevent *
new_bev(struct event_base *base, void *arg)
{
	struct bufferevent *bev =
	    bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	(void)arg;
	if (bev != NULL &&
	    evbuffer_add_cb(bufferevent_get_output(bev), fix_version, NULL) ==
	        NULL) {
		bufferevent_free(bev);
		return NULL;
	}
	return bev;
}

static void
unlink_req(struct http_req *r)
{
	if (r->prev) {
		r->prev->next = r->next;
	} else if (r->srv != NULL && r->srv->live == r) {
		r->srv->live = r->next;
	}
	if (r->next) {
		r->next->prev = r->prev;
	}
	r->prev = r->next = NULL;
}

static void
on_conn_close(struct evhttp_connection *conn, void *arg)
{
	struct http_req *r = arg;
	(void)conn;
	r->req = NULL;
	r->conn = NULL;
}

static void
free_req(struct http_req *r)
{
	unlink_req(r);
	free(r->path);
	free(r->query_copy);
	free(r);
}

static void
on_request(struct evhttp_request *req, void *arg)
{
	struct http_server *s = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
	struct http_req *r;

	/* libevent takes any "HTTP/d.d" and answers in the same version
	 * (a fuzzer found "HTTP/0.0 200"): only 1.0 and 1.1 are spoken. */
	if (req->major != 1 || (req->minor != 0 && req->minor != 1)) {
		req->major = 1;
		req->minor = 0;
		evhttp_send_error(req, 505, "HTTP Version Not Supported");
		return;
	}
	if ((r = calloc(1, sizeof *r)) == NULL) {
		evhttp_send_error(req, 503, "Service Unavailable");
		return;
	}
	r->srv = s;
	r->req = req;
	r->conn = evhttp_request_get_connection(req);
	r->path = evhttp_uridecode(path && *path ? path : "/", 0, NULL);
	r->query_copy = strdup(query ? query : "");
	if (r->path == NULL || r->query_copy == NULL) {
		free(r->path);
		free(r->query_copy);
		free(r);
		evhttp_send_error(req, 503, "Service Unavailable");
		return;
	}
	r->query = r->query_copy;
	r->next = s->live;
	if (s->live) {
		s->live->prev = r;
	}
	s->live = r;
	/* One request at a time per connection: the close callback is this
	 * request's until it is answered. */
	if (r->conn != NULL) {
		evhttp_connection_set_closecb(r->conn, on_conn_close, r);
	}
	for (int i = 0; i < s->npaths; i++) {
		if (strcmp(r->path, s->paths[i].path) == 0) {
			s->paths[i].fn(s->paths[i].arg, r);
			return;
		}
	}
	s->fn(s->arg, r);
}

int
http_server_add_path(
    struct http_server *s, const char *path, http_handler fn, void *arg)
{
	if (s->npaths == 4) {
		return LEDGE_EFULL;
	}
	s->paths[s->npaths].path = path;
	s->paths[s->npaths].fn = fn;
	s->paths[s->npaths].arg = arg;
	s->npaths++;
	return LEDGE_OK;
}

static void
no_handler(void *arg, struct http_req *r)
{
	(void)arg;
	http_req_respond(r, 404, "text/plain", NULL, 0, "not found\n", 10);
}

int
http_server_new(struct loop *l, const char *addr, struct http_server **out,
    char *err, size_t errlen)
{
	struct http_server *s = calloc(1, sizeof *s);
	const char *colon = strrchr(addr, ':');
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	char *end;
	long port;

	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return LEDGE_ENOMEM;
	}
	if (colon == NULL || colon == addr ||
	    (size_t)(colon - addr) >= sizeof s->host) {
		snprintf(err, errlen,
		    "bad HTTP address '%s' (want host:port, e.g. "
		    "127.0.0.1:8080)",
		    addr);
		free(s);
		return LEDGE_EINVAL;
	}
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || port < 0 || port > 65535) {
		snprintf(err, errlen, "bad port in HTTP address '%s'", addr);
		free(s);
		return LEDGE_EINVAL;
	}
	memcpy(s->host, addr, (size_t)(colon - addr));
	/* [::1]:8080 */
	if (s->host[0] == '[') {
		size_t n = strlen(s->host);
		memmove(s->host, s->host + 1, n);
		if (n >= 2 && s->host[n - 2] == ']') {
			s->host[n - 2] = '\0';
		}
	}
	s->loop = l;
	s->fn = no_handler;
	if ((s->http = evhttp_new(loop_event_base(l))) == NULL) {
		snprintf(err, errlen, "out of memory");
		free(s);
		return LEDGE_ENOMEM;
	}
	evhttp_set_allowed_methods(s->http,
	    EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
	        EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
	        EVHTTP_REQ_PATCH);
	evhttp_set_max_headers_size(s->http, 64 * 1024);
	evhttp_set_max_body_size(s->http, 1 << 20);
	evhttp_set_timeout(s->http, 30);
	evhttp_set_gencb(s->http, on_request, s);
	evhttp_set_bevcb(s->http, new_bev, s);
	s->sock =
	    evhttp_bind_socket_with_handle(s->http, s->host, (ev_uint16_t)port);
	if (s->sock == NULL) {
		snprintf(err, errlen,
		    "cannot listen on %s (in use, or not "
		    "an address of this machine)",
		    addr);
		evhttp_free(s->http);
		free(s);
		return LEDGE_ECONN;
	}
	s->port = (int)port;
	if (getsockname(evhttp_bound_socket_get_fd(s->sock),
	        (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET) {
			s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			s->port =
			    ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		}
	}
	*out = s;
	return LEDGE_OK;
}

void
http_server_free(struct http_server *s)
{
	if (s == NULL) {
		return;
	}
	/* Handlers still hold these; they become dead, and are freed when
	 * answered. */
	for (struct http_req *r = s->live; r != NULL; r = r->next) {
		if (r->conn != NULL) {
			evhttp_connection_set_closecb(r->conn, NULL, NULL);
		}
		r->req = NULL;
		r->conn = NULL;
		r->srv = NULL;
	}
	for (struct http_req *r = s->live; r != NULL;) {
		struct http_req *next = r->next;
		r->prev = r->next = NULL;
		r = next;
	}
	s->live = NULL;
	evhttp_free(s->http);
	free(s);
}

void
http_server_set_handler(struct http_server *s, http_handler fn, void *arg)
{
	s->fn = fn ? fn : no_handler;
	s->arg = arg;
}

void
http_server_set_max_body(struct http_server *s, size_t max)
{
	evhttp_set_max_body_size(s->http, (ev_ssize_t)max);
}

int
http_server_port(const struct http_server *s)
{
	return s->port;
}

const char *
http_server_host(const struct http_server *s)
{
	return s->host;
}

void
http_server_close_listener(struct http_server *s)
{
	if (s->sock != NULL) {
		evhttp_del_accept_socket(s->http, s->sock);
		s->sock = NULL;
	}
}

const char *
http_req_method(const struct http_req *r)
{
	return r->req ? method_name(evhttp_request_get_command(r->req))
	              : "UNKNOWN";
}

const char *
http_req_path(const struct http_req *r)
{
	return r->path;
}

const char *
http_req_query(const struct http_req *r)
{
	return r->query;
}

size_t
http_req_headers(const struct http_req *r, ledge_header *out, size_t max)
{
	struct evkeyvalq *h;
	size_t n = 0;
	if (r->req == NULL) {
		return 0;
	}
	h = evhttp_request_get_input_headers(r->req);
	for (struct evkeyval *kv = h->tqh_first; kv; kv = kv->next.tqe_next) {
		if (n < max) {
			out[n].name = kv->key;
			out[n].value = kv->value;
		}
		n++;
	}
	return n;
}

const char *
http_req_header(const struct http_req *r, const char *name)
{
	return r->req
	    ? evhttp_find_header(evhttp_request_get_input_headers(r->req), name)
	    : NULL;
}

size_t
http_req_body_len(const struct http_req *r)
{
	return r->req
	    ? evbuffer_get_length(evhttp_request_get_input_buffer(r->req))
	    : 0;
}

void
http_req_body_copy(const struct http_req *r, void *dst)
{
	struct evbuffer *b;
	if (r->req == NULL) {
		return;
	}
	b = evhttp_request_get_input_buffer(r->req);
	evbuffer_copyout(b, dst, evbuffer_get_length(b));
}

bool
http_req_alive(const struct http_req *r)
{
	return r->req != NULL;
}

void
http_req_respond(struct http_req *r, int status, const char *content_type,
    const ledge_header *headers, size_t nheaders, const void *body, size_t len)
{
	struct evhttp_request *req = r->req;
	struct evkeyvalq *out;
	struct evbuffer *buf;

	if (req == NULL) {
		free_req(r);
		return;
	}
	if (r->conn != NULL) {
		evhttp_connection_set_closecb(r->conn, NULL, NULL);
	}
	out = evhttp_request_get_output_headers(req);
	if (content_type != NULL) {
		evhttp_add_header(out, "Content-Type", content_type);
	}
	for (size_t i = 0; i < nheaders; i++) {
		if (strcasecmp(headers[i].name, "content-length") == 0 ||
		    strcasecmp(headers[i].name, "transfer-encoding") == 0) {
			continue;
		}
		evhttp_add_header(out, headers[i].name, headers[i].value);
	}
	buf = evhttp_request_get_output_buffer(req);
	if (len > 0) {
		evbuffer_add(buf, body, len);
	}
	free_req(r);
	evhttp_send_reply(req, status, reason(status), NULL);
}

void
http_req_respond_metrics(struct http_req *r, int rv, char *text, size_t len)
{
	if (rv != LEDGE_OK) {
		http_req_respond(r, 500, "text/plain", NULL, 0, "error\n", 6);
	} else {
		http_req_respond(
		    r, 200, "text/plain; version=0.0.4", NULL, 0, text, len);
	}
	free(text);
}

/* ------------------------------------------------------------------ */
/* client                                                              */

struct http_client {
	struct loop *loop;
	struct evdns_base *dns;
};

struct creq {
	struct http_client *c;
	struct evhttp_connection *conn;
	http_client_cb cb;
	void *arg;
	int err;
	bool done;
};

struct http_client *
http_client_new(struct loop *l)
{
	struct http_client *c = calloc(1, sizeof *c);
	if (c == NULL) {
		return NULL;
	}
	c->loop = l;
	c->dns = evdns_base_new(
	    loop_event_base(l), EVDNS_BASE_INITIALIZE_NAMESERVERS);
	if (c->dns == NULL) {
		/* No resolv.conf: numeric addresses still work. */
		c->dns = evdns_base_new(loop_event_base(l), 0);
	}
	return c;
}

void
http_client_free(struct http_client *c)
{
	if (c == NULL) {
		return;
	}
	if (c->dns != NULL) {
		evdns_base_free(c->dns, 1);
	}
	free(c);
}

static void
fail_now(http_client_cb cb, void *arg, int err)
{
	struct http_client_result r;
	memset(&r, 0, sizeof r);
	r.err = err;
	cb(arg, &r);
}

/* Connections are freed from a fresh loop turn, never inside their own
 * callbacks (libevent still uses them after the callback returns). */
static void
free_conn(void *arg)
{
	struct creq *q = arg;
	if (q->conn != NULL) {
		evhttp_connection_free(q->conn);
	}
	free(q);
}

static void
on_error(enum evhttp_request_error e, void *arg)
{
	struct creq *q = arg;
	switch (e) {
	case EVREQ_HTTP_TIMEOUT:
		q->err = LEDGE_ETIMEDOUT;
		break;
	case EVREQ_HTTP_DATA_TOO_LONG:
		q->err = LEDGE_ETOOBIG;
		break;
	default:
		q->err = LEDGE_ECONN;
	}
}

static void
on_response(struct evhttp_request *req, void *arg)
{
	struct creq *q = arg;
	struct http_client_result r;
	ledge_header hs[128];

	if (q->done) {
		return;
	}
	q->done = true;
	memset(&r, 0, sizeof r);
	if (req == NULL || evhttp_request_get_response_code(req) == 0) {
		r.err = q->err ? q->err : LEDGE_ECONN;
	} else {
		struct evkeyvalq *h = evhttp_request_get_input_headers(req);
		struct evbuffer *b = evhttp_request_get_input_buffer(req);
		for (struct evkeyval *kv = h->tqh_first; kv;
		     kv = kv->next.tqe_next) {
			if (r.nheaders < sizeof hs / sizeof hs[0]) {
				hs[r.nheaders].name = kv->key;
				hs[r.nheaders].value = kv->value;
				r.nheaders++;
			}
		}
		r.err = LEDGE_OK;
		r.status = evhttp_request_get_response_code(req);
		r.headers = hs;
		r.len = evbuffer_get_length(b);
		r.body = r.len ? evbuffer_pullup(b, -1) : NULL;
	}
	q->cb(q->arg, &r);
	loop_post(q->c->loop, free_conn, q);
}

void
http_client_request(struct http_client *c, const char *method, const char *url,
    const ledge_header *headers, size_t nheaders, const void *body, size_t len,
    uint32_t timeout_ms, size_t max_response, http_client_cb cb, void *arg)
{
	struct evhttp_uri *uri = evhttp_uri_parse(url);
	enum evhttp_cmd_type type;
	struct evhttp_request *req;
	struct creq *q;
	const char *scheme, *host, *path, *query;
	char target[8192], hosthdr[300], addr[256];
	int port;

	if (uri == NULL || (scheme = evhttp_uri_get_scheme(uri)) == NULL ||
	    strcasecmp(scheme, "http") != 0 ||
	    (host = evhttp_uri_get_host(uri)) == NULL ||
	    method_type(method, &type) != 0) {
		if (uri) {
			evhttp_uri_free(uri);
		}
		fail_now(cb, arg, LEDGE_EINVAL);
		return;
	}
	port = evhttp_uri_get_port(uri);
	/* Host names the port unless it is the default (RFC 9110 7.2);
	 * an IPv6 literal keeps its brackets there but not in the address
	 * to connect to. */
	snprintf(addr, sizeof addr, "%s", host);
	if (addr[0] == '[') {
		size_t n = strlen(addr);
		memmove(addr, addr + 1, n);
		if (n >= 2 && addr[n - 2] == ']') {
			addr[n - 2] = '\0';
		}
	}
	if (port > 0 && port != 80) {
		snprintf(hosthdr, sizeof hosthdr, "%s:%d", host, port);
	} else {
		snprintf(hosthdr, sizeof hosthdr, "%s", host);
	}
	path = evhttp_uri_get_path(uri);
	query = evhttp_uri_get_query(uri);
	snprintf(target, sizeof target, "%s%s%s", path && *path ? path : "/",
	    query ? "?" : "", query ? query : "");
	if ((q = calloc(1, sizeof *q)) == NULL) {
		evhttp_uri_free(uri);
		fail_now(cb, arg, LEDGE_ENOMEM);
		return;
	}
	q->c = c;
	q->cb = cb;
	q->arg = arg;
	q->conn = evhttp_connection_base_new(loop_event_base(c->loop), c->dns,
	    addr, (ev_uint16_t)(port < 0 ? 80 : port));
	if (q->conn == NULL ||
	    (req = evhttp_request_new(on_response, q)) == NULL) {
		evhttp_uri_free(uri);
		if (q->conn) {
			evhttp_connection_free(q->conn);
		}
		free(q);
		fail_now(cb, arg, LEDGE_ENOMEM);
		return;
	}
	struct timeval tv = { (time_t)(timeout_ms / 1000),
		(suseconds_t)(timeout_ms % 1000) * 1000 };
	evhttp_connection_set_timeout_tv(q->conn, &tv);
	evhttp_connection_set_max_body_size(q->conn, (ev_ssize_t)max_response);
	evhttp_request_set_error_cb(req, on_error);
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	evhttp_add_header(out, "Host", hosthdr);
	evhttp_add_header(out, "Connection", "close");
	for (size_t i = 0; i < nheaders; i++) {
		if (strcasecmp(headers[i].name, "host") == 0 ||
		    strcasecmp(headers[i].name, "connection") == 0 ||
		    strcasecmp(headers[i].name, "content-length") == 0) {
			continue;
		}
		evhttp_add_header(out, headers[i].name, headers[i].value);
	}
	if (len > 0 || type == EVHTTP_REQ_POST || type == EVHTTP_REQ_PUT ||
	    type == EVHTTP_REQ_PATCH) {
		char cl[32];
		snprintf(cl, sizeof cl, "%zu", len);
		evhttp_add_header(out, "Content-Length", cl);
		if (len > 0) {
			evbuffer_add(
			    evhttp_request_get_output_buffer(req), body, len);
		}
	}
	evhttp_uri_free(uri);
	if (evhttp_make_request(q->conn, req, type, target) != 0) {
		/* The request was freed by libevent; the connection is ours. */
		q->done = true;
		fail_now(cb, arg, LEDGE_ECONN);
		loop_post(c->loop, free_conn, q);
	}
}
