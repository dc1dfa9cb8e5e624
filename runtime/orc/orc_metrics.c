/*
 * orc_metrics.c - the Prometheus text of the orchestrator's view: nodes,
 * their liveness, parts placed and pending (orc.h).
 */
#include <stdio.h>
#include <stdlib.h>

#include <ledge.h>

#include "base/clock.h"
#include "orc/orc.h"
#include "orc/orc_model.h"

int
orc_metrics(struct orc *o, char **out, size_t *len)
{
	FILE *fp = open_memstream(out, len);
	uint64_t now = clock_mono_ms();
	if (fp == NULL) {
		return LEDGE_ENOMEM;
	}
	fprintf(fp,
	    "# HELP ledge_node_up 1 if the node is up, 0 if lost.\n"
	    "# TYPE ledge_node_up gauge\n");
	for (struct onode *n = o->nodes; n; n = n->next) {
		fprintf(fp, "ledge_node_up{node=\"%s\"} %d\n", n->name,
		    n->health == H_UP);
	}
	fprintf(fp,
	    "# HELP ledge_node_heartbeat_age_seconds Time since the "
	    "node was last heard from.\n"
	    "# TYPE ledge_node_heartbeat_age_seconds gauge\n");
	for (struct onode *n = o->nodes; n; n = n->next) {
		fprintf(fp,
		    "ledge_node_heartbeat_age_seconds{node=\"%s\"} %.3f\n",
		    n->name,
		    n->last_seen ? (double)(now - n->last_seen) / 1e3 : -1);
	}
	fprintf(fp,
	    "# HELP ledge_parts Parts of workflows by state.\n"
	    "# TYPE ledge_parts gauge\n");
	size_t placed = 0, pending = 0;
	for (struct owf *w = o->wfs; w; w = w->next) {
		for (size_t i = 0; i < w->nparts; i++) {
			placed += w->place[i].node != NULL;
			pending += w->place[i].node == NULL;
		}
	}
	fprintf(fp, "ledge_parts{state=\"placed\"} %zu\n", placed);
	fprintf(fp, "ledge_parts{state=\"pending\"} %zu\n", pending);
	return fclose(fp) == 0 ? LEDGE_OK : LEDGE_ENOMEM;
}
