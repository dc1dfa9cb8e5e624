/*
 * wf_keyed.c - `keyed:` of a function: one instance per key (DESIGN.md,
 * Keyed functions).  `keyed: true`, or `keyed: {idle_s: N, max_active:
 * N}`.
 */
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
	static const char *const keys[] = { "idle_s", "max_active" };
	char found[SHOW_SIZE];
	yaml_node_t *v;
	long long x;

	if (n == NULL || wf_is_null(n)) {
		return;
	}
	f->keyed_pos = wf_pos_of(n);
	f->idle_s = IDLE_S_DEFAULT;
	f->max_active = MAX_ACTIVE_DEFAULT;
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
	} else {
		wf_report(ld, f->keyed_pos,
		    "'keyed' must be true, false or a mapping {idle_s, "
		    "max_active}, found %s",
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
				    strcmp(fn->name, out->targets[t]) == 0) {
					*pos = out->target_pos[t];
					return fn;
				}
			}
		}
	}
	return NULL;
}
