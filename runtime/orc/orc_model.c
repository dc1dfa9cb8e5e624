/*
 * orc_model.c - the orchestrator's records and the lookups on them
 * (orc_model.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ledge.h>

#include "base/diag.h"
#include "base/rlog.h"
#include "net/msg.h"
#include "net/wire.h"
#include "orc/orc_model.h"
#include "orc/orc_place.h"
#include "resources/resources.h"
#include "workflow/workflow.h"

void
orc_free_strs(char **v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++) {
		free(v[i]);
	}
	free(v);
}

bool
orc_in_list(char **v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++) {
		if (v[i] != NULL && strcmp(v[i], s) == 0) {
			return true;
		}
	}
	return false;
}

void
orc_set_strs(char ***dst, size_t *n, wire_v v, bool keys)
{
	size_t k = wire_len(v);
	char **out = calloc(k + 1, sizeof *out);
	if (out == NULL) {
		return;
	}
	for (size_t i = 0; i < k; i++) {
		out[i] = wire_str_dup(keys
		        ? wire_key_at(v, i)
		        : (wire_is_map(v) ? wire_val_at(v, i) : wire_at(v, i)));
		if (out[i] == NULL) {
			out[i] = strdup("");
		}
	}
	orc_free_strs(*dst, *n);
	*dst = out;
	*n = k;
}

const char *
orc_part_name(const struct owf *w, size_t i)
{
	return i < w->wf->nfunctions
	    ? w->wf->functions[i].name
	    : w->wf->resources[i - w->wf->nfunctions].name;
}

bool
orc_part_is_fn(const struct owf *w, size_t i)
{
	return i < w->wf->nfunctions;
}

struct onode *
orc_find_node(struct orc *o, const char *name)
{
	for (struct onode *n = o->nodes; n != NULL; n = n->next) {
		if (strcmp(n->name, name) == 0) {
			return n;
		}
	}
	return NULL;
}

struct owf *
orc_find_wf(struct orc *o, const char *name)
{
	for (struct owf *w = o->wfs; w != NULL; w = w->next) {
		if (strcmp(w->name, name) == 0) {
			return w;
		}
	}
	return NULL;
}

ssize_t
orc_fn_index(struct owf *w, const char *fn)
{
	for (size_t i = 0; fn && i < w->wf->nfunctions; i++) {
		if (strcmp(w->wf->functions[i].name, fn) == 0) {
			return (ssize_t)i;
		}
	}
	/* A keyed function split into slots: its first slot. */
	for (size_t i = 0; fn && i < w->wf->nfunctions; i++) {
		if (strcmp(wf_function_name(&w->wf->functions[i]), fn) == 0) {
			return (ssize_t)i;
		}
	}
	return -1;
}

void
orc_unlink_wf(struct orc *o, struct owf *w)
{
	for (struct owf **pp = &o->wfs; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			return;
		}
	}
}

void
orc_isr_clear(struct oisr *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->e[i].node);
	}
	free(s->e);
	memset(s, 0, sizeof *s);
}

bool
orc_isr_has(const struct oplace *p, const char *node)
{
	if (p->isr.epoch != p->epoch || node == NULL ||
	    !orc_in_list(p->rep, p->nrep, node)) {
		return false;
	}
	for (size_t i = 0; i < p->isr.n; i++) {
		if (p->isr.e[i].in && strcmp(p->isr.e[i].node, node) == 0) {
			return true;
		}
	}
	return false;
}

size_t
orc_isr_count(const struct oplace *p)
{
	size_t n = 0;
	for (size_t r = 0; r < p->nrep; r++) {
		n += orc_isr_has(p, p->rep[r]);
	}
	return n;
}

struct oisr_ent *
orc_isr_entry(struct oplace *p, const char *node)
{
	struct oisr_ent *g;
	if (p->isr.epoch != p->epoch) {
		orc_isr_clear(&p->isr);
		p->isr.epoch = p->epoch;
	}
	for (size_t i = 0; i < p->isr.n; i++) {
		if (strcmp(p->isr.e[i].node, node) == 0) {
			return &p->isr.e[i];
		}
	}
	if ((g = realloc(p->isr.e, (p->isr.n + 1) * sizeof *g)) == NULL) {
		return NULL;
	}
	p->isr.e = g;
	g = &p->isr.e[p->isr.n];
	*g = (struct oisr_ent) { strdup(node), false, 0 };
	if (g->node == NULL) {
		return NULL;
	}
	p->isr.n++;
	return g;
}

void
orc_free_place(struct oplace *p)
{
	orc_isr_clear(&p->isr);
	free(p->node);
	orc_free_strs(p->rep, p->nrep);
	free(p->why);
	free(p->confirmed_on);
	memset(p, 0, sizeof *p);
}

void
orc_free_owf(struct owf *w)
{
	for (size_t i = 0; w->place && i < w->nparts; i++) {
		orc_free_place(&w->place[i]);
	}
	free(w->place);
	orc_free_strs(w->ck, w->ncode);
	orc_free_strs(w->cv, w->ncode);
	orc_free_strs(w->deployed_on, w->ndeployed);
	wf_free(w->wf);
	free(w->name);
	free(w->file);
	free(w->yaml);
	free(w);
}

