/*
 * orc_members_test.c - the orchestrator's members (runtime/orc/orc_members.c)
 * seen from outside, as nodes and the CLI see it: a node joins, its
 * heartbeats keep it up, a silent one is declared lost after the node
 * timeout (and the other nodes are told to fence it), one that comes back
 * gets a new epoch and is told to stop the parts now placed elsewhere,
 * and the membership survives a restart of the orchestrator.
 *
 * No mocks: a real orchestrator (orc_start) on a real loop in a thread of
 * its own, its desired state in a real LMDB store in a temp folder, and
 * real nng over inproc://.  The "nodes" are the test: joins and
 * heartbeats are requests on the orchestrator's one address, and each
 * node's address is a small server on the same loop that notes what the
 * orchestrator sends it and says ok (or holds its answer to a deploy).
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/rlog.h"
#include "net/msg.h"
#include "net/wire.h"
#include "orc/orc.h"
#include "platform/loop.h"
#include "proc.h"
#include "store/store.h"

#define TIMEOUT_MS 600 /* the orchestrator's node timeout */
#define HB_MS      100 /* how often a live node publishes a heartbeat */

static const char wf_yaml[] = "workflow: w\n"
                              "functions:\n"
                              "  f: {code: /x.so}\n";

/* ------------------------------------------------------------------ */
/* a node's address: notes what it is sent, answers ok                 */

struct fake {
	const char *name;
	char url[128];
	struct msg_server *srv;
	pthread_mutex_t mu;
	unsigned deploys;         /* deploy messages with f among `local` */
	uint64_t fence_epoch;     /* min_epoch of the last fence.node, or 0 */
	char fenced[32];          /* the node it named */
	bool hold;                /* keep the answers to deploys */
	struct msg_req *held[16]; /* ... here, until release_on_loop */
	size_t nheld;
};

static void
on_fake(void *arg, struct msg_req *req)
{
	struct fake *f = arg;
	size_t len;
	const void *data = msg_req_data(req, &len);
	static const unsigned char ok[] = { 0x81, 0xa2, 'o', 'k', 0xc3 };
	struct wire_r r;

	if (wire_parse(&r, data, len) == 0) {
		wire_v root = wire_root(&r), t = wire_get(root, "t");
		pthread_mutex_lock(&f->mu);
		if (wire_str_eq(t, "deploy")) {
			wire_v local = wire_get(root, "local");
			for (size_t i = 0; i < wire_len(local); i++) {
				f->deploys +=
				    wire_str_eq(wire_at(local, i), "f");
			}
			if (f->hold && f->nheld < 16) {
				f->held[f->nheld++] = req;
				req = NULL;
			}
		} else if (wire_str_eq(t, "fence.node")) {
			char *n = wire_str_dup(wire_get(root, "node"));
			snprintf(f->fenced, sizeof f->fenced, "%s", n ? n : "");
			free(n);
			f->fence_epoch =
			    wire_as_u64(wire_get(root, "min_epoch"), 0);
		}
		pthread_mutex_unlock(&f->mu);
		wire_r_fini(&r);
	}
	if (req != NULL) {
		msg_reply(req, ok, sizeof ok);
	}
}

static void
release_on_loop(void *arg)
{
	static const unsigned char ok[] = { 0x81, 0xa2, 'o', 'k', 0xc3 };
	struct fake *f = arg;
	pthread_mutex_lock(&f->mu);
	f->hold = false;
	for (size_t i = 0; i < f->nheld; i++) {
		msg_reply(f->held[i], ok, sizeof ok);
	}
	f->nheld = 0;
	pthread_mutex_unlock(&f->mu);
}

/* ------------------------------------------------------------------ */
/* the orchestrator, on a loop thread                                  */

static char *dir;
static char store_dir[4200];
static char orc_url[128];
static struct rlog log_;
static struct loop *loop_;
static pthread_t loop_thread;
static struct store *store_;
static struct orc *orc_;
static struct fake fake_a = { .name = "a" }, fake_b = { .name = "b" };

static void *
run_loop(void *arg)
{
	loop_run(arg);
	return NULL;
}

static void
exit_loop(void *arg)
{
	loop_exit(arg);
}

