/*
 * msg_nng.c - msg.h on nng (req/rep with contexts, pair channels, TLS).
 * The only file that includes nng.
 *
 * nng completes asynchronous operations on its own threads; every
 * callback here only moves the result to the loop thread (loop_post).
 * Objects that posted work may outlive their owner's free, so servers
 * and clients are reference counted: each posted item holds a
 * reference, and the object goes when the last one is dropped.
 */
#include <errno.h>
#include <nng/nng.h>
#include <nng/protocol/pair0/pair.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ledge.h>

#include "base/sign.h"
#include "net/msg.h"
#include "net/msg_token.h"
#include "platform/loop.h"

/* Requests a server handles at once. */
#define SERVER_CTXS 16

static bool
is_tls(const char *url)
{
	return strncmp(url, "tls+tcp://", 10) == 0;
}

/*
 * The LEDGE_* code for an nng error while setting up a socket, a
 * listener or a dialer, or sending on a channel.
 */
static int
from_nng(int rv)
{
	switch (rv) {
	case 0:
		return LEDGE_OK;
	case NNG_ENOMEM:
	case NNG_ENOFILES:
	case NNG_ENOSPC:
		return LEDGE_ENOMEM;
	case NNG_EINVAL:
	case NNG_EADDRINVAL:
	case NNG_ENOENT:
		return LEDGE_EINVAL;
	case NNG_ENOTSUP:
		return LEDGE_ENOTSUP;
	case NNG_ETIMEDOUT:
		return LEDGE_ETIMEDOUT;
	case NNG_ECLOSED:
	case NNG_ECANCELED:
		return LEDGE_ECLOSED;
	case NNG_EMSGSIZE:
		return LEDGE_ETOOBIG;
	case NNG_ECRYPTO:
	case NNG_EPEERAUTH:
	case NNG_EPROTO:
		return LEDGE_EPROTO;
	default:
		return LEDGE_ECONN; /* in use, refused, unreachable, ... */
	}
}

/* A PEM file's text, NUL-terminated (malloc'd), or NULL with a reason. */
static char *
read_pem(const char *path, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;
	if (fp == NULL) {
		snprintf(
		    err, errlen, "cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	do {
		if (cap - len < 4096) {
			char *grown;
			cap = cap ? cap * 2 : 8192;
			if (cap > (1u << 20) ||
			    (grown = realloc(buf, cap)) == NULL) {
				snprintf(err, errlen,
				    "%s: too big for a PEM file", path);
				free(buf);
				fclose(fp);
				return NULL;
			}
			buf = grown;
		}
		n = fread(buf + len, 1, cap - len - 1, fp);
		len += n;
	} while (n > 0);
	fclose(fp);
	buf[len] = '\0';
	return buf;
}

static int
tls_config(const struct msg_tls *tls, bool server, nng_tls_config **out,
    char *err, size_t errlen)
{
	nng_tls_config *cfg;
	int rv;

	if (tls == NULL || !tls->cert || !tls->key || !tls->ca) {
		snprintf(err, errlen,
		    "tls+tcp:// needs --tls-cert, --tls-key and --tls-ca");
		return LEDGE_EINVAL;
	}
	if ((rv = nng_tls_config_alloc(&cfg,
	         server ? NNG_TLS_MODE_SERVER : NNG_TLS_MODE_CLIENT)) != 0) {
		snprintf(err, errlen, "TLS: %s", nng_strerror(rv));
		return from_nng(rv);
	}
	/* Certificate and key may be separate files (nng's *_file call
	 * wants one file with both): read each, hand over the PEM text. */
	char *cert = read_pem(tls->cert, err, errlen);
	char *key = cert ? read_pem(tls->key, err, errlen) : NULL;
	if (cert == NULL || key == NULL) {
		free(cert);
		nng_tls_config_free(cfg);
		return LEDGE_ENOENT;
	}
	rv = nng_tls_config_own_cert(cfg, cert, key, NULL);
	free(cert);
	free(key);
	if (rv != 0) {
		snprintf(err, errlen, "TLS certificate %s / key %s: %s",
		    tls->cert, tls->key, nng_strerror(rv));
		nng_tls_config_free(cfg);
		return LEDGE_EINVAL;
	}
	if ((rv = nng_tls_config_ca_file(cfg, tls->ca)) != 0) {
		snprintf(
		    err, errlen, "TLS CA %s: %s", tls->ca, nng_strerror(rv));
		nng_tls_config_free(cfg);
		return LEDGE_EINVAL;
	}
	/* Both sides must prove they belong to the domain. */
	if ((rv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED)) !=
	    0) {
		snprintf(err, errlen, "TLS: %s", nng_strerror(rv));
		nng_tls_config_free(cfg);
		return from_nng(rv);
	}
	*out = cfg;
	return LEDGE_OK;
}

