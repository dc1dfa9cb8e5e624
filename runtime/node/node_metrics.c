/*
 * node_metrics.c - Prometheus text exposition of a node: events in/out,
 * errors, busy time and a handler time histogram per instance, mailbox
 * depths, committer batches, store size, per-link queue, retransmits and
 * round-trip time, replication.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/commit.h"
#include "node/links.h"
#include "node/node.h"
#include "node/node_metrics.h"
#include "platform/http.h"
#include "store/store.h"

struct render {
	FILE *fp;
	const char *node;
	int which;
};

/*
 * The slots of a keyed function (instances "wf/NAME#i", next to each
 * other in the node's order) are shown as one instance, "wf/NAME", their
 * figures summed: a function is what its user named.  Each series'
 * callback goes through `by_function`, which adds up a run of slots and
 * hands the sum on when the run ends (and at by_function_end).
 */
struct agg {
	void (*emit)(void *arg, const struct node_inst_stats *st);
	void *arg;
	bool have;
	char name[512];
	size_t nlen;
	struct node_inst_stats sum;
};

static void
by_function_end(struct agg *g)
{
	if (g->have) {
		g->sum.name = g->name;
		g->emit(g->arg, &g->sum);
		g->have = false;
	}
}

static void
by_function(void *arg, const struct node_inst_stats *st)
{
	struct agg *g = arg;
	const char *hash = strchr(st->name, '#');
	size_t nlen = hash != NULL ? (size_t)(hash - st->name) : 0;

	if (hash == NULL || nlen >= sizeof g->name) {
		by_function_end(g);
		g->emit(g->arg, st);
		return;
	}
	if (g->have &&
	    (g->nlen != nlen || memcmp(g->name, st->name, nlen) != 0)) {
		by_function_end(g);
	}
	if (!g->have) {
		g->sum = *st;
		memcpy(g->name, st->name, nlen);
		g->name[nlen] = '\0';
		g->nlen = nlen;
		g->have = true;
		return;
	}
	g->sum.events += st->events;
	g->sum.errors += st->errors;
	g->sum.emitted += st->emitted;
	g->sum.busy_us += st->busy_us;
	g->sum.mailbox += st->mailbox;
	for (size_t b = 0; b < NODE_HIST_N; b++) {
		g->sum.hist[b] += st->hist[b];
	}
	g->sum.keys_active += st->keys_active;
	g->sum.key_activations += st->key_activations;
	g->sum.key_passivations += st->key_passivations;
}

/* node_foreach_instance, slots summed per function (struct agg). */
static void
foreach_function(struct node *n,
    void (*emit)(void *arg, const struct node_inst_stats *st), void *arg)
{
	struct agg g = { .emit = emit, .arg = arg };
	node_foreach_instance(n, by_function, &g);
	by_function_end(&g);
}

static void
series(void *arg, const struct node_inst_stats *st)
{
	struct render *r = arg;
	static const char *const names[] = { "ledge_instance_events_total",
		"ledge_instance_errors_total", "ledge_instance_emitted_total",
		"ledge_instance_busy_seconds_total", "ledge_instance_mailbox" };
	double v = r->which == 0 ? (double)st->events
	    : r->which == 1      ? (double)st->errors
	    : r->which == 2      ? (double)st->emitted
	    : r->which == 3      ? (double)st->busy_us / 1e6
	                         : (double)st->mailbox;
	fprintf(r->fp, "%s{node=\"%s\",instance=\"%s\"} %.9g\n",
	    names[r->which], r->node, st->name, v);
}

static void
histogram(void *arg, const struct node_inst_stats *st)
{
	struct render *r = arg;
	static const uint32_t le[NODE_HIST_N] = NODE_HIST_BOUNDS;
	uint64_t cum = 0;
	for (size_t b = 0; b < NODE_HIST_N; b++) {
		cum += st->hist[b];
		fprintf(r->fp,
		    "ledge_handler_seconds_bucket{node=\"%s\",instance=\"%s\","
		    "le=\"%g\"} %llu\n",
		    r->node, st->name, le[b] / 1e6, (unsigned long long)cum);
	}
	fprintf(r->fp,
	    "ledge_handler_seconds_bucket{node=\"%s\",instance=\"%s\","
	    "le=\"+Inf\"} %llu\n"
	    "ledge_handler_seconds_sum{node=\"%s\",instance=\"%s\"} %.9g\n"
	    "ledge_handler_seconds_count{node=\"%s\",instance=\"%s\"} "
	    "%llu\n",
	    r->node, st->name, (unsigned long long)st->events, r->node,
	    st->name, (double)st->busy_us / 1e6, r->node, st->name,
	    (unsigned long long)st->events);
}