/* Open the store and start an orchestrator on it (the loop not running). */
static void
orc_up(void)
{
	struct store_opts so = { .map_mb = 64, .nosync = true };
	struct orc_opts oo = { .listen = orc_url,
		.node_timeout_ms = TIMEOUT_MS };
	char err[512] = "";
	int rv = store_open(&store_, store_dir, &so, err, sizeof err);

	cr_assert_eq(rv, LEDGE_OK, "store_open: %s", err);
	rv = orc_start(&orc_, loop_, store_, &log_, &oo, err, sizeof err);
	cr_assert_eq(rv, LEDGE_OK, "orc_start: %s", err);
}

static void
loop_start(void)
{
	cr_assert_eq(pthread_create(&loop_thread, NULL, run_loop, loop_), 0);
}

static void
loop_stop(void)
{
	cr_assert_eq(loop_post(loop_, exit_loop, loop_), 0);
	pthread_join(loop_thread, NULL);
}

/* Stop the orchestrator (the loop stopped) and close its store. */
static void
orc_down(void)
{
	orc_free(orc_);
	orc_ = NULL;
	store_close(store_);
	store_ = NULL;
}

static uint64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ */
/* heartbeats, sent by a thread of their own                           */

struct beat {
	bool on;
	uint64_t epoch;
};

static struct {
	pthread_t thread;
	pthread_mutex_t mu;
	bool stop;
	struct msg_client *client; /* to the orchestrator, as a node has */
	struct beat a, b;
	uint64_t sent_a; /* when the last heartbeat of a went out */
} hb;

static void
publish(const char *name, uint64_t epoch)
{
	struct wire_w w;
	size_t len;
	const void *d;

	cr_assert_eq(wire_w_init(&w), 0);
	wire_map(&w, 6);
	wire_str(&w, "t");
	wire_str(&w, "hb");
	wire_str(&w, "name");
	wire_str(&w, name);
	wire_str(&w, "epoch");
	wire_u64(&w, epoch);
	wire_str(&w, "ms");
	wire_u64(&w, 1);
	wire_str(&w, "store_bytes");
	wire_u64(&w, 0);
	wire_str(&w, "instances");
	wire_array(&w, 0);
	if ((d = wire_data(&w, &len)) != NULL) {
		/* A request on the orchestrator's address on one client that
		 * stays connected, as a node sends it; the answer does not
		 * matter here. */
		msg_call(hb.client, d, len, 1000, NULL, NULL);
	}
	wire_w_fini(&w);
}

static void *
beat_loop(void *arg)
{
	(void)arg;
	for (;;) {
		struct beat a, b;
		pthread_mutex_lock(&hb.mu);
		if (hb.stop) {
			pthread_mutex_unlock(&hb.mu);
			return NULL;
		}
		a = hb.a;
		b = hb.b;
		pthread_mutex_unlock(&hb.mu);
		if (a.on) {
			pthread_mutex_lock(&hb.mu);
			hb.sent_a = now_ms();
			pthread_mutex_unlock(&hb.mu);
			publish("a", a.epoch);
		}
		if (b.on) {
			publish("b", b.epoch);
		}
		usleep(HB_MS * 1000);
	}
}

/* Node `name` publishes heartbeats with `epoch` from now on (on), or
 * falls silent. */
static void
beat(const char *name, bool on, uint64_t epoch)
{
	pthread_mutex_lock(&hb.mu);
	struct beat *x = name[0] == 'a' ? &hb.a : &hb.b;
	x->on = on;
	x->epoch = epoch;
	pthread_mutex_unlock(&hb.mu);
}

/* ------------------------------------------------------------------ */
/* requests                                                            */

struct answer {
	void *buf;
	struct wire_r r;
	wire_v root;
};

