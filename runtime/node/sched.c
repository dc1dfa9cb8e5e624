#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "node/instance.h"
#include "node/sched.h"

/* Seconds an extra worker stays idle before it exits. */
#define EXTRA_IDLE_S 5

struct sched {
	const struct sched_ops *ops;
	void *arg;
	pthread_mutex_t mu;
	pthread_cond_t cv;      /* workers wait for instances here */
	pthread_cond_t done_cv; /* sched_stop waits for workers here */
	struct node_instance *head, *tail;
	int base;    /* configured workers */
	int alive;   /* workers running */
	int blocked; /* of those, blocked in a call */
	int idle;    /* of those, waiting for work */
	bool stopping;
	/* Threads that have left their loop, to be joined (so that nothing
	 * runs on this struct once sched_stop returns). */
	pthread_t exited[SCHED_MAX_WORKERS];
	int nexited;
};

/* Join workers that have exited; mu held. */
static void
reap(struct sched *s)
{
	while (s->nexited > 0) {
		pthread_join(s->exited[--s->nexited], NULL);
	}
}

/* One worker thread: its scheduler and the executor's state. */
struct worker {
	struct sched *s;
	void *state; /* from ops->worker_new */
	bool extra;
};

static void *worker_main(void *arg);

/* Start one worker; mu held. */
static int
spawn(struct sched *s, bool extra)
{
	struct worker *w;
	pthread_t th;

	reap(s);
	if (s->alive >= SCHED_MAX_WORKERS) {
		return LEDGE_EFULL;
	}
	if ((w = malloc(sizeof *w)) == NULL) {
		return LEDGE_ENOMEM;
	}
	w->s = s;
	w->extra = extra;
	if ((w->state = s->ops->worker_new(s->arg, s, extra)) == NULL) {
		free(w);
		return LEDGE_ENOMEM;
	}
	if (pthread_create(&th, NULL, worker_main, w) != 0) {
		s->ops->worker_free(w->state);
		free(w);
		return LEDGE_ENOMEM;
	}
	s->alive++;
	return LEDGE_OK;
}

static struct node_instance *
pop(struct sched *s)
{
	struct node_instance *inst = s->head;
	if (inst != NULL) {
		s->head = inst->runq_next;
		if (s->head == NULL) {
			s->tail = NULL;
		}
		inst->runq_next = NULL;
	}
	return inst;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct sched *s = w->s;
	bool extra = w->extra;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		struct node_instance *inst;
		while ((inst = pop(s)) == NULL && !s->stopping) {
			s->idle++;
			if (extra) {
				struct timespec dl =
				    clock_deadline(EXTRA_IDLE_S * 1000);
				int rc =
				    pthread_cond_timedwait(&s->cv, &s->mu, &dl);
				s->idle--;
				if (rc != 0 && s->head == NULL &&
				    s->alive - s->blocked > s->base) {
					goto out;
				}
			} else {
				pthread_cond_wait(&s->cv, &s->mu);
				s->idle--;
			}
		}
		if (inst == NULL) {
			break;
		}
		pthread_mutex_unlock(&s->mu);
		s->ops->run(w->state, inst);
		pthread_mutex_lock(&s->mu);
	}
out:
	pthread_mutex_unlock(&s->mu);
	s->ops->worker_free(w->state);
	free(w);
	pthread_mutex_lock(&s->mu);
	s->exited[s->nexited++] = pthread_self();
	s->alive--;
	pthread_cond_broadcast(&s->done_cv);
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

int
sched_start(
    struct sched **sp, const struct sched_ops *ops, void *arg, int nworkers)
{
	struct sched *s = calloc(1, sizeof *s);
	int rv;
	if (s == NULL) {
		return LEDGE_ENOMEM;
	}
	if (nworkers <= 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		nworkers = n < 2 ? 2 : (int)n;
	}
	s->ops = ops;
	s->arg = arg;
	s->base = nworkers;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	pthread_cond_init(&s->done_cv, NULL);
	pthread_mutex_lock(&s->mu);
	for (int i = 0; i < nworkers; i++) {
		if ((rv = spawn(s, false)) != LEDGE_OK) {
			s->stopping = true;
			pthread_cond_broadcast(&s->cv);
			while (s->alive > 0) {
				pthread_cond_wait(&s->done_cv, &s->mu);
			}
			reap(s);
			pthread_mutex_unlock(&s->mu);
			free(s);
			return rv;
		}
	}
	pthread_mutex_unlock(&s->mu);
	*sp = s;
	return LEDGE_OK;
}

void
sched_stop(struct sched *s)
{
	if (s == NULL) {
		return;
	}
	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	pthread_cond_broadcast(&s->cv);
	while (s->alive > 0) {
		pthread_cond_wait(&s->done_cv, &s->mu);
	}
	reap(s);
	pthread_mutex_unlock(&s->mu);
	pthread_cond_destroy(&s->cv);
	pthread_cond_destroy(&s->done_cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

void
sched_enqueue(struct sched *s, struct node_instance *inst)
{
	bool wake;
	pthread_mutex_lock(&s->mu);
	inst->runq_next = NULL;
	if (s->tail != NULL) {
		s->tail->runq_next = inst;
	} else {
		s->head = inst;
	}
	s->tail = inst;
	wake = s->idle > 0;
	/* Everybody busy or blocked and too few able to run: add a worker. */
	if (!wake && s->alive - s->blocked < s->base && !s->stopping) {
		spawn(s, true);
	}
	pthread_mutex_unlock(&s->mu);
	if (wake) {
		pthread_cond_signal(&s->cv);
	}
}

void
sched_block_enter(struct sched *s)
{
	pthread_mutex_lock(&s->mu);
	s->blocked++;
	if (s->head != NULL && s->idle == 0 &&
	    s->alive - s->blocked < s->base && !s->stopping) {
		spawn(s, true);
	}
	pthread_mutex_unlock(&s->mu);
}

void
sched_block_leave(struct sched *s)
{
	pthread_mutex_lock(&s->mu);
	s->blocked--;
	pthread_mutex_unlock(&s->mu);
}

void
sched_counts(struct sched *s, int *workers, int *blocked)
{
	pthread_mutex_lock(&s->mu);
	*workers = s->alive;
	*blocked = s->blocked;
	pthread_mutex_unlock(&s->mu);
}
