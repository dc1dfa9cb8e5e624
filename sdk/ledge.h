/*
 * ledge.h - the one header a ledge function includes.
 *
 * A function is a C shared object that exports one descriptor, built with
 * LEDGE_FUNCTION(...).  The host loads it with dlopen(RTLD_NOW|RTLD_LOCAL)
 * and hands it a context whose first member points at a table of host
 * entry points; every ledge_* call below is an inline wrapper over that
 * table, so a function links against nothing of the host (build it with
 * -fvisibility=hidden -Wl,-z,defs; `ledge function build` does).
 *
 * Threads and re-entrancy: the host runs at most one callback of an
 * instance at a time (actor model), on one of its worker threads.  A
 * function needs no locks for its own state.  Different instances may run
 * in parallel, so a function must not keep mutable globals.
 *
 * Ownership: every pointer the host hands in (messages, state values,
 * replies, configuration, HTTP request parts) is borrowed and stays valid
 * until the callback returns.  Everything a function hands out (data to
 * cast, state to put, replies) is copied by the host before the call
 * returns, so stack buffers are fine.
 *
 * Atomicity: the state writes and the events a callback emits become
 * visible together, and only if the callback returns LEDGE_OK.  If it
 * returns anything else they are all dropped (see ledge_state_put).
 */
#ifndef LEDGE_H
#define LEDGE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Magic number at the start of every descriptor ("LEDG"). */
#define LEDGE_MAGIC 0x4c454447u
/** ABI version of this header; the host refuses descriptors of another. */
#define LEDGE_ABI_VERSION 1u
/** Name of the one symbol a function exports. */
#define LEDGE_DESCRIPTOR_SYMBOL "ledge_descriptor"

/*
 * Errors.  One list, fixed values, 0 is success.  Values never change
 * meaning; new ones are appended.  ledge_strerror() gives the text.
 */
#define LEDGE_ERRORS(X)                                                        \
	X(OK, 0, "success")                                                    \
	X(ENOENT, 1, "not found")                                              \
	X(EINVAL, 2, "invalid argument")                                       \
	X(ENOMEM, 3, "out of memory")                                          \
	X(ETIMEDOUT, 4, "timed out")                                           \
	X(EFULL, 5, "mailbox full")                                            \
	X(ECYCLE, 6, "call cycle: the target is waiting on this call")         \
	X(ENOTSUP, 7, "not supported")                                         \
	X(ETOOBIG, 8, "too large")                                             \
	X(ESTORE, 9, "state store error")                                      \
	X(ECLOSED, 10, "target stopped")                                       \
	X(EPROTO, 11, "malformed message")                                     \
	X(EFAIL, 12, "function failed")                                        \
	X(ECONN, 13, "connection failed")                                      \
	X(ENOTHTTP, 14, "event is not an HTTP request")                        \
	X(ESTATE, 15, "wrong state for this operation")                        \
	X(EUNAVAIL, 16, "unavailable: the target's node was declared lost")    \
	X(ENOSPC, 17, "state store full")                                      \
	X(EQUOTA, 18, "state quota of the function exceeded")

/** Error codes returned by every ledge_* call that can fail. */
typedef enum ledge_err {
#define LEDGE__ENUM(name, value, text) LEDGE_##name = value,
	LEDGE_ERRORS(LEDGE__ENUM)
#undef LEDGE__ENUM
} ledge_err;

/**
 * Text for an error code, for logs and messages.
 *
 * @param err  a ledge_err value (any int is accepted).
 * @return a static string; never NULL.
 */
static inline const char *
ledge_strerror(int err)
{
	switch (err) {
#define LEDGE__STR(name, value, text)                                          \
	case value:                                                            \
		return text;
		LEDGE_ERRORS(LEDGE__STR)
#undef LEDGE__STR
	default:
		return "unknown error";
	}
}

/** A borrowed byte range.  data may be NULL when len is 0. */
typedef struct ledge_bytes {
	const void *data;
	size_t len;
} ledge_bytes;

/** One configuration entry; nested YAML keys are joined with '.'. */
typedef struct ledge_kv {
	const char *key;
	const char *value;
} ledge_kv;

