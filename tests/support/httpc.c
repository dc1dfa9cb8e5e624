/*
 * httpc.c - a small blocking HTTP/1.1 client for tests.
 *
 * Sockets are non-blocking; every wait goes through poll() against one
 * deadline per call, so no call outlives its timeout.  Received bytes sit
 * in a per-connection buffer and are consumed only once a whole response
 * has been parsed, which lets httpc_read_response() resume after a timeout.
 */
#include "httpc.h"

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HEAD_MAX   (64 * 1024)       /* largest header block accepted */
#define LINE_MAX_  (8 * 1024)        /* largest chunk-size line */
#define BODY_MAX   ((size_t)1 << 30) /* largest body accepted */
#define RECV_CHUNK (64 * 1024)       /* bytes asked of each recv() */
#define INLINE_MAX (64 * 1024)       /* bodies sent with the head */
#define RECV_EOF   (-1)              /* internal: orderly end of stream */

struct httpc {
	char *host;
	int port;
	int fd; /* -1: not connected */
	int timeout_ms;
	unsigned connections;
	bool reusable;    /* false: reconnect before the next request */
	bool raw_pending; /* raw bytes sent, their response not yet read */
	char *buf;        /* received, not yet consumed */
	size_t len;
	size_t cap;
};

/* A growing byte string; `oom` latches the first allocation failure. */
struct sbuf {
	char *p;
	size_t len;
	size_t cap;
	bool oom;
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail with a valid clock id and pointer. */
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
remaining_ms(int64_t deadline)
{
	int64_t left = deadline - now_ms();

	if (left < 0) {
		return 0;
	}
	return left > INT_MAX ? INT_MAX : (int)left;
}

static int
norm_timeout(int timeout_ms)
{
	return timeout_ms > 0 ? timeout_ms : HTTPC_DEFAULT_TIMEOUT_MS;
}

static void
sb_add(struct sbuf *sb, const void *p, size_t n)
{
	if (sb->oom) {
		return;
	}
	if (sb->cap - sb->len < n + 1) {
		size_t cap = sb->cap ? sb->cap : 256;
		char *np;

		while (cap - sb->len < n + 1) {
			if (cap > SIZE_MAX / 2) {
				sb->oom = true;
				return;
			}
			cap *= 2;
		}
		if ((np = realloc(sb->p, cap)) == NULL) {
			sb->oom = true;
			return;
		}
		sb->p = np;
		sb->cap = cap;
	}
	if (n > 0) {
		memcpy(sb->p + sb->len, p, n);
	}
	sb->len += n;
	sb->p[sb->len] = '\0';
}

static void
sb_str(struct sbuf *sb, const char *s)
{
	sb_add(sb, s, strlen(s));
}

/* Map a connect errno to a return code. */
static int
connect_err(int e)
{
	switch (e) {
	case ETIMEDOUT:
		return HTTPC_ETIMEOUT;
	case ENOMEM:
		return HTTPC_ENOMEM;
	case EINVAL:
		return HTTPC_EINVAL;
	default:
		return HTTPC_ECONNECT;
	}
}

/*
 * Connect to one address before `deadline`.  Returns the socket, or -1
 * with errno set.
 */
static int
connect_addr(const struct addrinfo *ai, int64_t deadline)
{
	int fd, err, one = 1;
	socklen_t elen = sizeof(err);

	fd = socket(ai->ai_family,
	    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0) {
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		int n;

		if (errno != EINPROGRESS && errno != EINTR) {
			goto fail;
		}
		do {
			n = poll(&pfd, 1, remaining_ms(deadline));
		} while (n < 0 && errno == EINTR);
		if (n < 0) {
			goto fail;
		}
		if (n == 0) {
			errno = ETIMEDOUT;
			goto fail;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0) {
			goto fail;
		}
		if (err != 0) {
			errno = err;
			goto fail;
		}
	}
	/* Requests are written in one or two sends; never wait for acks. */
	if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6) {
		(void)setsockopt(
		    fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	return fd;

fail:
	err = errno;
	(void)close(fd);
	errno = err;
	return -1;
}

/* Open a socket to host:port before `deadline`; -1 with errno set. */
static int
open_socket(const char *host, int port, int64_t deadline)
{
	struct addrinfo hints, *res, *ai;
	char portstr[16];
	int fd = -1, rv, err = EHOSTUNREACH;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	(void)snprintf(portstr, sizeof(portstr), "%d", port);
	if ((rv = getaddrinfo(host, portstr, &hints, &res)) != 0) {
		if (rv == EAI_MEMORY) {
			errno = ENOMEM;
		} else if (rv == EAI_SYSTEM && errno != 0) {
			/* keep errno */
		} else {
			errno = EHOSTUNREACH;
		}
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = connect_addr(ai, deadline)) >= 0) {
			break;
		}
		err = errno;
		if (err == ETIMEDOUT) {
			break;
		}
	}
	freeaddrinfo(res);
	if (fd < 0) {
		errno = err;
	}
	return fd;
}