static int
listen_on(nng_socket sock, const char *url, const struct msg_tls *tls,
    char *err, size_t errlen)
{
	nng_listener l;
	nng_tls_config *cfg = NULL;
	int rv;

	if ((rv = nng_listener_create(&l, sock, url)) != 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", url,
		    nng_strerror(rv));
		return from_nng(rv);
	}
	if (is_tls(url)) {
		if ((rv = tls_config(tls, true, &cfg, err, errlen)) != 0) {
			nng_listener_close(l);
			return rv;
		}
		rv = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, cfg);
		nng_tls_config_free(cfg); /* the listener holds a reference */
		if (rv != 0) {
			snprintf(err, errlen, "TLS on %s: %s", url,
			    nng_strerror(rv));
			nng_listener_close(l);
			return from_nng(rv);
		}
	}
	nng_socket_set_size(sock, NNG_OPT_RECVMAXSZ, MSG_MAX_BYTES);
	if ((rv = nng_listener_start(l, 0)) != 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", url,
		    nng_strerror(rv));
		nng_listener_close(l);
		return from_nng(rv);
	}
	return LEDGE_OK;
}

/* Dial in the background (retrying) so that a peer may start later. */
static int
dial_to(nng_socket sock, const char *url, const struct msg_tls *tls, char *err,
    size_t errlen)
{
	nng_dialer d;
	nng_tls_config *cfg = NULL;
	int rv;

	if ((rv = nng_dialer_create(&d, sock, url)) != 0) {
		snprintf(
		    err, errlen, "bad address %s: %s", url, nng_strerror(rv));
		return from_nng(rv);
	}
	if (is_tls(url)) {
		if ((rv = tls_config(tls, false, &cfg, err, errlen)) != 0) {
			nng_dialer_close(d);
			return rv;
		}
		rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg);
		nng_tls_config_free(cfg);
		if (rv != 0) {
			snprintf(err, errlen, "TLS to %s: %s", url,
			    nng_strerror(rv));
			nng_dialer_close(d);
			return from_nng(rv);
		}
	}
	nng_dialer_set_ms(d, NNG_OPT_RECONNMINT, 50);
	nng_dialer_set_ms(d, NNG_OPT_RECONNMAXT, MSG_REDIAL_MAX_MS);
	nng_socket_set_size(sock, NNG_OPT_RECVMAXSZ, MSG_MAX_BYTES);
	if ((rv = nng_dialer_start(d, NNG_FLAG_NONBLOCK)) != 0) {
		snprintf(
		    err, errlen, "cannot dial %s: %s", url, nng_strerror(rv));
		nng_dialer_close(d);
		return from_nng(rv);
	}
	return LEDGE_OK;
}

/* ------------------------------------------------------------------ */
/* who is asking: role tokens (msg_token.h)                           */

/*
 * Every request carries a trailer: the sender's token (maybe empty),
 * its length (2 bytes, big-endian) and TRAILER_MAGIC.  Only the
 * transport sees it; handlers get the request without it.
 */
#define TRAILER_MAGIC "LTK1"
#define TRAILER_LEN   6

/* Where a process's token and its domain's key are: NAME.token beside
 * NAME.crt, ca.sign.pub beside the CA file. */
static void
auth_paths(const struct msg_tls *tls, char *tok, char *key, size_t n)
{
	const char *slash;
	size_t cl;
	tok[0] = key[0] = '\0';
	if (tls == NULL || tls->cert == NULL || tls->ca == NULL) {
		return;
	}
	cl = strlen(tls->cert);
	if (cl > 4 && strcmp(tls->cert + cl - 4, ".crt") == 0) {
		cl -= 4;
	}
	snprintf(tok, n, "%.*s.token", (int)cl, tls->cert);
	slash = strrchr(tls->ca, '/');
	snprintf(key, n, "%.*s%sca.sign.pub",
	    slash ? (int)(slash - tls->ca) : 0, tls->ca, slash ? "/" : "");
}

