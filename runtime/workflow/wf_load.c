/*
 * wf_load.c - a workflow YAML file, parsed with libyaml's document API
 * and validated against the schema in DESIGN.md ("Workflow YAML").
 *
 * Loading runs in passes over one yaml_document_t so that every problem
 * is reported, not only the first: limits, NUL bytes and duplicate keys
 * first (the only pass that may stop early), then the schema of the top
 * level and of each function and resource, then the names they share, the
 * code checks, the wiring of outputs, and last each resource type's own
 * check.  Nothing half-validated escapes: on any error the caller gets
 * NULL and the diag list says why.  The sections are parsed in the files
 * wf_int.h lists; this file only calls down into them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include <yaml.h>

#include "workflow/wf_int.h"

#define MAX_FILE (1024 * 1024)

/* ------------------------------------------------------------------ */
/* Top level                                                           */

static void
load_top(struct wf_loader *ld, yaml_node_t *root)
{
	static const char *const keys[] = { "workflow", "functions",
		"resources", "isolation", "limits" };
	yaml_node_t *name = wf_map_value(ld, root, "workflow");
	yaml_node_t *fns;
	yaml_node_t *res;
	bool bad = false;

	wf_check_keys(ld, root, keys, sizeof keys / sizeof keys[0], NULL, NULL);
	if (name == NULL) {
		wf_report(ld, wf_pos_of(root),
		    "missing 'workflow' (the workflow's name)");
	} else if (wf_check_name(ld, name, "the workflow name")) {
		ld->wf->name_pos = wf_pos_of(name);
		ld->wf->name = wf_dup(ld, wf_text_of(name));
	}
	wf_load_isolation(ld, root, &ld->top, "the limits of workflow",
	    ld->wf->name ? ld->wf->name : "?");
	fns = wf_opt_map(
	    ld, wf_map_value(ld, root, "functions"), "functions", &bad);
	res = wf_opt_map(
	    ld, wf_map_value(ld, root, "resources"), "resources", &bad);
	if (fns != NULL) {
		wf_load_functions(ld, fns);
	}
	if (res != NULL && !ld->oom) {
		wf_load_resources(ld, res);
	}
	if (!bad && ld->wf->nfunctions == 0 && ld->wf->nresources == 0) {
		wf_report(ld, wf_pos_of(root),
		    "the workflow has no functions and no resources");
	}
}

/* ------------------------------------------------------------------ */
/* Parsing and the passes                                              */

/* Line and column of a byte offset, for reader errors that have none. */
static struct wf_pos
offset_pos(const struct wf_loader *ld, size_t offset)
{
	struct wf_pos p = { 1, 1 };

	for (size_t i = 0; i < offset && i < ld->len; i++) {
		if (ld->text[i] == '\n') {
			p.line++;
			p.col = 1;
		} else {
			p.col++;
		}
	}
	return p;
}

static void
syntax_error(struct wf_loader *ld, const yaml_parser_t *parser)
{
	const char *problem =
	    parser->problem != NULL ? parser->problem : "unknown problem";
	struct wf_pos p;

	if (parser->error == YAML_MEMORY_ERROR) {
		wf_oom(ld);
		return;
	}
	if (parser->error == YAML_READER_ERROR) {
		p = offset_pos(ld, parser->problem_offset);
	} else {
		p.line = (int)parser->problem_mark.line + 1;
		p.col = (int)parser->problem_mark.column + 1;
	}
	if (parser->context != NULL) {
		wf_report(ld, p, "YAML syntax error: %s (%s)", problem,
		    parser->context);
	} else {
		wf_report(ld, p, "YAML syntax error: %s", problem);
	}
}

/*
 * Load the file's one document into ld->doc.  LEDGE_OK if there is one
 * to validate (a second document is reported, not refused); else, with
 * the reason reported, LEDGE_EINVAL (a syntax error) or LEDGE_ENOMEM, and
 * there is no document to delete.
 */
static int
parse(struct wf_loader *ld)
{
	yaml_parser_t parser;
	yaml_document_t extra;
	int rv = LEDGE_EINVAL;

	if (!yaml_parser_initialize(&parser)) {
		wf_oom(ld);
		return LEDGE_ENOMEM;
	}
	yaml_parser_set_input_string(
	    &parser, (const unsigned char *)ld->text, ld->len);
	if (!yaml_parser_load(&parser, &ld->doc)) {
		if (parser.error == YAML_MEMORY_ERROR) {
			rv = LEDGE_ENOMEM;
		}
		syntax_error(ld, &parser);
		goto out;
	}
	rv = LEDGE_OK;
	if (yaml_document_get_root_node(&ld->doc) == NULL) {
		goto out;
	}
	if (!yaml_parser_load(&parser, &extra)) {
		syntax_error(ld, &parser);
		goto out;
	}
	if (yaml_document_get_root_node(&extra) != NULL) {
		wf_report(ld,
		    (struct wf_pos) { (int)extra.start_mark.line + 1,
		        (int)extra.start_mark.column + 1 },
		    "a second YAML document; a workflow file holds one");
	}
	yaml_document_delete(&extra);
out:
	yaml_parser_delete(&parser);
	return rv;
}

