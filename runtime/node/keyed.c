/*
 * keyed.c - one instance per key: the key table of a keyed part
 * (keyed.h).
 *
 * The table maps a key's bytes to its instance and keeps every key
 * instance on one list, least recently used first, so that the timer
 * finds the idle ones from the front without looking at the rest.  A key
 * instance is in one of three states:
 *
 *   K_ACTIVE    running, or waiting for events
 *   K_STOPPING  its stop is queued (the timer chose it, or the part
 *               stops); events that come meanwhile queue behind the stop
 *               and revive it when the stop has run
 *   K_STOPPED   stop ran; freed by the timer once no worker holds it and
 *               all it wrote is durable (its cache is then empty), or
 *               revived by the next event
 */
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "code/code.h"
#include "node/commit.h"
#include "node/exec.h"
#include "node/instance.h"
#include "node/keyed.h"
#include "node/keyslab.h"
#include "node/keytab.h"
#include "node/node_event.h"
#include "node/node_impl.h"
#include "node/sched.h"
#include "platform/loop.h"
#include "workflow/workflow.h"

#include "base/clock.h"

enum { K_ACTIVE = 0, K_STOPPING, K_STOPPED };

/* Keys up to this long live in their instance's slot. */
#define KEY_INLINE 32

/* How soon the timer comes back while key caches wait to be emptied. */
#define EVICT_MS 100

/* Passivations in one tick after which the heap is trimmed. */
#define TRIM_AFTER 1024

/* The timer's period: a quarter of idle_s, between these. */
#define TICK_MIN_MS 50
#define TICK_MAX_MS 5000

struct keyed {
	pthread_mutex_t mu;
	struct node *node;
	struct node_instance *part;
	struct keytab keys;  /* key bytes -> key instance */
	struct keyslab slab; /* their memory */
	struct node_instance *lru_head, *lru_tail;
	struct node_code *code; /* what new key instances run */
	uint64_t idle_ms;
	size_t max_active;
	bool closed;         /* the part stops: no activations */
	size_t stopping_all; /* keyed_stop_all: stops still to run */
	size_t stop_calls;   /* part stops that wait for stopping_all */
	bool armed;          /* the timer runs (or its arming is posted) */
	struct loop_timer *timer;
	uint64_t tick_ms;
	_Atomic uint64_t activations, passivations;
	/* events in the key instances' mailboxes, all keys together: what
	 * admission bounds (keyed_admit) */
	atomic_long queued;
	/* one of its keys made a blocking call: none runs inline (exec.h) */
	atomic_bool blocks;
	/* how quick its keys' handlers are, all keys together (exec.h):
	 * fast runs in a row, and how many earn running inline */
	atomic_uint streak, needed;
	/* keys whose write-behind cache holds something: the timer empties
	 * them once it is durable, so that an idle key holds no cache */
	struct node_instance *dirty;
	uint64_t trimmed_ms; /* the last malloc_trim (loop thread) */
};

static void tick(void *arg);

int
keyed_new(struct node *n, struct node_instance *part)
{
	struct keyed *kd = calloc(1, sizeof *kd);
	const struct wf_function *f = part->spec;

	if (kd == NULL) {
		return LEDGE_ENOMEM;
	}
	pthread_mutex_init(&kd->mu, NULL);
	keytab_init(&kd->keys);
	keyslab_init(&kd->slab, sizeof(struct node_instance) + KEY_INLINE);
	kd->node = n;
	kd->part = part;
	kd->code = code_ref(part->code);
	kd->idle_ms = (uint64_t)(f->idle_s ? f->idle_s : 300) * 1000;
	/* A function split into slots: each bounds its share (the loader
	 * makes no more slots than max_active). */
	kd->max_active = f->max_active
	    ? f->max_active / (f->nslots > 1 ? f->nslots : 1)
	    : SIZE_MAX;
	atomic_init(&kd->needed, EXEC_INLINE_STREAK);
	kd->tick_ms = kd->idle_ms / 4;
	kd->tick_ms = kd->tick_ms < TICK_MIN_MS ? TICK_MIN_MS
	    : kd->tick_ms > TICK_MAX_MS         ? TICK_MAX_MS
	                                        : kd->tick_ms;
	if ((kd->timer = loop_timer_new(n->loop, tick, kd)) == NULL) {
		code_release(kd->code);
		keytab_fini(&kd->keys);
		pthread_mutex_destroy(&kd->mu);
		free(kd);
		return LEDGE_ENOMEM;
	}
	part->keyed = kd;
	return LEDGE_OK;
}