static void
drop_socket(struct httpc *c)
{
	if (c->fd >= 0) {
		(void)close(c->fd);
		c->fd = -1;
	}
	c->len = 0;
	c->reusable = false;
	c->raw_pending = false;
}

/* Replace the current socket (if any) by a new connection. */
static int
reconnect(struct httpc *c, int64_t deadline)
{
	int fd;

	drop_socket(c);
	if ((fd = open_socket(c->host, c->port, deadline)) < 0) {
		return connect_err(errno);
	}
	c->fd = fd;
	c->reusable = true;
	c->connections++;
	return HTTPC_OK;
}

struct httpc *
httpc_connect(const char *host, int port, int timeout_ms)
{
	struct httpc *c;
	int err;

	if (host == NULL || port < 1 || port > 65535) {
		errno = EINVAL;
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		return NULL;
	}
	c->fd = -1;
	c->port = port;
	c->timeout_ms = norm_timeout(timeout_ms);
	if ((c->host = strdup(host)) == NULL) {
		goto fail;
	}
	c->fd = open_socket(host, port, now_ms() + c->timeout_ms);
	if (c->fd < 0) {
		goto fail;
	}
	c->reusable = true;
	c->connections = 1;
	return c;

fail:
	err = errno;
	free(c->host);
	free(c);
	errno = err;
	return NULL;
}

void
httpc_set_timeout(struct httpc *c, int timeout_ms)
{
	if (c != NULL) {
		c->timeout_ms = norm_timeout(timeout_ms);
	}
}

unsigned
httpc_connections(const struct httpc *c)
{
	return c != NULL ? c->connections : 0;
}

void
httpc_close(struct httpc *c)
{
	if (c == NULL) {
		return;
	}
	drop_socket(c);
	free(c->buf);
	free(c->host);
	free(c);
}

void
httpc_resp_free(struct httpc_resp *r)
{
	if (r == NULL) {
		return;
	}
	free(r->head);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

const char *
httpc_strerror(int err)
{
	switch (err) {
	case HTTPC_OK:
		return "success";
	case HTTPC_ECONNECT:
		return "could not connect";
	case HTTPC_ETIMEOUT:
		return "timed out";
	case HTTPC_ECLOSED:
		return "connection closed before a full response";
	case HTTPC_EPROTO:
		return "malformed HTTP response";
	case HTTPC_ENOMEM:
		return "out of memory";
	case HTTPC_EINVAL:
		return "invalid argument";
	default:
		return "unknown httpc error";
	}
}

/*
 * Write all of `p` before `deadline`.  With `early` not NULL, stop as soon
 * as the peer has something to say (an early response or a close) and set
 * *early.  Returns 0, HTTPC_ETIMEOUT or HTTPC_ECLOSED.
 */
static int
send_all(
    struct httpc *c, const void *p, size_t n, int64_t deadline, bool *early)
{
	const char *s = p;

	while (n > 0) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };
		ssize_t w;
		int r;

		if (early != NULL) {
			pfd.events |= POLLIN;
		}
		r = poll(&pfd, 1, remaining_ms(deadline));
		if (r < 0) {
			if (errno == EINTR) {
				continue;
			}
			return HTTPC_ECLOSED;
		}
		if (r == 0) {
			return HTTPC_ETIMEOUT;
		}
		if (early != NULL && (pfd.revents & POLLIN) != 0) {
			*early = true;
			return HTTPC_OK;
		}
		w = send(c->fd, s, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR || errno == EAGAIN ||
			    errno == EWOULDBLOCK) {
				continue;
			}
			return HTTPC_ECLOSED;
		}
		s += w;
		n -= (size_t)w;
	}
	return HTTPC_OK;
}

