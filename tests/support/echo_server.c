/*
 * echo_server.c - a real HTTP server on loopback for tests, built on
 * libevent's evhttp.
 *
 * Usage: echo_server [PORT]
 *
 * Binds 127.0.0.1:PORT (0 or absent: any free port), prints exactly one
 * line "listening on http://127.0.0.1:PORT" to stdout, and serves:
 *
 *   /echo          200 text/plain: "METHOD TARGET\n" (the request target
 *                  as received, query included), then "name: value\n" for
 *                  each request header as received, then "\n", then the
 *                  request body verbatim
 *   /status/NNN    status NNN (200..599), body "status NNN"
 *   /slow?ms=N     "slow" after N ms (0..600000), from a timer, so many
 *                  slow requests wait at once
 *   /big?bytes=N   N bytes of 'x' (0..1 GiB) with Content-Length; with
 *                  &chunked=1 in 16 KiB chunks of chunked transfer coding
 *   /count         the number of requests served before this one, decimal
 *   /close         closes the connection without answering
 *   anything else  404
 *
 * Responses to HEAD carry the Content-Length of the body they omit; 204
 * and 304 carry no body.  Exits with status 0 on SIGTERM or SIGINT, after
 * freeing everything (so sanitizer builds report leaks).
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define SLOW_MAX_MS (600 * 1000)
#define BIG_MAX     (1LL << 30)
#define BIG_CHUNK   (16 * 1024)

/* A /slow request waiting for its timer. */
struct slow {
	struct server *srv;
	struct evhttp_request *req;
	struct event *timer;
	struct slow *prev, *next;
};

struct server {
	struct event_base *base;
	struct evhttp *http;
	unsigned long long served;
	struct slow *slow; /* pending /slow requests */
};

static const char *
method_name(enum evhttp_cmd_type cmd)
{
	switch (cmd) {
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
	}
	return "UNKNOWN";
}

/* Parse all of `s` as a decimal in [min, max]. */
static bool
parse_num(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	if (s == NULL || *s < '0' || *s > '9') {
		return false;
	}
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max) {
		return false;
	}
	*out = v;
	return true;
}

/* The query parameter `name` of `req` as a number in [min, max]. */
static bool
query_num(struct evhttp_request *req, const char *name, long long min,
    long long max, long long *out)
{
	const char *q =
	    evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	struct evkeyvalq params;
	bool ok;

	if (q == NULL || evhttp_parse_query_str(q, &params) != 0) {
		return false;
	}
	ok = parse_num(evhttp_find_header(&params, name), min, max, out);
	evhttp_clear_headers(&params);
	return ok;
}

/*
 * Send a complete reply; takes the contents of `body` (may be NULL).
 * Keeps the wire valid for HEAD, 204 and 304, where evhttp would write a
 * non-empty buffer anyway.
 */
static void
reply(struct evhttp_request *req, int code, const char *ctype,
    struct evbuffer *body)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	bool head = evhttp_request_get_command(req) == EVHTTP_REQ_HEAD;
	size_t len = body != NULL ? evbuffer_get_length(body) : 0;

	if (ctype != NULL && code != 204 && code != 304 &&
	    evhttp_add_header(out, "Content-Type", ctype) != 0) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	if (head && code != 204 && code != 304) {
		char num[32];

		(void)snprintf(num, sizeof(num), "%zu", len);
		if (evhttp_add_header(out, "Content-Length", num) != 0) {
			evhttp_send_error(req, 500, NULL);
			return;
		}
	}
	if ((head || code == 204 || code == 304) && len > 0 &&
	    evbuffer_drain(body, len) != 0) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	evhttp_send_reply(req, code, NULL, body);
}

/* Reply with a short text body built from `text`. */
static void
reply_text(struct evhttp_request *req, int code, const char *text)
{
	struct evbuffer *buf = evbuffer_new();

	if (buf == NULL || evbuffer_add(buf, text, strlen(text)) != 0) {
		evhttp_send_error(req, 500, NULL);
	} else {
		reply(req, code, "text/plain", buf);
	}
	if (buf != NULL) {
		evbuffer_free(buf);
	}
}