static void
key_free(struct keyed *kd, struct node_instance *k)
{
	mb_fini(&k->mb);
	instance_dirty_clear(k);
	hmap_fini(&k->dirty);
	code_release(k->code);
	if (k->key != (unsigned char *)(k + 1)) {
		free(k->key); /* longer than KEY_INLINE */
	}
	keyslab_free(&kd->slab, k->kslab, k);
}

void
keyed_free(struct node_instance *part)
{
	struct keyed *kd = part->keyed;
	struct node_instance *k, *next;

	if (kd == NULL) {
		return;
	}
	loop_timer_free(kd->timer);
	for (k = kd->lru_head; k != NULL; k = next) {
		next = k->lru_next;
		key_free(kd, k);
	}
	keytab_fini(&kd->keys);
	keyslab_fini(&kd->slab);
	code_release(kd->code);
	pthread_mutex_destroy(&kd->mu);
	free(kd);
	part->keyed = NULL;
}

/* --- the list, least recently used first (mu) ---------------------- */

static void
lru_unlink(struct keyed *kd, struct node_instance *k)
{
	if (k->lru_prev != NULL) {
		k->lru_prev->lru_next = k->lru_next;
	} else {
		kd->lru_head = k->lru_next;
	}
	if (k->lru_next != NULL) {
		k->lru_next->lru_prev = k->lru_prev;
	} else {
		kd->lru_tail = k->lru_prev;
	}
	k->lru_prev = k->lru_next = NULL;
}

static void
lru_append(struct keyed *kd, struct node_instance *k)
{
	k->lru_next = NULL;
	k->lru_prev = kd->lru_tail;
	if (kd->lru_tail != NULL) {
		kd->lru_tail->lru_next = k;
	} else {
		kd->lru_head = k;
	}
	kd->lru_tail = k;
}

/* --- activation ------------------------------------------------------ */

/* When the timer comes first after arming: soon, as a new key's first
 * writes leave a cache to empty. */
static uint64_t
first_tick(const struct keyed *kd)
{
	return kd->tick_ms > EVICT_MS ? EVICT_MS : kd->tick_ms;
}

static void
arm_posted(void *arg)
{
	struct keyed *kd = arg;
	loop_timer_start(kd->timer, first_tick(kd));
}

/* The timer runs while the table holds keys (mu). */
static void
arm(struct keyed *kd)
{
	if (kd->armed) {
		return;
	}
	kd->armed = true;
	if (loop_on_thread(kd->node->loop)) {
		loop_timer_start(kd->timer, first_tick(kd));
	} else if (loop_post(kd->node->loop, arm_posted, kd) != LEDGE_OK) {
		kd->armed = false; /* the next activation tries again */
	}
}

/* The control event `kind` for k, or NULL when out of memory. */
static struct node_event *
ctl_event(struct node_instance *k, int kind, void *ctl)
{
	struct node_event *ev =
	    node_event_new((uint8_t)kind, k->target.id, NULL, 0);
	if (ev != NULL) {
		ev->ctl = ctl;
		ev->to = &k->target;
	}
	return ev;
}

/* Queue the control event `kind` on k, first in line when `front`
 * (mu).  LEDGE_OK or LEDGE_ENOMEM. */
static int
queue_ctl(struct node_instance *k, int kind, void *ctl, bool front)
{
	struct node_event *ev = ctl_event(k, kind, ctl);
	if (ev == NULL) {
		return LEDGE_ENOMEM;
	}
	ev->enq_us = clock_mono_us();
	atomic_fetch_add_explicit(
	    &k->part->keyed->queued, 1, memory_order_relaxed);
	if (front) {
		mb_push_front(&k->mb, ev);
	} else if (mb_push(&k->mb, ev)) {
		sched_enqueue(k->node->sched, k);
	}
	return LEDGE_OK;
}

/* A stopped key starts again (mu): on its part's code now (no worker
 * uses k's code once its stop ran), with its init first - queued, or
 * handed back in *out.  Out of memory: its events fail instead. */