/*
 * Receive more bytes into c->buf before `deadline`.  Returns 0 when at
 * least one byte arrived, RECV_EOF at the end of the stream, or
 * HTTPC_ETIMEOUT, HTTPC_ECLOSED (reset), HTTPC_ENOMEM, HTTPC_EPROTO (the
 * response is larger than BODY_MAX).
 */
static int
recv_more(struct httpc *c, int64_t deadline)
{
	if (c->cap - c->len < RECV_CHUNK) {
		size_t cap = c->cap ? c->cap : RECV_CHUNK * 2;
		char *nb;

		while (cap - c->len < RECV_CHUNK) {
			cap *= 2;
		}
		if (cap > BODY_MAX + HEAD_MAX + 2 * RECV_CHUNK) {
			return HTTPC_EPROTO;
		}
		if ((nb = realloc(c->buf, cap)) == NULL) {
			return HTTPC_ENOMEM;
		}
		c->buf = nb;
		c->cap = cap;
	}
	for (;;) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		ssize_t n;
		int r;

		r = poll(&pfd, 1, remaining_ms(deadline));
		if (r < 0) {
			if (errno == EINTR) {
				continue;
			}
			return HTTPC_ECLOSED;
		}
		if (r == 0) {
			return HTTPC_ETIMEOUT;
		}
		n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
		if (n > 0) {
			c->len += (size_t)n;
			return HTTPC_OK;
		}
		if (n == 0) {
			return RECV_EOF;
		}
		if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
			return HTTPC_ECLOSED;
		}
	}
}

/*
 * Make sure c->buf holds at least `want` bytes; the end of the stream
 * before that is HTTPC_ECLOSED.
 */
static int
need(struct httpc *c, size_t want, int64_t deadline)
{
	while (c->len < want) {
		int rv = recv_more(c, deadline);

		if (rv == RECV_EOF) {
			return HTTPC_ECLOSED;
		}
		if (rv != 0) {
			return rv;
		}
	}
	return HTTPC_OK;
}

/*
 * Find "\r\n" at or after `from`, receiving more as needed, but give up
 * with HTTPC_EPROTO after `max` bytes.  Stores the offset of the CR.
 */
static int
find_crlf(
    struct httpc *c, size_t from, size_t max, int64_t deadline, size_t *at)
{
	size_t scanned = from;

	for (;;) {
		const char *p = NULL;
		int rv;

		if (c->len > scanned) {
			p = memmem(
			    c->buf + scanned, c->len - scanned, "\r\n", 2);
		}
		if (p != NULL) {
			*at = (size_t)(p - c->buf);
			return HTTPC_OK;
		}
		/* A CR at the very end may pair with the next LF. */
		if (c->len > from) {
			scanned = c->len - 1;
		}
		if (c->len - from > max) {
			return HTTPC_EPROTO;
		}
		if ((rv = recv_more(c, deadline)) == RECV_EOF) {
			return HTTPC_ECLOSED;
		}
		if (rv != 0) {
			return rv;
		}
	}
}

/* Case-insensitive comparison of a counted string with a C string. */
static bool
token_eq(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && strncasecmp(s, lit, n) == 0;
}

/* Whether comma-separated list `v` (of `n` bytes) holds token `tok`. */
static bool
list_has(const char *v, size_t n, const char *tok)
{
	size_t i = 0;

	while (i < n) {
		size_t s, e;

		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) {
			i++;
		}
		s = i;
		while (i < n && v[i] != ',') {
			i++;
		}
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t')) {
			e--;
		}
		if (e > s && token_eq(v + s, e - s, tok)) {
			return true;
		}
	}
	return false;
}

