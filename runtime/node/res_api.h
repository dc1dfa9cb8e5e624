/*
 * res_api.h - the node's services for resources (resources/): the
 * targets of a resource's outputs, casting to them, finishing or answering
 * the events a resource is given, a per-node slot for a resource type,
 * the HTTP client.  The resource interface itself is workflow/resource.h;
 * a resource sends with node_send_inline and admits with node_admit
 * (route.h).
 *
 * Threads: the loop thread, as every resource op (resource.h).
 */
#ifndef LEDGE_NODE_RES_API_H
#define LEDGE_NODE_RES_API_H

#include <stddef.h>

struct http_client;
struct node;
struct node_event;
struct node_reply;
struct node_target;
struct res;

/* The i-th target of output `name` of resource r; NULL past the end. */
struct node_target *node_res_output(struct res *r, const char *name, size_t i);

/*
 * Cast a copy of `data` to every target of output `name` of r (a timer
 * tick).  Targets that are full are skipped and counted.  Returns the
 * number of targets reached.  Loop thread.
 */
size_t node_res_cast(
    struct res *r, const char *name, const void *data, size_t len);

/* node_res_cast with a key (1..LEDGE_KEY_MAX bytes) for the keyed
 * functions among the targets; the others ignore it.  key NULL: none. */
size_t node_res_cast_key(struct res *r, const char *name, const void *key,
    size_t klen, const void *data, size_t len);

/*
 * A resource is finished with an event it was given: a durable event's
 * queue entry is deleted (committed), then the event is freed.  `err` is
 * logged when not LEDGE_OK.  Loop thread.
 */
void node_event_done(
    struct node *n, struct res *r, struct node_event *ev, int err);

/*
 * A resource answers a call event it was given; `reply` is moved.  The
 * event is freed.  Loop thread.
 */
void node_event_reply(
    struct node *n, struct node_event *ev, struct node_reply *reply);

/*
 * A per-node slot for a resource type's shared state (http-ingress keeps
 * its route table here).  Loop thread.  NULL when out of memory.
 */
void **node_type_slot(struct node *n, const void *type);

/* The node's HTTP client (created on first use); NULL when out of memory. */
struct http_client *node_http_client(struct node *n);

#endif
