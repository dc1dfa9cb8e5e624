/*
 * wf_output.c - the `outputs:` of a function or resource: each output's
 * name and the names it goes to, with their positions.
 */
#include <stdlib.h>

#include <yaml.h>

#include "workflow/wf_int.h"

static void
load_targets(struct wf_loader *ld, struct wf_output *o, yaml_node_t *v,
    const char *owner)
{
	char found[SHOW_SIZE];
	size_t n = v->type == YAML_SEQUENCE_NODE ? wf_nitems(v) : 1;

	if (n == 0) {
		wf_report(ld, wf_pos_of(v),
		    "output '%s' of '%s' has no targets", o->name, owner);
		return;
	}
	o->targets = calloc(n, sizeof *o->targets);
	o->target_pos = calloc(n, sizeof *o->target_pos);
	if (o->targets == NULL || o->target_pos == NULL) {
		wf_oom(ld);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *t = v->type == YAML_SEQUENCE_NODE
		    ? wf_node_at(ld, v->data.sequence.items.start[i])
		    : v;
		if (!wf_is_scalar(t) || wf_is_null(t)) {
			wf_report(ld, wf_pos_of(t),
			    "output '%s' of '%s' must name a function or a "
			    "resource, found %s",
			    o->name, owner,
			    wf_describe(t, found, sizeof found));
			continue;
		}
		o->target_pos[o->ntargets] = wf_pos_of(t);
		if ((o->targets[o->ntargets++] = wf_dup(ld, wf_text_of(t))) ==
		    NULL) {
			return;
		}
	}
}

/* Fill outputs from an optional `outputs:` node of function `owner`. */
void
wf_load_outputs(struct wf_loader *ld, yaml_node_t *n, struct wf_output **outs,
    size_t *nouts, const char *owner)
{
	char found[SHOW_SIZE];

	if ((n = wf_opt_map(ld, n, "outputs", NULL)) == NULL) {
		return;
	}
	if ((*outs = calloc(wf_npairs(n) + 1, sizeof **outs)) == NULL) {
		wf_oom(ld);
		return;
	}
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top && !ld->oom; p++) {
		yaml_node_t *k = wf_node_at(ld, p->key);
		yaml_node_t *v = wf_node_at(ld, p->value);
		struct wf_output *o;

		if (!wf_is_scalar(k)) {
			continue;
		}
		o = &(*outs)[(*nouts)++];
		o->pos = wf_pos_of(k);
		if ((o->name = wf_dup(ld, wf_text_of(k))) == NULL) {
			return;
		}
		wf_check_name(ld, k, "an output name");
		if (v->type == YAML_MAPPING_NODE) {
			wf_report(ld, wf_pos_of(v),
			    "output '%s' of '%s' must name a function or a "
			    "resource, or list them, found %s",
			    o->name, owner,
			    wf_describe(v, found, sizeof found));
			continue;
		}
		load_targets(ld, o, v, owner);
	}
}