/*
 * Step through header lines in [*p, end): one "name: value" per call, the
 * value without surrounding blanks.  Lines without a colon are skipped.
 * Returns false at the end.
 */
static bool
header_next(const char **p, const char *end, const char **name, size_t *nlen,
    const char **val, size_t *vlen)
{
	while (*p < end) {
		const char *line = *p;
		const char *eol = memchr(line, '\n', (size_t)(end - line));
		const char *le, *colon, *v, *ve;

		le = eol != NULL ? eol : end;
		*p = eol != NULL ? eol + 1 : end;
		if (le > line && le[-1] == '\r') {
			le--;
		}
		colon = memchr(line, ':', (size_t)(le - line));
		if (colon == NULL || colon == line) {
			continue;
		}
		v = colon + 1;
		while (v < le && (*v == ' ' || *v == '\t')) {
			v++;
		}
		ve = le;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) {
			ve--;
		}
		*name = line;
		*nlen = (size_t)(colon - line);
		*val = v;
		*vlen = (size_t)(ve - v);
		return true;
	}
	return false;
}

/* Parse a decimal Content-Length; false if it is not one. */
static bool
parse_length(const char *v, size_t n, size_t *out)
{
	size_t x = 0;

	if (n == 0) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9') {
			return false;
		}
		if (x > (SIZE_MAX - 9) / 10) {
			return false;
		}
		x = x * 10 + (size_t)(v[i] - '0');
	}
	*out = x;
	return true;
}

/* What the header block says about framing. */
struct framing {
	int status;
	int minor; /* HTTP/1.minor */
	bool chunked;
	bool has_length;
	size_t length;
	bool conn_close;
	bool conn_keepalive;
};

/* Parse the status line and headers in [s, e) (e just past the CRLFCRLF). */
static int
parse_head(const char *s, const char *e, struct framing *f)
{
	const char *p = s, *name, *val;
	size_t nlen, vlen;

	memset(f, 0, sizeof(*f));
	if (e - s < 12 || memcmp(s, "HTTP/1.", 7) != 0 || s[7] < '0' ||
	    s[7] > '9' || s[8] != ' ') {
		return HTTPC_EPROTO;
	}
	f->minor = s[7] - '0';
	for (int i = 9; i < 12; i++) {
		if (s[i] < '0' || s[i] > '9') {
			return HTTPC_EPROTO;
		}
		f->status = f->status * 10 + (s[i] - '0');
	}
	if (s[12] != ' ' && s[12] != '\r' && s[12] != '\n') {
		return HTTPC_EPROTO;
	}
	if (f->status < 100) {
		return HTTPC_EPROTO;
	}
	p = memchr(s, '\n', (size_t)(e - s));
	p = p != NULL ? p + 1 : e;
	while (header_next(&p, e, &name, &nlen, &val, &vlen)) {
		if (token_eq(name, nlen, "content-length")) {
			size_t len;

			if (!parse_length(val, vlen, &len)) {
				return HTTPC_EPROTO;
			}
			if (f->has_length && f->length != len) {
				return HTTPC_EPROTO;
			}
			f->has_length = true;
			f->length = len;
		} else if (token_eq(name, nlen, "transfer-encoding")) {
			if (list_has(val, vlen, "chunked")) {
				f->chunked = true;
			}
		} else if (token_eq(name, nlen, "connection")) {
			if (list_has(val, vlen, "close")) {
				f->conn_close = true;
			}
			if (list_has(val, vlen, "keep-alive")) {
				f->conn_keepalive = true;
			}
		}
	}
	return HTTPC_OK;
}

