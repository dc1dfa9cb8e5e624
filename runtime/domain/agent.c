/*
 * agent.c - joining a domain, heartbeats, and the requests a node
 * answers (see agent.h and docs/protocol.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/diag.h"
#include "base/hmap.h"
#include "base/rlog.h"
#include "platform/loop.h"
#include "net/msg.h"
#include "node/node.h"
#include "domain/agent.h"
#include "node/node_call.h"
#include "node/commit.h"
#include "node/enqueue.h"
#include "node/node_event.h"
#include "node/instance.h"
#include "domain/links.h"
#include "base/sha256.h"
#include "store/store.h"
#include "net/wire.h"
#include "workflow/workflow.h"

#define JOIN_RETRY_MS  1000
#define REJOIN_MS      2000
#define HEARTBEAT_MS   300
#define ORC_TIMEOUT_MS 3000

struct agent {
	struct node *n;
	char *orchestrator, *listen, *http;
	size_t nlabels;
	char **label_keys, **label_values;
	const struct msg_tls *tls;
	struct msg_server *server;
	struct msg_client *orc;
	struct msg_pub *pub;
	struct loop_timer *join_timer, *hb_timer;
	bool joined, join_inflight, waiting_logged;
	uint64_t epoch;
	uint64_t boot; /* random, new at each start of the process */
	/* state size per instance ("wf/fn" -> struct state_size), measured
	 * every STATE_SIZE_EVERY heartbeats */
	struct hmap sizes;
	unsigned hb_count;
	struct store_reader *size_reader;
};

#define STATE_SIZE_EVERY    10
#define STATE_SIZE_MAX_KEYS 200000

struct state_size {
	uint64_t bytes;
	char name[];
};

/* ------------------------------------------------------------------ */
/* replies                                                             */

