/*
 * node_metrics.c - Prometheus text exposition of a node: events in/out,
 * errors and busy time per instance, mailbox depths, committer batches,
 * store size, link backlog.
 */
#include <stdio.h>
#include <stdlib.h>

#include "http.h"
#include "node.h"
#include "node_commit.h"
#include "node_link.h"
#include "node_metrics.h"
#include "store.h"

struct render {
	FILE *fp;
	const char *node;
	int which;
};

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
		return -1;
	}
	for (r.which = 0; r.which < 5; r.which++) {
		fprintf(fp, "# HELP %s %s\n# TYPE %s %s\n", help[r.which][0],
		    help[r.which][2], help[r.which][0], help[r.which][1]);
		node_foreach_instance(n, series, &r);
	}
	commit_get_stats(node_commit(n), &cs);
	fprintf(fp,
	    "# HELP ledge_commit_batches_total LMDB write transactions.\n"
	    "# TYPE ledge_commit_batches_total counter\n"
	    "ledge_commit_batches_total{node=\"%s\"} %llu\n"
	    "# HELP ledge_commit_records_total Handler results committed.\n"
	    "# TYPE ledge_commit_records_total counter\n"
	    "ledge_commit_records_total{node=\"%s\"} %llu\n"
	    "# HELP ledge_store_bytes Size of the node's LMDB data.\n"
	    "# TYPE ledge_store_bytes gauge\n"
	    "ledge_store_bytes{node=\"%s\"} %llu\n"
	    "# HELP ledge_link_backlog Events waiting to be sent to other "
	    "nodes.\n"
	    "# TYPE ledge_link_backlog gauge\n"
	    "ledge_link_backlog{node=\"%s\"} %zu\n"
	    "# HELP ledge_node_up 1 while the node runs.\n"
	    "# TYPE ledge_node_up gauge\n"
	    "ledge_node_up{node=\"%s\"} 1\n",
	    r.node, (unsigned long long)cs.batches, r.node,
	    (unsigned long long)cs.records, r.node,
	    (unsigned long long)store_size(node_store(n)), r.node,
	    links_backlog(node_links(n)), r.node);
	return fclose(fp) == 0 ? 0 : -1;
}

static void
on_metrics(void *arg, struct http_req *req)
{
	char *text = NULL;
	size_t len = 0;
	if (node_metrics_render(arg, &text, &len) != 0) {
		http_req_respond(req, 500, "text/plain", NULL, 0, "error\n", 6);
	} else {
		http_req_respond(
		    req, 200, "text/plain; version=0.0.4", NULL, 0, text, len);
	}
	free(text);
}

void
node_metrics_serve(struct node *n)
{
	if (node_http(n) != NULL) {
		http_server_add_path(node_http(n), "/metrics", on_metrics, n);
	}
}