static void
validate(struct wf_loader *ld)
{
	yaml_node_t *root = yaml_document_get_root_node(&ld->doc);
	char found[SHOW_SIZE];
	size_t n = (size_t)(ld->doc.nodes.top - ld->doc.nodes.start);

	if (root == NULL) {
		wf_report(ld, (struct wf_pos) { 0, 0 },
		    "empty document (expected a mapping with 'workflow', "
		    "'functions' and 'resources')");
		return;
	}
	if ((ld->seen = calloc(n, 1)) == NULL) {
		wf_oom(ld);
		return;
	}
	if (wf_walk_limits(ld, 1, 1, root) != 0 || ld->oom) {
		return;
	}
	if (!wf_is_map(root)) {
		wf_report(ld, wf_pos_of(root),
		    "the top level must be a mapping, found %s",
		    wf_describe(root, found, sizeof found));
		return;
	}
	load_top(ld, root);
	if (!ld->oom) {
		wf_index_names(ld);
	}
	if (!ld->oom && ld->check != NULL) {
		wf_check_code(ld);
	}
	if (!ld->oom) {
		wf_check_wiring(ld);
	}
	if (!ld->oom) {
		wf_run_type_checks(ld);
	}
}

/* wf->file and wf->dir from the name given to wf_load or wf_load_mem:
 * LEDGE_OK or LEDGE_ENOMEM. */
static int
set_file(struct workflow *wf, const char *name)
{
	const char *slash = strrchr(name, '/');

	wf->file = strdup(name);
	if (slash == NULL) {
		wf->dir = strdup(".");
	} else {
		wf->dir =
		    strndup(name, slash == name ? 1 : (size_t)(slash - name));
	}
	return wf->file != NULL && wf->dir != NULL ? LEDGE_OK : LEDGE_ENOMEM;
}

struct workflow *
wf_load_mem(const char *name, const char *text, size_t len,
    const struct res_type *const *types, wf_code_check check, void *check_arg,
    struct diag *d)
{
	struct wf_loader ld = { .file = name,
		.text = text,
		.len = len,
		.d = d,
		.start = d->count,
		.types = types,
		.check = check,
		.check_arg = check_arg };

	if (len > MAX_FILE) {
		diag_add(d, name, 0, 0,
		    "too large: %zu bytes (the limit is %d)", len, MAX_FILE);
		return NULL;
	}
	if (uname(&ld.uts) != 0) {
		strcpy(ld.uts.machine, "unknown");
	}
	if ((ld.wf = calloc(1, sizeof *ld.wf)) == NULL ||
	    set_file(ld.wf, name) != 0) {
		wf_oom(&ld);
	} else if (parse(&ld) == LEDGE_OK) {
		validate(&ld);
		yaml_document_delete(&ld.doc);
	}
	free(ld.seen);
	free(ld.names);
	free(ld.name_list);
	free(ld.res_clean);
	if (!wf_failed(&ld) && wf_split_slots(ld.wf) != LEDGE_OK) {
		diag_add(d, name, 0, 0, "out of memory");
	}
	if (wf_failed(&ld)) {
		wf_free(ld.wf);
		return NULL;
	}
	return ld.wf;
}

struct workflow *
wf_load(const char *path, const struct res_type *const *types,
    wf_code_check check, void *check_arg, struct diag *d)
{
	struct workflow *wf = NULL;
	struct stat st;
	size_t len;
	char *buf;
	FILE *fp;
	int err;

	if ((fp = fopen(path, "rb")) == NULL) {
		diag_add(d, path, 0, 0, "cannot read: %s", strerror(errno));
		return NULL;
	}
	/* Refuse a huge file before reading it; the read below still stops
	 * at the limit for pipes and files that grow. */
	if (fstat(fileno(fp), &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_size > MAX_FILE) {
		diag_add(d, path, 0, 0,
		    "too large: %lld bytes (the limit is %d)",
		    (long long)st.st_size, MAX_FILE);
		fclose(fp);
		return NULL;
	}
	if ((buf = malloc(MAX_FILE + 1)) == NULL) {
		diag_add(d, path, 0, 0, "out of memory");
		fclose(fp);
		return NULL;
	}
	len = fread(buf, 1, MAX_FILE + 1, fp);
	err = ferror(fp) ? errno : 0;
	fclose(fp);
	if (err != 0) {
		diag_add(d, path, 0, 0, "cannot read: %s", strerror(err));
	} else {
		wf = wf_load_mem(path, buf, len, types, check, check_arg, d);
	}
	free(buf);
	return wf;
}
