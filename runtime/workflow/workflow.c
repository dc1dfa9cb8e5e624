/*
 * workflow.c - a loaded workflow: freeing it and finding its functions
 * and resources by name.  Loading is in wf_load.c.
 */
#include <stdlib.h>
#include <string.h>

#include "workflow/workflow.h"

static void
free_strv(char **v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++) {
		free(v[i]);
	}
	free(v);
}

static void
free_config(struct wf_config *c)
{
	free_strv(c->keys, c->count);
	free_strv(c->values, c->count);
	free(c->pos);
	free(c->view);
}

static void
free_outputs(struct wf_output *o, size_t n)
{
	for (size_t i = 0; o != NULL && i < n; i++) {
		free(o[i].name);
		free_strv(o[i].targets, o[i].ntargets);
		free(o[i].target_pos);
	}
	free(o);
}

static void
free_function(struct wf_function *f)
{
	struct wf_placement *pl = &f->placement;

	free(f->name);
	free(f->group);
	if (f->slot > 0) {
		free(f->code_path); /* the rest is slot 0's */
		return;
	}
	free(f->code);
	free(f->code_path);
	free_strv(f->code_arch, f->ncode_arch);
	free_strv(f->code_arch_path, f->ncode_arch);
	free_config(&f->config);
	free_outputs(f->outputs, f->noutputs);
	free_strv(pl->label_keys, pl->nlabels);
	free_strv(pl->label_values, pl->nlabels);
	free(pl->node);
	free(pl->arch);
	free_strv(pl->resources, pl->nresources);
}

void
wf_free(struct workflow *wf)
{
	if (wf == NULL) {
		return;
	}
	for (size_t i = 0; wf->functions != NULL && i < wf->nfunctions; i++) {
		free_function(&wf->functions[i]);
	}
	for (size_t i = 0; wf->resources != NULL && i < wf->nresources; i++) {
		struct wf_resource *r = &wf->resources[i];
		free(r->name);
		free(r->type);
		free_config(&r->config);
		free_outputs(r->outputs, r->noutputs);
	}
	free(wf->functions);
	free(wf->resources);
	free(wf->name);
	free(wf->file);
	free(wf->dir);
	free(wf);
}

const struct wf_function *
wf_find_function(const struct workflow *wf, const char *name)
{
	for (size_t i = 0; i < wf->nfunctions; i++) {
		if (strcmp(wf->functions[i].name, name) == 0) {
			return &wf->functions[i];
		}
	}
	return NULL;
}

const char *
wf_function_name(const struct wf_function *f)
{
	return f->group != NULL ? f->group : f->name;
}

const struct wf_function *
wf_find_slots(const struct workflow *wf, const char *name, size_t *n)
{
	for (size_t i = 0; i < wf->nfunctions; i++) {
		const struct wf_function *f = &wf->functions[i];
		if (strcmp(wf_function_name(f), name) == 0) {
			*n = f->group != NULL ? f->nslots : 1;
			return f;
		}
	}
	*n = 0;
	return NULL;
}

uint32_t
wf_key_slot(const void *key, size_t klen, uint32_t nslots)
{
	const unsigned char *p = key;
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < klen; i++) {
		h = (h ^ p[i]) * 0x100000001b3ull;
	}
	/* FNV's low bits are weak; mix the high ones in. */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return nslots <= 1 ? 0 : (uint32_t)(h % nslots);
}

const struct wf_resource *
wf_find_resource(const struct workflow *wf, const char *name)
{
	for (size_t i = 0; i < wf->nresources; i++) {
		if (strcmp(wf->resources[i].name, name) == 0) {
			return &wf->resources[i];
		}
	}
	return NULL;
}
