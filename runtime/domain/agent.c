/*
 * agent.c - joining a domain, heartbeats, and the dispatch of the
 * requests a node answers (see agent.h, agent_int.h and
 * docs/protocol.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/hmap.h"
#include "base/rlog.h"
#include "domain/agent.h"
#include "domain/agent_int.h"
#include "net/msg.h"
#include "net/msg_token.h"
#include "net/reply.h"
#include "net/wire.h"
#include "node/links.h"
#include "node/node.h"
#include "platform/loop.h"
#include "store/store.h"

#define JOIN_RETRY_MS  1000
#define REJOIN_MS      2000
#define HEARTBEAT_MS   300
#define ORC_TIMEOUT_MS 3000
/* Heartbeats out at once before one is skipped (an orchestrator that
 * does not answer is not sent more and more of them). */
#define HB_INFLIGHT_MAX 3
/* Function log lines kept for the next heartbeat; more are dropped (and
 * counted in this node's log). */
#define LOG_PENDING_MAX 1000

#define STATE_SIZE_EVERY    10
#define STATE_SIZE_MAX_KEYS 200000

struct state_size {
	uint64_t bytes;
	uint64_t keys; /* a keyed part: its keys with state (as far as the
	                  bounded scan went) */
	char name[];
};

/* ------------------------------------------------------------------ */
/* joining and heartbeats                                              */

static void on_join_timer(void *arg);

struct fenced_wf {
	struct agent *a;
	char *part; /* "wf/part" */
};

static void
fenced_stopped(void *arg)
{
	struct fenced_wf *f = arg;
	/* Its state is stale: the part runs elsewhere, from a replica or
	 * afresh.  Dropped so that it cannot come back to life here. */
	agent_state_forget(f->a, f->part, NULL);
	free(f->part);
	free(f);
}

static void
undeploy_fenced(struct agent *a, wire_v fenced)
{
	for (size_t i = 0; i < wire_len(fenced); i++) {
		char *part = wire_str_dup(wire_at(fenced, i));
		char *slash = part ? strchr(part, '/') : NULL;
		struct fenced_wf *f;
		if (slash == NULL || (f = calloc(1, sizeof *f)) == NULL) {
			free(part);
			continue;
		}
		f->a = a;
		f->part = strdup(part);
		*slash = '\0';
		rlog_write(node_log(a->n), RLOG_WARN, node_name(a->n),
		    "fenced: the domain moved %s/%s elsewhere while this node "
		    "was away; stopping it here",
		    part, slash + 1);
		if (f->part == NULL) {
			free(f);
		} else if (node_undeploy_async(a->n, part, fenced_stopped, f) !=
		    LEDGE_OK) {
			fenced_stopped(f);
		}
		free(part);
	}
}

static void
on_join(void *arg, int err, const void *data, size_t len)
{
	struct agent *a = arg;
	struct wire_r r;
	if (agent_call_done(a)) {
		return; /* freed: nothing waits for the answer */
	}
	a->join_inflight = false;
	if (err != MSG_OK || wire_parse(&r, data, len) != 0) {
		if (!a->waiting_logged) {
			rlog_write(node_log(a->n), RLOG_INFO, node_name(a->n),
			    "waiting for the orchestrator at %s%s",
			    a->orchestrator,
			    strncmp(a->orchestrator, "tls+", 4) == 0
			        ? " (if it runs, check that this node's "
			          "certificate is signed by the domain's CA)"
			        : "");
			a->waiting_logged = true;
		}
		loop_timer_start(a->join_timer, JOIN_RETRY_MS);
		return;
	}
	wire_v root = wire_root(&r);
	if (!wire_as_bool(wire_get(root, "ok"), false)) {
		char *why = wire_str_dup(wire_get(root, "error"));
		rlog_write(node_log(a->n), RLOG_ERROR, node_name(a->n),
		    "the orchestrator refused this node: %s",
		    why ? why : "no reason");
		free(why);
		wire_r_fini(&r);
		loop_timer_start(a->join_timer, JOIN_RETRY_MS * 5);
		return;
	}
	uint64_t epoch = wire_as_u64(wire_get(root, "epoch"), 0);
	if (!a->joined || epoch != a->epoch) {
		rlog_write(node_log(a->n), RLOG_INFO, node_name(a->n),
		    "joined the domain at %s (epoch %llu)", a->orchestrator,
		    (unsigned long long)epoch);
	}
	a->joined = true;
	a->waiting_logged = false;
	a->epoch = epoch;
	links_set_epoch(node_links(a->n), epoch);
	undeploy_fenced(a, wire_get(root, "fenced"));
	wire_r_fini(&r);
	agent_deploy_held(a, false);
	/* Joining again now and then lets a restarted orchestrator learn
	 * about this node, and tells this node if it was fenced. */
	loop_timer_start(a->join_timer, REJOIN_MS);
}