/* Send the message in w to the orchestrator; the answer must be ok. */
static struct answer *
call(struct wire_w *w)
{
	struct answer *a = calloc(1, sizeof *a);
	size_t len, rlen = 0;
	const void *d = wire_data(w, &len);
	char err[256] = "";
	int rv;

	cr_assert_not_null(a);
	cr_assert_not_null(d);
	rv = msg_call_sync(
	    orc_url, NULL, d, len, 10000, &a->buf, &rlen, err, sizeof err);
	wire_w_fini(w);
	cr_assert_eq(rv, MSG_OK, "request: %s", err);
	cr_assert_eq(wire_parse(&a->r, a->buf, rlen), 0);
	a->root = wire_root(&a->r);
	if (!wire_as_bool(wire_get(a->root, "ok"), false)) {
		char *e = wire_str_dup(wire_get(a->root, "error"));
		cr_assert(false, "not ok: %s", e ? e : "?");
	}
	return a;
}

/* The same, whatever the answer says. */
static struct answer *
request(struct wire_w *w)
{
	struct answer *a = calloc(1, sizeof *a);
	size_t len, rlen = 0;
	const void *d = wire_data(w, &len);
	char err[256] = "";
	int rv;

	cr_assert_not_null(a);
	cr_assert_not_null(d);
	rv = msg_call_sync(
	    orc_url, NULL, d, len, 10000, &a->buf, &rlen, err, sizeof err);
	wire_w_fini(w);
	cr_assert_eq(rv, MSG_OK, "request: %s", err);
	cr_assert_eq(wire_parse(&a->r, a->buf, rlen), 0);
	a->root = wire_root(&a->r);
	return a;
}

static void
answer_free(struct answer *a)
{
	wire_r_fini(&a->r);
	free(a->buf);
	free(a);
}

/* A join of node `name` at its fake's address, running parts `running`
 * (nrunning of them). */
static struct answer *
join(struct fake *f, uint64_t incarnation, const char *const *running,
    size_t nrunning)
{
	struct wire_w w;
	cr_assert_eq(wire_w_init(&w), 0);
	wire_map(&w, 12);
	wire_str(&w, "t");
	wire_str(&w, "join");
	wire_str(&w, "boot");
	wire_u64(&w, 7);
	wire_str(&w, "name");
	wire_str(&w, f->name);
	wire_str(&w, "url");
	wire_str(&w, f->url);
	wire_str(&w, "labels");
	wire_map(&w, 0);
	wire_str(&w, "arch");
	wire_str(&w, "x86_64");
	wire_str(&w, "cores");
	wire_u64(&w, 2);
	wire_str(&w, "mem_mb");
	wire_u64(&w, 1024);
	wire_str(&w, "resources");
	wire_array(&w, 0);
	wire_str(&w, "http");
	wire_nil(&w);
	wire_str(&w, "incarnation");
	wire_u64(&w, incarnation);
	wire_str(&w, "running");
	wire_array(&w, nrunning);
	for (size_t i = 0; i < nrunning; i++) {
		wire_str(&w, running[i]);
	}
	return call(&w);
}

static struct answer *
simple(const char *t, const char *name)
{
	struct wire_w w;
	cr_assert_eq(wire_w_init(&w), 0);
	wire_map(&w, name ? 2 : 1);
	wire_str(&w, "t");
	wire_str(&w, t);
	if (name) {
		wire_str(&w, "name");
		wire_str(&w, name);
	}
	return call(&w);
}

static void
start_wf(void)
{
	struct wire_w w;
	cr_assert_eq(wire_w_init(&w), 0);
	wire_map(&w, 5);
	wire_str(&w, "t");
	wire_str(&w, "wf.start");
	wire_str(&w, "name");
	wire_str(&w, "w");
	wire_str(&w, "file");
	wire_str(&w, "w.yaml");
	wire_str(&w, "yaml");
	wire_str(&w, wf_yaml);
	wire_str(&w, "code");
	wire_map(&w, 0);
	answer_free(call(&w));
}

/* What node.list says of node `name`: its health ("up", "lost", ...;
 * "" if not listed) and epoch. */
static void
node_state(const char *name, char *health, size_t hlen, uint64_t *epoch)
{
	struct answer *a = simple("node.list", NULL);
	wire_v nodes = wire_get(a->root, "nodes");
	snprintf(health, hlen, "%s", "");
	*epoch = 0;
	for (size_t i = 0; i < wire_len(nodes); i++) {
		wire_v n = wire_at(nodes, i);
		if (wire_str_eq(wire_get(n, "name"), name)) {
			char *h = wire_str_dup(wire_get(n, "health"));
			snprintf(health, hlen, "%s", h ? h : "?");
			free(h);
			*epoch = wire_as_u64(wire_get(n, "epoch"), 0);
		}
	}
	answer_free(a);
}

