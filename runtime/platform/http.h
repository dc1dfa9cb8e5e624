/*
 * http.h - HTTP/1.1 server and client for the node (libevent's evhttp
 * underneath; this and loop.c are the only users of libevent).
 *
 * Threads: loop thread only.
 */
#ifndef LEDGE_PLATFORM_HTTP_H
#define LEDGE_PLATFORM_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ledge.h>

struct loop;
struct http_server;
struct http_req;
struct http_client;

/* --- server -------------------------------------------------------- */

/*
 * A request handler.  It owns `req` from now on and must finish it with
 * exactly one http_req_respond (possibly much later).
 */
typedef void (*http_handler)(void *arg, struct http_req *req);

/*
 * Listen on `addr` ("host:port", port 0 picks a free one).  Requests go
 * to the handler set with http_server_set_handler.  LEDGE_OK; on failure
 * a reason in err and LEDGE_EINVAL (a malformed address), LEDGE_ECONN
 * (cannot listen: in use, or not an address of this machine) or
 * LEDGE_ENOMEM.
 */
int http_server_new(struct loop *l, const char *addr, struct http_server **out,
    char *err, size_t errlen);

/* Close the listener and every connection; requests still held by
 * handlers become dead (answering them is a no-op). */
void http_server_free(struct http_server *s);

void http_server_set_handler(struct http_server *s, http_handler fn, void *arg);

/*
 * Serve one exact path with its own handler, ahead of the general one
 * (e.g. /metrics).  Up to 4 such paths; `path` must outlive the server.
 * LEDGE_OK, or LEDGE_EFULL when 4 are there.
 */
int http_server_add_path(
    struct http_server *s, const char *path, http_handler fn, void *arg);

/* Largest body read before the request is refused with 413. */
void http_server_set_max_body(struct http_server *s, size_t max);

/* The bound port and host (for "listening on" lines). */
int http_server_port(const struct http_server *s);
const char *http_server_host(const struct http_server *s);

/* Stop accepting new connections (keeps serving open ones). */
void http_server_close_listener(struct http_server *s);

/* Request accessors; strings are owned by the request. */
const char *http_req_method(const struct http_req *r);
const char *http_req_path(const struct http_req *r);  /* decoded */
const char *http_req_query(const struct http_req *r); /* raw, "" */
/* Headers into out (up to max); returns how many there are. */
size_t http_req_headers(
    const struct http_req *r, ledge_header *out, size_t max);
const char *http_req_header(const struct http_req *r, const char *name);
size_t http_req_body_len(const struct http_req *r);
/* Copy the body into dst (http_req_body_len bytes). */
void http_req_body_copy(const struct http_req *r, void *dst);
/* False once the client's connection is gone. */
bool http_req_alive(const struct http_req *r);

/*
 * Send the response and free the request.  `content_type` NULL: none.
 * Headers named Content-Length or Transfer-Encoding are ignored.
 */
void http_req_respond(struct http_req *r, int status, const char *content_type,
    const ledge_header *headers, size_t nheaders, const void *body, size_t len);

/*
 * Answer a /metrics request with what a renderer returned: `text` (len
 * bytes, malloc'd, taken and freed here; may be NULL) as Prometheus text
 * with 200 when rv is LEDGE_OK, else 500.  Loop thread.
 */
void http_req_respond_metrics(
    struct http_req *r, int rv, char *text, size_t len);

/* --- client -------------------------------------------------------- */

struct http_client_result {
	int err; /* LEDGE_OK, LEDGE_ECONN, LEDGE_ETIMEDOUT, LEDGE_EINVAL,
	            LEDGE_ETOOBIG */
	int status;
	size_t nheaders;
	const ledge_header *headers; /* valid during the callback */
	const void *body;
	size_t len;
};

typedef void (*http_client_cb)(void *arg, const struct http_client_result *r);

struct http_client *http_client_new(struct loop *l);
void http_client_free(struct http_client *c);

/*
 * Send a request to an http:// URL; `cb` is called exactly once (possibly
 * before this returns, for a URL that cannot be used).  A request is
 * given up after timeout_ms; bodies over max_response bytes fail with
 * LEDGE_ETOOBIG.
 */
void http_client_request(struct http_client *c, const char *method,
    const char *url, const ledge_header *headers, size_t nheaders,
    const void *body, size_t len, uint32_t timeout_ms, size_t max_response,
    http_client_cb cb, void *arg);

#endif