struct hb_ctx {
	struct wire_w *w;
	size_t n;
	struct agent *a;
};

static void
count_inst(void *arg, const struct node_inst_stats *st)
{
	(void)st;
	((struct hb_ctx *)arg)->n++;
}

static void
write_name(void *arg, const struct node_inst_stats *st)
{
	wire_str(((struct hb_ctx *)arg)->w, st->name);
}

static void
send_join(struct agent *a)
{
	struct wire_w w;
	struct utsname u;
	struct sysinfo si;
	const void *d;
	size_t len;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	if (a->join_inflight || wire_w_init(&w) != 0) {
		return;
	}
	uname(&u);
	sysinfo(&si);
	struct hb_ctx hc = { &w, 0, a };
	node_foreach_instance(a->n, count_inst, &hc);
	wire_map(&w, 12);
	wire_str(&w, "t");
	wire_str(&w, "join");
	wire_str(&w, "boot");
	wire_u64(&w, a->boot);
	wire_str(&w, "name");
	wire_str(&w, node_name(a->n));
	wire_str(&w, "url");
	wire_str(&w, a->listen);
	wire_str(&w, "labels");
	wire_map(&w, a->nlabels);
	for (size_t i = 0; i < a->nlabels; i++) {
		wire_str(&w, a->label_keys[i]);
		wire_str(&w, a->label_values[i]);
	}
	wire_str(&w, "arch");
	wire_str(&w, u.machine);
	wire_str(&w, "cores");
	wire_u64(&w, cores > 0 ? (uint64_t)cores : 1);
	wire_str(&w, "mem_mb");
	wire_u64(&w, (uint64_t)si.totalram * si.mem_unit >> 20);
	wire_str(&w, "resources");
	wire_array(&w, a->http ? 4 : 3);
	wire_str(&w, "timer");
	wire_str(&w, "file-log");
	wire_str(&w, "http-egress");
	if (a->http) {
		wire_str(&w, "http-ingress");
	}
	wire_str(&w, "http");
	wire_str(&w, a->http);
	wire_str(&w, "incarnation");
	wire_u64(&w, node_incarnation(a->n));
	wire_str(&w, "running");
	wire_array(&w, hc.n);
	node_foreach_instance(a->n, write_name, &hc);
	if ((d = wire_data(&w, &len)) != NULL) {
		a->join_inflight = true;
		agent_call(a, d, len, ORC_TIMEOUT_MS, on_join, a);
	}
	wire_w_fini(&w);
}

static void
on_join_timer(void *arg)
{
	send_join(arg);
}

struct sum {
	uint64_t bytes, keys;
	bool keyed;
	uint64_t instances; /* keyed: distinct instance keys */
	unsigned char last[2 + LEDGE_KEY_MAX];
	size_t last_len;
};