/**
 * The `config:` map of this function in its workflow, flattened to
 * strings: `{a: 1, b: {c: x}, d: [p, q]}` gives "a"="1", "b.c"="x",
 * "d.0"="p", "d.1"="q".  Owned by the host, valid for the instance's life.
 */
typedef struct ledge_config {
	size_t count;
	const ledge_kv *items;
} ledge_config;

/** One HTTP header line. */
typedef struct ledge_header {
	const char *name;
	const char *value;
} ledge_header;

/** A request for an http-egress resource (see ledge_http_fetch). */
typedef struct ledge_http_request {
	const char *method; /**< "GET" when NULL */
	const char *url;    /**< absolute http:// URL, or a path that is
	                         appended to the resource's `base_url` */
	const ledge_header *headers;
	size_t nheaders;
	const void *body;
	size_t body_len;
	uint32_t timeout_ms; /**< 0: the resource's default */
} ledge_http_request;

/** A response from an http-egress resource; borrowed until return. */
typedef struct ledge_http_response {
	int status;
	const ledge_header *headers;
	size_t nheaders;
	ledge_bytes body;
} ledge_http_response;

/** Log levels for ledge_log. */
enum ledge_log_level {
	LEDGE_LOG_ERROR = 0,
	LEDGE_LOG_WARN = 1,
	LEDGE_LOG_INFO = 2,
	LEDGE_LOG_DEBUG = 3,
};

typedef struct ledge_ctx ledge_ctx;

/**
 * The host's entry points.  Append-only: a newer host only adds members at
 * the end and sets `size`; wrappers for members added after ABI 1 check
 * `size` and answer LEDGE_ENOTSUP on an older host.  Call through the
 * ledge_* wrappers, not directly.
 */
typedef struct ledge_host_api {
	uint32_t size; /**< sizeof the table the host filled in */
	uint32_t abi;  /**< LEDGE_ABI_VERSION of the host */
	int (*cast)(ledge_ctx *, const char *output, const void *data,
	    size_t len, uint32_t delay_ms);
	int (*call)(ledge_ctx *, const char *output, const void *data,
	    size_t len, uint32_t timeout_ms, ledge_bytes *reply);
	int (*reply)(ledge_ctx *, const void *data, size_t len);
	int (*state_get)(
	    ledge_ctx *, const void *key, size_t klen, ledge_bytes *value);
	int (*state_put)(ledge_ctx *, const void *key, size_t klen,
	    const void *value, size_t vlen);
	int (*state_del)(ledge_ctx *, const void *key, size_t klen);
	const ledge_config *(*config)(ledge_ctx *);
	void (*logv)(ledge_ctx *, int level, const char *fmt, va_list ap);
	const char *(*self)(ledge_ctx *);
	const char *(*http_method)(ledge_ctx *);
	const char *(*http_path)(ledge_ctx *);
	const char *(*http_query)(ledge_ctx *);
	int (*http_query_param)(
	    ledge_ctx *, const char *name, const char **value);
	const char *(*http_header)(ledge_ctx *, const char *name);
	int (*http_set_header)(
	    ledge_ctx *, const char *name, const char *value);
	int (*http_respond)(ledge_ctx *, int status, const char *content_type,
	    const void *body, size_t len);
	int (*http_fetch)(ledge_ctx *, const char *output,
	    const ledge_http_request *req, ledge_http_response *resp);
	/* Added after ABI 1 (check `size`): keyed functions. */
	ledge_bytes (*key)(ledge_ctx *);
	int (*cast_key)(ledge_ctx *, const char *output, const void *key,
	    size_t klen, const void *data, size_t len);
	int (*call_key)(ledge_ctx *, const char *output, const void *key,
	    size_t klen, const void *data, size_t len, uint32_t timeout_ms,
	    ledge_bytes *reply);
} ledge_host_api;

/** True if the host's table has member `m` (a newer host than the one
 *  a function was built for has all of them; an older one may not). */
#define LEDGE_HOST_HAS(ctx, m)                                                 \
	((ctx)->api->size >=                                                   \
	    offsetof(ledge_host_api, m) + sizeof((ctx)->api->m))

/**
 * What a function sees of its context: only the table.  The host's own
 * data follows in memory; a function never copies or keeps a ctx beyond
 * the callback it was given to.
 */
struct ledge_ctx {
	const ledge_host_api *api;
};

