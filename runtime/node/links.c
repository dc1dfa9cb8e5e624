/*
 * links.c - the table of peer nodes of the links (links.h): their ids,
 * urls and membership epochs (fencing), statistics, and the links'
 * creation and teardown.  link_int.h says how the files divide.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rlog.h"
#include "node/commit.h"
#include "node/gate.h"
#include "node/link_int.h"
#include "node/replica.h"
#include "platform/loop.h"
#include "store/store.h"

/* ------------------------------------------------------------------ */
/* peers                                                               */

static struct peer *
add_peer_locked(struct links *l, const char *name, uint32_t id)
{
	struct peer *p = calloc(1, sizeof *p);
	if (p == NULL || (p->name = strdup(name)) == NULL) {
		free(p);
		return NULL;
	}
	p->l = l;
	p->id = id;
	p->backoff_ms = RETRY_MIN_MS;
	p->retry = loop_timer_new(l->env.loop, link_send_on_retry, p);
	p->next = l->peers;
	l->peers = p;
	if (id >= l->next_peer_id) {
		l->next_peer_id = id + 1;
	}
	return p;
}

/* Ids persist in meta as "peer:NAME" -> u32. */
static int
load_peer(void *arg, ledge_bytes key, ledge_bytes val)
{
	struct links *l = arg;
	char name[256];
	size_t n = key.len - 5;
	if (key.len <= 5 || n >= sizeof name || val.len != 4) {
		return 0;
	}
	memcpy(name, (const char *)key.data + 5, n);
	name[n] = '\0';
	add_peer_locked(l, name, store_rd32(val.data));
	return 0;
}

uint32_t
links_peer(struct links *l, const char *name)
{
	struct peer *p;
	uint32_t id;
	pthread_mutex_lock(&l->mu);
	if ((p = link_find_peer_locked(l, name, 0)) == NULL &&
	    (p = add_peer_locked(l, name, l->next_peer_id)) != NULL) {
		/* Committed like any record; an entry that uses the id
		 * commits after it. */
		struct commit_rec *rec = commit_rec_new();
		char key[300];
		unsigned char idb[4];
		int kn = snprintf(key, sizeof key, "peer:%s", name);
		store_be32(idb, p->id);
		if (rec != NULL &&
		    commit_rec_put(rec, STORE_META, key, (size_t)kn, idb, 4) ==
		        LEDGE_OK) {
			commit_submit(l->env.commit, rec);
		} else {
			commit_rec_free(rec);
		}
	}
	id = p ? p->id : 0;
	pthread_mutex_unlock(&l->mu);
	return id;
}

/* Drops the gate wants confirmed go to the arbiter (loop thread). */
static void
ask_arbiter(void *arg)
{
	struct links *l = arg;
	struct drop_wanted *d;
	pthread_mutex_lock(&l->mu);
	d = l->drops;
	l->drops = NULL;
	l->drops_posted = false;
	pthread_mutex_unlock(&l->mu);
	while (d != NULL) {
		struct drop_wanted *next = d->next;
		if (l->arbiter != NULL) {
			l->arbiter(l->arbiter_arg, d->peer, d->gen);
		} else if (!l->arbitrated) {
			links_replica_dropped(l, d->peer, d->gen);
		}
		free(d);
		d = next;
	}
}

/* The commit gate: replica `peer` changed state (committer thread). */
static void
on_gate(void *arg, const struct gate_news *nw)
{
	struct links *l = arg;
	struct peer *p;
	char name[128] = "?";
	uint32_t ms = l->env.replica_timeout_ms ? l->env.replica_timeout_ms
	                                        : COMMIT_GATE_TIMEOUT_MS;
	bool was, lagging = !nw->in_sync;
	pthread_mutex_lock(&l->mu);
	if ((p = link_find_peer_locked(l, NULL, nw->peer)) != NULL) {
		snprintf(name, sizeof name, "%s", p->name);
	}
	was = p != NULL && p->lagging;
	pthread_mutex_unlock(&l->mu);
	if (nw->state == GATE_DROPPING) {
		rlog_write(l->env.log, RLOG_WARN, l->self,
		    "replica node %s has not acknowledged writes for %u ms "
		    "(%llu behind): asking the orchestrator to let writes go "
		    "on without it (they wait until it answers)",
		    name, ms, (unsigned long long)nw->behind);
	} else if (nw->state == GATE_LAGGING) {
		rlog_write(l->env.log, RLOG_WARN, l->self,
		    "replica node %s %s (%llu behind): acknowledging without "
		    "it until it catches up; the parts it replicates run with "
		    "fewer replicas, and none fails over to it meanwhile",
		    name,
		    l->arbitrated ? "is no longer counted in sync"
		                  : "is not keeping pace",
		    (unsigned long long)nw->behind);
	} else if (nw->in_sync && was) {
		rlog_write(l->env.log, RLOG_INFO, l->self,
		    "replica node %s caught up: it holds every acknowledged "
		    "write again",
		    name);
	}
	/* Logged first: what reads the flag (metrics, heartbeats) finds
	 * the log line already written. */
	pthread_mutex_lock(&l->mu);
	if ((p = link_find_peer_locked(l, NULL, nw->peer)) != NULL) {
		p->lagging = lagging;
	}
	pthread_mutex_unlock(&l->mu);
	if (nw->state == GATE_DROPPING) {
		/* The arbiter is asked on the loop thread. */
		struct drop_wanted *d = malloc(sizeof *d);
		bool post;
		if (d == NULL) {
			return; /* writes keep waiting; nothing is lost */
		}
		snprintf(d->peer, sizeof d->peer, "%s", name);
		d->gen = nw->gen;
		pthread_mutex_lock(&l->mu);
		d->next = l->drops;
		l->drops = d;
		post = !l->drops_posted;
		l->drops_posted = true;
		pthread_mutex_unlock(&l->mu);
		if (post) {
			loop_post(l->env.loop, ask_arbiter, l);
		}
	}
}

