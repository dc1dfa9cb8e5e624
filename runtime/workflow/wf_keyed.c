/*
 * wf_keyed.c - `keyed:` of a function: one instance per key (DESIGN.md,
 * Keyed functions).  `keyed: true`, or `keyed: {idle_s: N, max_active:
 * N, slots: N}`; after validation each keyed function is split into its
 * hash slots (wf_split_slots).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "workflow/wf_int.h"

#define IDLE_S_DEFAULT     300
#define IDLE_S_MAX         (7 * 24 * 3600)
#define MAX_ACTIVE_DEFAULT 100000
#define MAX_ACTIVE_MAX     100000000

static bool
truthy(const char *s)
{
	return strcmp(s, "true") == 0 || strcmp(s, "yes") == 0 ||
	    strcmp(s, "on") == 0;
}

void
wf_load_keyed(struct wf_loader *ld, yaml_node_t *n, struct wf_function *f)
{
	static const char *const keys[] = { "idle_s", "max_active", "slots" };
	char found[SHOW_SIZE];
	yaml_node_t *v;
	long long x;

	if (n == NULL || wf_is_null(n)) {
		return;
	}
	f->keyed_pos = wf_pos_of(n);
	f->idle_s = IDLE_S_DEFAULT;
	f->max_active = MAX_ACTIVE_DEFAULT;
	f->nslots = WF_SLOTS_DEFAULT;
	if (wf_is_scalar(n) && wf_is_bool(wf_text_of(n))) {
		f->keyed = truthy(wf_text_of(n));
	} else if (wf_is_map(n)) {
		f->keyed = true;
		wf_check_keys(ld, n, keys, sizeof keys / sizeof keys[0],
		    "'keyed' of function", f->name);
		if ((v = wf_map_value(ld, n, "idle_s")) != NULL &&
		    wf_get_int(ld, v, "idle_s", 1, IDLE_S_MAX, &x)) {
			f->idle_s = (uint32_t)x;
		}
		if ((v = wf_map_value(ld, n, "max_active")) != NULL &&
		    wf_get_int(ld, v, "max_active", 1, MAX_ACTIVE_MAX, &x)) {
			f->max_active = (uint32_t)x;
		}
		if ((v = wf_map_value(ld, n, "slots")) != NULL &&
		    wf_get_int(ld, v, "slots", 1, WF_SLOTS_MAX, &x)) {
			f->nslots = (uint32_t)x;
		}
	} else {
		wf_report(ld, f->keyed_pos,
		    "'keyed' must be true, false or a mapping {idle_s, "
		    "max_active, slots}, found %s",
		    wf_describe(n, found, sizeof found));
		return;
	}
	if (f->keyed && f->isolated) {
		/* Not yet: one host process per key would cost a process
		 * per active key. */
		wf_report(ld, f->keyed_pos,
		    "function '%s': 'keyed' cannot be combined with "
		    "'isolation: process' yet",
		    f->name);
	}
}

const struct wf_function *
wf_keyed_target(const struct workflow *wf, const struct wf_resource *spec,
    struct wf_pos *pos)
{
	for (size_t o = 0; o < spec->noutputs; o++) {
		const struct wf_output *out = &spec->outputs[o];
		for (size_t t = 0; t < out->ntargets; t++) {
			for (size_t f = 0; f < wf->nfunctions; f++) {
				const struct wf_function *fn =
				    &wf->functions[f];
				if (fn->keyed &&
				    strcmp(wf_function_name(fn),
				        out->targets[t]) == 0) {
					*pos = out->target_pos[t];
					return fn;
				}
			}
		}
	}
	return NULL;
}

/* One slot of f (slot 0 already has its group): a copy sharing f's
 * strings, with a name, group and code_path of its own. */
static int
make_slot(const struct wf_function *f, uint32_t i, struct wf_function *s)
{
	char name[96];

	*s = *f;
	snprintf(name, sizeof name, "%s#%u", f->group, (unsigned)i);
	s->slot = i;
	s->name = strdup(name);
	s->group = strdup(f->group);
	s->code_path = f->code_path != NULL ? strdup(f->code_path) : NULL;
	if (s->name == NULL || s->group == NULL ||
	    (f->code_path != NULL && s->code_path == NULL)) {
		free(s->name);
		free(s->group);
		free(s->code_path);
		memset(s, 0, sizeof *s);
		return LEDGE_ENOMEM;
	}
	return LEDGE_OK;
}

int
wf_split_slots(struct workflow *wf)
{
	size_t total = 0;
	struct wf_function *fs;

	for (size_t i = 0; i < wf->nfunctions; i++) {
		struct wf_function *f = &wf->functions[i];
		if (!f->keyed || f->nslots <= 1) {
			f->nslots = 1;
		}
		if (f->keyed && f->nslots > f->max_active) {
			/* Each slot bounds its own keys, max_active / slots
			 * of them (node/keyed.c): at least one each. */
			f->nslots = f->max_active;
		}
		total += f->nslots;
	}
	if (total == wf->nfunctions) {
		return LEDGE_OK;
	}
	if ((fs = calloc(total, sizeof *fs)) == NULL) {
		return LEDGE_ENOMEM;
	}
	size_t k = 0, i;
	for (i = 0; i < wf->nfunctions; i++) {
		struct wf_function *f = &wf->functions[i];
		fs[k] = *f;
		memset(f, 0, sizeof *f); /* moved into fs[k] */
		if (fs[k].nslots == 1) {
			k++;
			continue;
		}
		struct wf_function *s0 = &fs[k];
		char name[96];
		snprintf(name, sizeof name, "%s#0", s0->name);
		char *n0 = strdup(name);
		if (n0 == NULL) {
			goto oom;
		}
		s0->group = s0->name;
		s0->name = n0;
		k++;
		for (uint32_t j = 1; j < s0->nslots; j++, k++) {
			if (make_slot(s0, j, &fs[k]) != LEDGE_OK) {
				goto oom;
			}
		}
	}
	free(wf->functions);
	wf->functions = fs;
	wf->nfunctions = total;
	return LEDGE_OK;
oom:
	/* Those not moved yet follow, so that wf_free frees it all. */
	for (i++; i < wf->nfunctions; i++) {
		fs[k++] = wf->functions[i];
	}
	free(wf->functions);
	wf->functions = fs;
	wf->nfunctions = k;
	return LEDGE_ENOMEM;
}