/**
 * The descriptor.  Build it with LEDGE_FUNCTION; all callbacks are
 * optional, but at least one of cast and call must be set.  Each callback
 * returns LEDGE_OK on success; any other value fails the event (its state
 * writes and emitted events are dropped, a call gets LEDGE_EFAIL, an HTTP
 * request gets 500).
 */
typedef struct ledge_function {
	uint32_t magic; /**< LEDGE_MAGIC */
	uint32_t abi;   /**< LEDGE_ABI_VERSION the function was built for */
	uint32_t size;  /**< sizeof(ledge_function) at build time */
	const char *name;
	/** Once per instance before any event, and again after a hot reload
	 *  (with the instance's state kept).  A failure stops the instance
	 *  from starting, or keeps it on its old code after a reload. */
	int (*init)(ledge_ctx *ctx, const ledge_config *config);
	/** A one-way event.  `msg` is the payload. */
	int (*cast)(ledge_ctx *ctx, ledge_bytes msg);
	/** A request that expects an answer via ledge_reply (or
	 *  ledge_http_respond for HTTP).  No reply means an empty one. */
	int (*call)(ledge_ctx *ctx, ledge_bytes msg);
	/** When the instance stops (shutdown, workflow removed).  State
	 *  writes made here are committed.  Not called on hot reload. */
	void (*stop)(ledge_ctx *ctx);
} ledge_function;

#if defined(__GNUC__) || defined(__clang__)
#define LEDGE_EXPORT        __attribute__((visibility("default")))
#define LEDGE__PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define LEDGE_EXPORT
#define LEDGE__PRINTF(f, a)
#endif

/**
 * Define the function's descriptor, e.g.
 * `LEDGE_FUNCTION(.name = "counter", .cast = counter_cast);`
 * Use it exactly once per shared object.
 */
#define LEDGE_FUNCTION(...)                                                    \
	LEDGE_EXPORT const ledge_function *ledge_descriptor(void);             \
	LEDGE_EXPORT const ledge_function *ledge_descriptor(void)              \
	{                                                                      \
		static const ledge_function ledge__descriptor = {              \
			.magic = LEDGE_MAGIC,                                  \
			.abi = LEDGE_ABI_VERSION,                              \
			.size = sizeof(ledge_function),                        \
			__VA_ARGS__                                            \
		};                                                             \
		return &ledge__descriptor;                                     \
	}                                                                      \
	typedef int ledge__descriptor_defined

/* ------------------------------------------------------------------ */
/* Events                                                              */

/**
 * Send `data` one way to whatever the workflow wires to `output`.
 *
 * The event leaves only when the current callback returns LEDGE_OK, and is
 * kept durably until its target has handled it.  An output wired to a list
 * of targets sends one copy to each.
 *
 * A busy target does not make the cast fail: the event is queued (it is
 * durable anyway), and this instance is not given more events until the
 * target has caught up - backpressure that reaches the sources (HTTP 503,
 * skipped timer ticks) instead of losing data.
 *
 * @return LEDGE_OK; LEDGE_ENOENT if `output` is not wired; LEDGE_EFULL only
 * if a target is far (16 times its mailbox) behind, as in a cycle of
 * instances feeding each other (nothing is sent to any target then);
 * LEDGE_ETOOBIG if `len` exceeds the host's event limit (16 MiB).
 */
static inline int
ledge_cast(ledge_ctx *ctx, const char *output, const void *data, size_t len)
{
	return ctx->api->cast(ctx, output, data, len, 0);
}

/**
 * Like ledge_cast, but the target receives the event no sooner than
 * `delay_ms` milliseconds after the current callback returns.  Delayed
 * events survive a restart of the node.
 */
static inline int
ledge_delayed_cast(ledge_ctx *ctx, const char *output, const void *data,
    size_t len, uint32_t delay_ms)
{
	return ctx->api->cast(ctx, output, data, len, delay_ms ? delay_ms : 1);
}

