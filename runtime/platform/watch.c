/*
 * watch.c - inotify on the folders of watched files, with a settle delay.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <ledge.h>

#include "platform/loop.h"
#include "platform/watch.h"

/* Quiet time after the last change before a file counts as replaced. */
#define SETTLE_MS 150

struct wfile {
	struct wfile *next;
	int wd;     /* watch descriptor of its folder */
	char *path; /* as given */
	char *base; /* points into path */
	bool changed;
};

struct watch {
	struct loop *loop;
	int fd;
	struct loop_fd *lfd;
	struct loop_timer *settle;
	struct wfile *files;
	void (*fn)(void *, const char *);
	void *arg;
};

static void
on_settle(void *arg)
{
	struct watch *w = arg;
	for (struct wfile *f = w->files; f != NULL; f = f->next) {
		if (f->changed) {
			f->changed = false;
			w->fn(w->arg, f->path);
		}
	}
}

static void
on_inotify(void *arg)
{
	struct watch *w = arg;
	char buf[8192]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	bool any = false;
	ssize_t n;

	while ((n = read(w->fd, buf, sizeof buf)) > 0) {
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *e = (struct inotify_event *)p;
			for (struct wfile *f = w->files; f; f = f->next) {
				if (f->wd == e->wd && e->len > 0 &&
				    strcmp(e->name, f->base) == 0) {
					f->changed = true;
					any = true;
				}
			}
			p += sizeof *e + e->len;
		}
	}
	if (any) {
		loop_timer_start(w->settle, SETTLE_MS);
	}
}

int
watch_new(struct watch **wp, struct loop *l, void (*fn)(void *, const char *),
    void *arg)
{
	struct watch *w = calloc(1, sizeof *w);
	if (w == NULL) {
		return LEDGE_ENOMEM;
	}
	w->loop = l;
	w->fn = fn;
	w->arg = arg;
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0 ||
	    (w->lfd = loop_fd_new(l, w->fd, on_inotify, w)) == NULL ||
	    (w->settle = loop_timer_new(l, on_settle, w)) == NULL) {
		loop_fd_free(w->lfd);
		if (w->fd >= 0) {
			close(w->fd);
		}
		free(w);
		return LEDGE_ENOMEM;
	}
	*wp = w;
	return LEDGE_OK;
}

void
watch_free(struct watch *w)
{
	if (w == NULL) {
		return;
	}
	while (w->files != NULL) {
		struct wfile *f = w->files;
		w->files = f->next;
		free(f->path);
		free(f);
	}
	loop_timer_free(w->settle);
	loop_fd_free(w->lfd);
	close(w->fd);
	free(w);
}

int
watch_add(struct watch *w, const char *path)
{
	struct wfile *f;
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t dlen;

	for (f = w->files; f != NULL; f = f->next) {
		if (strcmp(f->path, path) == 0) {
			return LEDGE_OK;
		}
	}
	if (slash == NULL) {
		strcpy(dir, ".");
	} else {
		dlen = slash == path ? 1 : (size_t)(slash - path);
		if (dlen >= sizeof dir) {
			return LEDGE_ETOOBIG;
		}
		memcpy(dir, path, dlen);
		dir[dlen] = '\0';
	}
	if ((f = calloc(1, sizeof *f)) == NULL ||
	    (f->path = strdup(path)) == NULL) {
		free(f);
		return LEDGE_ENOMEM;
	}
	f->base = strrchr(f->path, '/') ? strrchr(f->path, '/') + 1 : f->path;
	f->wd = inotify_add_watch(
	    w->fd, dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_ATTRIB);
	if (f->wd < 0) {
		free(f->path);
		free(f);
		return LEDGE_ENOENT;
	}
	f->next = w->files;
	w->files = f;
	return LEDGE_OK;
}