/* isolation: process: host starts and failures by reason. */
static void
host_series(void *arg, const struct node_inst_stats *st)
{
	struct render *r = arg;
	static const char *const reasons[] = { "crash", "timeout", "memory",
		"start", "sandbox" };
	const uint64_t v[] = { st->host_crashed, st->host_timeout,
		st->host_memory, st->host_broken, st->host_sandbox };

	if (!st->isolated) {
		return;
	}
	if (r->which == 0) {
		fprintf(r->fp,
		    "ledge_host_starts_total{node=\"%s\",instance=\"%s\"} "
		    "%llu\n",
		    r->node, st->name, (unsigned long long)st->host_starts);
		return;
	}
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		fprintf(r->fp,
		    "ledge_host_failures_total{node=\"%s\",instance=\"%s\","
		    "reason=\"%s\"} %llu\n",
		    r->node, st->name, reasons[i], (unsigned long long)v[i]);
	}
}

/* keyed: keys in memory, activations, passivations. */
static void
key_series(void *arg, const struct node_inst_stats *st)
{
	struct render *r = arg;
	static const char *const names[] = { "ledge_keys_active",
		"ledge_key_activations_total", "ledge_key_passivations_total" };
	const uint64_t v[] = { st->keys_active, st->key_activations,
		st->key_passivations };

	if (st->keyed) {
		fprintf(r->fp, "%s{node=\"%s\",instance=\"%s\"} %llu\n",
		    names[r->which], r->node, st->name,
		    (unsigned long long)v[r->which]);
	}
}

static void
link_series(void *arg, const struct link_stats *st)
{
	struct render *r = arg;
	switch (r->which) {
	case 0:
		fprintf(r->fp,
		    "ledge_link_queued{node=\"%s\",peer=\"%s\"} %zu\n", r->node,
		    st->peer, st->queued);
		break;
	case 1:
		fprintf(r->fp,
		    "ledge_link_batches_total{node=\"%s\",peer=\"%s\"} %llu\n",
		    r->node, st->peer, (unsigned long long)st->batches);
		break;
	case 2:
		fprintf(r->fp,
		    "ledge_link_retransmits_total{node=\"%s\",peer=\"%s\"} "
		    "%llu\n",
		    r->node, st->peer, (unsigned long long)st->retransmits);
		break;
	case 3:
		fprintf(r->fp,
		    "ledge_link_rtt_seconds{node=\"%s\",peer=\"%s\"} %.6f\n",
		    r->node, st->peer, (double)st->rtt_us / 1e6);
		break;
	default:
		fprintf(r->fp,
		    "ledge_replica_lagging{node=\"%s\",peer=\"%s\"} %d\n",
		    r->node, st->peer, st->lagging ? 1 : 0);
		break;
	}
}

/* The store's room and the writes refused for the lack of it. */
static void
store_metrics(FILE *fp, struct store *st, const char *node)
{
	struct store_space sp;
	store_space(st, &sp);
	fprintf(fp,
	    "# HELP ledge_store_used_bytes Bytes of the store's live pages.\n"
	    "# TYPE ledge_store_used_bytes gauge\n"
	    "ledge_store_used_bytes{node=\"%s\"} %llu\n"
	    "# HELP ledge_store_limit_bytes The most the store may use "
	    "(--store-size); writes that grow state stop %llu bytes short "
	    "of it, kept for deletes.\n"
	    "# TYPE ledge_store_limit_bytes gauge\n"
	    "ledge_store_limit_bytes{node=\"%s\"} %llu\n"
	    "# HELP ledge_store_map_bytes The store's current map (grows on "
	    "demand up to the limit).\n"
	    "# TYPE ledge_store_map_bytes gauge\n"
	    "ledge_store_map_bytes{node=\"%s\"} %llu\n"
	    "# HELP ledge_store_refused_total State writes refused for lack "
	    "of room (reason: full - the store, quota - the function's "
	    "limits: {state_mb}, commit - a record that did not fit at "
	    "commit).\n"
	    "# TYPE ledge_store_refused_total counter\n",
	    node, (unsigned long long)sp.used, (unsigned long long)sp.reserve,
	    node, (unsigned long long)sp.limit, node,
	    (unsigned long long)sp.map);
	for (int i = 0; i < STORE_REFUSED_N; i++) {
		fprintf(fp,
		    "ledge_store_refused_total{node=\"%s\",reason=\"%s\"} "
		    "%llu\n",
		    node, store_refusal_name(i),
		    (unsigned long long)sp.refused[i]);
	}
}