/**
 * Call the target wired to `output` and wait for its reply.
 *
 * Blocks this instance (not the node) for at most `timeout_ms`.  The call
 * is delivered at once, not at the end of the callback, and the target's
 * state effects stand even if the caller later fails.  A call to an
 * instance that is itself waiting, directly or through other calls, on
 * this instance fails at once with LEDGE_ECYCLE instead of deadlocking; a
 * call to a busy target waits its turn (other workers keep the node going).
 *
 * A call to a target on another node fails at once with LEDGE_EUNAVAIL
 * when the orchestrator declares that node lost (also one already
 * waiting for its reply): failover is bounded by the domain's node
 * timeout, not by `timeout_ms`.  Such a call may or may not have run
 * there (calls are not durable, and are never re-sent elsewhere); calls
 * made once this node learns the target's new place go there.
 *
 * @param reply  set to the reply; borrowed until the callback returns.
 * @return LEDGE_OK; LEDGE_ENOENT (output not wired), LEDGE_EINVAL (output
 * wired to several targets), LEDGE_ETIMEDOUT, LEDGE_ECYCLE, LEDGE_EFULL,
 * LEDGE_EFAIL (the target returned an error), LEDGE_ECLOSED (stopping),
 * LEDGE_EUNAVAIL (the target's node was declared lost), LEDGE_ECONN (the
 * connection to the target's node broke while the call waited on it).
 */
static inline int
ledge_call(ledge_ctx *ctx, const char *output, const void *data, size_t len,
    uint32_t timeout_ms, ledge_bytes *reply)
{
	return ctx->api->call(ctx, output, data, len, timeout_ms, reply);
}

/* ------------------------------------------------------------------ */
/* Keys: one instance per key (`keyed:` in the workflow)                */

/** Longest key of a keyed function, in bytes (keys are 1..256 bytes). */
#define LEDGE_KEY_MAX 256

/**
 * The key of the instance being run: the bytes it was addressed by (an
 * HTTP path, header or query parameter, or the key a sender named).
 * Empty (len 0) in a function that is not keyed, and on a host too old to
 * know keys.  Borrowed until the callback returns.
 */
static inline ledge_bytes
ledge_key(ledge_ctx *ctx)
{
	ledge_bytes none = { NULL, 0 };
	return LEDGE_HOST_HAS(ctx, key) ? ctx->api->key(ctx) : none;
}

/**
 * ledge_cast to the instance of key `key` (1..LEDGE_KEY_MAX bytes) of the
 * keyed function(s) wired to `output`.  A plain ledge_cast from a keyed
 * instance to a keyed target keeps the sender's own key; from a function
 * that is not keyed it fails with LEDGE_EINVAL, since the target would
 * not know which instance is meant.  Targets that are not keyed ignore
 * the key.
 *
 * @return as ledge_cast; LEDGE_EINVAL for a key of 0 or more than
 * LEDGE_KEY_MAX bytes; LEDGE_ENOTSUP on a host too old to know keys.
 */
static inline int
ledge_cast_key(ledge_ctx *ctx, const char *output, const void *key, size_t klen,
    const void *data, size_t len)
{
	return LEDGE_HOST_HAS(ctx, cast_key)
	    ? ctx->api->cast_key(ctx, output, key, klen, data, len)
	    : LEDGE_ENOTSUP;
}

/**
 * ledge_call to the instance of key `key` of the keyed function wired to
 * `output`; otherwise as ledge_call (and as ledge_cast_key about keys).
 */
static inline int
ledge_call_key(ledge_ctx *ctx, const char *output, const void *key, size_t klen,
    const void *data, size_t len, uint32_t timeout_ms, ledge_bytes *reply)
{
	return LEDGE_HOST_HAS(ctx, call_key)
	    ? ctx->api->call_key(
	          ctx, output, key, klen, data, len, timeout_ms, reply)
	    : LEDGE_ENOTSUP;
}

/**
 * Answer the call being handled.  The last reply wins.  In a cast this
 * returns LEDGE_ESTATE.  For an http-ingress call the reply becomes a 200
 * response with content type "text/plain; charset=utf-8" unless
 * ledge_http_set_header or ledge_http_respond say otherwise.
 */
static inline int
ledge_reply(ledge_ctx *ctx, const void *data, size_t len)
{
	return ctx->api->reply(ctx, data, len);
}

/* ------------------------------------------------------------------ */
/* State: a private key-value space per instance, kept in LMDB          */

/** Longest key accepted by the state calls, in bytes. */
#define LEDGE_STATE_MAX_KEY 500