static int
queue_start(struct keyed *kd, struct node_instance *k, bool front,
    struct node_event **out)
{
	int rv = LEDGE_OK;
	if (k->code != kd->code) {
		code_release(k->code);
		k->code = code_ref(kd->code);
	}
	if (out != NULL) {
		rv = (*out = ctl_event(k, NE_INIT, NULL)) ? LEDGE_OK
		                                          : LEDGE_ENOMEM;
	} else {
		rv = queue_ctl(k, NE_INIT, NULL, front);
	}
	if (rv != LEDGE_OK) {
		atomic_store(&k->kfailed, true);
	}
	return rv;
}

static struct node_instance *
activate(
    struct keyed *kd, const struct node_event *ev, struct node_event **start)
{
	struct node_instance *part = kd->part;
	struct kslab *slab;
	struct node_instance *k = keyslab_alloc(&kd->slab, &slab);

	if (k == NULL) {
		return NULL;
	}
	k->kslab = slab;
	/* A short key lives in the slot, after the instance. */
	k->key = ev->klen <= KEY_INLINE ? (unsigned char *)(k + 1)
	                                : malloc(ev->klen);
	if (k->key == NULL) {
		keyslab_free(&kd->slab, slab, k);
		return NULL;
	}
	memcpy(k->key, ev->key, ev->klen);
	k->counts = part->counts;
	k->klen = ev->klen;
	k->node = part->node;
	k->owner = part->owner;
	k->wf = part->wf;
	k->spec = part->spec;
	k->outputs = part->outputs;
	k->noutputs = part->noutputs;
	k->code = code_ref(kd->code);
	mb_init(&k->mb, part->mb.cap);
	hmap_init(&k->dirty);
	/* Whether it runs inline is its part's verdict (keyed_speed). */
	k->blocks = atomic_load(&kd->blocks);
	k->streak_needed = EXEC_INLINE_STREAK;
	atomic_init(&k->inline_ok, false);
	k->target = part->target; /* id, kind, name (the part's) */
	k->target.inst = k;
	k->part = part;
	k->kstate = K_ACTIVE;
	if (keytab_put(&kd->keys, k) != LEDGE_OK ||
	    (start != NULL ? (*start = ctl_event(k, NE_INIT, NULL)) == NULL
	                   : queue_ctl(k, NE_INIT, NULL, false) != LEDGE_OK)) {
		if (keytab_get(&kd->keys, k->key, k->klen) == k) {
			keytab_del(&kd->keys, k);
		}
		key_free(kd, k);
		return NULL;
	}
	lru_append(kd, k);
	atomic_fetch_add(&kd->activations, 1);
	arm(kd);
	return k;
}

/* The key instance for ev, found, revived or made (mu); with `start`,
 * the init it must run first is handed back there (else queued).  NULL:
 * ev cannot go anywhere. */
static struct node_instance *
find(struct keyed *kd, const struct node_event *ev, struct node_event **start)
{
	struct node_instance *k = keytab_get(&kd->keys, ev->key, ev->klen);

	if (k == NULL) {
		return kd->closed ? NULL : activate(kd, ev, start);
	}
	if (kd->closed) {
		return NULL; /* the part stops: no key takes more */
	}
	if (k->kstate == K_STOPPED) {
		if (queue_start(kd, k, false, start) != LEDGE_OK) {
			return NULL;
		}
		k->kstate = K_ACTIVE;
		atomic_store(&k->status, NI_STARTING);
	}
	lru_unlink(kd, k);
	lru_append(kd, k);
	return k;
}

/* ev can go nowhere: a call fails with LEDGE_ECLOSED (node_event_free);
 * a durable event stays in the store for the next start. */
static void
refuse(struct node_event *ev)
{
	node_event_free(ev);
}

/* A slot ev holds in the part's mailbox is the key's now. */
static void
move_slot(struct node_instance *part, struct node_event *ev)
{
	if (ev->flags & NEF_RESERVED) {
		mb_unreserve(&part->mb);
		ev->flags &= (uint8_t)~NEF_RESERVED;
	}
}

/* Queue ev on k and schedule it (mu). */
static void
push(struct keyed *kd, struct node_instance *k, struct node_event *ev)
{
	ev->to = &k->target;
	ev->enq_us = clock_mono_us();
	atomic_fetch_add_explicit(&kd->queued, 1, memory_order_relaxed);
	if (mb_push(&k->mb, ev)) {
		sched_enqueue(kd->node->sched, k);
	}
}