static void
do_echo(struct evhttp_request *req)
{
	struct evkeyvalq *hdrs = evhttp_request_get_input_headers(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	struct evbuffer *buf = evbuffer_new();
	int bad = buf == NULL;

	if (!bad) {
		bad |= evbuffer_add_printf(buf, "%s %s\n",
		           method_name(evhttp_request_get_command(req)),
		           evhttp_request_get_uri(req)) < 0;
	}
	for (struct evkeyval *kv = hdrs->tqh_first; !bad && kv != NULL;
	     kv = kv->next.tqe_next) {
		bad |= evbuffer_add_printf(
		           buf, "%s: %s\n", kv->key, kv->value) < 0;
	}
	if (!bad) {
		bad |= evbuffer_add(buf, "\n", 1) != 0;
	}
	if (!bad) {
		bad |= evbuffer_add_buffer(buf, in) != 0;
	}
	if (bad) {
		evhttp_send_error(req, 500, NULL);
	} else {
		reply(req, 200, "text/plain", buf);
	}
	if (buf != NULL) {
		evbuffer_free(buf);
	}
}

static void
do_status(struct evhttp_request *req, const char *code)
{
	char text[32];
	long long n;

	if (strlen(code) != 3 || !parse_num(code, 200, 599, &n)) {
		reply_text(req, 400, "status must be 200..599\n");
		return;
	}
	(void)snprintf(text, sizeof(text), "status %lld", n);
	reply_text(req, (int)n, text);
}

static void
slow_unlink(struct slow *s)
{
	if (s->prev != NULL) {
		s->prev->next = s->next;
	} else {
		s->srv->slow = s->next;
	}
	if (s->next != NULL) {
		s->next->prev = s->prev;
	}
	event_free(s->timer);
	free(s);
}

static void
slow_fire(evutil_socket_t fd, short what, void *arg)
{
	struct slow *s = arg;
	struct evhttp_request *req = s->req;

	(void)fd;
	(void)what;
	slow_unlink(s);
	/* If the client left meanwhile, evhttp frees the request here. */
	reply_text(req, 200, "slow");
}

static void
do_slow(struct server *srv, struct evhttp_request *req)
{
	struct slow *s;
	struct timeval tv;
	long long ms;

	if (!query_num(req, "ms", 0, SLOW_MAX_MS, &ms)) {
		reply_text(req, 400, "need ?ms=0..600000\n");
		return;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	s->srv = srv;
	s->req = req;
	if ((s->timer = evtimer_new(srv->base, slow_fire, s)) == NULL) {
		free(s);
		evhttp_send_error(req, 500, NULL);
		return;
	}
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	if (evtimer_add(s->timer, &tv) != 0) {
		event_free(s->timer);
		free(s);
		evhttp_send_error(req, 500, NULL);
		return;
	}
	s->next = srv->slow;
	if (s->next != NULL) {
		s->next->prev = s;
	}
	srv->slow = s;
}

/* Append `n` bytes of 'x' to `buf`. */
static int
add_xs(struct evbuffer *buf, size_t n)
{
	char xs[BIG_CHUNK];

	memset(xs, 'x', sizeof(xs));
	while (n > 0) {
		size_t k = n < sizeof(xs) ? n : sizeof(xs);

		if (evbuffer_add(buf, xs, k) != 0) {
			return -1;
		}
		n -= k;
	}
	return 0;
}

static void
do_big(struct evhttp_request *req)
{
	struct evbuffer *buf;
	long long bytes, chunked = 0;

	if (!query_num(req, "bytes", 0, BIG_MAX, &bytes)) {
		reply_text(req, 400, "need ?bytes=0..1073741824\n");
		return;
	}
	(void)query_num(req, "chunked", 0, 1, &chunked);
	if ((buf = evbuffer_new()) == NULL) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	if (!chunked || evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
		if (add_xs(buf, (size_t)bytes) != 0) {
			evhttp_send_error(req, 500, NULL);
		} else {
			reply(req, 200, "application/octet-stream", buf);
		}
		evbuffer_free(buf);
		return;
	}
	if (evhttp_add_header(evhttp_request_get_output_headers(req),
	        "Content-Type", "application/octet-stream") != 0) {
		evbuffer_free(buf);
		evhttp_send_error(req, 500, NULL);
		return;
	}
	/*
	 * All chunks are queued at once; evhttp frames each one.  A failed
	 * allocation midway can only end the stream early.
	 */
	evhttp_send_reply_start(req, 200, NULL);
	while (bytes > 0) {
		size_t k = bytes < BIG_CHUNK ? (size_t)bytes : BIG_CHUNK;

		if (add_xs(buf, k) != 0) {
			break;
		}
		evhttp_send_reply_chunk(req, buf);
		bytes -= (long long)k;
	}
	evhttp_send_reply_end(req);
	evbuffer_free(buf);
}

static void
do_close(struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev =
	    evcon != NULL ? evhttp_connection_get_bufferevent(evcon) : NULL;
	evutil_socket_t fd = bev != NULL ? bufferevent_getfd(bev) : -1;

	/*
	 * Freeing the connection inside its own callback is not safe, so
	 * shut the socket (the client sees the end of the stream now), then
	 * finish the request normally: its write fails and evhttp frees the
	 * connection along with the request.
	 */
	if (fd >= 0) {
		(void)shutdown(fd, SHUT_RDWR);
	}
	evhttp_send_reply(req, 500, NULL, NULL);
}

static void
handle(struct evhttp_request *req, void *arg)
{
	struct server *srv = arg;
	const char *path =
	    evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	unsigned long long before = srv->served++;

	if (path == NULL) {
		path = "";
	}
	if (strcmp(path, "/echo") == 0) {
		do_echo(req);
	} else if (strncmp(path, "/status/", 8) == 0) {
		do_status(req, path + 8);
	} else if (strcmp(path, "/slow") == 0) {
		do_slow(srv, req);
	} else if (strcmp(path, "/big") == 0) {
		do_big(req);
	} else if (strcmp(path, "/count") == 0) {
		char text[32];

		(void)snprintf(text, sizeof(text), "%llu", before);
		reply_text(req, 200, text);
	} else if (strcmp(path, "/close") == 0) {
		do_close(req);
	} else {
		reply_text(req, 404, "not found\n");
	}
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;

	(void)sig;
	(void)what;
	(void)event_base_loopbreak(srv->base);
}

int
main(int argc, char **argv)
{
	struct server srv = { 0 };
	struct evhttp_bound_socket *bound;
	struct event *sigterm = NULL, *sigint = NULL;
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	long long port = 0;
	int rc = 1, n;

	if (argc > 2 || (argc == 2 && !parse_num(argv[1], 0, 65535, &port))) {
		fprintf(
		    stderr, "usage: %s [PORT]  (PORT: 0..65535)\n", argv[0]);
		return 2;
	}
	/* A client that goes away mid-response must not kill the server. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
		perror("echo_server: signal");
		return 1;
	}
	if ((srv.base = event_base_new()) == NULL ||
	    (srv.http = evhttp_new(srv.base)) == NULL) {
		fprintf(stderr, "echo_server: cannot set up libevent\n");
		goto out;
	}
	evhttp_set_allowed_methods(srv.http,
	    EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
	        EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
	        EVHTTP_REQ_TRACE | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(srv.http, handle, &srv);
	bound = evhttp_bind_socket_with_handle(
	    srv.http, "127.0.0.1", (ev_uint16_t)port);
	if (bound == NULL) {
		fprintf(stderr, "echo_server: cannot bind 127.0.0.1:%lld: %s\n",
		    port, strerror(errno));
		goto out;
	}
	if (getsockname(evhttp_bound_socket_get_fd(bound),
	        (struct sockaddr *)&sin, &slen) != 0) {
		perror("echo_server: getsockname");
		goto out;
	}
	sigterm = evsignal_new(srv.base, SIGTERM, on_signal, &srv);
	sigint = evsignal_new(srv.base, SIGINT, on_signal, &srv);
	if (sigterm == NULL || sigint == NULL ||
	    evsignal_add(sigterm, NULL) != 0 ||
	    evsignal_add(sigint, NULL) != 0) {
		fprintf(stderr, "echo_server: cannot watch signals\n");
		goto out;
	}
	n = printf("listening on http://127.0.0.1:%d\n", ntohs(sin.sin_port));
	if (n < 0 || fflush(stdout) != 0) {
		perror("echo_server: stdout");
		goto out;
	}
	if (event_base_dispatch(srv.base) < 0) {
		fprintf(stderr, "echo_server: event loop failed\n");
		goto out;
	}
	rc = 0;

out:
	/*
	 * Requests still waiting in /slow: those whose client left belong
	 * to nobody now; the others go with their connection below.
	 */
	while (srv.slow != NULL) {
		struct evhttp_request *req = srv.slow->req;

		slow_unlink(srv.slow);
		if (evhttp_request_get_connection(req) == NULL) {
			evhttp_request_free(req);
		}
	}
	if (sigint != NULL) {
		event_free(sigint);
	}
	if (sigterm != NULL) {
		event_free(sigterm);
	}
	if (srv.http != NULL) {
		evhttp_free(srv.http);
	}
	if (srv.base != NULL) {
		event_base_free(srv.base);
	}
	libevent_global_shutdown();
	return rc;
}