void
links_set_arbiter(struct links *l,
    void (*fn)(void *arg, const char *peer, uint64_t gen), void *arg)
{
	l->arbiter = fn;
	l->arbiter_arg = arg;
	if (fn != NULL && !l->arbitrated) {
		/* Once arbitrated, always: a drop waits even for an arbiter
		 * that is gone (the node is stopping). */
		l->arbitrated = true;
		gate_set_arbitrated(commit_gate(l->env.commit), true);
	}
}

void
links_replica_dropped(struct links *l, const char *peer, uint64_t gen)
{
	uint32_t id = links_peer(l, peer);
	if (id != 0) {
		commit_replica_dropped(l->env.commit, id, gen);
	}
}

bool
links_replica_dropping(struct links *l, const char *peer, uint64_t gen)
{
	uint32_t id = links_peer(l, peer);
	return id != 0 && gate_dropping(commit_gate(l->env.commit), id, gen);
}

int
links_new(struct links **lp, const struct links_env *env, const char *self,
    uint64_t incarnation, const struct msg_tls *tls)
{
	struct links *l = calloc(1, sizeof *l);
	if (l == NULL || (l->self = strdup(self)) == NULL ||
	    replica_new(&l->rep) != LEDGE_OK) {
		if (l != NULL) {
			free(l->self);
		}
		free(l);
		return LEDGE_ENOMEM;
	}
	l->env = *env;
	commit_set_expand_hook(l->env.commit, replica_expand, l->rep);
	if (commit_set_gate(l->env.commit,
	        env->replica_timeout_ms ? env->replica_timeout_ms
	                                : COMMIT_GATE_TIMEOUT_MS,
	        on_gate, l) != LEDGE_OK) {
		replica_free(l->rep);
		free(l->self);
		free(l);
		return LEDGE_ENOMEM;
	}
	l->inc = incarnation;
	l->next_peer_id = 1;
	if (tls != NULL && tls->cert) {
		l->tls.cert = strdup(tls->cert);
		l->tls.key = strdup(tls->key);
		l->tls.ca = strdup(tls->ca);
		l->have_tls = true;
	}
	pthread_mutex_init(&l->mu, NULL);
	hmap_init(&l->in);
	hmap_init(&l->flights);
	store_scan_prefix(l->env.store, STORE_META, "peer:", 5, load_peer, l);
	*lp = l;
	return LEDGE_OK;
}

void
links_free(struct links *l)
{
	struct hmap_slot *sl;
	size_t pos = 0;
	if (l == NULL) {
		return;
	}
	pos = 0;
	while ((sl = hmap_next(&l->flights, &pos)) != NULL) {
		free(sl->value);
	}
	hmap_fini(&l->flights);
	pos = 0;
	while (l->drops != NULL) {
		struct drop_wanted *d = l->drops;
		l->drops = d->next;
		free(d);
	}
	while (l->peers != NULL) {
		struct peer *p = l->peers;
		l->peers = p->next;
		link_send_orphan(p);
		msg_client_free(p->client);
		loop_timer_free(p->retry);
		while (p->head != NULL) {
			struct out_entry *e = p->head;
			p->head = e->next;
			free(e);
		}
		free(p->name);
		free(p->url);
		free(p);
	}
	while ((sl = hmap_next(&l->in, &pos)) != NULL) {
		free(sl->value);
	}
	hmap_fini(&l->in);
	pthread_mutex_destroy(&l->mu);
	free((char *)l->tls.cert);
	free((char *)l->tls.key);
	free((char *)l->tls.ca);
	replica_free(l->rep);
	free(l->self);
	free(l);
}

int
links_set_replicas(struct links *l, uint32_t id, const char *name,
    const uint32_t *peers, size_t npeers, bool sync, uint64_t epoch,
    uint64_t *tgen)
{
	return replica_set(l->rep, id, name, peers, npeers, sync, epoch, tgen);
}

int
links_replica_primary(
    struct links *l, const char *name, uint64_t epoch, struct commit_rec *rec)
{
	return replica_primary(l->rep, &l->env, rec, name, epoch);
}

