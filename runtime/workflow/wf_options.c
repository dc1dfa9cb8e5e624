/*
 * wf_options.c - a function's options: `placement:` (labels, node, arch,
 * resource types), `state:` (replicas), and `isolation:`/`limits:` of a
 * function or of the whole workflow.
 */
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "workflow/wf_int.h"

#define REPLICAS_MAX 16

static void
load_labels(struct wf_loader *ld, yaml_node_t *n, struct wf_placement *pl)
{
	char found[SHOW_SIZE];
	char shown[SHOW_SIZE];

	if ((n = wf_opt_map(ld, n, "labels", NULL)) == NULL) {
		return;
	}
	pl->label_keys = calloc(wf_npairs(n) + 1, sizeof *pl->label_keys);
	pl->label_values = calloc(wf_npairs(n) + 1, sizeof *pl->label_values);
	if (pl->label_keys == NULL || pl->label_values == NULL) {
		wf_oom(ld);
		return;
	}
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = wf_node_at(ld, p->key);
		yaml_node_t *v = wf_node_at(ld, p->value);
		size_t i;

		if (!wf_is_scalar(k)) {
			continue;
		}
		if (!wf_is_scalar(v)) {
			wf_report(ld, wf_pos_of(v),
			    "label '%s': expected a scalar, found %s",
			    wf_clip(wf_text_of(k), shown, sizeof shown),
			    wf_describe(v, found, sizeof found));
			continue;
		}
		i = pl->nlabels++;
		if ((pl->label_keys[i] = wf_dup(ld, wf_text_of(k))) == NULL ||
		    (pl->label_values[i] = wf_dup(ld, wf_text_of(v))) == NULL) {
			return;
		}
	}
}

/* `resources: [http-ingress]` (or one name): types the node must offer. */
static void
load_needed_types(struct wf_loader *ld, yaml_node_t *n, struct wf_placement *pl)
{
	char found[SHOW_SIZE];
	size_t count;

	if (n == NULL || wf_is_null(n)) {
		return;
	}
	if (wf_is_map(n)) {
		wf_report(ld, wf_pos_of(n),
		    "'resources' must be a list of resource types, found a "
		    "mapping");
		return;
	}
	count = n->type == YAML_SEQUENCE_NODE ? wf_nitems(n) : 1;
	if ((pl->resources = calloc(count + 1, sizeof *pl->resources)) ==
	    NULL) {
		wf_oom(ld);
		return;
	}
	for (size_t i = 0; i < count; i++) {
		yaml_node_t *t = n->type == YAML_SEQUENCE_NODE
		    ? wf_node_at(ld, n->data.sequence.items.start[i])
		    : n;
		if (!wf_is_scalar(t)) {
			wf_report(ld, wf_pos_of(t),
			    "'resources': expected a scalar, found %s",
			    wf_describe(t, found, sizeof found));
			continue;
		}
		wf_find_type(ld, t);
		if ((pl->resources[pl->nresources++] =
		            wf_dup(ld, wf_text_of(t))) == NULL) {
			return;
		}
	}
}

void
wf_load_placement(struct wf_loader *ld, yaml_node_t *n, struct wf_function *f)
{
	static const char *const keys[] = { "labels", "node", "arch",
		"resources" };
	struct wf_placement *pl = &f->placement;

	if ((n = wf_opt_map(ld, n, "placement", NULL)) == NULL) {
		return;
	}
	wf_check_keys(ld, n, keys, sizeof keys / sizeof keys[0],
	    "the placement of function", f->name);
	load_labels(ld, wf_map_value(ld, n, "labels"), pl);
	pl->node = wf_opt_str(ld, wf_map_value(ld, n, "node"), "node");
	pl->arch = wf_opt_str(ld, wf_map_value(ld, n, "arch"), "arch");
	load_needed_types(ld, wf_map_value(ld, n, "resources"), pl);
}