static void reply_err(struct msg_req *req, const char *code, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

static void
reply_err(struct msg_req *req, const char *code, const char *fmt, ...)
{
	char why[1024];
	struct wire_w w;
	const void *d;
	size_t n;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	if (wire_w_init(&w) != 0) {
		msg_reply(req, NULL, 0);
		return;
	}
	wire_map(&w, 3);
	wire_str(&w, "ok");
	wire_bool(&w, false);
	wire_str(&w, "code");
	wire_str(&w, code);
	wire_str(&w, "error");
	wire_str(&w, why);
	d = wire_data(&w, &n);
	msg_reply(req, d, d ? n : 0);
	wire_w_fini(&w);
}

static void
reply_ok(struct msg_req *req)
{
	static const unsigned char ok[] = { 0x81, 0xa2, 'o', 'k', 0xc3 };
	msg_reply(req, ok, sizeof ok);
}

/* ------------------------------------------------------------------ */
/* joining and heartbeats                                              */

static void on_join_timer(void *arg);

static void forget_part(struct agent *a, const char *name, struct msg_req *req);

struct fenced_wf {
	struct agent *a;
	char *part; /* "wf/part" */
};

static void
fenced_stopped(void *arg)
{
	struct fenced_wf *f = arg;
	/* Its state is stale: the part runs elsewhere, from a replica or
	 * afresh.  Dropped so that it cannot come back to life here. */
	forget_part(f->a, f->part, NULL);
	free(f->part);
	free(f);
}

static void
undeploy_fenced(struct agent *a, wire_v fenced)
{
	for (size_t i = 0; i < wire_len(fenced); i++) {
		char *part = wire_str_dup(wire_at(fenced, i));
		char *slash = part ? strchr(part, '/') : NULL;
		struct fenced_wf *f;
		if (slash == NULL || (f = calloc(1, sizeof *f)) == NULL) {
			free(part);
			continue;
		}
		f->a = a;
		f->part = strdup(part);
		*slash = '\0';
		rlog_write(node_log(a->n), RLOG_WARN, node_name(a->n),
		    "fenced: the domain moved %s/%s elsewhere while this node "
		    "was away; stopping it here",
		    part, slash + 1);
		if (f->part == NULL) {
			free(f);
		} else if (node_undeploy_async(a->n, part, fenced_stopped, f) !=
		    LEDGE_OK) {
			fenced_stopped(f);
		}
		free(part);
	}
}

static void
on_join(void *arg, int err, const void *data, size_t len)
{
	struct agent *a = arg;
	struct wire_r r;
	a->join_inflight = false;
	if (err != MSG_OK || wire_parse(&r, data, len) != 0) {
		if (!a->waiting_logged) {
			rlog_write(node_log(a->n), RLOG_INFO, node_name(a->n),
			    "waiting for the orchestrator at %s%s",
			    a->orchestrator,
			    strncmp(a->orchestrator, "tls+", 4) == 0
			        ? " (if it runs, check that this node's "
			          "certificate is signed by the domain's CA)"
			        : "");
			a->waiting_logged = true;
		}
		loop_timer_start(a->join_timer, JOIN_RETRY_MS);
		return;
	}
	wire_v root = wire_root(&r);
	if (!wire_as_bool(wire_get(root, "ok"), false)) {
		char *why = wire_str_dup(wire_get(root, "error"));
		rlog_write(node_log(a->n), RLOG_ERROR, node_name(a->n),
		    "the orchestrator refused this node: %s",
		    why ? why : "no reason");
		free(why);
		wire_r_fini(&r);
		loop_timer_start(a->join_timer, JOIN_RETRY_MS * 5);
		return;
	}
	uint64_t epoch = wire_as_u64(wire_get(root, "epoch"), 0);
	if (!a->joined || epoch != a->epoch) {
		rlog_write(node_log(a->n), RLOG_INFO, node_name(a->n),
		    "joined the domain at %s (epoch %llu)", a->orchestrator,
		    (unsigned long long)epoch);
	}
	a->joined = true;
	a->waiting_logged = false;
	a->epoch = epoch;
	links_set_epoch(node_links(a->n), epoch);
	undeploy_fenced(a, wire_get(root, "fenced"));
	wire_r_fini(&r);
	/* Joining again now and then lets a restarted orchestrator learn
	 * about this node, and tells this node if it was fenced. */
	loop_timer_start(a->join_timer, REJOIN_MS);
}

struct hb_ctx {
	struct wire_w *w;
	size_t n;
	struct agent *a;
};

static void
count_inst(void *arg, const struct node_inst_stats *st)
{
	(void)st;
	((struct hb_ctx *)arg)->n++;
}

static void
write_name(void *arg, const struct node_inst_stats *st)
{
	wire_str(((struct hb_ctx *)arg)->w, st->name);
}

static void
send_join(struct agent *a)
{
	struct wire_w w;
	struct utsname u;
	struct sysinfo si;
	const void *d;
	size_t len;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	if (a->join_inflight || wire_w_init(&w) != 0) {
		return;
	}
	uname(&u);
	sysinfo(&si);
	struct hb_ctx hc = { &w, 0, a };
	node_foreach_instance(a->n, count_inst, &hc);
	wire_map(&w, 12);
	wire_str(&w, "t");
	wire_str(&w, "join");
	wire_str(&w, "boot");
	wire_u64(&w, a->boot);
	wire_str(&w, "name");
	wire_str(&w, node_name(a->n));
	wire_str(&w, "url");
	wire_str(&w, a->listen);
	wire_str(&w, "labels");
	wire_map(&w, a->nlabels);
	for (size_t i = 0; i < a->nlabels; i++) {
		wire_str(&w, a->label_keys[i]);
		wire_str(&w, a->label_values[i]);
	}
	wire_str(&w, "arch");
	wire_str(&w, u.machine);
	wire_str(&w, "cores");
	wire_u64(&w, cores > 0 ? (uint64_t)cores : 1);
	wire_str(&w, "mem_mb");
	wire_u64(&w, (uint64_t)si.totalram * si.mem_unit >> 20);
	wire_str(&w, "resources");
	wire_array(&w, a->http ? 4 : 3);
	wire_str(&w, "timer");
	wire_str(&w, "file-log");
	wire_str(&w, "http-egress");
	if (a->http) {
		wire_str(&w, "http-ingress");
	}
	wire_str(&w, "http");
	wire_str(&w, a->http);
	wire_str(&w, "incarnation");
	wire_u64(&w, node_incarnation(a->n));
	wire_str(&w, "running");
	wire_array(&w, hc.n);
	node_foreach_instance(a->n, write_name, &hc);
	if ((d = wire_data(&w, &len)) != NULL) {
		a->join_inflight = true;
		msg_call(a->orc, d, len, ORC_TIMEOUT_MS, on_join, a);
	}
	wire_w_fini(&w);
}

static void
on_join_timer(void *arg)
{
	send_join(arg);
}

struct sum {
	uint64_t bytes, keys;
};

static int
sum_entry(void *arg, ledge_bytes key, ledge_bytes value)
{
	struct sum *s = arg;
	s->bytes += key.len + value.len;
	return ++s->keys >= STATE_SIZE_MAX_KEYS;
}

/* Heartbeat: measure the committed state of an instance (bounded). */
static void
measure_inst(void *arg, const struct node_inst_stats *st)
{
	struct agent *a = arg;
	struct sum s = { 0, 0 };
	size_t nlen = strlen(st->name);
	struct state_size *z = hmap_get(&a->sizes, st->name, nlen);
	if (a->size_reader == NULL) {
		return;
	}
	store_state_scan(a->size_reader, st->id, sum_entry, &s);
	if (z == NULL && (z = malloc(sizeof *z + nlen + 1)) != NULL) {
		memcpy(z->name, st->name, nlen + 1);
		if (hmap_put(&a->sizes, z->name, nlen, z, NULL) != 0) {
			free(z);
			z = NULL;
		}
	}
	if (z != NULL) {
		z->bytes = s.bytes;
	}
}

static void
write_inst(void *arg, const struct node_inst_stats *st)
{
	struct hb_ctx *hc = arg;
	struct wire_w *w = hc->w;
	struct state_size *z =
	    hmap_get(&hc->a->sizes, st->name, strlen(st->name));
	wire_map(w, 7);
	wire_str(w, "state_bytes");
	wire_u64(w, z ? z->bytes : 0);
	wire_str(w, "part");
	wire_str(w, st->name);
	wire_str(w, "events");
	wire_u64(w, st->events);
	wire_str(w, "errors");
	wire_u64(w, st->errors);
	wire_str(w, "emitted");
	wire_u64(w, st->emitted);
	wire_str(w, "mailbox");
	wire_u64(w, st->mailbox);
	wire_str(w, "busy_us");
	wire_u64(w, st->busy_us);
}

static void
on_hb_timer(void *arg)
{
	struct agent *a = arg;
	struct wire_w w;
	struct hb_ctx hc = { &w, 0, a };
	const void *d;
	size_t len;

	loop_timer_start(a->hb_timer, HEARTBEAT_MS);
	if (a->hb_count++ % STATE_SIZE_EVERY == 0) {
		struct hmap_slot *sl;
		size_t pos = 0;
		while ((sl = hmap_next(&a->sizes, &pos)) != NULL) {
			free(sl->value);
		}
		hmap_clear(&a->sizes);
		if (a->size_reader != NULL ||
		    store_reader_open(node_store(a->n), &a->size_reader) ==
		        LEDGE_OK) {
			if (store_reader_begin(a->size_reader) == LEDGE_OK) {
				node_foreach_instance(a->n, measure_inst, a);
				store_reader_end(a->size_reader);
			}
		}
	}
	if (wire_w_init(&w) != 0) {
		return;
	}
	node_foreach_instance(a->n, count_inst, &hc);
	wire_map(&w, 7);
	wire_str(&w, "t");
	wire_str(&w, "hb");
	wire_str(&w, "name");
	wire_str(&w, node_name(a->n));
	wire_str(&w, "epoch");
	wire_u64(&w, a->epoch);
	wire_str(&w, "ms");
	wire_u64(&w, clock_wall_ms());
	wire_str(&w, "store_bytes");
	wire_u64(&w, store_size(node_store(a->n)));
	wire_str(&w, "backlog");
	wire_u64(&w, links_backlog(node_links(a->n)));
	wire_str(&w, "instances");
	wire_array(&w, hc.n);
	node_foreach_instance(a->n, write_inst, &hc);
	if ((d = wire_data(&w, &len)) != NULL) {
		msg_publish(a->pub, d, len);
	}
	wire_w_fini(&w);
}

/* Function log lines go to the orchestrator too (`ledge logs`). */
static void
log_tap(void *arg, int level, const char *who, const char *msg)
{
	struct agent *a = arg;
	struct wire_w w;
	const void *d;
	size_t len;
	const char *slash = who ? strchr(who, '/') : NULL;

	if (slash == NULL || a->pub == NULL || wire_w_init(&w) != 0) {
		return;
	}
	wire_map(&w, 7);
	wire_str(&w, "t");
	wire_str(&w, "log");
	wire_str(&w, "name");
	wire_str(&w, node_name(a->n));
	wire_str(&w, "wf");
	wire_strn(&w, who, (size_t)(slash - who));
	wire_str(&w, "who");
	wire_str(&w, who);
	wire_str(&w, "level");
	wire_u64(&w, (uint64_t)level);
	wire_str(&w, "line");
	wire_str(&w, msg);
	wire_str(&w, "ms");
	wire_u64(&w, clock_wall_ms());
	if ((d = wire_data(&w, &len)) != NULL) {
		msg_publish(a->pub, d, len);
	}
	wire_w_fini(&w);
}

/* ------------------------------------------------------------------ */
/* deployments                                                         */

struct deploy_job {
	struct agent *a;
	struct msg_req *req;
	struct wire_r msg;
	char *wf;
	size_t missing; /* code fetches outstanding */
	bool reload;    /* a reload of one function, not a deploy */
	bool failed;
	char err[512];
};

static void
code_path(struct agent *a, const char *hash, char *buf, size_t len)
{
	snprintf(buf, len, "%s/code/%s.so", node_data_dir(a->n), hash);
}

static bool
have_code(struct agent *a, const char *hash)
{
	char p[4096];
	code_path(a, hash, p, sizeof p);
	return access(p, R_OK) == 0;
}

/* The hash of function f's code for this machine, from the deploy. */
static char *
hash_for(wire_v code, const struct wf_function *f)
{
	char key[4200];
	/* A function reloaded across the domain has code of its own. */
	snprintf(key, sizeof key, "@fn:%s", f->name);
	if (wire_ok(wire_get(code, key))) {
		return wire_str_dup(wire_get(code, key));
	}
	if (f->ncode_arch > 0) {
		struct utsname u;
		uname(&u);
		snprintf(key, sizeof key, "%s@%s", f->code, u.machine);
	} else {
		snprintf(key, sizeof key, "%s", f->code);
	}
	return wire_str_dup(wire_get(code, key));
}

static void
job_free(struct deploy_job *j)
{
	wire_r_fini(&j->msg);
	free(j->wf);
	free(j);
}

/* The deploy's `replicas`: part -> [{node, url}] for parts run here. */
static void
set_replicas(struct deploy_job *j)
{
	wire_v reps = wire_get(wire_root(&j->msg), "replicas");
	for (size_t i = 0; i < wire_len(reps); i++) {
		char *part = wire_str_dup(wire_key_at(reps, i));
		wire_v arr = wire_val_at(reps, i);
		size_t n = wire_len(arr);
		char **nodes = calloc(n + 1, sizeof *nodes);
		char **urls = calloc(n + 1, sizeof *urls);
		char name[512];
		if (part != NULL && nodes != NULL && urls != NULL) {
			for (size_t k = 0; k < n; k++) {
				nodes[k] = wire_str_dup(
				    wire_get(wire_at(arr, k), "node"));
				urls[k] = wire_str_dup(
				    wire_get(wire_at(arr, k), "url"));
				if (nodes[k] == NULL) {
					n = k;
					break;
				}
			}
			snprintf(name, sizeof name, "%s/%s", j->wf, part);
			if (node_set_replicas(j->a->n, name,
			        (const char *const *)nodes,
			        (const char *const *)urls, n) == LEDGE_OK &&
			    n > 0) {
				rlog_write(node_log(j->a->n), RLOG_INFO,
				    node_name(j->a->n),
				    "%s: state replicated to %zu node%s", name,
				    n, n == 1 ? "" : "s");
			}
		}
		for (size_t k = 0;
		     nodes != NULL && urls != NULL && k < wire_len(arr); k++) {
			free(nodes[k]);
			free(urls[k]);
		}
		free(nodes);
		free(urls);
		free(part);
	}
}

static void
deploy_done(void *arg, int rv, const char *err)
{
	struct deploy_job *j = arg;
	if (rv == LEDGE_OK) {
		set_replicas(j);
		/* What waited for lost nodes goes where it runs now. */
		wire_v lost = wire_get(wire_root(&j->msg), "fenced_nodes");
		for (size_t i = 0; i < wire_len(lost); i++) {
			char *node = wire_str_dup(wire_key_at(lost, i));
			if (node != NULL) {
				links_readdress(
				    node_links(j->a->n), node, true);
			}
			free(node);
		}
		rlog_write(node_log(j->a->n), RLOG_INFO, node_name(j->a->n),
		    "workflow %s deployed here", j->wf);
		reply_ok(j->req);
	} else {
		reply_err(j->req, "failed", "%s: %s", node_name(j->a->n),
		    err ? err : ledge_strerror(rv));
	}
	job_free(j);
}

static int
str_list(wire_v arr, const char ***out, size_t *n)
{
	*n = wire_len(arr);
	*out = calloc(*n + 1, sizeof **out);
	if (*out == NULL) {
		return -1;
	}
	for (size_t i = 0; i < *n; i++) {
		if (((*out)[i] = wire_str_dup(wire_at(arr, i))) == NULL) {
			return -1;
		}
	}
	return 0;
}

static void
free_list(const char **l, size_t n)
{
	for (size_t i = 0; l != NULL && i < n; i++) {
		free((char *)l[i]);
	}
	free(l);
}

static void
do_deploy(void *arg)
{
	struct deploy_job *j = arg;
	struct agent *a = j->a;
	wire_v root = wire_root(&j->msg);
	const char *yaml;
	size_t ylen;
	char *file = wire_str_dup(wire_get(root, "file"));
	struct diag d;
	struct workflow *wf;
	struct node_placement pl = { 0 };
	const char **rparts = NULL, **rnodes = NULL, **rurls = NULL;
	const char **local = NULL;
	wire_v remote = wire_get(root, "remote");
	char err[2048];
	int rv;

	if (!wire_as_str(wire_get(root, "yaml"), &yaml, &ylen)) {
		reply_err(j->req, "invalid", "deploy without yaml");
		free(file);
		job_free(j);
		return;
	}
	diag_init(&d);
	wf = wf_load_mem(
	    file ? file : "workflow.yaml", yaml, ylen, NULL, NULL, &d);
	free(file);
	if (wf == NULL) {
		char first[512] = "invalid workflow";
		if (d.count > 0 && d.cap > 0) {
			snprintf(first, sizeof first, "%s", d.items[0].text);
		}
		reply_err(j->req, "invalid", "%s", first);
		diag_fini(&d);
		job_free(j);
		return;
	}
	diag_fini(&d);
	/* Local functions run the code fetched by hash. */
	if (str_list(wire_get(root, "local"), &local, &pl.nlocal) != 0) {
		goto oom;
	}
	for (size_t i = 0; i < wf->nfunctions; i++) {
		struct wf_function *f = &wf->functions[i];
		char *h = hash_for(wire_get(root, "code"), f);
		char p[4096];
		if (h == NULL) {
			continue; /* not needed unless local, checked below */
		}
		code_path(a, h, p, sizeof p);
		free(h);
		free(f->code_path);
		if ((f->code_path = strdup(p)) == NULL) {
			goto oom;
		}
	}
	pl.local = local;
	pl.nremote = wire_len(remote);
	rparts = calloc(pl.nremote + 1, sizeof *rparts);
	rnodes = calloc(pl.nremote + 1, sizeof *rnodes);
	rurls = calloc(pl.nremote + 1, sizeof *rurls);
	if (!rparts || !rnodes || !rurls) {
		goto oom;
	}
	for (size_t i = 0; i < pl.nremote; i++) {
		wire_v v = wire_val_at(remote, i);
		rparts[i] = wire_str_dup(wire_key_at(remote, i));
		rnodes[i] = wire_str_dup(wire_get(v, "node"));
		rurls[i] = wire_str_dup(wire_get(v, "url"));
		if (!rparts[i] || !rnodes[i] || !rurls[i]) {
			goto oom;
		}
	}
	pl.remote_part = rparts;
	pl.remote_node = rnodes;
	pl.remote_url = rurls;
	rv = node_deploy_async(a->n, wf, &pl, deploy_done, j, err, sizeof err);
	wf = NULL;
	if (rv != LEDGE_OK) {
		reply_err(j->req, "failed", "%s: %s", node_name(a->n), err);
		job_free(j);
	}
	free_list(local, pl.nlocal);
	free_list(rparts, pl.nremote);
	free_list(rnodes, pl.nremote);
	free_list(rurls, pl.nremote);
	return;
oom:
	wf_free(wf);
	free_list(local, pl.nlocal);
	free_list(rparts, pl.nremote);
	free_list(rnodes, pl.nremote);
	free_list(rurls, pl.nremote);
	reply_err(j->req, "busy", "out of memory");
	job_free(j);
}

static void
undeployed_then_deploy(void *arg)
{
	do_deploy(arg);
}

static void do_reload(struct deploy_job *j);

static void
continue_deploy(struct deploy_job *j)
{
	if (j->failed) {
		reply_err(j->req, "failed", "%s", j->err);
		job_free(j);
		return;
	}
	if (j->reload) {
		do_reload(j);
		return;
	}
	/* A new placement replaces what runs here: stop it first (its state
	 * and queued events stay in the store for the new one). */
	if (node_undeploy_async(j->a->n, j->wf, undeployed_then_deploy, j) !=
	    LEDGE_OK) {
		do_deploy(j);
	}
}

struct fetch {
	struct deploy_job *j;
	char hash[65];
};

static int
write_code(struct agent *a, const char *hash, const void *data, size_t len)
{
	char p[4096], tmp[4200];
	int fd;
	size_t done = 0;
	code_path(a, hash, p, sizeof p);
	snprintf(tmp, sizeof tmp, "%s.%d.part", p, (int)getpid());
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755)) <
	    0) {
		return -1;
	}
	while (done < len) {
		ssize_t n = write(fd, (const char *)data + done, len - done);
		if (n <= 0) {
			close(fd);
			unlink(tmp);
			return -1;
		}
		done += (size_t)n;
	}
	if (close(fd) != 0 || rename(tmp, p) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

static void
on_code(void *arg, int err, const void *data, size_t len)
{
	struct fetch *f = arg;
	struct deploy_job *j = f->j;
	struct wire_r r;
	const void *bytes;
	size_t n;
	char hex[65];

	if (err != MSG_OK || wire_parse(&r, data, len) != 0) {
		j->failed = true;
		snprintf(j->err, sizeof j->err,
		    "%s: could not fetch code %.12s from the orchestrator",
		    node_name(j->a->n), f->hash);
	} else {
		if (!wire_as_bin(
		        wire_get(wire_root(&r), "bytes"), &bytes, &n)) {
			j->failed = true;
			snprintf(j->err, sizeof j->err,
			    "%s: the orchestrator has no code %.12s",
			    node_name(j->a->n), f->hash);
		} else {
			sha256_hex(bytes, n, hex);
			if (strcmp(hex, f->hash) != 0 ||
			    write_code(j->a, f->hash, bytes, n) != 0) {
				j->failed = true;
				snprintf(j->err, sizeof j->err,
				    "%s: code %.12s arrived damaged or could "
				    "not be stored",
				    node_name(j->a->n), f->hash);
			}
		}
		wire_r_fini(&r);
	}
	free(f);
	if (--j->missing == 0) {
		continue_deploy(j);
	}
}

static void
fetch_code(struct deploy_job *j, const char *hash)
{
	struct fetch *f = calloc(1, sizeof *f);
	struct wire_w w;
	const void *d;
	size_t len;
	if (f == NULL || wire_w_init(&w) != 0) {
		free(f);
		j->failed = true;
		return;
	}
	f->j = j;
	snprintf(f->hash, sizeof f->hash, "%s", hash);
	wire_map(&w, 2);
	wire_str(&w, "t");
	wire_str(&w, "code.get");
	wire_str(&w, "hash");
	wire_str(&w, hash);
	d = wire_data(&w, &len);
	j->missing++;
	msg_call(j->a->orc, d, d ? len : 0, 30000, on_code, f);
	wire_w_fini(&w);
}

static void
handle_deploy(struct agent *a, struct msg_req *req)
{
	struct deploy_job *j = calloc(1, sizeof *j);
	const void *data;
	size_t len;
	wire_v root, code;

	data = msg_req_data(req, &len);
	if (j == NULL || wire_parse(&j->msg, data, len) != 0) {
		free(j);
		reply_err(req, "invalid", "malformed deploy");
		return;
	}
	j->a = a;
	j->req = req;
	root = wire_root(&j->msg);
	j->wf = wire_str_dup(wire_get(root, "wf"));
	code = wire_get(root, "code");
	/* Nodes declared lost: what they send with an older epoch is
	 * refused from now on. */
	wire_v lost = wire_get(root, "fenced_nodes");
	for (size_t i = 0; i < wire_len(lost); i++) {
		char *node = wire_str_dup(wire_key_at(lost, i));
		if (node != NULL) {
			links_fence(node_links(a->n), node,
			    wire_as_u64(wire_val_at(lost, i), 0));
		}
		free(node);
	}
	if (j->wf == NULL) {
		reply_err(req, "invalid", "deploy without wf");
		job_free(j);
		return;
	}
	/* Fetch every code file this node lacks (all variants named for
	 * this machine; others are never loaded here). */
	j->missing = 1; /* held until every fetch is sent */
	for (size_t i = 0; i < wire_len(code); i++) {
		char *h = wire_str_dup(wire_val_at(code, i));
		if (h != NULL && strlen(h) == 64 && !have_code(a, h)) {
			fetch_code(j, h);
		}
		free(h);
	}
	if (--j->missing == 0) {
		continue_deploy(j);
	}
}

static void
undeploy_reply(void *arg)
{
	reply_ok(arg);
}

static void
handle_undeploy(struct agent *a, struct msg_req *req, wire_v root)
{
	char *wf = wire_str_dup(wire_get(root, "wf"));
	if (wf == NULL ||
	    node_undeploy_async(a->n, wf, undeploy_reply, req) != LEDGE_OK) {
		reply_ok(req); /* not here: nothing to stop */
	}
	free(wf);
}

/* reload: new code (by hash) for one function running here. */
static void
do_reload(struct deploy_job *j)
{
	wire_v root = wire_root(&j->msg);
	char *fn = wire_str_dup(wire_get(root, "fn"));
	char *hash = wire_str_dup(wire_get(root, "hash"));
	char name[512], path[4096], err[1024];
	snprintf(name, sizeof name, "%s/%s", j->wf, fn ? fn : "");
	code_path(j->a, hash ? hash : "", path, sizeof path);
	if (node_reload_instance(j->a->n, name, path, err, sizeof err) !=
	    LEDGE_OK) {
		reply_err(j->req, "failed", "%s: %s", node_name(j->a->n), err);
	} else {
		reply_ok(j->req);
	}
	free(fn);
	free(hash);
	job_free(j);
}

static void
handle_reload(struct agent *a, struct msg_req *req)
{
	struct deploy_job *j = calloc(1, sizeof *j);
	const void *data;
	size_t len;
	char *h;

	data = msg_req_data(req, &len);
	if (j == NULL || wire_parse(&j->msg, data, len) != 0) {
		free(j);
		reply_err(req, "invalid", "malformed reload");
		return;
	}
	j->a = a;
	j->req = req;
	j->reload = true;
	j->wf = wire_str_dup(wire_get(wire_root(&j->msg), "wf"));
	h = wire_str_dup(wire_get(wire_root(&j->msg), "hash"));
	if (j->wf == NULL || h == NULL || strlen(h) != 64) {
		reply_err(req, "invalid", "reload needs wf, fn and hash");
		free(h);
		job_free(j);
		return;
	}
	j->missing = 1;
	if (!have_code(a, h)) {
		fetch_code(j, h);
	}
	free(h);
	if (--j->missing == 0) {
		continue_deploy(j);
	}
}

/* ------------------------------------------------------------------ */
/* state and invoke                                                    */

struct scan {
	struct wire_w *w;
	size_t n;
	const char *key;
	size_t klen;
	bool counting;
};

static int
scan_state(void *arg, ledge_bytes key, ledge_bytes value)
{
	struct scan *s = arg;
	if (s->key &&
	    (key.len != s->klen || memcmp(key.data, s->key, s->klen))) {
		return 0;
	}
	if (s->counting) {
		s->n++;
		return 0;
	}
	wire_map(s->w, 2);
	wire_str(s->w, "key");
	wire_bin(s->w, key.data, key.len);
	wire_str(s->w, "value");
	wire_bin(s->w, value.data, value.len);
	return 0;
}

static void
handle_state(struct agent *a, struct msg_req *req, wire_v root)
{
	char *wf = wire_str_dup(wire_get(root, "wf"));
	char *fn = wire_str_dup(wire_get(root, "fn"));
	char name[512];
	struct node_target *t;
	struct store_reader *r = NULL;
	struct wire_w w;
	const void *d;
	size_t len;
	const char *key = NULL;
	size_t klen = 0;

	wire_as_str(wire_get(root, "key"), &key, &klen);
	snprintf(name, sizeof name, "%s/%s", wf ? wf : "", fn ? fn : "");
	free(wf);
	free(fn);
	if ((t = node_find_target(a->n, name)) == NULL ||
	    t->kind != NT_INSTANCE) {
		reply_err(req, "not-found", "no function %s on node %s", name,
		    node_name(a->n));
		return;
	}
	/* Committed state: what a crash now would keep. */
	commit_flush(node_commit(a->n));
	if (store_reader_open(node_store(a->n), &r) != LEDGE_OK ||
	    store_reader_begin(r) != LEDGE_OK || wire_w_init(&w) != 0) {
		store_reader_close(r);
		reply_err(req, "busy", "cannot read the store");
		return;
	}
	struct scan s = { &w, 0, key, klen, true };
	store_state_scan(r, t->id, scan_state, &s);
	wire_map(&w, 2);
	wire_str(&w, "ok");
	wire_bool(&w, true);
	wire_str(&w, "entries");
	wire_array(&w, s.n);
	s.counting = false;
	store_state_scan(r, t->id, scan_state, &s);
	store_reader_end(r);
	store_reader_close(r);
	d = wire_data(&w, &len);
	msg_reply(req, d, d ? len : 0);
	wire_w_fini(&w);
}

/* The part name "wf/part" of a request, or "" (with a reply sent). */
static bool
part_of(
    struct agent *a, struct msg_req *req, wire_v root, char *name, size_t len)
{
	char *wf = wire_str_dup(wire_get(root, "wf"));
	char *part = wire_str_dup(wire_get(root, "part"));
	struct node_target *t;
	bool ok = wf != NULL && part != NULL;
	if (ok) {
		snprintf(name, len, "%s/%s", wf, part);
	}
	free(wf);
	free(part);
	if (!ok) {
		reply_err(req, "invalid", "wf and part are required");
		return false;
	}
	if ((t = node_find_target(a->n, name)) != NULL &&
	    t->kind == NT_INSTANCE) {
		reply_err(req, "busy", "%s still runs on node %s", name,
		    node_name(a->n));
		return false;
	}
	return true;
}

/*
 * export: the committed state of a part that no longer runs here (the
 * orchestrator deployed the new placement to this node first), for the
 * node it moves to.
 */
static void
handle_export(struct agent *a, struct msg_req *req, wire_v root)
{
	char name[512];
	uint32_t id;
	struct store_reader *r = NULL;
	struct wire_w w;
	const void *d;
	size_t len;

	if (!part_of(a, req, root, name, sizeof name)) {
		return;
	}
	/* Every write of its last handler runs is applied. */
	commit_flush(node_commit(a->n));
	if (wire_w_init(&w) != 0) {
		reply_err(req, "busy", "out of memory");
		return;
	}
	struct scan s = { &w, 0, NULL, 0, true };
	bool have = node_registry_lookup(a->n, name, &id) &&
	    store_reader_open(node_store(a->n), &r) == LEDGE_OK &&
	    store_reader_begin(r) == LEDGE_OK;
	if (have) {
		store_state_scan(r, id, scan_state, &s);
	}
	wire_map(&w, 2);
	wire_str(&w, "ok");
	wire_bool(&w, true);
	wire_str(&w, "state");
	wire_array(&w, s.n);
	s.counting = false;
	if (have) {
		store_state_scan(r, id, scan_state, &s);
		store_reader_end(r);
	}
	store_reader_close(r);
	d = wire_data(&w, &len);
	if (d == NULL) {
		reply_err(req, "busy", "out of memory");
	} else {
		rlog_write(node_log(a->n), RLOG_INFO, node_name(a->n),
		    "%s: state exported (%zu entries, %zu bytes)", name, s.n,
		    len);
		msg_reply(req, d, len);
	}
	wire_w_fini(&w);
}

struct durable_ok {
	struct loop *loop;
	struct msg_req *req;
};

static void
durable_ok_on_loop(void *arg)
{
	struct durable_ok *d = arg;
	reply_ok(d->req);
	free(d);
}

/* Committer thread: answer once the record is durable (on the loop). */
static void
durable_reply(void *arg, int err)
{
	struct durable_ok *d = arg;
	(void)err; /* a failed commit ends the node */
	loop_post(d->loop, durable_ok_on_loop, d);
}

/* rec answers req once durable; false (nothing set) when out of memory. */
static bool
reply_when_durable(struct agent *a, struct commit_rec *rec, struct msg_req *req)
{
	struct durable_ok *d = malloc(sizeof *d);
	if (d == NULL) {
		return false;
	}
	d->loop = node_loop(a->n);
	d->req = req;
	rec->done = durable_reply;
	rec->arg = d;
	return true;
}

/* import: the state of a part about to run here; replaces what is here. */
static void
handle_import(struct agent *a, struct msg_req *req, wire_v root)
{
	char name[512];
	uint32_t id;
	unsigned char prefix[4];
	wire_v state = wire_get(root, "state");
	struct commit_rec *rec;

	if (!part_of(a, req, root, name, sizeof name)) {
		return;
	}
	if (node_registry_id(a->n, name, &id) != LEDGE_OK ||
	    (rec = commit_rec_new()) == NULL) {
		reply_err(req, "busy", "out of memory");
		return;
	}
	store_be32(prefix, id);
	int rv = commit_rec_del_prefix(rec, STORE_STATE, prefix, 4);
	for (size_t i = 0; i < wire_len(state) && rv == LEDGE_OK; i++) {
		wire_v e = wire_at(state, i);
		const void *k, *v;
		size_t klen, vlen;
		unsigned char *key;
		if (!wire_as_bin(wire_get(e, "key"), &k, &klen) ||
		    !wire_as_bin(wire_get(e, "value"), &v, &vlen) ||
		    (key = malloc(klen + 4)) == NULL) {
			rv = LEDGE_EINVAL;
			break;
		}
		memcpy(key, prefix, 4);
		memcpy(key + 4, k, klen);
		rv = commit_rec_put(rec, STORE_STATE, key, klen + 4, v, vlen);
		free(key);
	}
	if (rv != LEDGE_OK) {
		commit_rec_free(rec);
		reply_err(req, "invalid", "bad state entries for %s", name);
		return;
	}
	if (!reply_when_durable(a, rec, req)) {
		commit_rec_free(rec);
		reply_err(req, "busy", "out of memory");
		return;
	}
	rlog_write(node_log(a->n), RLOG_INFO, node_name(a->n),
	    "%s: state imported (%zu entries)", name, wire_len(state));
	commit_submit(node_commit(a->n), rec);
}

/* forget: drop the state of a part that moved away (or was fenced). */
static void
forget_part(struct agent *a, const char *name, struct msg_req *req)
{
	uint32_t id;
	unsigned char prefix[4];
	struct commit_rec *rec;
	if (!node_registry_lookup(a->n, name, &id) ||
	    (rec = commit_rec_new()) == NULL) {
		if (req) {
			reply_ok(req);
		}
		return;
	}
	store_be32(prefix, id);
	commit_rec_del_prefix(rec, STORE_STATE, prefix, 4);
	if (req != NULL && !reply_when_durable(a, rec, req)) {
		commit_rec_free(rec);
		reply_err(req, "busy", "out of memory");
		return;
	}
	commit_submit(node_commit(a->n), rec);
	rlog_write(node_log(a->n), RLOG_INFO, node_name(a->n),
	    "%s: state dropped here (it runs elsewhere)", name);
}

static void
handle_forget(struct agent *a, struct msg_req *req, wire_v root)
{
	char name[512];
	if (part_of(a, req, root, name, sizeof name)) {
		forget_part(a, name, req);
	}
}

struct invoke {
	struct agent *a;
	struct msg_req *req;
	struct node_call *call;
};

static void
invoke_reply(void *arg)
{
	struct invoke *iv = arg;
	struct node_reply *r = &iv->call->reply;
	struct wire_w w;
	const void *d;
	size_t len;
	if (r->err != LEDGE_OK) {
		reply_err(iv->req, "failed", "the call failed: %s",
		    ledge_strerror(r->err));
	} else if (wire_w_init(&w) == 0) {
		wire_map(&w, 2);
		wire_str(&w, "ok");
		wire_bool(&w, true);
		wire_str(&w, "reply");
		wire_bin(&w, r->body ? (const void *)r->body : "", r->len);
		d = wire_data(&w, &len);
		msg_reply(iv->req, d, d ? len : 0);
		wire_w_fini(&w);
	} else {
		msg_reply(iv->req, NULL, 0);
	}
	node_call_unref(iv->call);
	free(iv);
}

static void
invoke_done(struct node_call *call, void *arg)
{
	struct invoke *iv = arg;
	(void)call;
	if (loop_on_thread(node_loop(iv->a->n))) {
		invoke_reply(iv);
	} else {
		loop_post(node_loop(iv->a->n), invoke_reply, iv);
	}
}

static void
reply_ok_cb(void *req)
{
	reply_ok(req);
}

static void
cast_durable(void *arg, int err)
{
	struct invoke *iv = arg;
	(void)err;
	loop_post(node_loop(iv->a->n), reply_ok_cb, iv->req);
	free(iv);
}

static void
handle_invoke(struct agent *a, struct msg_req *req, wire_v root)
{
	char *wf = wire_str_dup(wire_get(root, "wf"));
	char *target = wire_str_dup(wire_get(root, "target"));
	bool call = wire_as_bool(wire_get(root, "call"), false);
	const void *data = "";
	size_t len = 0;
	char name[512];
	struct node_target *t;
	struct node_event *ev;
	struct invoke *iv;

	wire_as_bin(wire_get(root, "data"), &data, &len);
	snprintf(
	    name, sizeof name, "%s/%s", wf ? wf : "", target ? target : "");
	free(wf);
	free(target);
	if ((t = node_find_target(a->n, name)) == NULL) {
		reply_err(req, "not-found", "no %s on node %s", name,
		    node_name(a->n));
		return;
	}
	if ((ev = node_event_new(call ? NE_CALL : NE_CAST, t->id, data, len)) ==
	        NULL ||
	    (iv = calloc(1, sizeof *iv)) == NULL) {
		node_event_free(ev);
		reply_err(req, "busy", "out of memory");
		return;
	}
	iv->a = a;
	iv->req = req;
	if (node_admit(t) != LEDGE_OK) {
		node_event_free(ev);
		free(iv);
		reply_err(req, "busy", "%s is busy (mailbox full)", name);
		return;
	}
	node_admitted(t, ev);
	if (call) {
		if ((iv->call = node_call_new(true, invoke_done, iv)) == NULL) {
			node_event_free(ev);
			free(iv);
			reply_err(req, "busy", "out of memory");
			return;
		}
		ev->call = iv->call;
		node_send_inline(a->n, t, ev);
		return;
	}
	/* A cast is durable before it is acknowledged, as from HTTP. */
	struct commit_rec *rec = commit_rec_new();
	if (rec == NULL || enqueue_durable(a->n, rec, t, ev) != LEDGE_OK) {
		commit_rec_free(rec);
		node_event_free(ev);
		free(iv);
		reply_err(req, "busy", "out of memory");
		return;
	}
	rec->done = cast_durable;
	rec->arg = iv;
	commit_submit(node_commit(a->n), rec);
	if (t->kind == NT_REMOTE) {
		node_event_free(ev); /* in the outbox; the link sends it */
		return;
	}
	node_send_inline(a->n, t, ev);
}

/* ------------------------------------------------------------------ */
/* dispatch                                                            */

static void
on_request(void *arg, struct msg_req *req)
{
	struct agent *a = arg;
	struct wire_r r;
	size_t len;
	const void *data = msg_req_data(req, &len);
	wire_v root, t;

	if (wire_parse(&r, data, len) != 0) {
		reply_err(req, "invalid", "malformed message");
		return;
	}
	root = wire_root(&r);
	t = wire_get(root, "t");
	if (wire_str_eq(t, "ev")) {
		links_handle_ev(node_links(a->n), req, root);
	} else if (wire_str_eq(t, "call")) {
		links_handle_call(node_links(a->n), req, root);
	} else if (wire_str_eq(t, "deploy")) {
		handle_deploy(a, req); /* parses again: the job keeps it */
	} else if (wire_str_eq(t, "undeploy")) {
		handle_undeploy(a, req, root);
	} else if (wire_str_eq(t, "state.get")) {
		handle_state(a, req, root);
	} else if (wire_str_eq(t, "invoke")) {
		handle_invoke(a, req, root);
	} else if (wire_str_eq(t, "fence")) {
		undeploy_fenced(a, wire_get(root, "parts"));
		reply_ok(req);
	} else if (wire_str_eq(t, "reload")) {
		handle_reload(a, req);
	} else if (wire_str_eq(t, "export")) {
		handle_export(a, req, root);
	} else if (wire_str_eq(t, "import")) {
		handle_import(a, req, root);
	} else if (wire_str_eq(t, "forget")) {
		handle_forget(a, req, root);
	} else if (wire_str_eq(t, "fence.node")) {
		char *node = wire_str_dup(wire_get(root, "node"));
		if (node != NULL) {
			links_fence(node_links(a->n), node,
			    wire_as_u64(wire_get(root, "min_epoch"), 0));
		}
		free(node);
		reply_ok(req);
	} else if (wire_str_eq(t, "ping")) {
		reply_ok(req);
	} else {
		reply_err(req, "invalid", "unknown request type");
	}
	wire_r_fini(&r);
}

/* ------------------------------------------------------------------ */
/* lifecycle                                                           */

int
agent_start(struct agent **ap, struct node *n, const struct agent_opts *o,
    char *err, size_t errlen)
{
	struct agent *a = calloc(1, sizeof *a);
	char puburl[1024];
	char codedir[4096];

	if (a == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	hmap_init(&a->sizes);
	if (getrandom(&a->boot, sizeof a->boot, 0) != sizeof a->boot) {
		a->boot = clock_wall_ms() ^ (uint64_t)getpid() << 32;
	}
	a->boot |= 1; /* never 0 */
	a->n = n;
	a->tls = o->tls;
	a->orchestrator = strdup(o->orchestrator);
	a->listen = strdup(o->listen);
	a->http = o->http ? strdup(o->http) : NULL;
	a->nlabels = o->nlabels;
	a->label_keys = calloc(o->nlabels + 1, sizeof *a->label_keys);
	a->label_values = calloc(o->nlabels + 1, sizeof *a->label_values);
	for (size_t i = 0; i < o->nlabels && a->label_keys && a->label_values;
	     i++) {
		a->label_keys[i] = strdup(o->label_keys[i]);
		a->label_values[i] = strdup(o->label_values[i]);
	}
	snprintf(codedir, sizeof codedir, "%s/code", node_data_dir(n));
	mkdir(codedir, 0755);
	if (msg_pub_url(o->orchestrator, puburl, sizeof puburl) != 0) {
		snprintf(err, errlen,
		    "cannot derive the heartbeat address of %s (use tcp://, "
		    "tls+tcp://, ipc:// or inproc://)",
		    o->orchestrator);
		agent_free(a);
		return -1;
	}
	if (msg_server_new(node_loop(n), o->listen, o->tls, on_request, a,
	        &a->server, err, errlen) != 0 ||
	    msg_client_new(node_loop(n), o->orchestrator, o->tls, &a->orc, err,
	        errlen) != 0 ||
	    msg_pub_new(puburl, o->tls, &a->pub, err, errlen) != 0) {
		agent_free(a);
		return -1;
	}
	a->join_timer = loop_timer_new(node_loop(n), on_join_timer, a);
	a->hb_timer = loop_timer_new(node_loop(n), on_hb_timer, a);
	if (a->join_timer == NULL || a->hb_timer == NULL) {
		snprintf(err, errlen, "out of memory");
		agent_free(a);
		return -1;
	}
	node_log(n)->tap = log_tap;
	node_log(n)->tap_arg = a;
	loop_timer_start(a->join_timer, 0);
	loop_timer_start(a->hb_timer, HEARTBEAT_MS);
	rlog_write(node_log(n), RLOG_INFO, node_name(n),
	    "node listening on %s, joining %s", o->listen, o->orchestrator);
	*ap = a;
	return 0;
}

void
agent_free(struct agent *a)
{
	if (a == NULL) {
		return;
	}
	if (node_log(a->n)->tap_arg == a) {
		node_log(a->n)->tap = NULL;
		node_log(a->n)->tap_arg = NULL;
	}
	loop_timer_free(a->join_timer);
	loop_timer_free(a->hb_timer);
	msg_server_free(a->server);
	msg_client_free(a->orc);
	msg_pub_free(a->pub);
	for (size_t i = 0; i < a->nlabels; i++) {
		if (a->label_keys) {
			free(a->label_keys[i]);
		}
		if (a->label_values) {
			free(a->label_values[i]);
		}
	}
	free(a->label_keys);
	free(a->label_values);
	free(a->orchestrator);
	free(a->listen);
	free(a->http);
	{
		struct hmap_slot *sl;
		size_t pos = 0;
		while ((sl = hmap_next(&a->sizes, &pos)) != NULL) {
			free(sl->value);
		}
		hmap_fini(&a->sizes);
	}
	store_reader_close(a->size_reader);
	free(a);
}