struct node_instance *
keyed_route(struct node *n, struct node_instance *part, struct node_event *ev)
{
	struct keyed *kd = part->keyed;
	struct node_instance *k;

	(void)n;
	move_slot(part, ev);
	pthread_mutex_lock(&kd->mu);
	if ((k = find(kd, ev, NULL)) == NULL) {
		pthread_mutex_unlock(&kd->mu);
		refuse(ev);
		return NULL;
	}
	k->kused_ms = clock_mono_ms();
	push(kd, k, ev);
	pthread_mutex_unlock(&kd->mu);
	return k;
}

struct node_instance *
keyed_claim(struct node *n, struct node_instance *part, struct node_event *ev,
    struct node_event **start)
{
	struct keyed *kd = part->keyed;
	struct node_instance *k;
	bool was_active;

	(void)n;
	*start = NULL;
	move_slot(part, ev);
	pthread_mutex_lock(&kd->mu);
	k = keytab_get(&kd->keys, ev->key, ev->klen);
	was_active = k != NULL && k->kstate == K_ACTIVE;
	if ((k = find(kd, ev, start)) == NULL) {
		pthread_mutex_unlock(&kd->mu);
		refuse(ev);
		return NULL;
	}
	k->kused_ms = clock_mono_ms();
	ev->to = &k->target;
	if (*start != NULL) {
		/* Just activated or revived: its mailbox is ours while the
		 * loop runs its init and ev, so that nothing sent to it
		 * meanwhile runs before them; if a worker still holds it
		 * (finishing the stop), both go in line instead. */
		if (!mb_try_claim(&k->mb)) {
			push(kd, k, *start);
			*start = NULL;
			push(kd, k, ev);
			k = NULL;
		}
	} else if (!was_active) {
		/* Stopping: in line behind its stop, which starts it again. */
		push(kd, k, ev);
		k = NULL;
	}
	pthread_mutex_unlock(&kd->mu);
	return k;
}

void
keyed_push(struct node *n, struct node_instance *k, struct node_event *ev)
{
	struct keyed *kd = k->part->keyed;

	(void)n;
	pthread_mutex_lock(&kd->mu);
	if (kd->closed) {
		pthread_mutex_unlock(&kd->mu);
		refuse(ev);
		return;
	}
	if (k->kstate == K_STOPPED) {
		queue_start(kd, k, false, NULL); /* failed: kfailed */
		k->kstate = K_ACTIVE;
		atomic_store(&k->status, NI_STARTING);
	}
	push(kd, k, ev);
	pthread_mutex_unlock(&kd->mu);
}

void
keyed_blocked(struct node_instance *k)
{
	struct keyed *kd = k->part->keyed;
	atomic_store(&kd->blocks, true);
	atomic_store(&k->part->inline_ok, false);
}

void
keyed_speed(struct node_instance *k, uint64_t us)
{
	struct keyed *kd = k->part->keyed;
	struct node_instance *part = k->part;

	if (atomic_load_explicit(&kd->blocks, memory_order_relaxed)) {
		return;
	}
	if (us > EXEC_INLINE_MAX_US) {
		unsigned need = atomic_load(&kd->needed);
		atomic_store(&kd->streak, 0);
		if (need < (1u << 20)) {
			atomic_compare_exchange_strong(
			    &kd->needed, &need, need * 2);
		}
		atomic_store(&part->inline_ok, false);
		return;
	}
	if (atomic_fetch_add(&kd->streak, 1) + 1 == atomic_load(&kd->needed)) {
		atomic_store(&part->inline_ok, true);
	}
}

bool
keyed_inline_ok(const struct node_instance *k)
{
	return !atomic_load_explicit(
	           &k->part->keyed->blocks, memory_order_relaxed) &&
	    atomic_load_explicit(&k->part->inline_ok, memory_order_relaxed);
}

bool
keyed_admit(struct node_instance *part)
{
	return atomic_load_explicit(&part->keyed->queued,
	           memory_order_relaxed) < (long)part->mb.cap;
}

void
keyed_took(struct node_instance *k, long n)
{
	atomic_fetch_sub_explicit(
	    &k->part->keyed->queued, n, memory_order_relaxed);
}

/* --- stopping and freeing ------------------------------------------- */

/* Nothing queued, no worker on it (mu, then its mailbox's). */
static bool
idle(struct node_instance *k)
{
	bool yes;
	pthread_mutex_lock(&k->mb.mu);
	yes = !k->mb.scheduled && k->mb.head == NULL;
	pthread_mutex_unlock(&k->mb.mu);
	return yes;
}