void
wf_load_state(struct wf_loader *ld, yaml_node_t *n, struct wf_function *f)
{
	static const char *const keys[] = { "replicas", "ack" };
	char found[SHOW_SIZE];
	yaml_node_t *r;
	long long v;

	if ((n = wf_opt_map(ld, n, "state", NULL)) == NULL) {
		return;
	}
	wf_check_keys(ld, n, keys, 2, "the state of function", f->name);
	r = wf_map_value(ld, n, "replicas");
	if (r != NULL && wf_get_int(ld, r, "replicas", 0, REPLICAS_MAX, &v)) {
		f->replicas = (uint32_t)v;
	}
	if ((r = wf_map_value(ld, n, "ack")) != NULL) {
		if (wf_is_scalar(r) &&
		    (strcmp(wf_text_of(r), "replicas") == 0 ||
		        strcmp(wf_text_of(r), "primary") == 0)) {
			f->ack_primary = strcmp(wf_text_of(r), "primary") == 0;
		} else {
			wf_report(ld, wf_pos_of(r),
			    "'ack' must be replicas (an effect is acknowledged "
			    "once its replicas hold it, the default) or "
			    "primary "
			    "(once this node holds it: a failover may lose the "
			    "last ones), found %s",
			    wf_describe(r, found, sizeof found));
		}
	}
}

/* Longest `limits: {timeout_ms}` (an hour), `memory_mb` and `state_mb`
 * (1 TiB). */
#define LIMIT_TIMEOUT_MAX 3600000
#define LIMIT_MEMORY_MAX  (1 << 20)
#define LIMIT_STATE_MAX   (1 << 20)

/* `isolation: node|process` and `limits: {timeout_ms, memory_mb}` in
 * map `m` (a function's or the top level) into *is. */
void
wf_load_isolation(struct wf_loader *ld, yaml_node_t *m, struct wf_isolation *is,
    const char *kind, const char *name)
{
	static const char *const keys[] = { "timeout_ms", "memory_mb",
		"state_mb" };
	yaml_node_t *n = wf_map_value(ld, m, "isolation");
	char found[SHOW_SIZE];
	long long v;

	if (n != NULL) {
		if (wf_is_scalar(n) &&
		    (strcmp(wf_text_of(n), "node") == 0 ||
		        strcmp(wf_text_of(n), "process") == 0)) {
			is->set = true;
			is->process = strcmp(wf_text_of(n), "process") == 0;
		} else {
			wf_report(ld, wf_pos_of(n),
			    "'isolation' must be node (in the node's own "
			    "process, the default) or process (a supervised "
			    "host process), found %s",
			    wf_describe(n, found, sizeof found));
		}
	}
	is->given = wf_map_value(ld, m, "limits") != NULL;
	if ((n = wf_opt_map(
	         ld, wf_map_value(ld, m, "limits"), "limits", NULL)) == NULL) {
		return;
	}
	wf_check_keys(ld, n, keys, 3, kind, name);
	is->has_limits = true;
	is->limits_pos = wf_pos_of(n);
	is->timeout_ms = is->memory_mb = is->state_mb = 0;
	if (wf_map_value(ld, n, "timeout_ms") != NULL &&
	    wf_get_int(ld, wf_map_value(ld, n, "timeout_ms"), "timeout_ms", 1,
	        LIMIT_TIMEOUT_MAX, &v)) {
		is->timeout_ms = (uint32_t)v;
	}
	if (wf_map_value(ld, n, "memory_mb") != NULL &&
	    wf_get_int(ld, wf_map_value(ld, n, "memory_mb"), "memory_mb", 1,
	        LIMIT_MEMORY_MAX, &v)) {
		is->memory_mb = (uint32_t)v;
	}
	if (wf_map_value(ld, n, "state_mb") != NULL &&
	    wf_get_int(ld, wf_map_value(ld, n, "state_mb"), "state_mb", 1,
	        LIMIT_STATE_MAX, &v)) {
		is->state_mb = (uint32_t)v;
	}
}