struct owf *
orc_make_owf(const char *name, const char *file, const char *yaml, size_t ylen,
    wire_v code, struct diag *d)
{
	struct owf *w = calloc(1, sizeof *w);
	if (w == NULL) {
		return NULL;
	}
	w->name = strdup(name);
	w->file = strdup(file);
	w->yaml = malloc(ylen + 1);
	if (!w->name || !w->file || !w->yaml) {
		orc_free_owf(w);
		return NULL;
	}
	memcpy(w->yaml, yaml, ylen);
	w->yaml[ylen] = '\0';
	w->ncode = wire_len(code);
	w->ck = calloc(w->ncode + 1, sizeof *w->ck);
	w->cv = calloc(w->ncode + 1, sizeof *w->cv);
	if (!w->ck || !w->cv) {
		orc_free_owf(w);
		return NULL;
	}
	for (size_t i = 0; i < w->ncode; i++) {
		w->ck[i] = wire_str_dup(wire_key_at(code, i));
		w->cv[i] = wire_str_dup(wire_val_at(code, i));
	}
	if ((w->wf = wf_load_mem(
	         file, yaml, ylen, res_types(), NULL, NULL, d)) == NULL) {
		orc_free_owf(w);
		return NULL;
	}
	w->nparts = orc_place_nparts(w->wf);
	if ((w->place = calloc(w->nparts + 1, sizeof *w->place)) == NULL) {
		orc_free_owf(w);
		return NULL;
	}
	return w;
}

void
orc_free_stats(struct onode *n)
{
	for (size_t i = 0; i < n->nstats; i++) {
		free(n->stats[i].part);
	}
	free(n->stats);
	n->stats = NULL;
	n->nstats = 0;
}

void
orc_free_node(struct onode *n)
{
	msg_client_free(n->client);
	orc_free_strs(n->lk, n->nlabels);
	orc_free_strs(n->lv, n->nlabels);
	orc_free_strs(n->res, n->nres);
	orc_free_strs(n->running, n->nrunning);
	orc_free_strs(n->fence, n->nfence);
	orc_free_stats(n);
	free(n->name);
	free(n->url);
	free(n->arch);
	free(n->http);
	free(n);
}

int
orc_node_client(struct orc *o, struct onode *n)
{
	char err[256];
	if (n->client != NULL &&
	    strcmp(msg_client_url(n->client), n->url) == 0) {
		return LEDGE_OK;
	}
	msg_client_free(n->client);
	n->client = NULL;
	if (msg_client_new(
	        o->loop, n->url, o->tls, &n->client, err, sizeof err) != 0) {
		rlog_write(o->log, RLOG_ERROR, "orchestrator", "node %s: %s",
		    n->name, err);
		return LEDGE_ECONN;
	}
	return LEDGE_OK;
}

unsigned
orc_parts_on(struct orc *o, const char *node)
{
	unsigned k = 0;
	for (struct owf *w = o->wfs; w != NULL; w = w->next) {
		for (size_t i = 0; i < w->nparts; i++) {
			if (w->place[i].node &&
			    strcmp(w->place[i].node, node) == 0) {
				k++;
			}
		}
	}
	return k;
}

char *
orc_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* Copies of the placements of w (to compare and to go back to). */
struct oplace *
orc_copy_places(struct owf *w)
{
	struct oplace *c = calloc(w->nparts + 1, sizeof *c);
	for (size_t i = 0; c && i < w->nparts; i++) {
		c[i].node = orc_strdup(w->place[i].node);
		c[i].epoch = w->place[i].epoch;
		c[i].nrep = w->place[i].nrep;
		c[i].rep = calloc(c[i].nrep + 1, sizeof *c[i].rep);
		for (size_t k = 0; c[i].rep && k < c[i].nrep; k++) {
			c[i].rep[k] = orc_strdup(w->place[i].rep[k]);
		}
		if (c[i].rep == NULL) {
			c[i].nrep = 0;
		}
	}
	return c;
}

void
orc_free_places(struct oplace *c, size_t n)
{
	for (size_t i = 0; c && i < n; i++) {
		orc_free_place(&c[i]);
	}
	free(c);
}

bool
orc_places_differ(const struct owf *w, const struct oplace *c)
{
	for (size_t i = 0; i < w->nparts; i++) {
		const struct oplace *p = &w->place[i];
		if ((p->node == NULL) != (c[i].node == NULL) ||
		    (p->node && strcmp(p->node, c[i].node) != 0) ||
		    p->epoch != c[i].epoch || p->nrep != c[i].nrep) {
			return true;
		}
		for (size_t k = 0; k < p->nrep; k++) {
			if (strcmp(p->rep[k], c[i].rep[k]) != 0) {
				return true;
			}
		}
	}
	return false;
}