static int
sum_entry(void *arg, ledge_bytes key, ledge_bytes value)
{
	struct sum *s = arg;
	const unsigned char *p = key.data;
	s->bytes += key.len + value.len;
	if (s->keyed && key.len >= 2) {
		/* [u16 length][instance key][state key] (node/keyed.h): in
		 * the store's order, a key's entries come together. */
		size_t kl = (size_t)p[0] << 8 | p[1];
		if (kl <= key.len - 2 && kl <= LEDGE_KEY_MAX &&
		    (s->last_len != 2 + kl || memcmp(s->last, p, 2 + kl))) {
			memcpy(s->last, p, 2 + kl);
			s->last_len = 2 + kl;
			s->instances++;
		}
	}
	return ++s->keys >= STATE_SIZE_MAX_KEYS;
}

/* Heartbeat: measure the committed state of an instance (bounded). */
static void
measure_inst(void *arg, const struct node_inst_stats *st)
{
	struct agent *a = arg;
	struct sum s = { .keyed = st->keyed };
	size_t nlen = strlen(st->name);
	struct state_size *z = hmap_get(&a->sizes, st->name, nlen);
	if (a->size_reader == NULL) {
		return;
	}
	store_state_scan(a->size_reader, st->id, sum_entry, &s);
	if (z == NULL && (z = malloc(sizeof *z + nlen + 1)) != NULL) {
		memcpy(z->name, st->name, nlen + 1);
		if (hmap_put(&a->sizes, z->name, nlen, z, NULL) != 0) {
			free(z);
			z = NULL;
		}
	}
	if (z != NULL) {
		z->bytes = s.bytes;
		z->keys = s.instances;
	}
}

static void
write_inst(void *arg, const struct node_inst_stats *st)
{
	struct hb_ctx *hc = arg;
	struct wire_w *w = hc->w;
	struct state_size *z =
	    hmap_get(&hc->a->sizes, st->name, strlen(st->name));
	uint32_t nin = 0;
	for (uint32_t i = 0; i < st->replicas && i < LINKS_REPLICAS_MAX; i++) {
		nin += st->reps[i].in_sync;
	}
	wire_map(w, st->keyed ? 15 : 11);
	if (st->keyed) {
		/* keyed: its keys (node/keyed.h) */
		wire_str(w, "keys_active");
		wire_u64(w, st->keys_active);
		wire_str(w, "keys_stored");
		wire_u64(w, z ? z->keys : 0);
		wire_str(w, "key_activations");
		wire_u64(w, st->key_activations);
		wire_str(w, "key_passivations");
		wire_u64(w, st->key_passivations);
	}
	wire_str(w, "state_bytes");
	wire_u64(w, z ? z->bytes : 0);
	wire_str(w, "replicas");
	wire_u64(w, st->replicas);
	wire_str(w, "replicas_lagging");
	wire_u64(w, st->replicas_lagging);
	/* The replicas that hold every acknowledged write, each with the
	 * gate generation that is true at (the orchestrator may fail over
	 * to them: orc_members.c). */
	wire_str(w, "in_sync");
	wire_array(w, nin);
	for (uint32_t i = 0; i < st->replicas && i < LINKS_REPLICAS_MAX; i++) {
		if (st->reps[i].in_sync) {
			wire_map(w, 2);
			wire_str(w, "node");
			wire_str(w, st->reps[i].node);
			wire_str(w, "gen");
			wire_u64(w, st->reps[i].gen);
		}
	}
	wire_str(w, "deploy");
	wire_u64(w, st->repl_deploy);
	wire_str(w, "part");
	wire_str(w, st->name);
	wire_str(w, "events");
	wire_u64(w, st->events);
	wire_str(w, "errors");
	wire_u64(w, st->errors);
	wire_str(w, "emitted");
	wire_u64(w, st->emitted);
	wire_str(w, "mailbox");
	wire_u64(w, st->mailbox);
	wire_str(w, "busy_us");
	wire_u64(w, st->busy_us);
}