/**
 * Read a value.  Sees this callback's own uncommitted writes.
 *
 * @param value  set to the value; borrowed until the callback returns.
 * @return LEDGE_OK; LEDGE_ENOENT if absent; LEDGE_ETOOBIG (key too long);
 * LEDGE_ESTORE.
 */
static inline int
ledge_state_get_raw(
    ledge_ctx *ctx, const void *key, size_t klen, ledge_bytes *value)
{
	return ctx->api->state_get(ctx, key, klen, value);
}

/** ledge_state_get_raw with a NUL-terminated key. */
static inline int
ledge_state_get(ledge_ctx *ctx, const char *key, ledge_bytes *value)
{
	return ctx->api->state_get(ctx, key, strlen(key), value);
}

/**
 * Write a value.  Committed, together with the events this callback
 * emits, only if the callback returns LEDGE_OK.
 *
 * A write that grows the function's state is refused when the node's
 * store is full (LEDGE_ENOSPC) or the function's `limits: {state_mb}`
 * would be exceeded (LEDGE_EQUOTA); overwriting with no more bytes and
 * ledge_state_del always work, so a function can free space.  A callback
 * that returns the error fails its event as usual; for LEDGE_ENOSPC a
 * durable input event is kept for a retry when the node next starts
 * (README, "A full store"), and an http-ingress caller gets 507.
 *
 * @return LEDGE_OK; LEDGE_EINVAL (empty key); LEDGE_ETOOBIG (key over
 * LEDGE_STATE_MAX_KEY or value over 16 MiB); LEDGE_ENOSPC; LEDGE_EQUOTA;
 * LEDGE_ENOMEM.
 */
static inline int
ledge_state_put_raw(ledge_ctx *ctx, const void *key, size_t klen,
    const void *value, size_t vlen)
{
	return ctx->api->state_put(ctx, key, klen, value, vlen);
}

/** ledge_state_put_raw with a NUL-terminated key. */
static inline int
ledge_state_put(ledge_ctx *ctx, const char *key, const void *value, size_t vlen)
{
	return ctx->api->state_put(ctx, key, strlen(key), value, vlen);
}

/** Delete a key (LEDGE_OK even if it was absent); atomic as put. */
static inline int
ledge_state_del(ledge_ctx *ctx, const char *key)
{
	return ctx->api->state_del(ctx, key, strlen(key));
}

/**
 * Read a uint64_t stored with ledge_state_put_u64.
 * @return the value, or `dflt` if the key is absent or not 8 bytes.
 */
static inline uint64_t
ledge_state_get_u64(ledge_ctx *ctx, const char *key, uint64_t dflt)
{
	ledge_bytes v;
	uint64_t n;
	if (ledge_state_get(ctx, key, &v) != LEDGE_OK || v.len != sizeof n) {
		return dflt;
	}
	memcpy(&n, v.data, sizeof n);
	return n;
}

/** Store a uint64_t (host byte order) under `key`. */
static inline int
ledge_state_put_u64(ledge_ctx *ctx, const char *key, uint64_t n)
{
	return ledge_state_put(ctx, key, &n, sizeof n);
}

/* ------------------------------------------------------------------ */
/* Configuration, identity, logs                                        */

/** The instance's configuration (the same one init received). */
static inline const ledge_config *
ledge_config_all(ledge_ctx *ctx)
{
	return ctx->api->config(ctx);
}

/** A configuration value as a string, or `dflt` if absent. */
static inline const char *
ledge_config_str(ledge_ctx *ctx, const char *key, const char *dflt)
{
	const ledge_config *c = ctx->api->config(ctx);
	size_t i;
	for (i = 0; c != NULL && i < c->count; i++) {
		if (strcmp(c->items[i].key, key) == 0) {
			return c->items[i].value;
		}
	}
	return dflt;
}

/** A configuration value as an integer, or `dflt` if absent or not one. */
static inline long long
ledge_config_int(ledge_ctx *ctx, const char *key, long long dflt)
{
	const char *s = ledge_config_str(ctx, key, NULL);
	char *end;
	long long v;
	if (s == NULL || *s == '\0') {
		return dflt;
	}
	v = strtoll(s, &end, 0);
	return *end == '\0' ? v : dflt;
}

