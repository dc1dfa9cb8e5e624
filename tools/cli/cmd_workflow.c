/*
 * cmd_workflow.c - `ledge workflow start|stop|list|show` (see
 * cmd_workflow.h).
 *
 * `start` validates the workflow as `ledge validate` does, hashes every
 * code file it names, and sends wf.start; while the orchestrator answers
 * need-code, the files it lacks are uploaded and wf.start is sent again.
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/path.h"
#include "client.h"
#include "cmd_workflow.h"
#include "code/code.h"
#include "command.h"
#include "json_out.h"
#include "print.h"
#include "resources/resources.h"
#include "text.h"
#include "usage.h"
#include "workflow/workflow.h"

/* Rounds of need-code -> code.put -> wf.start before giving up. */
#define UPLOAD_ROUNDS 3

/* Code files named by a workflow: the key of the `code` map (path as
 * written, or path@arch), the file, its hash. */
struct code_file {
	char *key;
	char *path;
	char hash[65];
	char *sig; /* path.sig's text, or NULL */
	size_t siglen;
};

struct codeset {
	struct code_file *f;
	size_t n, cap;
};

static void
req_wf_start(struct wire_w *w, const struct workflow *wf, const char *file,
    const char *yaml, size_t ylen, const struct codeset *cs)
{
	size_t nsig = 0;
	for (size_t i = 0; i < cs->n; i++) {
		nsig += cs->f[i].sig != NULL;
	}
	wire_map(w, 6);
	/* The signatures beside the code files (FILE.so.sig), by hash. */
	wire_str(w, "sigs");
	wire_map(w, nsig);
	for (size_t i = 0; i < cs->n; i++) {
		if (cs->f[i].sig != NULL) {
			wire_str(w, cs->f[i].hash);
			wire_strn(w, cs->f[i].sig, cs->f[i].siglen);
		}
	}
	wire_str(w, "t");
	wire_str(w, "wf.start");
	wire_str(w, "name");
	wire_str(w, wf->name);
	wire_str(w, "file");
	wire_str(w, file);
	wire_str(w, "yaml");
	wire_strn(w, yaml, ylen);
	wire_str(w, "code");
	wire_map(w, cs->n);
	for (size_t i = 0; i < cs->n; i++) {
		wire_str(w, cs->f[i].key);
		wire_str(w, cs->f[i].hash);
	}
}