/* Parse a chunk-size line [s, e): hex digits, optional ";ext". */
static bool
parse_chunk_size(const char *s, const char *e, size_t *out)
{
	size_t x = 0;
	const char *p = s;
	bool digits = false;

	while (p < e && (*p == ' ' || *p == '\t')) {
		p++;
	}
	for (; p < e; p++) {
		int d;

		if (*p >= '0' && *p <= '9') {
			d = *p - '0';
		} else if (*p >= 'a' && *p <= 'f') {
			d = *p - 'a' + 10;
		} else if (*p >= 'A' && *p <= 'F') {
			d = *p - 'A' + 10;
		} else {
			break;
		}
		if (x > (SIZE_MAX >> 4)) {
			return false;
		}
		x = (x << 4) | (size_t)d;
		digits = true;
	}
	if (!digits) {
		return false;
	}
	while (p < e && (*p == ' ' || *p == '\t')) {
		p++;
	}
	if (p < e && *p != ';') {
		return false;
	}
	*out = x;
	return true;
}

/*
 * Decode a chunked body starting at offset *pos into `out`; on success
 * *pos is just past the trailers.
 */
static int
read_chunked(struct httpc *c, size_t *pos, int64_t deadline, struct sbuf *out)
{
	size_t at, size;
	int rv;

	for (;;) {
		if ((rv = find_crlf(c, *pos, LINE_MAX_, deadline, &at)) != 0) {
			return rv;
		}
		if (!parse_chunk_size(c->buf + *pos, c->buf + at, &size)) {
			return HTTPC_EPROTO;
		}
		*pos = at + 2;
		if (size == 0) {
			break;
		}
		if (size > BODY_MAX || out->len + size > BODY_MAX) {
			return HTTPC_EPROTO;
		}
		if ((rv = need(c, *pos + size + 2, deadline)) != 0) {
			return rv;
		}
		if (c->buf[*pos + size] != '\r' ||
		    c->buf[*pos + size + 1] != '\n') {
			return HTTPC_EPROTO;
		}
		sb_add(out, c->buf + *pos, size);
		if (out->oom) {
			return HTTPC_ENOMEM;
		}
		*pos += size + 2;
	}
	/* Trailers, up to and including an empty line; they are dropped. */
	for (;;) {
		if ((rv = find_crlf(c, *pos, HEAD_MAX, deadline, &at)) != 0) {
			return rv;
		}
		if (at == *pos) {
			*pos = at + 2;
			return HTTPC_OK;
		}
		*pos = at + 2;
	}
}

/*
 * Read one response from c->buf and the socket.  Consumes its bytes from
 * c->buf only on success.  Sets c->reusable for the next request.
 */
static int
read_response(
    struct httpc *c, bool head_req, int64_t deadline, struct httpc_resp *resp)
{
	struct framing f;
	struct sbuf body = { 0 };
	size_t start = 0, hend = 0, pos;
	bool until_close = false;
	int rv;

	memset(resp, 0, sizeof(*resp));
	c->reusable = false;
	if (c->fd < 0) {
		return HTTPC_ECLOSED;
	}
	/* Skip interim 1xx responses (not 101, which ends HTTP). */
	for (;;) {
		const char *p = NULL;

		while (c->len <= start ||
		    (p = memmem(c->buf + start, c->len - start, "\r\n\r\n",
		         4)) == NULL) {
			if (c->len - start > HEAD_MAX) {
				return HTTPC_EPROTO;
			}
			if ((rv = recv_more(c, deadline)) == RECV_EOF) {
				return HTTPC_ECLOSED;
			}
			if (rv != 0) {
				return rv;
			}
		}
		hend = (size_t)(p - c->buf) + 4;
		rv = parse_head(c->buf + start, c->buf + hend, &f);
		if (rv != 0) {
			return rv;
		}
		if (f.status >= 200 || f.status == 101) {
			break;
		}
		start = hend;
	}