static void
on_hb_reply(void *arg, int err, const void *data, size_t len)
{
	struct agent *a = arg;
	struct wire_r r;
	if (agent_call_done(a)) {
		return;
	}
	a->hb_inflight--;
	if (err != MSG_OK || wire_parse(&r, data, len) != 0) {
		return; /* the join timer notices an orchestrator away */
	}
	wire_v root = wire_root(&r);
	if (wire_str_eq(wire_get(root, "code"), REPLY_NOT_FOUND) &&
	    !a->join_inflight) {
		/* A new orchestrator that does not know this node yet. */
		loop_timer_start(a->join_timer, 0);
	} else if (wire_as_bool(wire_get(root, "ok"), false)) {
		/* The nodes declared lost now: calls to them fail at once
		 * (the fence.node request says so first; this catches up
		 * after a lost request, and tells when one is back). */
		wire_v lost = wire_get(root, "lost");
		size_t n = wire_len(lost), k = 0;
		char **names = calloc(n + 1, sizeof *names);
		for (size_t i = 0; names != NULL && i < n; i++) {
			if ((names[k] = wire_str_dup(wire_at(lost, i))) !=
			    NULL) {
				k++;
			}
		}
		if (names != NULL) {
			links_lost_set(
			    node_links(a->n), (const char *const *)names, k);
		}
		for (size_t i = 0; i < k; i++) {
			free(names[i]);
		}
		free(names);
	}
	wire_r_fini(&r);
}

static void
on_hb_timer(void *arg)
{
	struct agent *a = arg;
	struct wire_w w;
	struct hb_ctx hc = { &w, 0, a };
	const void *d;
	size_t len;

	loop_timer_start(a->hb_timer, HEARTBEAT_MS);
	if (a->hb_count++ % STATE_SIZE_EVERY == 0) {
		struct hmap_slot *sl;
		size_t pos = 0;
		while ((sl = hmap_next(&a->sizes, &pos)) != NULL) {
			free(sl->value);
		}
		hmap_clear(&a->sizes);
		if (a->size_reader != NULL ||
		    store_reader_open(node_store(a->n), &a->size_reader) ==
		        LEDGE_OK) {
			if (store_reader_begin(a->size_reader) == LEDGE_OK) {
				node_foreach_instance(a->n, measure_inst, a);
				store_reader_end(a->size_reader);
			}
		}
	}
	if (a->hb_inflight >= HB_INFLIGHT_MAX || wire_w_init(&w) != 0) {
		return; /* the log lines wait for the next one */
	}
	pthread_mutex_lock(&a->log_mu);
	struct agent_log_line *lines = a->log_head;
	size_t nlines = a->log_n;
	uint64_t dropped = a->log_dropped;
	a->log_head = a->log_tail = NULL;
	a->log_n = 0;
	a->log_dropped = 0;
	pthread_mutex_unlock(&a->log_mu);
	node_foreach_instance(a->n, count_inst, &hc);
	wire_map(&w, 8);
	wire_str(&w, "t");
	wire_str(&w, "hb");
	wire_str(&w, "name");
	wire_str(&w, node_name(a->n));
	wire_str(&w, "epoch");
	wire_u64(&w, a->epoch);
	wire_str(&w, "ms");
	wire_u64(&w, clock_wall_ms());
	wire_str(&w, "store_bytes");
	wire_u64(&w, store_size(node_store(a->n)));
	wire_str(&w, "backlog");
	wire_u64(&w, links_backlog(node_links(a->n)));
	wire_str(&w, "instances");
	wire_array(&w, hc.n);
	node_foreach_instance(a->n, write_inst, &hc);
	wire_str(&w, "logs");
	wire_array(&w, nlines);
	while (lines != NULL) {
		struct agent_log_line *ln = lines;
		lines = ln->next;
		wire_map(&w, 5);
		wire_str(&w, "wf");
		wire_strn(&w, ln->text, ln->wf_len);
		wire_str(&w, "who");
		wire_str(&w, ln->text);
		wire_str(&w, "level");
		wire_u64(&w, (uint64_t)ln->level);
		wire_str(&w, "line");
		wire_str(&w, ln->line);
		wire_str(&w, "ms");
		wire_u64(&w, ln->ms);
		free(ln);
	}
	if ((d = wire_data(&w, &len)) != NULL) {
		a->hb_inflight++;
		agent_call(a, d, len, ORC_TIMEOUT_MS, on_hb_reply, a);
	}
	wire_w_fini(&w);
	if (dropped > 0) {
		rlog_write(node_log(a->n), RLOG_WARN, node_name(a->n),
		    "%llu function log lines were not sent to the "
		    "orchestrator (more than %d waited for a heartbeat)",
		    (unsigned long long)dropped, LOG_PENDING_MAX);
	}
}