static int
check_loadable(void *arg, const char *path, char *err, size_t errlen)
{
	struct node_code *code;
	if (code_load(arg, path, &code, err, errlen) != LEDGE_OK) {
		return -1;
	}
	code_release(code);
	return 0;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* Validate like `ledge validate` (code loaded in a scratch cache); every
 * problem goes to stderr.  NULL if the workflow is unusable. */
static struct workflow *
load_checked(const struct view *v, const char *path)
{
	char tmpl[] = "/tmp/ledge-cli-XXXXXX";
	char err[512];
	struct code_cache *cache = NULL;
	struct workflow *wf;
	struct diag d;

	if (mkdtemp(tmpl) == NULL) {
		print_fail(v, stdout, stderr, "local",
		    "cannot make a scratch folder in /tmp: %s",
		    strerror(errno));
		return NULL;
	}
	if (code_cache_open(&cache, tmpl, err, sizeof err) != LEDGE_OK) {
		print_fail(v, stdout, stderr, "local", "%s", err);
		rmdir(tmpl);
		return NULL;
	}
	diag_init(&d);
	wf = wf_load(path, res_types(), check_loadable, cache, &d);
	if (wf == NULL) {
		diag_print(&d, stderr);
		if (v->json) {
			/* The same lines, for scripts. */
			struct json_out j;
			json_init(&j);
			json_obj_begin(&j);
			json_key(&j, "ok");
			json_bool(&j, false);
			json_kstr(&j, "error", "the workflow is not valid");
			json_kstr(&j, "code", "invalid");
			json_key(&j, "errors");
			json_arr_begin(&j);
			for (size_t i = 0; i < d.count && i < d.cap; i++) {
				json_str(&j, d.items[i].text);
			}
			json_arr_end(&j);
			json_obj_end(&j);
			json_write(&j, stdout);
			json_fini(&j);
		}
	}
	diag_fini(&d);
	code_cache_close(cache);
	nftw(tmpl, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return wf;
}

static void
codes_free(struct codeset *cs)
{
	for (size_t i = 0; i < cs->n; i++) {
		free(cs->f[i].key);
		free(cs->f[i].path);
		free(cs->f[i].sig);
	}
	free(cs->f);
	memset(cs, 0, sizeof *cs);
}

/* Add key -> hash of path (once per key).  0, or -1 with a reason. */
static int
codes_add(
    struct codeset *cs, const char *key, const char *path, char *why, size_t n)
{
	struct code_file *f;
	char err[512];

	for (size_t i = 0; i < cs->n; i++) {
		if (strcmp(cs->f[i].key, key) == 0) {
			return 0;
		}
	}
	if (cs->n == cs->cap) {
		size_t cap = cs->cap ? cs->cap * 2 : 8;
		struct code_file *nf = realloc(cs->f, cap * sizeof *nf);
		if (nf == NULL) {
			snprintf(why, n, "out of memory");
			return -1;
		}
		cs->f = nf;
		cs->cap = cap;
	}
	f = &cs->f[cs->n];
	if (code_hash_file(path, f->hash, err, sizeof err) != LEDGE_OK) {
		snprintf(why, n, "code '%s' (%s): %s", key, path, err);
		return -1;
	}
	if (client_read_sig(path, &f->sig, &f->siglen, err, sizeof err) != 0) {
		snprintf(why, n, "code '%s': %s", key, err);
		return -1;
	}
	f->key = strdup(key);
	f->path = strdup(path);
	if (f->key == NULL || f->path == NULL) {
		free(f->key);
		free(f->path);
		free(f->sig);
		snprintf(why, n, "out of memory");
		return -1;
	}
	cs->n++;
	return 0;
}

/* A path as the workflow wrote it: the resolved path without the
 * workflow's folder (wf_load keeps only resolved paths for the
 * per-architecture variants). */
static const char *
as_written(const struct workflow *wf, const char *resolved)
{
	size_t dl = strlen(wf->dir);
	if (strncmp(resolved, wf->dir, dl) == 0) {
		if (dl > 0 && wf->dir[dl - 1] == '/') {
			return resolved + dl;
		}
		if (resolved[dl] == '/') {
			return resolved + dl + 1;
		}
	}
	return resolved;
}

/* Every code file of the workflow, hashed: `code: f.so` under its path as
 * written, `code: {arch: f.so}` as f.so@arch. */
static int
codes_collect(
    const struct workflow *wf, struct codeset *cs, char *why, size_t n)
{
	for (size_t i = 0; i < wf->nfunctions; i++) {
		const struct wf_function *f = &wf->functions[i];
		if (f->ncode_arch == 0) {
			if (f->code != NULL &&
			    codes_add(cs, f->code, f->code_path, why, n) != 0) {
				return -1;
			}
			continue;
		}
		for (size_t a = 0; a < f->ncode_arch; a++) {
			char *key;
			int rc;
			if (asprintf(&key, "%s@%s",
			        as_written(wf, f->code_arch_path[a]),
			        f->code_arch[a]) < 0) {
				snprintf(why, n, "out of memory");
				return -1;
			}
			rc = codes_add(cs, key, f->code_arch_path[a], why, n);
			free(key);
			if (rc != 0) {
				return -1;
			}
		}
	}
	return 0;
}

struct start_state {
	struct workflow *wf;
	char *yaml;
	size_t ylen;
	struct codeset cs;
	struct view_upload *ups; /* one per code file at most */
	size_t nups;
};

/* Upload what the orchestrator said it needs (`need`: hashes). */
static int
upload_needed(const struct args *o, const struct view *v, struct start_state *s,
    wire_v need)
{
	for (size_t i = 0; i < wire_len(need); i++) {
		const struct code_file *f = NULL;
		bool done = false;
		uint64_t bytes = 0;

		for (size_t k = 0; k < s->cs.n; k++) {
			if (wire_str_eq(wire_at(need, i), s->cs.f[k].hash)) {
				f = &s->cs.f[k];
				break;
			}
		}
		if (f == NULL) {
			char *h = text_wire(wire_at(need, i));
			int rc = print_fail(v, stdout, stderr, "bad-reply",
			    "the orchestrator asked for code %s, which the "
			    "workflow does not name",
			    h ? h : "?");
			free(h);
			return rc;
		}
		for (size_t k = 0; k < s->nups; k++) {
			done = done || strcmp(s->ups[k].hash, f->hash) == 0;
		}
		if (done) {
			continue;
		}
		if (client_upload(o, v, f->path, f->hash, &bytes) != 0) {
			return 1;
		}
		s->ups[s->nups++] =
		    (struct view_upload) { f->path, f->hash, bytes };
	}
	return 0;
}

static int
start_rounds(const struct args *o, struct view *v, struct start_state *s,
    const char *file)
{
	for (int round = 0;; round++) {
		struct wire_w w;
		struct client_reply rep;
		wire_v r;
		int rc;

		if (wire_w_init(&w) != 0) {
			return print_fail(
			    v, stdout, stderr, "oom", "out of memory");
		}
		req_wf_start(&w, s->wf, file, s->yaml, s->ylen, &s->cs);
		rc = client_call(o, v, &w, o->timeout_ms, &rep);
		wire_w_fini(&w);
		if (rc != 0) {
			return 1;
		}
		r = wire_root(&rep.r);
		if (wire_as_bool(wire_get(r, "ok"), false) ||
		    !wire_str_eq(wire_get(r, "code"), "need-code") ||
		    round == UPLOAD_ROUNDS) {
			v->uploads = s->ups;
			v->nuploads = s->nups;
			rc = print_reply(PRINT_WF_START, r, v, stdout, stderr);
			client_reply_free(&rep);
			return rc;
		}
		rc = upload_needed(o, v, s, wire_get(r, "need"));
		client_reply_free(&rep);
		if (rc != 0) {
			return rc;
		}
	}
}

static int
run_wf_start(const struct command *c, const struct args *o)
{
	const char *file = o->pos[0];
	struct view v = command_view(c, o);
	struct start_state s = { 0 };
	char why[1024];
	int rc = 1;

	if ((s.wf = load_checked(&v, file)) == NULL) {
		return 1;
	}
	v.name = s.wf->name;
	if (path_read(file, 1u << 20, &s.yaml, &s.ylen) != LEDGE_OK) {
		print_fail(&v, stdout, stderr, "local", "cannot read %s: %s",
		    file, strerror(errno));
		goto out;
	}
	if (codes_collect(s.wf, &s.cs, why, sizeof why) != 0) {
		print_fail(&v, stdout, stderr, "local", "%s: %s", file, why);
		goto out;
	}
	if ((s.ups = calloc(s.cs.n + 1, sizeof *s.ups)) == NULL) {
		print_fail(&v, stdout, stderr, "oom", "out of memory");
		goto out;
	}
	rc = start_rounds(o, &v, &s, file);
out:
	free(s.ups);
	codes_free(&s.cs);
	free(s.yaml);
	wf_free(s.wf);
	return rc;
}

static int
run_wf_stop(const struct command *c, const struct args *o)
{
	return command_named(c, o, "wf.stop", PRINT_WF_STOP);
}

static int
run_wf_list(const struct command *c, const struct args *o)
{
	return command_named(c, o, "wf.list", PRINT_WF_LIST);
}

static int
run_wf_show(const struct command *c, const struct args *o)
{
	return command_named(c, o, "wf.show", PRINT_WF_SHOW);
}

static const struct command wf_cmds[] = {
	{ "start",
	    { "ledge workflow start", usage_wf_start, 0, 1, 1, { "FILE.yaml" },
	        30000 },
	    run_wf_start },
	{ "stop",
	    { "ledge workflow stop", usage_wf_stop, 0, 1, 1, { "NAME" },
	        30000 },
	    run_wf_stop },
	{ "list",
	    { "ledge workflow list", usage_wf_list, 0, 0, 0, { NULL }, 10000 },
	    run_wf_list },
	{ "show",
	    { "ledge workflow show", usage_wf_show, 0, 1, 1, { "NAME" },
	        10000 },
	    run_wf_show },
};

int
cmd_workflow_main(int argc, char **argv)
{
	return command_group("ledge workflow", usage_workflow, wf_cmds,
	    sizeof wf_cmds / sizeof wf_cmds[0], argc, argv);
}

void
cmd_workflow_help(FILE *fp)
{
	usage_print(usage_workflow, 0, fp);
}