	pos = hend;
	sb_add(&body, "", 0);
	if (head_req || f.status < 200 || f.status == 204 || f.status == 304) {
		/* no body */
	} else if (f.chunked) {
		if ((rv = read_chunked(c, &pos, deadline, &body)) != 0) {
			goto fail;
		}
	} else if (f.has_length) {
		if (f.length > BODY_MAX) {
			rv = HTTPC_EPROTO;
			goto fail;
		}
		if ((rv = need(c, hend + f.length, deadline)) != 0) {
			goto fail;
		}
		sb_add(&body, c->buf + hend, f.length);
		pos = hend + f.length;
	} else {
		/* Delimited by the end of the connection. */
		until_close = true;
		while ((rv = recv_more(c, deadline)) != RECV_EOF) {
			if (rv != 0) {
				goto fail;
			}
		}
		sb_add(&body, c->buf + hend, c->len - hend);
		pos = c->len;
	}
	if (body.oom) {
		rv = HTTPC_ENOMEM;
		goto fail;
	}

	/* The head without the blank line that ends it. */
	if ((resp->head = malloc(hend - start - 1)) == NULL) {
		rv = HTTPC_ENOMEM;
		goto fail;
	}
	memcpy(resp->head, c->buf + start, hend - start - 2);
	resp->head[hend - start - 2] = '\0';
	resp->status = f.status;
	resp->body = body.p;
	resp->body_len = body.len;

	memmove(c->buf, c->buf + pos, c->len - pos);
	c->len -= pos;
	c->raw_pending = false;
	if (f.minor == 0) {
		c->reusable = f.conn_keepalive && !f.conn_close;
	} else {
		c->reusable = !f.conn_close;
	}
	if (until_close || f.status == 101) {
		c->reusable = false;
	}
	return HTTPC_OK;

fail:
	free(body.p);
	memset(resp, 0, sizeof(*resp));
	return rv;
}

/* Whether header line `h` is "name:..." (case-insensitive). */
static bool
header_is(const char *h, const char *name)
{
	size_t n = strlen(name);

	return strncasecmp(h, name, n) == 0 && h[n] == ':';
}

/* Build the request head (and a small body) into `sb`. */
static int
build_request(const struct httpc *c, const char *method, const char *path,
    const char *const *headers, const void *body, size_t len, bool inline_body,
    struct sbuf *sb)
{
	bool has_host = false, has_length = false, has_te = false, want_length;
	char line[64];

	if (method == NULL || *method == '\0' || path == NULL ||
	    *path == '\0' || (body == NULL && len > 0)) {
		return HTTPC_EINVAL;
	}
	if (strpbrk(method, " \r\n") != NULL ||
	    strpbrk(path, " \r\n") != NULL) {
		return HTTPC_EINVAL;
	}
	for (size_t i = 0; headers != NULL && headers[i] != NULL; i++) {
		if (strpbrk(headers[i], "\r\n") != NULL ||
		    strchr(headers[i], ':') == NULL) {
			return HTTPC_EINVAL;
		}
		has_host |= header_is(headers[i], "host");
		has_length |= header_is(headers[i], "content-length");
		has_te |= header_is(headers[i], "transfer-encoding");
	}
	want_length = body != NULL || len > 0 ||
	    strcasecmp(method, "POST") == 0 || strcasecmp(method, "PUT") == 0 ||
	    strcasecmp(method, "PATCH") == 0;

	sb_str(sb, method);
	sb_str(sb, " ");
	sb_str(sb, path);
	sb_str(sb, " HTTP/1.1\r\n");
	if (!has_host) {
		if (strchr(c->host, ':') != NULL) {
			(void)snprintf(line, sizeof(line), "]:%d\r\n", c->port);
			sb_str(sb, "Host: [");
		} else {
			(void)snprintf(line, sizeof(line), ":%d\r\n", c->port);
			sb_str(sb, "Host: ");
		}
		sb_str(sb, c->host);
		sb_str(sb, line);
	}
	for (size_t i = 0; headers != NULL && headers[i] != NULL; i++) {
		sb_str(sb, headers[i]);
		sb_str(sb, "\r\n");
	}
	if (want_length && !has_length && !has_te) {
		(void)snprintf(
		    line, sizeof(line), "Content-Length: %zu\r\n", len);
		sb_str(sb, line);
	}
	sb_str(sb, "\r\n");
	if (inline_body && len > 0) {
		sb_add(sb, body, len);
	}
	return sb->oom ? HTTPC_ENOMEM : HTTPC_OK;
}

