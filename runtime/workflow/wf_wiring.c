/*
 * wf_wiring.c - the names functions and resources share, and outputs
 * wired to names that exist ("did you mean") and take events.
 */
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "workflow/resource.h"
#include "workflow/wf_int.h"

enum kind { K_FUNCTION, K_RESOURCE };

/* One function or resource name, for uniqueness and output targets. */
struct wf_name_ref {
	const char *name;
	enum kind kind;
	size_t idx; /* into wf->functions or wf->resources */
	struct wf_pos pos;
};

static int
cmp_name(const void *a, const void *b)
{
	const struct wf_name_ref *x = a;
	const struct wf_name_ref *y = b;
	int c = strcmp(x->name, y->name);

	if (c != 0) {
		return c;
	}
	if (x->pos.line != y->pos.line) {
		return x->pos.line < y->pos.line ? -1 : 1;
	}
	return x->pos.col < y->pos.col ? -1 : x->pos.col > y->pos.col;
}

static void
add_name(struct wf_loader *ld, const char *name, enum kind kind, size_t idx,
    struct wf_pos pos)
{
	if (name != NULL) {
		ld->names[ld->nnames++] =
		    (struct wf_name_ref) { name, kind, idx, pos };
	}
}

/*
 * Sort every function and resource name, for lookups that stay fast with
 * many names, and report a function and a resource that share one (two
 * of the same kind are duplicate keys, already reported).
 */
void
wf_index_names(struct wf_loader *ld)
{
	const struct workflow *wf = ld->wf;
	size_t n = wf->nfunctions + wf->nresources + 1;
	static const char *const kinds[] = { "function", "resource" };

	ld->names = calloc(n, sizeof *ld->names);
	ld->name_list = calloc(n, sizeof *ld->name_list);
	if (ld->names == NULL || ld->name_list == NULL) {
		wf_oom(ld);
		return;
	}
	for (size_t i = 0; i < wf->nfunctions; i++) {
		const struct wf_function *f = &wf->functions[i];
		add_name(ld, f->name, K_FUNCTION, i, f->pos);
	}
	for (size_t i = 0; i < wf->nresources; i++) {
		const struct wf_resource *r = &wf->resources[i];
		add_name(ld, r->name, K_RESOURCE, i, r->pos);
	}
	qsort(ld->names, ld->nnames, sizeof *ld->names, cmp_name);
	for (size_t i = 0, first = 0; i < ld->nnames; i++) {
		const struct wf_name_ref *x = &ld->names[i];
		ld->name_list[i] = x->name;
		if (i == 0 || strcmp(x->name, ld->names[first].name) != 0) {
			first = i;
		} else if (x->kind != ld->names[first].kind) {
			wf_report(ld, x->pos,
			    "duplicate name '%s' (already a %s at line %d)",
			    x->name, kinds[ld->names[first].kind],
			    ld->names[first].pos.line);
		}
	}
}

static int
cmp_name_key(const void *key, const void *elem)
{
	return strcmp(key, ((const struct wf_name_ref *)elem)->name);
}

static void
check_target(struct wf_loader *ld, const char *owner, const struct wf_output *o,
    size_t t)
{
	const char *name = o->targets[t];
	const struct wf_name_ref *ref = bsearch(
	    name, ld->names, ld->nnames, sizeof *ld->names, cmp_name_key);
	const struct res_type *rt;
	const struct wf_resource *r;
	const char *hint;
	char shown[SHOW_SIZE];

	if (ref == NULL) {
		hint = wf_suggest(ld, name, ld->name_list, ld->nnames);
		wf_report(ld, o->target_pos[t],
		    "output '%s' of '%s' goes to '%s', which is not "
		    "defined%s%s%s",
		    o->name, owner, wf_clip(name, shown, sizeof shown),
		    hint != NULL ? " (did you mean '" : "",
		    hint != NULL ? hint : "", hint != NULL ? "'?)" : "");
		return;
	}
	if (ref->kind != K_RESOURCE) {
		return;
	}
	r = &ld->wf->resources[ref->idx];
	rt = r->rtype;
	if (rt != NULL && !rt->accepts_cast && !rt->accepts_call) {
		wf_report(ld, o->target_pos[t],
		    "output '%s' of '%s' goes to '%s', %s %s, which takes no "
		    "events",
		    o->name, owner, name, wf_article(rt->name), rt->name);
	}
}

void
wf_check_wiring(struct wf_loader *ld)
{
	const struct workflow *wf = ld->wf;

	for (size_t i = 0; i < wf->nfunctions; i++) {
		const struct wf_function *f = &wf->functions[i];
		for (size_t j = 0; j < f->noutputs; j++) {
			for (size_t t = 0; t < f->outputs[j].ntargets; t++) {
				check_target(ld, f->name, &f->outputs[j], t);
			}
		}
	}
	for (size_t i = 0; i < wf->nresources; i++) {
		const struct wf_resource *r = &wf->resources[i];
		for (size_t j = 0; j < r->noutputs; j++) {
			for (size_t t = 0; t < r->outputs[j].ntargets; t++) {
				check_target(ld, r->name, &r->outputs[j], t);
			}
		}
	}
}
