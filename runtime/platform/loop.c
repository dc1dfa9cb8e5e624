/*
 * loop.c - libevent's event_base, wrapped.
 */
#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <ledge.h>

#include "platform/loop.h"

struct post {
	struct post *next;
	void (*fn)(void *);
	void *arg;
};

struct sig {
	struct sig *next;
	struct event *ev;
	void (*fn)(void *);
	void *arg;
};

struct loop {
	struct event_base *base;
	int efd; /* eventfd: wakes the loop for posts */
	struct event *post_ev;
	pthread_mutex_t mu;
	struct post *head, *tail;
	bool notified;    /* efd written and not yet drained */
	pthread_t thread; /* running loop_run */
	_Atomic bool running;
	struct sig *sigs;
};

struct loop_timer {
	struct event *ev;
	void (*fn)(void *);
	void *arg;
};

struct loop_fd {
	struct event *ev;
	void (*fn)(void *);
	void *arg;
};

static void
run_posts(struct loop *l)
{
	struct post *p;
	pthread_mutex_lock(&l->mu);
	p = l->head;
	l->head = l->tail = NULL;
	l->notified = false;
	pthread_mutex_unlock(&l->mu);
	while (p != NULL) {
		struct post *next = p->next;
		p->fn(p->arg);
		free(p);
		p = next;
	}
}

void
loop_drain(struct loop *l)
{
	/* Posts may post more; bounded so a loop of posts cannot hang. */
	for (int i = 0; i < 64 && l->head != NULL; i++) {
		run_posts(l);
	}
}

static void
on_post(evutil_socket_t fd, short what, void *arg)
{
	uint64_t v;
	(void)what;
	while (read(fd, &v, sizeof v) < 0 && errno == EINTR) { }
	run_posts(arg);
}

int
loop_new(struct loop **lp)
{
	struct loop *l = calloc(1, sizeof *l);
	struct event_config *cfg;

	if (l == NULL) {
		return LEDGE_ENOMEM;
	}
	if ((cfg = event_config_new()) == NULL) {
		free(l);
		return LEDGE_ENOMEM;
	}
	/* Only the loop thread touches the base: no libevent locking. */
	event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
	l->base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	l->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->base == NULL || l->efd < 0 ||
	    (l->post_ev = event_new(
	         l->base, l->efd, EV_READ | EV_PERSIST, on_post, l)) == NULL ||
	    event_add(l->post_ev, NULL) != 0) {
		if (l->post_ev) {
			event_free(l->post_ev);
		}
		if (l->efd >= 0) {
			close(l->efd);
		}
		if (l->base) {
			event_base_free(l->base);
		}
		free(l);
		return LEDGE_ENOMEM;
	}
	pthread_mutex_init(&l->mu, NULL);
	*lp = l;
	return LEDGE_OK;
}

void
loop_free(struct loop *l)
{
	if (l == NULL) {
		return;
	}
	run_posts(l);
	while (l->sigs != NULL) {
		struct sig *s = l->sigs;
		l->sigs = s->next;
		event_free(s->ev);
		free(s);
	}
	event_free(l->post_ev);
	close(l->efd);
	event_base_free(l->base);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

int
loop_run(struct loop *l)
{
	l->thread = pthread_self();
	atomic_store(&l->running, true);
	event_base_dispatch(l->base);
	atomic_store(&l->running, false);
	return LEDGE_OK;
}

bool
loop_on_thread(struct loop *l)
{
	return atomic_load(&l->running) &&
	    pthread_equal(l->thread, pthread_self());
}

void
loop_exit(struct loop *l)
{
	event_base_loopbreak(l->base);
}

int
loop_post(struct loop *l, void (*fn)(void *), void *arg)
{
	struct post *p = malloc(sizeof *p);
	bool notify;
	if (p == NULL) {
		return LEDGE_ENOMEM;
	}
	p->next = NULL;
	p->fn = fn;
	p->arg = arg;
	pthread_mutex_lock(&l->mu);
	if (l->tail) {
		l->tail->next = p;
	} else {
		l->head = p;
	}
	l->tail = p;
	notify = !l->notified;
	l->notified = true;
	pthread_mutex_unlock(&l->mu);
	if (notify) {
		uint64_t one = 1;
		while (write(l->efd, &one, sizeof one) < 0 && errno == EINTR) {
		}
	}
	return LEDGE_OK;
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct loop_timer *t = arg;
	(void)fd;
	(void)what;
	t->fn(t->arg);
}

struct loop_timer *
loop_timer_new(struct loop *l, void (*fn)(void *), void *arg)
{
	struct loop_timer *t = malloc(sizeof *t);
	if (t == NULL) {
		return NULL;
	}
	t->fn = fn;
	t->arg = arg;
	if ((t->ev = evtimer_new(l->base, on_timer, t)) == NULL) {
		free(t);
		return NULL;
	}
	return t;
}

void
loop_timer_start(struct loop_timer *t, uint64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000),
		(suseconds_t)(ms % 1000) * 1000 };
	evtimer_add(t->ev, &tv);
}

void
loop_timer_stop(struct loop_timer *t)
{
	evtimer_del(t->ev);
}

void
loop_timer_free(struct loop_timer *t)
{
	if (t != NULL) {
		event_free(t->ev);
		free(t);
	}
}

static void
on_signal(evutil_socket_t fd, short what, void *arg)
{
	struct sig *s = arg;
	(void)fd;
	(void)what;
	s->fn(s->arg);
}

int
loop_signal(struct loop *l, int signo, void (*fn)(void *), void *arg)
{
	struct sig *s = malloc(sizeof *s);
	if (s == NULL) {
		return LEDGE_ENOMEM;
	}
	s->fn = fn;
	s->arg = arg;
	if ((s->ev = evsignal_new(l->base, signo, on_signal, s)) == NULL ||
	    event_add(s->ev, NULL) != 0) {
		if (s->ev) {
			event_free(s->ev);
		}
		free(s);
		return LEDGE_ENOMEM;
	}
	s->next = l->sigs;
	l->sigs = s;
	return LEDGE_OK;
}

static void
on_fd(evutil_socket_t fd, short what, void *arg)
{
	struct loop_fd *f = arg;
	(void)fd;
	(void)what;
	f->fn(f->arg);
}

struct loop_fd *
loop_fd_new(struct loop *l, int fd, void (*fn)(void *), void *arg)
{
	struct loop_fd *f = malloc(sizeof *f);
	if (f == NULL) {
		return NULL;
	}
	f->fn = fn;
	f->arg = arg;
	if ((f->ev = event_new(l->base, fd, EV_READ | EV_PERSIST, on_fd, f)) ==
	        NULL ||
	    event_add(f->ev, NULL) != 0) {
		if (f->ev) {
			event_free(f->ev);
		}
		free(f);
		return NULL;
	}
	return f;
}

void
loop_fd_free(struct loop_fd *f)
{
	if (f != NULL) {
		event_free(f->ev);
		free(f);
	}
}

void *
loop_event_base(struct loop *l)
{
	return l->base;
}