int
httpc_request(struct httpc *c, const char *method, const char *path,
    const char *const *headers, const void *body, size_t len,
    struct httpc_resp *resp)
{
	struct sbuf req = { 0 };
	bool inline_body = len <= INLINE_MAX, early = false;
	int64_t deadline;
	int rv, srv;

	if (resp == NULL) {
		return HTTPC_EINVAL;
	}
	memset(resp, 0, sizeof(*resp));
	if (c == NULL) {
		return HTTPC_EINVAL;
	}
	rv = build_request(
	    c, method, path, headers, body, len, inline_body, &req);
	if (rv != 0) {
		goto out;
	}
	deadline = now_ms() + c->timeout_ms;
	if (c->fd < 0 || !c->reusable || c->raw_pending) {
		if ((rv = reconnect(c, deadline)) != 0) {
			goto out;
		}
	}
	c->reusable = false;
	srv =
	    send_all(c, req.p, req.len, deadline, inline_body ? NULL : &early);
	if (srv == 0 && !inline_body && !early) {
		srv = send_all(c, body, len, deadline, &early);
	}
	if (srv == HTTPC_ETIMEOUT) {
		rv = srv;
		goto out;
	}
	/*
	 * A server may answer and close before reading the whole request
	 * (413); read that answer rather than report the broken pipe.
	 */
	rv = read_response(c, strcasecmp(method, "HEAD") == 0, deadline, resp);
	if (rv != 0 && srv != 0) {
		rv = srv;
	}
	if (srv != 0 || early) {
		c->reusable = false;
	}
out:
	free(req.p);
	return rv;
}

int
httpc_once(const char *host, int port, int timeout_ms, const char *method,
    const char *path, const char *const *headers, const void *body, size_t len,
    struct httpc_resp *resp)
{
	struct httpc *c;
	int rv;

	if (resp == NULL) {
		return HTTPC_EINVAL;
	}
	memset(resp, 0, sizeof(*resp));
	if ((c = httpc_connect(host, port, timeout_ms)) == NULL) {
		return connect_err(errno);
	}
	rv = httpc_request(c, method, path, headers, body, len, resp);
	httpc_close(c);
	return rv;
}

int
httpc_send_raw(struct httpc *c, const void *bytes, size_t len)
{
	int64_t deadline;
	int rv;

	if (c == NULL || (bytes == NULL && len > 0)) {
		return HTTPC_EINVAL;
	}
	deadline = now_ms() + c->timeout_ms;
	if (c->fd < 0 || (!c->reusable && !c->raw_pending)) {
		if ((rv = reconnect(c, deadline)) != 0) {
			return rv;
		}
	}
	c->raw_pending = true;
	rv = send_all(c, bytes, len, deadline, NULL);
	if (rv != 0) {
		c->reusable = false;
	}
	return rv;
}

int
httpc_read_response(struct httpc *c, struct httpc_resp *resp)
{
	if (resp == NULL) {
		return HTTPC_EINVAL;
	}
	memset(resp, 0, sizeof(*resp));
	if (c == NULL) {
		return HTTPC_EINVAL;
	}
	return read_response(c, false, now_ms() + c->timeout_ms, resp);
}

const char *
httpc_resp_header(
    const struct httpc_resp *r, const char *name, char *buf, size_t buflen)
{
	const char *p, *end, *n, *v;
	size_t nlen, vlen;

	if (r == NULL || r->head == NULL || name == NULL || buf == NULL ||
	    buflen == 0) {
		return NULL;
	}
	end = r->head + strlen(r->head);
	/* Skip the status line. */
	p = strchr(r->head, '\n');
	p = p != NULL ? p + 1 : end;
	while (header_next(&p, end, &n, &nlen, &v, &vlen)) {
		if (token_eq(n, nlen, name)) {
			if (vlen >= buflen) {
				vlen = buflen - 1;
			}
			memcpy(buf, v, vlen);
			buf[vlen] = '\0';
			return buf;
		}
	}
	return NULL;
}
