/*
 * file_log.c - appends each event it receives to a file as one line.
 *
 * A line is "[time ][source ]payload": bytes that are not printable
 * ASCII are written as \xNN (a newline as \n), so one event is always one
 * line.  Lines are flushed as they are written, and a durable event is
 * consumed only after its line is out, so a crash can repeat a line but
 * never lose one (at-least-once, like every sink that is not
 * transactional).  SIGHUP reopens the file for log rotation.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "base/rlog.h"
#include "node/node.h"
#include "node/node_call.h"
#include "node/node_event.h"
#include "node/res_api.h"
#include "workflow/resource.h"

static const struct res_param params[] = {
	{ .name = "path",
	    .kind = RP_STR,
	    .required = true,
	    .help = "file to append to, relative to the workflow's folder" },
	{ .name = "timestamp",
	    .kind = RP_BOOL,
	    .help = "start each line with an ISO 8601 time (default true)" },
	{ .name = "source",
	    .kind = RP_BOOL,
	    .help = "name the sender on each line (default true)" },
	{ .name = NULL },
};

struct flog {
	FILE *fp;
	char *path;
	bool timestamp, source;
};

static bool
cfg_bool(struct res *r, const char *key, bool dflt)
{
	const char *v = wf_config_get(&r->spec->config, key);
	if (v == NULL) {
		return dflt;
	}
	return !strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on") ||
	    !strcmp(v, "1");
}

static int
open_file(struct flog *f, char *err, size_t errlen)
{
	FILE *fp = fopen(f->path, "a");
	if (fp == NULL) {
		snprintf(err, errlen, "cannot open '%s': %s", f->path,
		    strerror(errno));
		return LEDGE_ENOENT;
	}
	if (f->fp != NULL) {
		fclose(f->fp);
	}
	f->fp = fp;
	return LEDGE_OK;
}

static int
start(struct res *r, char *err, size_t errlen)
{
	struct flog *f = calloc(1, sizeof *f);
	const char *p = wf_config_get(&r->spec->config, "path");
	size_t n;
	int rv;

	if (f == NULL || p == NULL) {
		free(f);
		snprintf(err, errlen, p ? "out of memory" : "no path");
		return p ? LEDGE_ENOMEM : LEDGE_EINVAL;
	}
	n = strlen(r->wf->dir) + strlen(p) + 2;
	if ((f->path = malloc(n)) == NULL) {
		free(f);
		snprintf(err, errlen, "out of memory");
		return LEDGE_ENOMEM;
	}
	if (p[0] == '/') {
		snprintf(f->path, n, "%s", p);
	} else {
		snprintf(f->path, n, "%s/%s", r->wf->dir, p);
	}
	f->timestamp = cfg_bool(r, "timestamp", true);
	f->source = cfg_bool(r, "source", true);
	if ((rv = open_file(f, err, errlen)) != LEDGE_OK) {
		free(f->path);
		free(f);
		return rv;
	}
	r->priv = f;
	return LEDGE_OK;
}

static void
stop(struct res *r)
{
	struct flog *f = r->priv;
	if (f != NULL) {
		if (f->fp) {
			fclose(f->fp);
		}
		free(f->path);
		free(f);
		r->priv = NULL;
	}
}

static void
write_escaped(FILE *fp, const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = p[i];
		if (ch == '\n') {
			fputs("\\n", fp);
		} else if (ch == '\\') {
			fputs("\\\\", fp);
		} else if (ch < 0x20 || ch >= 0x7f) {
			fprintf(fp, "\\x%02x", ch);
		} else {
			fputc(ch, fp);
		}
	}
}

static void
deliver(struct res *r, struct node_event *ev)
{
	struct flog *f = r->priv;
	int err = LEDGE_OK;

	if (f->timestamp) {
		char stamp[40];
		struct timeval tv;
		struct tm tm;
		gettimeofday(&tv, NULL);
		gmtime_r(&tv.tv_sec, &tm);
		strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(f->fp, "%s.%03ldZ ", stamp, (long)tv.tv_usec / 1000);
	}
	if (f->source) {
		const char *src = node_target_name(r->node, ev->source);
		fprintf(f->fp, "%s ", src ? src : "-");
	}
	write_escaped(f->fp, ev->data, ev->len);
	fputc('\n', f->fp);
	if (fflush(f->fp) != 0 || ferror(f->fp)) {
		err = LEDGE_ESTORE;
		clearerr(f->fp);
	}
	if (ev->kind == NE_CALL) {
		struct node_reply reply;
		memset(&reply, 0, sizeof reply);
		reply.err = err;
		node_event_reply(r->node, ev, &reply);
	} else {
		node_event_done(r->node, r, ev, err);
	}
}

static void
reopen(struct res *r)
{
	struct flog *f = r->priv;
	char err[512];
	if (f != NULL && open_file(f, err, sizeof err) != 0) {
		rlog_write(node_log(r->node), RLOG_ERROR, r->name, "%s", err);
	}
}

static void
describe(struct res *r, char *buf, size_t len)
{
	struct flog *f = r->priv;
	snprintf(buf, len, "appending to %s", f ? f->path : "?");
}

const struct res_type res_file_log = {
	.name = "file-log",
	.summary = "appends events to a file, one line each; SIGHUP reopens",
	.params = params,
	.accepts_cast = true,
	.start = start,
	.stop = stop,
	.deliver = deliver,
	.reopen = reopen,
	.describe = describe,
};
