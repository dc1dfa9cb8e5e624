/*
 * msg.h - messages between processes: request/reply, and pair channels
 * between the processes of one machine, over nng (msg_nng.c is the only
 * file that includes nng).  One address is one listener: nothing listens
 * on an address derived from another.
 *
 * Addresses are URLs: tcp://host:port, ipc:///path, inproc://name, and
 * tls+tcp://host:port with struct msg_tls for mutual authentication (a
 * peer without a certificate signed by the CA cannot connect).
 *
 * A server answers requests on one address; each request is handed to
 * the handler on the loop thread, which answers it (now or later) with
 * msg_reply.  A client sends requests to one address (reconnecting by
 * itself) and gets each reply, or an error, in a callback on the loop
 * thread; msg_call_sync does the same for a program without a loop (the
 * CLI).  Several requests may be in flight on one client.
 *
 * Errors are LEDGE_* codes (sdk/ledge.h): functions that set something up
 * return LEDGE_OK, or LEDGE_ENOMEM, LEDGE_EINVAL (a malformed or
 * unsupported address, unusable TLS certificates), LEDGE_ENOENT (a
 * certificate file cannot be read), LEDGE_ENOTSUP (a transport nng was
 * built without), LEDGE_EPROTO (TLS setup) or LEDGE_ECONN (cannot listen
 * or dial: in use, refused, unreachable), with a reason in `err`.
 *
 * Threads: functions taking a loop are for the loop thread, except
 * msg_call (any thread).  Callbacks run on the loop thread.
 */
#ifndef LEDGE_NET_MSG_H
#define LEDGE_NET_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ledge.h>

struct loop;
struct msg_server;
struct msg_req;
struct msg_client;

/* Certificates for tls+tcp:// (PEM files).  All three are needed. */
struct msg_tls {
	const char *cert;
	const char *key;
	const char *ca;
};

/* Largest message accepted (bigger ones are dropped by the transport). */
#define MSG_MAX_BYTES (64u << 20)

/* --- server -------------------------------------------------------- */

typedef void (*msg_handler)(void *arg, struct msg_req *req);

/*
 * Listen on `url` and hand each request to `fn` on the loop thread.  tls
 * may be NULL (then tls+tcp:// is refused).  Returns LEDGE_OK, or an
 * error above with a reason in err.
 */
int msg_server_new(struct loop *l, const char *url, const struct msg_tls *tls,
    msg_handler fn, void *arg, struct msg_server **out, char *err,
    size_t errlen);

/* Stop listening; requests not yet answered are dropped (the client sees
 * a timeout).  Loop thread. */
void msg_server_free(struct msg_server *s);

/*
 * Who sent the request: MSG_ROLE_* (net/msg_token.h) of the token that
 * came with it - 0 when it had none or an invalid one - on a server
 * that checks roles; MSG_ROLE_ANY on one that does not.  A server checks
 * roles when ca.sign.pub (the domain's key) is beside its tls->ca file;
 * a client sends the token NAME.token beside its tls->cert NAME.crt.
 */
unsigned msg_req_role(const struct msg_req *r);

/* The name in that token ("" if none). */
const char *msg_req_who(const struct msg_req *r);

/* Whether s checks roles (it knows the domain's key). */
bool msg_server_checks_roles(const struct msg_server *s);

/* The request's bytes (valid until msg_reply). */
const void *msg_req_data(const struct msg_req *r, size_t *len);

/* Answer a request and free it.  Loop thread. */
void msg_reply(struct msg_req *r, const void *data, size_t len);

/* --- client -------------------------------------------------------- */

/* Errors given to reply callbacks (0 = a reply arrived): the LEDGE_*
 * codes of the same meaning, under names that say what they mean here. */
enum msg_err {
	MSG_OK = LEDGE_OK,
	MSG_ETIMEDOUT = LEDGE_ETIMEDOUT, /* no reply in time (or peer down) */
	MSG_ECLOSED = LEDGE_ECLOSED,     /* the client was freed */
	MSG_ENOMEM = LEDGE_ENOMEM,
	MSG_EPROTO = LEDGE_EPROTO, /* bad URL, or a TLS/transport setup error */
};

typedef void (*msg_reply_cb)(void *arg, int err, const void *data, size_t len);

/*
 * A client for `url`.  It dials in the background and keeps reconnecting
 * (backing off from 50 ms to MSG_REDIAL_MAX_MS between tries, so it is
 * connected again at most that long after its server is back); requests
 * wait (up to their timeout) for a connection.  LEDGE_OK, or an error
 * above with a reason in err.
 */
#define MSG_REDIAL_MAX_MS 1000
int msg_client_new(struct loop *l, const char *url, const struct msg_tls *tls,
    struct msg_client **out, char *err, size_t errlen);

/* Free; outstanding requests complete with MSG_ECLOSED.  Loop thread. */
void msg_client_free(struct msg_client *c);

/*
 * Send a request; `cb` runs exactly once on the loop thread with the reply
 * (data valid during the call) or an error.  cb may be NULL: the reply
 * is not waited for (dropped when it comes).  Any thread.
 */
void msg_call(struct msg_client *c, const void *data, size_t len,
    uint32_t timeout_ms, msg_reply_cb cb, void *arg);

/* The URL a client talks to. */
const char *msg_client_url(const struct msg_client *c);

/*
 * One request without a loop (for the CLI): dial, send, wait for the
 * reply.  On MSG_OK *reply is malloc'd (caller frees).  Otherwise one of
 * the MSG_* codes of enum msg_err, and err gets a reason.
 */
int msg_call_sync(const char *url, const struct msg_tls *tls, const void *data,
    size_t len, uint32_t timeout_ms, void **reply, size_t *rlen, char *err,
    size_t errlen);

/* --- channel ------------------------------------------------------ */

/*
 * A channel between two processes of one machine (nng pair0, for
 * ipc:// addresses): one side listens, the other dials; messages go both
 * ways, in order.  Blocking calls, for a thread that may wait (a worker
 * supervising a function host, the host itself); no loop.
 *
 * Errors: msg_chan_listen/dial: LEDGE_OK, or an error above with the
 * reason in err; msg_chan_send: LEDGE_OK, LEDGE_ETIMEDOUT (the peer did
 * not take it within 5 s), LEDGE_ECLOSED or another code (the peer is
 * gone); msg_chan_recv: LEDGE_OK with a malloc'd message the caller
 * frees, LEDGE_ETIMEDOUT when nothing came within timeout_ms, LEDGE_ECLOSED
 * on a closed or broken channel, LEDGE_ENOMEM.
 * Threads: one thread at a time per channel.
 */
struct msg_chan;
int msg_chan_listen(
    const char *url, struct msg_chan **out, char *err, size_t errlen);
int msg_chan_dial(
    const char *url, struct msg_chan **out, char *err, size_t errlen);
int msg_chan_send(struct msg_chan *c, const void *data, size_t len);
int msg_chan_recv(struct msg_chan *c, int timeout_ms, void **data, size_t *len);
void msg_chan_free(struct msg_chan *c);

/*
 * At the end of a process, after every socket above is freed: wait for
 * the transport's background clean-up of closed sockets to finish and
 * release its global resources (so that leak checkers see nothing).  No
 * msg_* call may follow, and nothing else in the process may use nng
 * (Criterion does, in test programs: not there).
 */
void msg_fini(void);

#endif