bool
keyed_stop_all(struct node_instance *part)
{
	struct keyed *kd = part->keyed;
	bool done;

	pthread_mutex_lock(&kd->mu);
	if (!kd->closed) {
		kd->closed = true;
		for (struct node_instance *k = kd->lru_head; k != NULL;
		     k = k->lru_next) {
			if (k->kstate == K_ACTIVE) {
				if (queue_ctl(k, NE_STOP, NULL, false) !=
				    LEDGE_OK) {
					continue; /* out of memory: no stop */
				}
				k->kstate = K_STOPPING;
			}
			if (k->kstate == K_STOPPING) {
				kd->stopping_all++;
			}
		}
	}
	/* A second stop of the part (a node stopping while the workflow is
	 * undeployed) ends with the first. */
	done = kd->stopping_all == 0;
	if (!done) {
		kd->stop_calls++;
	}
	pthread_mutex_unlock(&kd->mu);
	return done;
}

size_t
keyed_stopped(struct node_instance *k)
{
	struct keyed *kd = k->part->keyed;
	size_t done = 0;

	pthread_mutex_lock(&kd->mu);
	atomic_store(&k->status, NI_STOPPED);
	k->kstate = K_STOPPED;
	if (!kd->closed) {
		bool queued;
		pthread_mutex_lock(&k->mb.mu);
		queued = k->mb.head != NULL;
		pthread_mutex_unlock(&k->mb.mu);
		/* Events came while it stopped: it starts again before
		 * them, the same instance with the same cache (or, out of
		 * memory, they fail). */
		if (queued) {
			queue_start(kd, k, true, NULL);
			k->kstate = K_ACTIVE;
			atomic_store(&k->status, NI_STARTING);
		}
	} else {
		/* The part stops: what is still queued for the key is not
		 * run (a durable event stays for the next start). */
		size_t n;
		struct node_event *list = mb_drain(&k->mb, &n);
		atomic_fetch_sub(&kd->queued, (long)n);
		while (list != NULL) {
			struct node_event *next = list->next;
			refuse(list);
			list = next;
		}
		if (kd->stopping_all > 0 && --kd->stopping_all == 0) {
			done = kd->stop_calls;
			kd->stop_calls = 0;
		}
	}
	pthread_mutex_unlock(&kd->mu);
	return done;
}

bool
keyed_busy(struct node_instance *part)
{
	struct keyed *kd = part->keyed;
	bool busy = false;
	pthread_mutex_lock(&kd->mu);
	for (struct node_instance *k = kd->lru_head; k != NULL && !busy;
	     k = k->lru_next) {
		busy = !idle(k);
	}
	pthread_mutex_unlock(&kd->mu);
	return busy;
}

void
keyed_inited(struct node_instance *k, int rv)
{
	atomic_store(&k->kfailed, rv != LEDGE_OK);
	atomic_store(&k->status, rv == LEDGE_OK ? NI_RUNNING : NI_FAILED);
}

void
keyed_reload(struct node_instance *part, struct node_code *code)
{
	struct keyed *kd = part->keyed;
	struct node_code *old;

	pthread_mutex_lock(&kd->mu);
	old = kd->code;
	kd->code = code;
	for (struct node_instance *k = kd->lru_head; k != NULL;
	     k = k->lru_next) {
		/* A stopped one starts on the new code when it revives. */
		if (k->kstate == K_ACTIVE) {
			struct node_code *ref = code_ref(code);
			if (queue_ctl(k, NE_RELOAD, ref, false) != LEDGE_OK) {
				code_release(ref);
			}
		}
	}
	pthread_mutex_unlock(&kd->mu);
	code_release(old);
}

void
keyed_stats(struct node_instance *part, struct keyed_stats *out)
{
	struct keyed *kd = part->keyed;
	memset(out, 0, sizeof *out);
	if (kd == NULL) {
		return;
	}
	pthread_mutex_lock(&kd->mu);
	out->active = kd->keys.count;
	pthread_mutex_unlock(&kd->mu);
	out->activations = atomic_load(&kd->activations);
	out->passivations = atomic_load(&kd->passivations);
}

/* Free k if nothing holds it any more and its cache has nothing the
 * store lacks (mu).  True if freed. */