struct snap_watch {
	struct links *l;
	uint32_t id;
	uint64_t tgen;
};

static void
snapshot_released(void *arg, int err)
{
	struct snap_watch *w = arg;
	if (err == LEDGE_OK) {
		replica_snapshot_done(
		    w->l->rep, w->id, w->tgen, commit_gate(w->l->env.commit));
	}
	free(w);
}

int
links_watch_snapshot(
    struct links *l, uint32_t id, uint64_t tgen, struct commit_rec *rec)
{
	struct snap_watch *w = malloc(sizeof *w);
	if (w == NULL) {
		return LEDGE_ENOMEM;
	}
	*w = (struct snap_watch) { l, id, tgen };
	rec->done = snapshot_released;
	rec->arg = w;
	return LEDGE_OK;
}

size_t
links_replicas(
    struct links *l, uint32_t id, struct links_replica *out, size_t max)
{
	struct replica_status st[LINKS_REPLICAS_MAX];
	size_t n = replica_status(l->rep, id, commit_gate(l->env.commit), st,
	    max < LINKS_REPLICAS_MAX ? max : LINKS_REPLICAS_MAX);
	pthread_mutex_lock(&l->mu);
	for (size_t i = 0; i < n; i++) {
		struct peer *p = link_find_peer_locked(l, NULL, st[i].peer);
		snprintf(out[i].node, sizeof out[i].node, "%s",
		    p != NULL ? p->name : "?");
		out[i].in_sync = st[i].in_sync;
		out[i].gen = st[i].gen;
	}
	pthread_mutex_unlock(&l->mu);
	return n;
}

bool
links_full(struct links *l, uint32_t peer)
{
	struct peer *p;
	bool full = false;
	pthread_mutex_lock(&l->mu);
	if ((p = link_find_peer_locked(l, NULL, peer)) != NULL) {
		full = atomic_load(&p->nq) >= LINK_QUEUE_MAX;
	}
	pthread_mutex_unlock(&l->mu);
	return full;
}

void
links_fence(struct links *l, const char *name, uint64_t min_epoch)
{
	struct peer *p;
	links_peer(l, name);
	pthread_mutex_lock(&l->mu);
	if ((p = link_find_peer_locked(l, name, 0)) != NULL &&
	    p->max_epoch < min_epoch) {
		p->max_epoch = min_epoch;
	}
	pthread_mutex_unlock(&l->mu);
}

void
links_set_epoch(struct links *l, uint64_t epoch)
{
	atomic_store(&l->epoch, epoch);
}

size_t
links_backlog(struct links *l)
{
	return atomic_load(&l->backlog);
}

void
links_stats(struct links *l, struct links_totals *tot,
    void (*fn)(void *arg, const struct link_stats *st), void *arg)
{
	tot->repl_applied = replica_applied(l->rep);
	tot->forwarded = atomic_load(&l->forwarded);
	tot->backlog = atomic_load(&l->backlog);
	pthread_mutex_lock(&l->mu);
	for (struct peer *p = l->peers; fn != NULL && p != NULL; p = p->next) {
		struct link_stats st = {
			.peer = p->name,
			.queued = atomic_load(&p->nq),
			.acked = p->acked,
			.batches = p->batches,
			.retransmits = p->retransmits,
			.rtt_us = p->rtt_us,
			.lagging = p->lagging,
		};
		fn(arg, &st);
	}
	pthread_mutex_unlock(&l->mu);
}

void
links_set_url(struct links *l, const char *name, const char *url)
{
	struct peer *p;
	char err[256];
	links_peer(l, name);
	pthread_mutex_lock(&l->mu);
	p = link_find_peer_locked(l, name, 0);
	if (p != NULL && (p->url == NULL || strcmp(p->url, url) != 0)) {
		struct msg_client *old = p->client, *c = NULL;
		if (msg_client_new(l->env.loop, url,
		        l->have_tls ? &l->tls : NULL, &c, err,
		        sizeof err) != 0) {
			rlog_write(l->env.log, RLOG_ERROR, l->self,
			    "link to %s: %s", name, err);
		} else {
			free(p->url);
			p->url = strdup(url);
			p->client = c;
			link_send_orphan(p);
		}
		pthread_mutex_unlock(&l->mu);
		msg_client_free(old);
		if (p->client != NULL) {
			link_send_kick(p);
		}
		return;
	}
	pthread_mutex_unlock(&l->mu);
}

bool
links_epoch_ok(struct links *l, const char *from, uint64_t epoch)
{
	struct peer *p;
	bool ok = true;
	pthread_mutex_lock(&l->mu);
	if ((p = link_find_peer_locked(l, from, 0)) == NULL) {
		pthread_mutex_unlock(&l->mu);
		links_peer(l, from);
		pthread_mutex_lock(&l->mu);
		p = link_find_peer_locked(l, from, 0);
	}
	if (p != NULL) {
		if (epoch < p->max_epoch) {
			ok = false;
		} else {
			p->max_epoch = epoch;
		}
	}
	pthread_mutex_unlock(&l->mu);
	return ok;
}