/* The process's own token (malloc'd text, NULL if it has none). */
static char *
own_token(const struct msg_tls *tls, size_t *len)
{
	char tok[4200], key[4200];
	char *text;
	size_t n = 0;
	FILE *fp;

	*len = 0;
	auth_paths(tls, tok, key, sizeof tok);
	if (tok[0] == '\0' || (fp = fopen(tok, "re")) == NULL) {
		return NULL;
	}
	if ((text = malloc(MSG_TOKEN_MAX + 1)) != NULL) {
		n = fread(text, 1, MSG_TOKEN_MAX + 1, fp);
		if (n == 0 || n > MSG_TOKEN_MAX) {
			free(text);
			text = NULL;
			n = 0;
		}
	}
	fclose(fp);
	*len = n;
	return text;
}

/* Append the trailer with token tok[0..n) to m.  0, or -1. */
static int
add_trailer(nng_msg *m, const char *tok, size_t n)
{
	unsigned char len[2] = { (unsigned char)(n >> 8), (unsigned char)n };
	return (n > 0 && nng_msg_append(m, tok, n) != 0) ||
	        nng_msg_append(m, len, 2) != 0 ||
	        nng_msg_append(m, TRAILER_MAGIC, 4) != 0
	    ? -1
	    : 0;
}

/* Take the trailer off m: the token (inside m's buffer until the next
 * change of m) and its length, or NULL if m has no trailer. */
static const char *
take_trailer(nng_msg *m, size_t *n)
{
	size_t len = nng_msg_len(m);
	const unsigned char *b = nng_msg_body(m);
	size_t tl;
	*n = 0;
	if (len < TRAILER_LEN || memcmp(b + len - 4, TRAILER_MAGIC, 4) != 0) {
		return NULL;
	}
	tl = (size_t)b[len - 6] << 8 | b[len - 5];
	if (tl + TRAILER_LEN > len) {
		return NULL;
	}
	nng_msg_chop(m, tl + TRAILER_LEN);
	*n = tl;
	return (const char *)b + len - TRAILER_LEN - tl;
}

/* ------------------------------------------------------------------ */
/* server                                                              */

enum { SC_RECV, SC_HANDLER, SC_SEND };

struct msg_req {
	struct srv_ctx *sc;
	unsigned role; /* MSG_ROLE_* of the sender */
	char who[72];  /* the name in its token, "" if none */
};

/* Tokens seen valid lately: one Ed25519 check per token, not per
 * request (events between nodes come by the thousand). */
#define TOKEN_CACHE 16
struct token_seen {
	size_t len;
	unsigned role;
	char who[72];
	char text[MSG_TOKEN_MAX];
};

struct srv_ctx {
	struct msg_server *s;
	nng_ctx ctx;
	nng_aio *aio;
	int state;
	nng_msg *msg;
	struct msg_req req;
};

struct msg_server {
	struct loop *loop;
	nng_socket sock;
	msg_handler fn;
	void *arg;
	/* Roles are checked when the domain's key is known. */
	bool check_roles;
	unsigned char domain_key[SIGN_PUB_LEN];
	struct token_seen seen[TOKEN_CACHE]; /* loop thread */
	unsigned next_seen;
	struct srv_ctx ctxs[SERVER_CTXS];
	int nctx;
	atomic_int refs;
	atomic_bool closing;
};

static void
server_unref(struct msg_server *s)
{
	if (atomic_fetch_sub(&s->refs, 1) == 1) {
		free(s);
	}
}

/* The role a token gives (0: none), from the cache or checked. */
static unsigned
token_role(
    struct msg_server *s, const char *tok, size_t n, char *who, size_t wn)
{
	struct token_seen *t;
	if (tok == NULL || n == 0 || n > MSG_TOKEN_MAX) {
		return 0;
	}
	for (unsigned i = 0; i < TOKEN_CACHE; i++) {
		t = &s->seen[i];
		if (t->len == n && memcmp(t->text, tok, n) == 0) {
			snprintf(who, wn, "%s", t->who);
			return t->role;
		}
	}
	unsigned role = msg_token_role(
	    s->domain_key, tok, n, (uint64_t)time(NULL), who, wn);
	if (role != 0) {
		t = &s->seen[s->next_seen++ % TOKEN_CACHE];
		t->len = n;
		t->role = role;
		memcpy(t->text, tok, n);
		snprintf(t->who, sizeof t->who, "%s", who);
	}
	return role;
}