static bool
is(const char *name, const char *health)
{
	char h[32];
	uint64_t e;
	node_state(name, h, sizeof h, &e);
	return strcmp(h, health) == 0;
}

static uint64_t
epoch_of(const char *name)
{
	char h[32];
	uint64_t e;
	node_state(name, h, sizeof h, &e);
	return e;
}

/* Where wf.show says function f of w is, and its epoch. */
static void
placed(char *node, size_t nlen, uint64_t *epoch)
{
	struct answer *a = simple("wf.show", "w");
	wire_v p = wire_at(wire_get(a->root, "parts"), 0);
	char *n = wire_str_dup(wire_get(p, "node"));
	snprintf(node, nlen, "%s", n ? n : "");
	free(n);
	*epoch = wire_as_u64(wire_get(p, "epoch"), 0);
	answer_free(a);
}

/* The parts in the `fenced` list of a join answer, joined by ",". */
static void
fenced(const struct answer *a, char *buf, size_t len)
{
	wire_v v = wire_get(a->root, "fenced");
	size_t used = 0;
	buf[0] = '\0';
	cr_assert(wire_is_array(v), "a join answer lists the fenced parts");
	for (size_t i = 0; i < wire_len(v); i++) {
		char *s = wire_str_dup(wire_at(v, i));
		used += (size_t)snprintf(
		    buf + used, len - used, "%s%s", i ? "," : "", s ? s : "?");
		free(s);
	}
}