/*
 * Function log lines go to the orchestrator too (`ledge logs`), with
 * the next heartbeat.  Any thread (a worker runs the function).
 */
static void
log_tap(void *arg, int level, const char *who, const char *msg)
{
	struct agent *a = arg;
	const char *slash = who ? strchr(who, '/') : NULL;
	size_t wl, ml;
	struct agent_log_line *ln;

	if (slash == NULL) {
		return; /* the node's own lines stay in its log */
	}
	wl = strlen(who);
	ml = strlen(msg);
	pthread_mutex_lock(&a->log_mu);
	if (a->log_n >= LOG_PENDING_MAX ||
	    (ln = malloc(sizeof *ln + wl + ml + 2)) == NULL) {
		a->log_dropped++;
		pthread_mutex_unlock(&a->log_mu);
		return;
	}
	ln->next = NULL;
	ln->level = level;
	ln->ms = clock_wall_ms();
	ln->wf_len = (size_t)(slash - who);
	memcpy(ln->text, who, wl + 1);
	ln->line = ln->text + wl + 1;
	memcpy(ln->line, msg, ml + 1);
	if (a->log_tail != NULL) {
		a->log_tail->next = ln;
	} else {
		a->log_head = ln;
	}
	a->log_tail = ln;
	a->log_n++;
	pthread_mutex_unlock(&a->log_mu);
}

/* ------------------------------------------------------------------ */
/* dispatch                                                            */

static void
route_ev(void *ctx, struct msg_req *req, wire_v root)
{
	struct agent *a = ctx;
	links_handle_ev(node_links(a->n), req, root);
}

static void
route_call(void *ctx, struct msg_req *req, wire_v root)
{
	struct agent *a = ctx;
	links_handle_call(node_links(a->n), req, root);
}

static void
route_fence(void *ctx, struct msg_req *req, wire_v root)
{
	undeploy_fenced(ctx, wire_get(root, "parts"));
	reply_ok(req);
}

static void
route_fence_node(void *ctx, struct msg_req *req, wire_v root)
{
	struct agent *a = ctx;
	char *node = wire_str_dup(wire_get(root, "node"));
	if (node != NULL) {
		links_fence(node_links(a->n), node,
		    wire_as_u64(wire_get(root, "min_epoch"), 0));
		/* Declared lost: calls waiting for it, or made to it before
		 * its parts' new places arrive, fail now. */
		links_set_lost(node_links(a->n), node, true);
	}
	free(node);
	reply_ok(req);
}

static void
route_ping(void *ctx, struct msg_req *req, wire_v root)
{
	(void)ctx;
	(void)root;
	reply_ok(req);
}

/* The links' requests and the agent's own. */
static const struct reply_route routes[] = {
	{ "ev", route_ev, MSG_ROLE_NODE },
	{ "call", route_call, MSG_ROLE_NODE },
	{ "fence", route_fence, MSG_ROLE_NODE | MSG_ROLE_ORCHESTRATOR },
	{ "fence.node", route_fence_node, MSG_ROLE_ORCHESTRATOR },
	{ "ping", route_ping, MSG_ROLE_ANY },
};

static const struct reply_route *
agent_routes(size_t *n)
{
	*n = sizeof routes / sizeof routes[0];
	return routes;
}