/* A function's own isolation over the workflow's; limits need a host
 * process (code in the node's own process can be neither stopped nor
 * measured on its own). */
void
wf_apply_isolation(
    struct wf_loader *ld, struct wf_function *f, const struct wf_isolation *own)
{
	const struct wf_isolation *top = &ld->top;
	const struct wf_isolation *lim = own->given ? own : top;

	f->isolated = own->set ? own->process : top->process;
	if (!lim->has_limits) {
		return;
	}
	f->state_mb = lim->state_mb;
	if (!f->isolated && (lim->timeout_ms != 0 || lim->memory_mb != 0)) {
		wf_report(ld, lim->limits_pos,
		    "function '%s': 'limits: {timeout_ms, memory_mb}' need "
		    "'isolation: process' (code in the node's own process "
		    "cannot be stopped or measured on its own; state_mb works "
		    "with either)",
		    f->name);
		return;
	}
	f->timeout_ms = lim->timeout_ms;
	f->memory_mb = lim->memory_mb;
}

static const char *const sandbox_names[WF_SANDBOX_NBITS] = { "socket", "fork",
	"exec", "write" };

const char *
wf_sandbox_name(unsigned bit)
{
	for (unsigned i = 0; i < WF_SANDBOX_NBITS; i++) {
		if (bit == 1u << i) {
			return sandbox_names[i];
		}
	}
	return NULL;
}

static void
load_allow(struct wf_loader *ld, yaml_node_t *list, struct wf_function *f)
{
	char found[SHOW_SIZE];
	if (list == NULL) {
		return;
	}
	if (list->type != YAML_SEQUENCE_NODE) {
		wf_report(ld, wf_pos_of(list),
		    "'sandbox.allow' must be a list of what the function may "
		    "do besides the default (socket, fork, exec, write), found "
		    "%s",
		    wf_describe(list, found, sizeof found));
		return;
	}
	for (yaml_node_item_t *i = list->data.sequence.items.start;
	     i < list->data.sequence.items.top; i++) {
		yaml_node_t *it = wf_node_at(ld, *i);
		unsigned k = 0;
		while (k < WF_SANDBOX_NBITS &&
		    !(wf_is_scalar(it) &&
		        strcmp(wf_text_of(it), sandbox_names[k]) == 0)) {
			k++;
		}
		if (k == WF_SANDBOX_NBITS) {
			wf_report(ld, wf_pos_of(it),
			    "function '%s': 'sandbox.allow' takes socket (new "
			    "sockets), fork (processes), exec (running "
			    "programs) or write (writing files), found %s",
			    f->name, wf_describe(it, found, sizeof found));
			continue;
		}
		f->sandbox_allow |= 1u << k;
	}
}

void
wf_load_sandbox(struct wf_loader *ld, yaml_node_t *n, struct wf_function *f)
{
	static const char *const keys[] = { "allow" };
	char found[SHOW_SIZE];

	if (n == NULL || wf_is_null(n)) {
		return;
	}
	if (!f->isolated) {
		wf_report(ld, wf_pos_of(n),
		    "function '%s': 'sandbox' needs 'isolation: process' (code "
		    "in the node's own process is as trusted as the node, and "
		    "not sandboxed)",
		    f->name);
		return;
	}
	if (wf_is_scalar(n) && strcmp(wf_text_of(n), "off") == 0) {
		f->sandbox_off = true;
		return;
	}
	if (!wf_is_map(n)) {
		wf_report(ld, wf_pos_of(n),
		    "'sandbox' must be off or a mapping such as {allow: "
		    "[socket]}, found %s",
		    wf_describe(n, found, sizeof found));
		return;
	}
	wf_check_keys(ld, n, keys, 1, "the sandbox of function", f->name);
	load_allow(ld, wf_map_value(ld, n, "allow"), f);
}