/* Wait up to ms for node `name` to be `health`; whether it was. */
static bool
wait_health(const char *name, const char *health, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	while (!is(name, health)) {
		if (now_ms() > end) {
			return false;
		}
		usleep(20000);
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* fixture                                                             */

static void
fake_up(struct fake *f)
{
	char err[256] = "";
	snprintf(f->url, sizeof f->url, "inproc://orcm-%s-%d", f->name,
	    (int)getpid());
	pthread_mutex_init(&f->mu, NULL);
	f->deploys = 0;
	f->hold = false;
	f->nheld = 0;
	f->fence_epoch = 0;
	f->fenced[0] = '\0';
	cr_assert_eq(msg_server_new(loop_, f->url, NULL, on_fake, f, &f->srv,
	                 err, sizeof err),
	    0, "fake node: %s", err);
}

static void
setup(void)
{

	dir = tmpdir_make("orc-members");
	cr_assert_not_null(dir, "tmpdir_make");
	snprintf(store_dir, sizeof store_dir, "%s/orc", dir);
	snprintf(
	    orc_url, sizeof orc_url, "inproc://orcm-orc-%d", (int)getpid());
	rlog_init(&log_, stderr, RLOG_INFO);
	cr_assert_eq(loop_new(&loop_), 0);
	fake_up(&fake_a);
	fake_up(&fake_b);
	orc_up();
	cr_assert_eq(
	    msg_client_new(loop_, orc_url, NULL, &hb.client, NULL, 0), 0);
	loop_start();
	pthread_mutex_init(&hb.mu, NULL);
	hb.stop = false;
	hb.a = hb.b = (struct beat) { false, 0 };
	hb.sent_a = 0;
	cr_assert_eq(pthread_create(&hb.thread, NULL, beat_loop, NULL), 0);
}

static void
teardown(void)
{
	pthread_mutex_lock(&hb.mu);
	hb.stop = true;
	pthread_mutex_unlock(&hb.mu);
	pthread_join(hb.thread, NULL);
	loop_stop();
	msg_client_free(hb.client);
	if (orc_ != NULL) {
		orc_down();
	}
	msg_server_free(fake_a.srv);
	msg_server_free(fake_b.srv);
	loop_free(loop_);
	rlog_fini(&log_);
	tmpdir_remove(dir);
	free(dir);
	dir = NULL;
}

TestSuite(orc_members, .init = setup, .fini = teardown, .timeout = 120);

/* ------------------------------------------------------------------ */
/* tests                                                               */

Test(orc_members, a_node_joins_and_heartbeats_keep_it_up)
{
	struct answer *a = join(&fake_a, 1, NULL, 0);
	char f[256];
	cr_assert_eq(wire_as_u64(wire_get(a->root, "epoch"), 0), 1,
	    "a new node starts at epoch 1");
	fenced(a, f, sizeof f);
	cr_assert_str_eq(f, "", "a new node has nothing to stop");
	answer_free(a);
	cr_assert(is("a", "up"));

	/* Five node timeouts with heartbeats: up all along. */
	beat("a", true, 1);
	for (int i = 0; i < 15; i++) {
		usleep(TIMEOUT_MS * 1000 / 3);
		cr_assert(is("a", "up"), "lost although it sent heartbeats");
	}
	cr_assert_eq(epoch_of("a"), 1);
}

Test(orc_members, a_silent_node_is_lost_after_the_node_timeout)
{
	answer_free(join(&fake_a, 1, NULL, 0));
	answer_free(join(&fake_b, 1, NULL, 0));
	beat("a", true, 1);
	beat("b", true, 1);
	usleep(2 * TIMEOUT_MS * 1000);
	cr_assert(is("a", "up"));

	beat("a", false, 0);
	cr_assert(wait_health("a", "lost", 10 * TIMEOUT_MS),
	    "not declared lost after 10 node timeouts of silence");
	/* Not before its time: a full timeout after its last heartbeat. */
	pthread_mutex_lock(&hb.mu);
	uint64_t last = hb.sent_a;
	pthread_mutex_unlock(&hb.mu);
	cr_assert_gt(now_ms() - last, TIMEOUT_MS, "lost before the timeout");
	cr_assert(is("b", "up"), "the node that beats stays up");

	/* The nodes that are up are told to refuse what it sends until it
	 * joins again, with a newer epoch. */
	uint64_t end = now_ms() + 5000, min_epoch = 0;
	char who[32] = "";
	while (now_ms() < end) {
		pthread_mutex_lock(&fake_b.mu);
		min_epoch = fake_b.fence_epoch;
		snprintf(who, sizeof who, "%s", fake_b.fenced);
		pthread_mutex_unlock(&fake_b.mu);
		if (min_epoch != 0) {
			break;
		}
		usleep(20000);
	}
	cr_assert_str_eq(who, "a", "node b was not told to fence a");
	cr_assert_eq(min_epoch, 2);

	/* A heartbeat of its old epoch does not bring it back: it must
	 * join again. */
	beat("a", true, 1);
	usleep(3 * TIMEOUT_MS * 1000 / 2);
	cr_assert(is("a", "lost"), "a lost node came back without a join");
}

Test(orc_members, a_node_that_comes_back_is_fenced)
{
	static const char *const mine[] = { "w/f" };
	char node[32], f[256];
	uint64_t e1, e2;
	struct answer *a;

	answer_free(join(&fake_a, 1, NULL, 0));
	beat("a", true, 1);
	start_wf(); /* the only node: f runs on a */
	placed(node, sizeof node, &e1);
	cr_assert_str_eq(node, "a");
	answer_free(join(&fake_b, 1, NULL, 0));
	beat("b", true, 1);

	/* a falls silent: f is placed on b, with a new epoch. */
	beat("a", false, 0);
	cr_assert(wait_health("a", "lost", 10 * TIMEOUT_MS));
	uint64_t end = now_ms() + 10000;
	do {
		usleep(20000);
		placed(node, sizeof node, &e2);
	} while (strcmp(node, "b") != 0 && now_ms() < end);
	cr_assert_str_eq(node, "b", "f was not placed elsewhere");
	cr_assert_gt(e2, e1, "a part that moves gets a newer epoch");
	end = now_ms() + 5000;
	unsigned deploys = 0;
	while (deploys == 0 && now_ms() < end) {
		pthread_mutex_lock(&fake_b.mu);
		deploys = fake_b.deploys;
		pthread_mutex_unlock(&fake_b.mu);
		usleep(20000);
	}
	cr_assert_gt(deploys, 0, "b was not sent f to run");

	/* a comes back still running f: a new epoch, and f must stop. */
	a = join(&fake_a, 1, mine, 1);
	cr_assert_eq(wire_as_u64(wire_get(a->root, "epoch"), 0), 2);
	fenced(a, f, sizeof f);
	cr_assert_str_eq(f, "w/f");
	answer_free(a);
	cr_assert(is("a", "up"));
	cr_assert_eq(epoch_of("a"), 2);
	placed(node, sizeof node, &e2);
	cr_assert_str_eq(node, "b", "coming back does not take f back");

	/* It did not hear it (the answer was lost) and still runs f: told
	 * again.  Once it no longer reports f, it is no longer told. */
	a = join(&fake_a, 1, mine, 1);
	fenced(a, f, sizeof f);
	cr_assert_str_eq(f, "w/f", "a join that still reports f: told again");
	cr_assert_eq(wire_as_u64(wire_get(a->root, "epoch"), 0), 2);
	answer_free(a);
	a = join(&fake_a, 1, NULL, 0);
	fenced(a, f, sizeof f);
	cr_assert_str_eq(f, "");
	answer_free(a);
	a = join(&fake_a, 1, mine, 1);
	fenced(a, f, sizeof f);
	cr_assert_str_eq(f, "", "fenced again after it had stopped f");
	answer_free(a);

	/* Its heartbeats of the new epoch keep it up. */
	beat("a", true, 2);
	usleep(3 * TIMEOUT_MS * 1000);
	cr_assert(is("a", "up"));
}

Test(orc_members, membership_survives_an_orchestrator_restart)
{
	char node[32], node2[32];
	uint64_t e, e2;
	struct answer *a;

	answer_free(join(&fake_a, 1, NULL, 0));
	answer_free(join(&fake_b, 1, NULL, 0));
	beat("a", true, 1);
	beat("b", true, 1);
	start_wf();
	/* a is lost and comes back: epoch 2. */
	beat("a", false, 0);
	cr_assert(wait_health("a", "lost", 10 * TIMEOUT_MS));
	a = join(&fake_a, 1, NULL, 0);
	cr_assert_eq(wire_as_u64(wire_get(a->root, "epoch"), 0), 2);
	answer_free(a);
	beat("a", true, 2);
	usleep(2 * TIMEOUT_MS * 1000);
	placed(node, sizeof node, &e);

	loop_stop();
	orc_down();
	orc_up();
	loop_start();

	/* Both nodes back from the store, with their epochs, up until
	 * their heartbeats say otherwise; the heartbeats of a's epoch 2
	 * are taken. */
	cr_assert_eq(epoch_of("a"), 2);
	cr_assert_eq(epoch_of("b"), 1);
	for (int i = 0; i < 9; i++) {
		usleep(TIMEOUT_MS * 1000 / 3);
		cr_assert(is("a", "up"), "a lost after the restart");
		cr_assert(is("b", "up"), "b lost after the restart");
	}
	placed(node2, sizeof node2, &e2);
	cr_assert_str_eq(node2, node, "f moved by the restart");
	cr_assert_eq(e2, e, "the epoch of f changed by the restart");

	/* A node the restarted orchestrator does not hear from is lost
	 * after the timeout, and comes back with the next epoch. */
	beat("b", false, 0);
	cr_assert(wait_health("b", "lost", 10 * TIMEOUT_MS));
	cr_assert(is("a", "up"));
	a = join(&fake_b, 1, NULL, 0);
	cr_assert_eq(wire_as_u64(wire_get(a->root, "epoch"), 0), 2);
	answer_free(a);
}

/* A heartbeat's answer names the nodes declared lost now (the nodes fail
 * their calls to them at once), and no longer once one is back. */
Test(orc_members, heartbeat_answers_name_the_lost_nodes)
{
	struct wire_w w;
	struct answer *a;
	wire_v lost;

	answer_free(join(&fake_a, 1, NULL, 0));
	answer_free(join(&fake_b, 1, NULL, 0));
	beat("a", true, 1);
	cr_assert(wait_health("b", "lost", 10 * TIMEOUT_MS));

	cr_assert_eq(wire_w_init(&w), 0);
	wire_map(&w, 3);
	wire_str(&w, "t");
	wire_str(&w, "hb");
	wire_str(&w, "name");
	wire_str(&w, "a");
	wire_str(&w, "epoch");
	wire_u64(&w, 1);
	a = call(&w);
	lost = wire_get(a->root, "lost");
	cr_assert_eq(wire_len(lost), 1, "lost: %zu names", wire_len(lost));
	cr_assert(wire_str_eq(wire_at(lost, 0), "b"));
	answer_free(a);

	/* A node that has not joined is told so (it joins at once). */
	cr_assert_eq(wire_w_init(&w), 0);
	wire_map(&w, 2);
	wire_str(&w, "t");
	wire_str(&w, "hb");
	wire_str(&w, "name");
	wire_str(&w, "nobody");
	a = request(&w);
	cr_assert(wire_str_eq(wire_get(a->root, "code"), "not-found"));
	answer_free(a);

	answer_free(join(&fake_b, 1, NULL, 0));
	cr_assert(is("b", "up"));
	cr_assert_eq(wire_w_init(&w), 0);
	wire_map(&w, 3);
	wire_str(&w, "t");
	wire_str(&w, "hb");
	wire_str(&w, "name");
	wire_str(&w, "a");
	wire_str(&w, "epoch");
	wire_u64(&w, 1);
	a = call(&w);
	cr_assert_eq(wire_len(wire_get(a->root, "lost")), 0);
	answer_free(a);
}

static struct answer *
invoke_f(void)
{
	struct wire_w w;
	cr_assert_eq(wire_w_init(&w), 0);
	wire_map(&w, 5);
	wire_str(&w, "t");
	wire_str(&w, "invoke");
	wire_str(&w, "wf");
	wire_str(&w, "w");
	wire_str(&w, "target");
	wire_str(&w, "f");
	wire_str(&w, "call");
	wire_bool(&w, false);
	wire_str(&w, "data");
	wire_bin(&w, "x", 1);
	return request(&w);
}

/*
 * invoke tells a part with no live placement ("not running anywhere")
 * from one placed on a node that has not answered its deploy yet ("not
 * deployed yet"), and goes to the node once it has.
 */
Test(orc_members, invoke_says_not_deployed_yet_until_the_node_answers)
{
	struct answer *a;
	char *e;

	start_wf(); /* no node yet: f is pending */
	a = invoke_f();
	e = wire_str_dup(wire_get(a->root, "error"));
	cr_assert(wire_str_eq(wire_get(a->root, "code"), "not-found"));
	cr_assert(e && strstr(e, "w/f is not running anywhere: it is pending"),
	    "%s", e ? e : "?");
	free(e);
	answer_free(a);

	pthread_mutex_lock(&fake_a.mu);
	fake_a.hold = true;
	pthread_mutex_unlock(&fake_a.mu);
	answer_free(join(&fake_a, 1, NULL, 0)); /* f goes to a */
	beat("a", true, 1);
	uint64_t end = now_ms() + 5000;
	for (;;) {
		pthread_mutex_lock(&fake_a.mu);
		bool got = fake_a.nheld > 0;
		pthread_mutex_unlock(&fake_a.mu);
		if (got || now_ms() > end) {
			cr_assert(got, "no deploy reached a");
			break;
		}
		usleep(10000);
	}
	a = invoke_f();
	e = wire_str_dup(wire_get(a->root, "error"));
	cr_assert(wire_str_eq(wire_get(a->root, "code"), "not-deployed"), "%s",
	    e ? e : "?");
	cr_assert(e &&
	        strstr(e,
	            "w/f is not deployed yet: it is placed on "
	            "node a, which has not confirmed its deploy"),
	    "%s", e ? e : "?");
	free(e);
	answer_free(a);

	cr_assert_eq(loop_post(loop_, release_on_loop, &fake_a), 0);
	end = now_ms() + 5000;
	for (;;) {
		a = invoke_f();
		bool ok = wire_as_bool(wire_get(a->root, "ok"), false);
		answer_free(a);
		if (ok || now_ms() > end) {
			cr_assert(
			    ok, "invoke did not reach a once it answered");
			break;
		}
		usleep(10000);
	}
}