static void
deliver_request(void *arg)
{
	struct srv_ctx *sc = arg;
	struct msg_server *s = sc->s;
	const char *tok;
	size_t n;
	if (atomic_load(&s->closing)) {
		nng_msg_free(sc->msg);
		sc->msg = NULL;
		server_unref(s);
		return;
	}
	tok = take_trailer(sc->msg, &n);
	sc->req.who[0] = '\0';
	sc->req.role = s->check_roles
	    ? token_role(s, tok, n, sc->req.who, sizeof sc->req.who)
	    : MSG_ROLE_ANY;
	s->fn(s->arg, &sc->req);
	server_unref(s);
}

static void
srv_cb(void *arg)
{
	struct srv_ctx *sc = arg;
	struct msg_server *s = sc->s;
	int rv = nng_aio_result(sc->aio);

	if (sc->state == SC_SEND) {
		if (rv != 0) {
			nng_msg_free(nng_aio_get_msg(sc->aio));
		}
		sc->state = SC_RECV;
		if (!atomic_load(&s->closing)) {
			nng_ctx_recv(sc->ctx, sc->aio);
		}
		return;
	}
	if (rv != 0) {
		/* Closed, or a transient error: receive again unless closing.
		 */
		if (rv != NNG_ECLOSED && !atomic_load(&s->closing)) {
			nng_ctx_recv(sc->ctx, sc->aio);
		}
		return;
	}
	sc->msg = nng_aio_get_msg(sc->aio);
	sc->state = SC_HANDLER;
	atomic_fetch_add(&s->refs, 1);
	if (loop_post(s->loop, deliver_request, sc) != 0) {
		nng_msg_free(sc->msg);
		sc->msg = NULL;
		sc->state = SC_RECV;
		atomic_fetch_sub(&s->refs, 1);
		nng_ctx_recv(sc->ctx, sc->aio);
	}
}

int
msg_server_new(struct loop *l, const char *url, const struct msg_tls *tls,
    msg_handler fn, void *arg, struct msg_server **out, char *err,
    size_t errlen)
{
	struct msg_server *s = calloc(1, sizeof *s);
	int rv;

	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return LEDGE_ENOMEM;
	}
	s->loop = l;
	s->fn = fn;
	s->arg = arg;
	atomic_init(&s->refs, 1);
	{
		char tok[4200], key[4200];
		auth_paths(tls, tok, key, sizeof tok);
		if (key[0] != '\0' && access(key, F_OK) == 0) {
			if (sign_read_pub(key, s->domain_key, err, errlen) !=
			    0) {
				free(s);
				return LEDGE_EINVAL;
			}
			s->check_roles = true;
		}
	}
	if ((rv = nng_rep0_open(&s->sock)) != 0) {
		snprintf(err, errlen, "nng: %s", nng_strerror(rv));
		free(s);
		return from_nng(rv);
	}
	if ((rv = listen_on(s->sock, url, tls, err, errlen)) != 0) {
		nng_close(s->sock);
		free(s);
		return rv;
	}
	for (int i = 0; i < SERVER_CTXS; i++) {
		struct srv_ctx *sc = &s->ctxs[i];
		sc->s = s;
		sc->req.sc = sc;
		if (nng_ctx_open(&sc->ctx, s->sock) != 0 ||
		    nng_aio_alloc(&sc->aio, srv_cb, sc) != 0) {
			break;
		}
		s->nctx++;
		sc->state = SC_RECV;
		nng_ctx_recv(sc->ctx, sc->aio);
	}
	*out = s;
	return LEDGE_OK;
}

void
msg_server_free(struct msg_server *s)
{
	if (s == NULL) {
		return;
	}
	atomic_store(&s->closing, true);
	nng_close(s->sock);
	for (int i = 0; i < s->nctx; i++) {
		nng_aio_free(s->ctxs[i].aio); /* waits for its callback */
		if (s->ctxs[i].state == SC_HANDLER && s->ctxs[i].msg) {
			/* A handler holds it; msg_reply will not come. */
			nng_msg_free(s->ctxs[i].msg);
			s->ctxs[i].msg = NULL;
		}
	}
	server_unref(s);
}

bool
msg_server_checks_roles(const struct msg_server *s)
{
	return s->check_roles;
}

unsigned
msg_req_role(const struct msg_req *r)
{
	return r->role;
}

