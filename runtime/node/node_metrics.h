/*
 * node_metrics.h - the node's counters in Prometheus text format, served
 * at /metrics on its HTTP address.
 */
#ifndef LEDGE_NODE_NODE_METRICS_H
#define LEDGE_NODE_NODE_METRICS_H

#include <stddef.h>

struct node;

/* Render into a malloc'd buffer.  Loop thread.  Returns LEDGE_OK or
 * LEDGE_ENOMEM. */
int node_metrics_render(struct node *n, char **out, size_t *len);

/* Serve GET /metrics on the node's HTTP listener (if it has one). */
void node_metrics_serve(struct node *n);

#endif