int
node_metrics_render(struct node *n, char **out, size_t *len)
{
	FILE *fp = open_memstream(out, len);
	struct render r = { fp, node_name(n), 0 };
	struct commit_stats cs;
	static const char *const help[][3] = {
		{ "ledge_instance_events_total", "counter",
		    "Events handled by the instance (casts, calls, control)." },
		{ "ledge_instance_errors_total", "counter",
		    "Handler runs that failed." },
		{ "ledge_instance_emitted_total", "counter",
		    "Events the instance emitted (casts)." },
		{ "ledge_instance_busy_seconds_total", "counter",
		    "Time spent in the instance's handlers." },
		{ "ledge_instance_mailbox", "gauge",
		    "Events waiting in the instance's mailbox." },
	};

	if (fp == NULL) {
		return LEDGE_ENOMEM;
	}
	for (r.which = 0; r.which < 5; r.which++) {
		fprintf(fp, "# HELP %s %s\n# TYPE %s %s\n", help[r.which][0],
		    help[r.which][2], help[r.which][0], help[r.which][1]);
		foreach_function(n, series, &r);
	}
	fprintf(fp,
	    "# HELP ledge_handler_seconds Time of each handler run.\n"
	    "# TYPE ledge_handler_seconds histogram\n");
	foreach_function(n, histogram, &r);
	fprintf(fp,
	    "# HELP ledge_host_starts_total Host processes started for an "
	    "instance with isolation: process.\n"
	    "# TYPE ledge_host_starts_total counter\n");
	r.which = 0;
	node_foreach_instance(n, host_series, &r);
	fprintf(fp,
	    "# HELP ledge_host_failures_total Host processes killed: crashed, "
	    "past timeout_ms, past memory_mb, or could not start.\n"
	    "# TYPE ledge_host_failures_total counter\n");
	r.which = 1;
	node_foreach_instance(n, host_series, &r);
	static const char *const khelp[][3] = {
		{ "ledge_keys_active", "gauge",
		    "Key instances of a keyed function in memory." },
		{ "ledge_key_activations_total", "counter",
		    "Key instances activated (init run for a key)." },
		{ "ledge_key_passivations_total", "counter",
		    "Key instances passivated (stop run, memory freed)." },
	};
	for (r.which = 0; r.which < 3; r.which++) {
		fprintf(fp, "# HELP %s %s\n# TYPE %s %s\n", khelp[r.which][0],
		    khelp[r.which][2], khelp[r.which][0], khelp[r.which][1]);
		foreach_function(n, key_series, &r);
	}
	static const char *const lhelp[][3] = {
		{ "ledge_link_queued", "gauge",
		    "Events for the peer not acknowledged yet." },
		{ "ledge_link_batches_total", "counter",
		    "Event batches sent to the peer." },
		{ "ledge_link_retransmits_total", "counter",
		    "Events sent to the peer more than once." },
		{ "ledge_link_rtt_seconds", "gauge",
		    "Smoothed round trip of a batch to the peer." },
		{ "ledge_replica_lagging", "gauge",
		    "1 while the peer, a replica, lags: writes are "
		    "acknowledged without it." },
	};
	struct links_totals lt;
	for (r.which = 0; r.which < 5; r.which++) {
		fprintf(fp, "# HELP %s %s\n# TYPE %s %s\n", lhelp[r.which][0],
		    lhelp[r.which][2], lhelp[r.which][0], lhelp[r.which][1]);
		links_stats(node_links(n), &lt, link_series, &r);
	}
	fprintf(fp,
	    "# HELP ledge_repl_applied_total State replication entries "
	    "applied here.\n"
	    "# TYPE ledge_repl_applied_total counter\n"
	    "ledge_repl_applied_total{node=\"%s\"} %llu\n"
	    "# HELP ledge_link_forwarded_total Events passed on to the node a "
	    "part moved to.\n"
	    "# TYPE ledge_link_forwarded_total counter\n"
	    "ledge_link_forwarded_total{node=\"%s\"} %llu\n",
	    r.node, (unsigned long long)lt.repl_applied, r.node,
	    (unsigned long long)lt.forwarded);
	commit_get_stats(node_commit(n), &cs);
	fprintf(fp,
	    "# HELP ledge_commit_batches_total LMDB write transactions.\n"
	    "# TYPE ledge_commit_batches_total counter\n"
	    "ledge_commit_batches_total{node=\"%s\"} %llu\n"
	    "# HELP ledge_commit_records_total Handler results committed.\n"
	    "# TYPE ledge_commit_records_total counter\n"
	    "ledge_commit_records_total{node=\"%s\"} %llu\n"
	    "# HELP ledge_commit_replica_waits_total Records whose "
	    "acknowledgement waited for their replicas.\n"
	    "# TYPE ledge_commit_replica_waits_total counter\n"
	    "ledge_commit_replica_waits_total{node=\"%s\"} %llu\n"
	    "# HELP ledge_commit_replica_waiting Records durable here waiting "
	    "for their replicas now.\n"
	    "# TYPE ledge_commit_replica_waiting gauge\n"
	    "ledge_commit_replica_waiting{node=\"%s\"} %zu\n"
	    "# HELP ledge_commit_repl_ahead_total Replication entries sent "
	    "to replicas while their commit here was still under way.\n"
	    "# TYPE ledge_commit_repl_ahead_total counter\n"
	    "ledge_commit_repl_ahead_total{node=\"%s\"} %llu\n"
	    "# HELP ledge_replica_lagged_total Times a replica was marked "
	    "lagging (no acknowledgement within the replica timeout, or lost)."
	    "\n"
	    "# TYPE ledge_replica_lagged_total counter\n"
	    "ledge_replica_lagged_total{node=\"%s\"} %llu\n"
	    "# HELP ledge_store_bytes Size of the node's LMDB data.\n"
	    "# TYPE ledge_store_bytes gauge\n"
	    "ledge_store_bytes{node=\"%s\"} %llu\n"
	    "# HELP ledge_link_backlog Events waiting to be sent to other "
	    "nodes.\n"
	    "# TYPE ledge_link_backlog gauge\n"
	    "ledge_link_backlog{node=\"%s\"} %zu\n"
	    "# HELP ledge_events_dropped_total Events the node could not hand "
	    "on because memory ran out (reason: remote - to another node's "
	    "outbox, delayed - a delayed event, resource - to a resource).\n"
	    "# TYPE ledge_events_dropped_total counter\n"
	    "ledge_events_dropped_total{node=\"%s\",reason=\"%s\"} %llu\n"
	    "ledge_events_dropped_total{node=\"%s\",reason=\"%s\"} %llu\n"
	    "ledge_events_dropped_total{node=\"%s\",reason=\"%s\"} %llu\n"
	    "# HELP ledge_node_up 1 while the node runs.\n"
	    "# TYPE ledge_node_up gauge\n"
	    "ledge_node_up{node=\"%s\"} 1\n",
	    r.node, (unsigned long long)cs.batches, r.node,
	    (unsigned long long)cs.records, r.node,
	    (unsigned long long)cs.gate_waits, r.node, cs.gate_waiting, r.node,
	    (unsigned long long)cs.early, r.node,
	    (unsigned long long)cs.gate_lagged, r.node,
	    (unsigned long long)store_size(node_store(n)), r.node,
	    links_backlog(node_links(n)), r.node,
	    node_drop_name(NODE_DROP_REMOTE),
	    (unsigned long long)node_dropped(n, NODE_DROP_REMOTE), r.node,
	    node_drop_name(NODE_DROP_DELAYED),
	    (unsigned long long)node_dropped(n, NODE_DROP_DELAYED), r.node,
	    node_drop_name(NODE_DROP_RESOURCE),
	    (unsigned long long)node_dropped(n, NODE_DROP_RESOURCE), r.node);
	store_metrics(fp, node_store(n), r.node);
	return fclose(fp) == 0 ? LEDGE_OK : LEDGE_ENOMEM;
}

static void
on_metrics(void *arg, struct http_req *req)
{
	char *text = NULL;
	size_t len = 0;
	int rv = node_metrics_render(arg, &text, &len);
	http_req_respond_metrics(req, rv, text, len);
}

void
node_metrics_serve(struct node *n)
{
	if (node_http(n) != NULL) {
		http_server_add_path(node_http(n), "/metrics", on_metrics, n);
	}
}