const char *
msg_req_who(const struct msg_req *r)
{
	return r->who;
}

const void *
msg_req_data(const struct msg_req *r, size_t *len)
{
	nng_msg *m = r->sc->msg;
	*len = m ? nng_msg_len(m) : 0;
	return m ? nng_msg_body(m) : NULL;
}

void
msg_reply(struct msg_req *r, const void *data, size_t len)
{
	struct srv_ctx *sc = r->sc;
	struct msg_server *s = sc->s;
	nng_msg *m;

	if (sc->msg != NULL) {
		nng_msg_free(sc->msg);
		sc->msg = NULL;
	}
	if (atomic_load(&s->closing)) {
		return;
	}
	if (nng_msg_alloc(&m, 0) != 0 ||
	    (len > 0 && nng_msg_append(m, data, len) != 0)) {
		/* The client will time out and may retry. */
		sc->state = SC_RECV;
		nng_ctx_recv(sc->ctx, sc->aio);
		return;
	}
	sc->state = SC_SEND;
	nng_aio_set_msg(sc->aio, m);
	nng_ctx_send(sc->ctx, sc->aio);
}

/* ------------------------------------------------------------------ */
/* client                                                              */

struct msg_client {
	struct loop *loop;
	nng_socket sock;
	char *url;
	char *token; /* sent with every request; NULL: none */
	size_t ntoken;
	atomic_int refs;
	atomic_bool closing;
};

struct call {
	struct msg_client *c;
	nng_ctx ctx;
	nng_aio *aio;
	bool receiving;
	uint32_t timeout_ms;
	msg_reply_cb cb;
	void *arg;
	int err;
	nng_msg *reply;
};

static void
client_unref(struct msg_client *c)
{
	if (atomic_fetch_sub(&c->refs, 1) == 1) {
		free(c->url);
		free(c->token);
		free(c);
	}
}

static int
map_nng(int rv)
{
	switch (rv) {
	case 0:
		return MSG_OK;
	case NNG_ETIMEDOUT:
		return MSG_ETIMEDOUT;
	case NNG_ECLOSED:
	case NNG_ECANCELED:
		return MSG_ECLOSED;
	case NNG_ENOMEM:
		return MSG_ENOMEM;
	default:
		return MSG_EPROTO;
	}
}

static void
deliver_reply(void *arg)
{
	struct call *k = arg;
	struct msg_client *c = k->c;
	int err = k->err;
	if (err == MSG_OK && atomic_load(&c->closing)) {
		err = MSG_ECLOSED;
	}
	if (k->cb == NULL) {
		/* sent without waiting for the answer */
	} else if (err == MSG_OK) {
		k->cb(k->arg, MSG_OK, nng_msg_body(k->reply),
		    nng_msg_len(k->reply));
	} else {
		k->cb(k->arg, err, NULL, 0);
	}
	if (k->reply) {
		nng_msg_free(k->reply);
	}
	nng_aio_free(k->aio);
	nng_ctx_close(k->ctx);
	free(k);
	client_unref(c);
}

static void
call_cb(void *arg)
{
	struct call *k = arg;
	int rv = nng_aio_result(k->aio);

	if (!k->receiving) {
		if (rv != 0) {
			nng_msg_free(nng_aio_get_msg(k->aio));
			k->err = map_nng(rv);
			loop_post(k->c->loop, deliver_reply, k);
			return;
		}
		k->receiving = true;
		nng_aio_set_timeout(k->aio, (nng_duration)k->timeout_ms);
		nng_ctx_recv(k->ctx, k->aio);
		return;
	}
	k->err = map_nng(rv);
	if (rv == 0) {
		k->reply = nng_aio_get_msg(k->aio);
	}
	loop_post(k->c->loop, deliver_reply, k);
}

int
msg_client_new(struct loop *l, const char *url, const struct msg_tls *tls,
    struct msg_client **out, char *err, size_t errlen)
{
	struct msg_client *c = calloc(1, sizeof *c);
	int rv;