/* This file's table, then the handler files' (agent_int.h). */
static const reply_table tables[] = {
	agent_routes,
	agent_deploy_routes,
	agent_state_routes,
	agent_invoke_routes,
};

static void
on_request(void *arg, struct msg_req *req)
{
	reply_dispatch(req, tables, sizeof tables / sizeof tables[0], arg);
}

/* ------------------------------------------------------------------ */
/* lifecycle                                                           */

int
agent_start(struct agent **ap, struct node *n, const struct agent_opts *o,
    char *err, size_t errlen)
{
	struct agent *a = calloc(1, sizeof *a);
	char codedir[4096];
	int rv;

	if (a == NULL) {
		snprintf(err, errlen, "out of memory");
		return LEDGE_ENOMEM;
	}
	hmap_init(&a->sizes);
	hmap_init(&a->deploys_seen);
	pthread_mutex_init(&a->log_mu, NULL);
	if (getrandom(&a->boot, sizeof a->boot, 0) != sizeof a->boot) {
		a->boot = clock_wall_ms() ^ (uint64_t)getpid() << 32;
	}
	a->boot |= 1; /* never 0 */
	a->n = n;
	a->tls = o->tls;
	a->orchestrator = strdup(o->orchestrator);
	a->listen = strdup(o->listen);
	a->http = o->http ? strdup(o->http) : NULL;
	a->nlabels = o->nlabels;
	a->label_keys = calloc(o->nlabels + 1, sizeof *a->label_keys);
	a->label_values = calloc(o->nlabels + 1, sizeof *a->label_values);
	for (size_t i = 0; i < o->nlabels && a->label_keys && a->label_values;
	     i++) {
		a->label_keys[i] = strdup(o->label_keys[i]);
		a->label_values[i] = strdup(o->label_values[i]);
	}
	snprintf(codedir, sizeof codedir, "%s/code", node_data_dir(n));
	mkdir(codedir, 0755);
	if ((rv = msg_server_new(node_loop(n), o->listen, o->tls, on_request, a,
	         &a->server, err, errlen)) != LEDGE_OK ||
	    (rv = msg_client_new(node_loop(n), o->orchestrator, o->tls, &a->orc,
	         err, errlen)) != LEDGE_OK) {
		agent_free(a);
		return rv;
	}
	a->join_timer = loop_timer_new(node_loop(n), on_join_timer, a);
	a->hb_timer = loop_timer_new(node_loop(n), on_hb_timer, a);
	if (a->join_timer == NULL || a->hb_timer == NULL) {
		snprintf(err, errlen, "out of memory");
		agent_free(a);
		return LEDGE_ENOMEM;
	}
	node_log(n)->tap = log_tap;
	node_log(n)->tap_arg = a;
	if (agent_replicas_start(a) != LEDGE_OK) {
		snprintf(err, errlen, "out of memory");
		agent_free(a);
		return LEDGE_ENOMEM;
	}
	loop_timer_start(a->join_timer, 0);
	loop_timer_start(a->hb_timer, HEARTBEAT_MS);
	rlog_write(node_log(n), RLOG_INFO, node_name(n),
	    "node listening on %s, joining %s", o->listen, o->orchestrator);
	*ap = a;
	return 0;
}

void
agent_free(struct agent *a)
{
	if (a == NULL) {
		return;
	}
	if (node_log(a->n)->tap_arg == a) {
		node_log(a->n)->tap = NULL;
		node_log(a->n)->tap_arg = NULL;
	}
	loop_timer_free(a->join_timer);
	loop_timer_free(a->hb_timer);
	a->join_timer = a->hb_timer = NULL;
	agent_replicas_stop(a);
	agent_deploy_held(a, true);
	msg_server_free(a->server);
	msg_client_free(a->orc);
	a->server = NULL;
	a->orc = NULL;
	/* Requests to the orchestrator still out complete with MSG_ECLOSED
	 * on the loop (msg.h); the last of them frees the agent. */
	a->closed = true;
	if (a->calls == 0) {
		agent_release(a);
	}
}
