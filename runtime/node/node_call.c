#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "node/node_call.h"

struct node_call *
node_call_new(
    bool external, void (*on_done)(struct node_call *, void *), void *arg)
{
	struct node_call *c = calloc(1, sizeof *c);
	if (c == NULL) {
		return NULL;
	}
	atomic_init(&c->refs, 2);
	c->external = external;
	c->on_done = on_done;
	c->arg = arg;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	return c;
}

void
node_call_ref(struct node_call *c)
{
	atomic_fetch_add(&c->refs, 1);
}

void
node_call_unref(struct node_call *c)
{
	if (c == NULL || atomic_fetch_sub(&c->refs, 1) != 1) {
		return;
	}
	node_reply_free(&c->reply);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

void
node_reply_free(struct node_reply *r)
{
	for (size_t i = 0; i < r->nheaders; i++) {
		free((char *)r->headers[i].name);
		free((char *)r->headers[i].value);
	}
	free(r->headers);
	free(r->content_type);
	free(r->body);
	memset(r, 0, sizeof *r);
}

bool
node_call_stage(struct node_call *c, struct node_reply *reply)
{
	bool first;

	pthread_mutex_lock(&c->mu);
	first = !c->done;
	if (first) {
		c->done = true;
		c->reply = *reply;
		memset(reply, 0, sizeof *reply);
	}
	pthread_mutex_unlock(&c->mu);
	if (!first) {
		node_reply_free(reply);
	}
	return first;
}

void
node_call_notify(struct node_call *c, int err)
{
	pthread_mutex_lock(&c->mu);
	if (err != LEDGE_OK) {
		node_reply_free(&c->reply);
		c->reply.err = err;
	}
	c->notified = true;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	if (c->on_done != NULL) {
		c->on_done(c, c->arg);
	}
}

void
node_call_complete(struct node_call *c, struct node_reply *reply)
{
	if (node_call_stage(c, reply)) {
		node_call_notify(c, LEDGE_OK);
	}
}

void
node_call_fail(struct node_call *c, int err)
{
	struct node_reply r;
	memset(&r, 0, sizeof r);
	r.err = err;
	node_call_complete(c, &r);
}

int
node_call_wait(struct node_call *c, uint32_t timeout_ms)
{
	struct timespec deadline = clock_deadline(timeout_ms);
	int rv = LEDGE_OK;

	pthread_mutex_lock(&c->mu);
	while (!c->notified) {
		if (pthread_cond_timedwait(&c->cv, &c->mu, &deadline) ==
		        ETIMEDOUT &&
		    !c->notified) {
			c->abandoned = true;
			rv = LEDGE_ETIMEDOUT;
			break;
		}
	}
	pthread_mutex_unlock(&c->mu);
	return rv;
}
