/*
 * httpc.h - a small blocking HTTP/1.1 client for tests.
 *
 * Plain POSIX TCP sockets, no TLS, no redirects, no proxies: enough to drive
 * a real server on loopback and to say precisely what came back.  One
 * struct httpc is one keep-alive connection.  Every wait is bounded by the
 * connection's timeout, so a test never hangs on a silent server.
 *
 * Threads: all functions are thread-safe in the sense that they share no
 * state; a struct httpc belongs to one thread at a time (use one connection
 * object per thread).  Requests send with MSG_NOSIGNAL, so a peer that
 * closes early never raises SIGPIPE.
 */
#ifndef LEDGE_TEST_HTTPC_H
#define LEDGE_TEST_HTTPC_H

#include <stddef.h>

/* Return codes of the request functions; fixed values, 0 is success. */
enum httpc_err {
	HTTPC_OK = 0,
	HTTPC_ECONNECT = 1, /* connection refused, unreachable, bad name */
	HTTPC_ETIMEOUT = 2, /* the timeout passed before a full response */
	HTTPC_ECLOSED = 3,  /* the peer closed before a full response */
	HTTPC_EPROTO = 4,   /* the response could not be parsed */
	HTTPC_ENOMEM = 5,   /* an allocation failed */
	HTTPC_EINVAL = 6,   /* bad arguments (NULL path, CR/LF in a header) */
};

/* Timeout used when a caller passes timeout_ms <= 0. */
#define HTTPC_DEFAULT_TIMEOUT_MS 10000

/*
 * A response.  Filled by httpc_request(), httpc_once() and
 * httpc_read_response(); release with httpc_resp_free().  On any error the
 * struct is left zeroed, so freeing it is always safe.
 */
struct httpc_resp {
	int status; /* 100..999 from the status line */
	/*
	 * The raw header block, owned: the status line and every header
	 * line, each ending in "\r\n", without the blank line that ends the
	 * block; NUL-terminated.
	 */
	char *head;
	/*
	 * The body, owned, decoded from chunked transfer coding if it was
	 * chunked; followed by an extra NUL byte that body_len does not
	 * count, so text bodies can be used as strings.  Never NULL on
	 * success, "" when there is no body.
	 */
	char *body;
	size_t body_len;
};

struct httpc;

/*
 * Open a connection to host:port.  `host` is a name or numeric address
 * ("127.0.0.1", "::1", "localhost"); the first address that accepts wins.
 * `timeout_ms` bounds the connect and becomes the per-request timeout of
 * every later call on this connection (<= 0: HTTPC_DEFAULT_TIMEOUT_MS).
 *
 * Returns the connection, owned by the caller until httpc_close(), or NULL
 * with errno set: ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH (also for a name
 * that does not resolve), EINVAL (NULL host or a port outside 1..65535),
 * ENOMEM, or another errno of socket(2)/connect(2).
 */
struct httpc *httpc_connect(const char *host, int port, int timeout_ms);

/*
 * Change the per-request timeout of `c` (<= 0: HTTPC_DEFAULT_TIMEOUT_MS).
 * It applies from the next call on.
 */
void httpc_set_timeout(struct httpc *c, int timeout_ms);

/*
 * How many TCP connections `c` has opened so far, counting the first one.
 * Stays 1 as long as every request reused the keep-alive connection.
 */
unsigned httpc_connections(const struct httpc *c);