	if (c == NULL || (c->url = strdup(url)) == NULL) {
		free(c);
		snprintf(err, errlen, "out of memory");
		return LEDGE_ENOMEM;
	}
	c->loop = l;
	atomic_init(&c->refs, 1);
	c->token = own_token(tls, &c->ntoken);
	if ((rv = nng_req0_open(&c->sock)) != 0) {
		snprintf(err, errlen, "nng: %s", nng_strerror(rv));
		free(c->url);
		free(c->token);
		free(c);
		return from_nng(rv);
	}
	/* A request lost with a connection is sent again on the next one
	 * (nng does that by itself when the peer disconnects).  No resend
	 * on a timer: a slow answer (a deploy waiting for instances to
	 * stop) is not a lost one, and not every request is idempotent;
	 * each caller has its own timeout. */
	nng_socket_set_ms(
	    c->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	if ((rv = dial_to(c->sock, url, tls, err, errlen)) != 0) {
		nng_close(c->sock);
		free(c->url);
		free(c->token);
		free(c);
		return rv;
	}
	*out = c;
	return LEDGE_OK;
}

void
msg_client_free(struct msg_client *c)
{
	if (c == NULL) {
		return;
	}
	atomic_store(&c->closing, true);
	nng_close(c->sock); /* outstanding calls complete with ECLOSED */
	client_unref(c);
}

const char *
msg_client_url(const struct msg_client *c)
{
	return c->url;
}

void
msg_call(struct msg_client *c, const void *data, size_t len,
    uint32_t timeout_ms, msg_reply_cb cb, void *arg)
{
	struct call *k = calloc(1, sizeof *k);
	nng_msg *m = NULL;

	if (k == NULL) {
		if (cb != NULL) {
			cb(arg, MSG_ENOMEM, NULL, 0);
		}
		return;
	}
	k->c = c;
	k->cb = cb;
	k->arg = arg;
	k->timeout_ms = timeout_ms;
	atomic_fetch_add(&c->refs, 1);
	if (nng_ctx_open(&k->ctx, c->sock) != 0 ||
	    nng_aio_alloc(&k->aio, call_cb, k) != 0 ||
	    nng_msg_alloc(&m, 0) != 0 ||
	    (len > 0 && nng_msg_append(m, data, len) != 0) ||
	    add_trailer(m, c->token, c->ntoken) != 0) {
		if (m) {
			nng_msg_free(m);
		}
		k->err = atomic_load(&c->closing) ? MSG_ECLOSED : MSG_ENOMEM;
		if (k->aio == NULL) {
			/* Cannot use deliver_reply's cleanup of the aio. */
			nng_ctx_close(k->ctx);
			free(k);
			client_unref(c);
			if (cb != NULL) {
				cb(arg, MSG_ENOMEM, NULL, 0);
			}
			return;
		}
		loop_post(c->loop, deliver_reply, k);
		return;
	}
	nng_aio_set_timeout(k->aio, (nng_duration)timeout_ms);
	nng_aio_set_msg(k->aio, m);
	nng_ctx_send(k->ctx, k->aio);
}

int
msg_call_sync(const char *url, const struct msg_tls *tls, const void *data,
    size_t len, uint32_t timeout_ms, void **reply, size_t *rlen, char *err,
    size_t errlen)
{
	nng_socket sock;
	nng_dialer d;
	nng_tls_config *cfg = NULL;
	int rv;

	*reply = NULL;
	*rlen = 0;
	if ((rv = nng_req0_open(&sock)) != 0) {
		snprintf(err, errlen, "nng: %s", nng_strerror(rv));
		return MSG_EPROTO;
	}
	nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, (nng_duration)timeout_ms);
	nng_socket_set_ms(sock, NNG_OPT_SENDTIMEO, (nng_duration)timeout_ms);
	nng_socket_set_size(sock, NNG_OPT_RECVMAXSZ, MSG_MAX_BYTES);
	if ((rv = nng_dialer_create(&d, sock, url)) != 0) {
		snprintf(
		    err, errlen, "bad address %s: %s", url, nng_strerror(rv));
		nng_close(sock);
		return MSG_EPROTO;
	}
	if (is_tls(url)) {
		if (tls_config(tls, false, &cfg, err, errlen) != 0) {
			nng_close(sock);
			return MSG_EPROTO;
		}
		nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg);
		nng_tls_config_free(cfg);
	}
	if ((rv = nng_dialer_start(d, 0)) != 0) {
		snprintf(
		    err, errlen, "cannot reach %s: %s", url, nng_strerror(rv));
		nng_close(sock);
		return rv == NNG_ETIMEDOUT ? MSG_ETIMEDOUT : MSG_EPROTO;
	}
	{
		size_t nt = 0;
		char *tok = own_token(tls, &nt);
		nng_msg *m = NULL;
		if (nng_msg_alloc(&m, 0) != 0 ||
		    (len > 0 && nng_msg_append(m, data, len) != 0) ||
		    add_trailer(m, tok, nt) != 0) {
			free(tok);
			if (m != NULL) {
				nng_msg_free(m);
			}
			snprintf(err, errlen, "out of memory");
			nng_close(sock);
			return MSG_ENOMEM;
		}
		free(tok);
		if ((rv = nng_sendmsg(sock, m, 0)) != 0) {
			nng_msg_free(m);
			snprintf(err, errlen, "cannot send to %s: %s", url,
			    nng_strerror(rv));
			nng_close(sock);
			return map_nng(rv);
		}
	}
	char *buf = NULL;
	size_t n = 0;
	if ((rv = nng_recv(sock, &buf, &n, NNG_FLAG_ALLOC)) != 0) {
		snprintf(err, errlen, "no answer from %s: %s", url,
		    nng_strerror(rv));
		nng_close(sock);
		return map_nng(rv);
	}
	*reply = malloc(n ? n : 1);
	if (*reply == NULL) {
		nng_free(buf, n);
		nng_close(sock);
		snprintf(err, errlen, "out of memory");
		return MSG_ENOMEM;
	}
	memcpy(*reply, buf, n);
	*rlen = n;
	nng_free(buf, n);
	nng_close(sock);
	return MSG_OK;
}