/** A configuration value as a double, or `dflt` if absent or not one. */
static inline double
ledge_config_double(ledge_ctx *ctx, const char *key, double dflt)
{
	const char *s = ledge_config_str(ctx, key, NULL);
	char *end;
	double v;
	if (s == NULL || *s == '\0') {
		return dflt;
	}
	v = strtod(s, &end);
	return *end == '\0' ? v : dflt;
}

/** A configuration value as a boolean (true/false, yes/no, on/off, 1/0). */
static inline int
ledge_config_bool(ledge_ctx *ctx, const char *key, int dflt)
{
	const char *s = ledge_config_str(ctx, key, NULL);
	if (s == NULL) {
		return dflt;
	}
	if (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on") ||
	    !strcmp(s, "1")) {
		return 1;
	}
	if (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off") ||
	    !strcmp(s, "0")) {
		return 0;
	}
	return dflt;
}

/** This instance's name, "workflow/function"; valid for its life. */
static inline const char *
ledge_self(ledge_ctx *ctx)
{
	return ctx->api->self(ctx);
}

/**
 * Log a line tagged with the workflow, the function and the level.
 * Lines longer than 4 KiB are cut.
 */
static inline void LEDGE__PRINTF(3, 4)
    ledge_log(ledge_ctx *ctx, int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ctx->api->logv(ctx, level, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------------ */
/* HTTP: reading a request from http-ingress, answering it, and calling */
/* out through http-egress.  In an HTTP event the message is the body.  */

/** The request method ("GET", ...), or NULL if the event is not HTTP. */
static inline const char *
ledge_http_method(ledge_ctx *ctx)
{
	return ctx->api->http_method(ctx);
}

/** The decoded request path ("/counter"), or NULL if not HTTP. */
static inline const char *
ledge_http_path(ledge_ctx *ctx)
{
	return ctx->api->http_path(ctx);
}

/** The raw query string without '?' ("" if none), or NULL if not HTTP. */
static inline const char *
ledge_http_query(ledge_ctx *ctx)
{
	return ctx->api->http_query(ctx);
}

/**
 * One decoded query parameter (the first of that name).
 * @return LEDGE_OK; LEDGE_ENOENT; LEDGE_ENOTHTTP.
 */
static inline int
ledge_http_query_param(ledge_ctx *ctx, const char *name, const char **value)
{
	return ctx->api->http_query_param(ctx, name, value);
}

/** A request header, matched without regard to case, or NULL. */
static inline const char *
ledge_http_header(ledge_ctx *ctx, const char *name)
{
	return ctx->api->http_header(ctx, name);
}

/**
 * Add a header to the response of the call being handled.
 * @return LEDGE_OK; LEDGE_EINVAL (CR or LF in name or value); LEDGE_ESTATE
 * (not a call).
 */
static inline int
ledge_http_set_header(ledge_ctx *ctx, const char *name, const char *value)
{
	return ctx->api->http_set_header(ctx, name, value);
}

/**
 * Answer an HTTP call: status, content type (NULL for the default) and
 * body.  Replaces an earlier reply.
 * @return LEDGE_OK; LEDGE_EINVAL (status outside 100..599); LEDGE_ESTATE.
 */
static inline int
ledge_http_respond(ledge_ctx *ctx, int status, const char *content_type,
    const void *body, size_t len)
{
	return ctx->api->http_respond(ctx, status, content_type, body, len);
}

/**
 * Send an HTTP request through the http-egress resource wired to `output`
 * and wait for the response (a call: see ledge_call for blocking rules).
 *
 * @param resp  filled in on LEDGE_OK (any HTTP status); borrowed until the
 * callback returns.
 * @return LEDGE_OK; LEDGE_ENOENT (not wired); LEDGE_EINVAL (bad URL or
 * target is not an http-egress); LEDGE_ETIMEDOUT; LEDGE_ECONN (connection
 * refused, reset, or name not resolved).
 */
static inline int
ledge_http_fetch(ledge_ctx *ctx, const char *output,
    const ledge_http_request *req, ledge_http_response *resp)
{
	return ctx->api->http_fetch(ctx, output, req, resp);
}

#ifdef __cplusplus
}
#endif

#endif /* LEDGE_H */