/*
 * Send one request on `c` and read its response into `resp`.
 *
 * `method` ("GET", "HEAD", ...) and `path` (the request target, "/x?y=1")
 * are sent as given.  `headers` is a NULL-terminated array of complete
 * "Name: value" lines without CR/LF, or NULL.  The client always sends
 * Host (host:port as connected) and, when `body` is not NULL, `len` is not
 * 0 or the method is POST, PUT or PATCH, Content-Length: `len`; a Host or
 * Content-Length in `headers` replaces the default one, and with a
 * Transfer-Encoding in `headers` no Content-Length is added (the caller
 * then frames `body` itself).  `body` (may be NULL when `len` is 0) is
 * sent verbatim; it is only read during the call.
 *
 * The connection is kept alive.  A new one is opened first, transparently,
 * when the previous response ended it (Connection: close, HTTP/1.0, a body
 * delimited by close) or when a previous call failed; a connection that
 * the server closed while idle is not detected in advance and gives
 * HTTPC_ECLOSED once (the next call reconnects).  If the server answers
 * before the whole body is sent (e.g. 413 and close), the rest of the body
 * is not sent, the early response is returned and the connection is not
 * reused.  Interim 1xx responses are skipped.  Responses to HEAD, 1xx, 204
 * and 304 have no body; otherwise chunked transfer coding, Content-Length
 * or the end of the connection delimits it.
 *
 * The whole exchange, including a reconnect, must finish within the
 * connection's timeout.
 *
 * Returns 0 with `resp` filled (the caller owns it and must call
 * httpc_resp_free()), or HTTPC_ECONNECT, HTTPC_ETIMEOUT, HTTPC_ECLOSED,
 * HTTPC_EPROTO, HTTPC_ENOMEM, HTTPC_EINVAL with `resp` zeroed.  An HTTP
 * error status (404, 503) is a successful exchange: 0 and resp->status.
 */
int httpc_request(struct httpc *c, const char *method, const char *path,
    const char *const *headers, const void *body, size_t len,
    struct httpc_resp *resp);

/*
 * Connect, send one request, read the response and close: httpc_connect()
 * followed by httpc_request() and httpc_close() with the same arguments and
 * return values.  A failed connect returns HTTPC_ECONNECT, HTTPC_ETIMEOUT,
 * HTTPC_ENOMEM or HTTPC_EINVAL.  Thread-safe.
 */
int httpc_once(const char *host, int port, int timeout_ms, const char *method,
    const char *path, const char *const *headers, const void *body, size_t len,
    struct httpc_resp *resp);

/*
 * Write `len` arbitrary bytes to the connection, for tests of malformed or
 * oversized requests (a Content-Length larger than the bytes sent, a
 * request split in pieces).  Nothing is added or checked.  Follow with
 * httpc_read_response() to read what the server answers.
 *
 * A new connection is opened first only if there is none or the last
 * exchange left it unusable; after raw bytes, further httpc_send_raw() and
 * httpc_read_response() calls stay on the same connection even when a read
 * timed out, so a test can send a request in several pieces.  The next
 * httpc_request() after raw bytes always starts a new connection.
 *
 * Returns 0 when all bytes were handed to the kernel, HTTPC_ECLOSED if the
 * peer had closed or reset the connection (what it sent before is still
 * readable with httpc_read_response()), HTTPC_ETIMEOUT, HTTPC_ECONNECT if a
 * needed reconnect failed, HTTPC_EINVAL.
 */
int httpc_send_raw(struct httpc *c, const void *bytes, size_t len);

/*
 * Read one response from the connection, as httpc_request() does after
 * sending; the response is taken to answer a request other than HEAD.
 * Bytes already received stay buffered if the read fails, so after
 * HTTPC_ETIMEOUT a later call can still read the complete response.
 *
 * Returns 0 with `resp` filled (caller owns it), or HTTPC_ETIMEOUT,
 * HTTPC_ECLOSED (also when there is no connection), HTTPC_EPROTO,
 * HTTPC_ENOMEM, HTTPC_EINVAL with `resp` zeroed.
 */
int httpc_read_response(struct httpc *c, struct httpc_resp *resp);

/*
 * The value of the first header called `name` (case-insensitive) in `r`,
 * without surrounding blanks, copied into `buf` of `buflen` bytes,
 * truncated if it does not fit and always NUL-terminated.  Returns `buf`,
 * or NULL if the header is absent, `r` has no head or `buflen` is 0.
 * Reads `r` only; safe from any thread while `r` is not being freed.
 */
const char *httpc_resp_header(
    const struct httpc_resp *r, const char *name, char *buf, size_t buflen);

/* Free the head and body of `r` and zero it.  `r` may be NULL or zeroed. */
void httpc_resp_free(struct httpc_resp *r);

/* Close the connection and free `c`.  `c` may be NULL. */
void httpc_close(struct httpc *c);

/* A constant English description of an httpc_err value; never NULL. */
const char *httpc_strerror(int err);

#endif