/* --- channel ------------------------------------------------------- */

struct msg_chan {
	nng_socket sock;
};

static int
chan_open(const char *url, bool listen, struct msg_chan **out, char *err,
    size_t errlen)
{
	struct msg_chan *c = calloc(1, sizeof *c);
	int rv;

	*out = NULL;
	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return LEDGE_ENOMEM;
	}
	if ((rv = nng_pair0_open(&c->sock)) != 0) {
		snprintf(err, errlen, "pair socket: %s", nng_strerror(rv));
		free(c);
		return from_nng(rv);
	}
	nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, MSG_MAX_BYTES);
	nng_socket_set_ms(c->sock, NNG_OPT_SENDTIMEO, 5000);
	nng_socket_set_ms(c->sock, NNG_OPT_RECONNMINT, 10);
	nng_socket_set_ms(c->sock, NNG_OPT_RECONNMAXT, 200);
	rv = listen ? nng_listen(c->sock, url, NULL, 0)
	            : nng_dial(c->sock, url, NULL, 0);
	if (rv != 0) {
		snprintf(err, errlen, "%s %s: %s",
		    listen ? "listen on" : "dial", url, nng_strerror(rv));
		nng_close(c->sock);
		free(c);
		return from_nng(rv);
	}
	*out = c;
	return LEDGE_OK;
}

int
msg_chan_listen(
    const char *url, struct msg_chan **out, char *err, size_t errlen)
{
	return chan_open(url, true, out, err, errlen);
}

int
msg_chan_dial(const char *url, struct msg_chan **out, char *err, size_t errlen)
{
	return chan_open(url, false, out, err, errlen);
}

int
msg_chan_send(struct msg_chan *c, const void *data, size_t len)
{
	return from_nng(nng_send(c->sock, (void *)data, len, 0));
}

int
msg_chan_recv(struct msg_chan *c, int timeout_ms, void **data, size_t *len)
{
	void *buf = NULL;
	size_t n = 0;
	int rv;

	*data = NULL;
	*len = 0;
	nng_socket_set_ms(c->sock, NNG_OPT_RECVTIMEO, timeout_ms);
	rv = nng_recv(c->sock, &buf, &n, NNG_FLAG_ALLOC);
	if (rv == NNG_ETIMEDOUT) {
		return LEDGE_ETIMEDOUT;
	}
	if (rv != 0) {
		return LEDGE_ECLOSED;
	}
	/* The caller frees with free(), not nng_free. */
	if ((*data = malloc(n ? n : 1)) == NULL) {
		nng_free(buf, n);
		return LEDGE_ENOMEM;
	}
	memcpy(*data, buf, n);
	nng_free(buf, n);
	*len = n;
	return LEDGE_OK;
}

void
msg_chan_free(struct msg_chan *c)
{
	if (c != NULL) {
		nng_close(c->sock);
		free(c);
	}
}

void
msg_fini(void)
{
	nng_fini();
}