static bool
reap(struct keyed *kd, struct node_instance *k, uint64_t durable)
{
	if (k->on_dirty_list || !idle(k) || k->last_seq > durable) {
		return false;
	}
	keytab_del(&kd->keys, k);
	lru_unlink(kd, k);
	key_free(kd, k);
	atomic_fetch_add(&kd->passivations, 1);
	return true;
}

void
keyed_ran(struct node_instance *k)
{
	struct keyed *kd = k->part->keyed;
	if (k->dirty.count == 0 || k->on_dirty_list) {
		return; /* the flag is the owner's to set, under mu */
	}
	pthread_mutex_lock(&kd->mu);
	k->on_dirty_list = true;
	k->dirty_next = kd->dirty;
	kd->dirty = k;
	pthread_mutex_unlock(&kd->mu);
}

/* Empty the caches of the keys on the list that are idle, as a worker
 * would before their next event (mu).  A key that runs, or whose writes
 * are not all durable yet, stays on the list.  Returns how many caches
 * were emptied. */
static size_t
evict_idle(struct keyed *kd, uint64_t durable)
{
	struct node_instance *k = kd->dirty, *next, *keep = NULL;
	size_t emptied = 0;

	kd->dirty = NULL;
	for (; k != NULL; k = next) {
		bool left = true;
		next = k->dirty_next;
		if (mb_try_claim(&k->mb)) {
			/* No worker can take it now: its cache is ours, until
			 * mb_more lets it go. */
			instance_dirty_evict(k, durable);
			left = k->dirty.count > 0;
			if (!left) {
				k->on_dirty_list = false;
				emptied++;
			}
			if (mb_more(&k->mb)) {
				sched_enqueue(kd->node->sched, k);
			}
		}
		if (left) {
			k->dirty_next = keep;
			keep = k;
		}
	}
	kd->dirty = keep;
	return emptied;
}

/* Loop thread: stop the keys idle too long, or the least recently used
 * idle ones past max_active; free the stopped ones. */
static void
tick(void *arg)
{
	struct keyed *kd = arg;
	uint64_t now = clock_mono_ms();
	uint64_t durable = commit_durable(kd->node->commit);
	struct node_instance *k, *next;
	size_t live, freed = 0, emptied;

	pthread_mutex_lock(&kd->mu);
	emptied = evict_idle(kd, durable);
	live = kd->keys.count;
	for (k = kd->lru_head; k != NULL; k = next) {
		bool old = now - k->kused_ms >= kd->idle_ms;
		next = k->lru_next;
		if (k->kstate == K_STOPPING) {
			live--;
			continue;
		}
		if (k->kstate == K_STOPPED) {
			live--;
			freed += reap(kd, k, durable);
			continue;
		}
		if (!old && live <= kd->max_active) {
			break; /* the rest came later */
		}
		if (k->kstate == K_ACTIVE && !kd->closed && idle(k) &&
		    queue_ctl(k, NE_STOP, NULL, false) == LEDGE_OK) {
			k->kstate = K_STOPPING;
			live--;
		}
	}
	if (freed > 0 && kd->keys.count < kd->keys.cap / 8) {
		keytab_shrink(&kd->keys); /* after a wave of passivations */
	}
	kd->armed = kd->keys.count > 0 || kd->dirty != NULL;
	if (kd->armed) {
		/* Caches to empty: soon, so that a wave of new keys does not
		 * hold a cache each (and the memory is reused). */
		loop_timer_start(kd->timer,
		    kd->dirty != NULL && kd->tick_ms > EVICT_MS ? EVICT_MS
		                                                : kd->tick_ms);
	}
	pthread_mutex_unlock(&kd->mu);
#ifdef __GLIBC__
	if (freed + emptied >= TRIM_AFTER && now - kd->trimmed_ms >= 1000) {
		/* A wave of keys came or went: give the memory their caches
		 * and events took back to the system (at most once a
		 * second; the instances' own is in slabs). */
		kd->trimmed_ms = now;
		malloc_trim(0);
	}
#endif
}

size_t
keyed_state_key(unsigned char *out, const void *key, size_t klen,
    const void *skey, size_t sklen)
{
	out[0] = (unsigned char)(klen >> 8);
	out[1] = (unsigned char)klen;
	memcpy(out + 2, key, klen);
	if (sklen > 0) {
		memcpy(out + 2 + klen, skey, sklen);
	}
	return 2 + klen + sklen;
}
