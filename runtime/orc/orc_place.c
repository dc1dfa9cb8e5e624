/*
 * orc_place.c - where each part of a workflow runs (see orc_place.h).
 *
 * Every constraint a node can fail is one bit; a node fits a part when
 * its mask is 0.  The same masks explain a failure: the reason names the
 * constraints that some node fails and, for each node, what it lacks.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ledge.h>

#include "base/strbuf.h"
#include "orc/orc_place.h"

enum {
	F_LOST = 1u << 0,   /* the node is not up */
	F_DRAIN = 1u << 1,  /* the node is draining */
	F_NAME = 1u << 2,   /* not the node placement.node names */
	F_LABELS = 1u << 3, /* lacks a label of placement.labels */
	F_ARCH = 1u << 4,   /* not placement.arch */
	F_CODE = 1u << 5,   /* no code for its architecture */
	F_RES = 1u << 6,    /* does not offer a needed resource type */
};

#define F_DOWN (F_LOST | F_DRAIN)

/* Resource types every node offers; others only where a node lists them. */
static const char *const everywhere[] = { "timer", "file-log", "http-egress" };

struct ctx {
	const struct workflow *wf;
	const struct orc_place_node *nodes;
	size_t nnodes;
	unsigned long long *load; /* per node: parts it will run */
	bool *sel;                /* per node: scratch for pick_least */
	bool *show;               /* per node: scratch for reasons */
	size_t *count;            /* per node: scratch for balance_slots */
};

static bool
in_list(const char *s, const char *const *items, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(items[i], s) == 0) {
			return true;
		}
	}
	return false;
}

static int
find_node(const struct ctx *c, const char *name)
{
	if (name == NULL) {
		return -1;
	}
	for (size_t i = 0; i < c->nnodes; i++) {
		if (strcmp(c->nodes[i].name, name) == 0) {
			return (int)i;
		}
	}
	return -1;
}

static bool
has_label(const struct orc_place_node *n, const char *key, const char *value)
{
	for (size_t i = 0; i < n->nlabels; i++) {
		if (strcmp(n->label_keys[i], key) == 0 &&
		    strcmp(n->label_values[i], value) == 0) {
			return true;
		}
	}
	return false;
}

static bool
offers(const struct orc_place_node *n, const char *type)
{
	return in_list(type, everywhere,
	           sizeof everywhere / sizeof everywhere[0]) ||
	    in_list(type, n->resources, n->nresources);
}

static bool
code_runs_on(const struct wf_function *f, const struct orc_place_node *n)
{
	return f->ncode_arch == 0 ||
	    (n->arch != NULL &&
	        in_list(
	            n->arch, (const char *const *)f->code_arch, f->ncode_arch));
}

static unsigned
down_mask(const struct orc_place_node *n)
{
	return !n->up ? F_LOST : n->draining ? F_DRAIN : 0;
}

/* The constraints of function `f` that node `n` fails. */
static unsigned
fn_fails(const struct wf_function *f, const struct orc_place_node *n)
{
	const struct wf_placement *pl = &f->placement;
	unsigned m = down_mask(n);

	if (pl->node != NULL && strcmp(pl->node, n->name) != 0) {
		m |= F_NAME;
	}
	for (size_t i = 0; i < pl->nlabels; i++) {
		if (!has_label(n, pl->label_keys[i], pl->label_values[i])) {
			m |= F_LABELS;
		}
	}
	if (pl->arch != NULL &&
	    (n->arch == NULL || strcmp(pl->arch, n->arch) != 0)) {
		m |= F_ARCH;
	} else if (!code_runs_on(f, n)) {
		m |= F_CODE;
	}
	for (size_t i = 0; i < pl->nresources; i++) {
		if (!offers(n, pl->resources[i])) {
			m |= F_RES;
		}
	}
	return m;
}

static unsigned
res_fails(const struct wf_resource *r, const struct orc_place_node *n)
{
	return down_mask(n) | (offers(n, r->type) ? 0 : F_RES);
}

static unsigned long long
cores_of(const struct orc_place_node *n)
{
	return n->cores < 1 ? 1 : (unsigned long long)n->cores;
}

/* Whether node a has less load per core than node b (ties: by name). */
static bool
lighter(const struct ctx *c, size_t a, size_t b)
{
	unsigned long long la = c->load[a] * cores_of(&c->nodes[b]);
	unsigned long long lb = c->load[b] * cores_of(&c->nodes[a]);

	if (la != lb) {
		return la < lb;
	}
	return strcmp(c->nodes[a].name, c->nodes[b].name) < 0;
}

/* The least loaded node among those marked in c->sel, or -1. */
static int
pick_least(const struct ctx *c)
{
	int best = -1;

	for (size_t i = 0; i < c->nnodes; i++) {
		if (c->sel[i] && (best < 0 || lighter(c, i, (size_t)best))) {
			best = (int)i;
		}
	}
	return best;
}

static void
place_on(struct ctx *c, struct orc_place_choice *ch, int node)
{
	ch->node = node;
	c->load[node]++;
}

/* --- reasons --- */

static const char *
arch_of(const struct orc_place_node *n)
{
	return n->arch != NULL ? n->arch : "(arch unknown)";
}

static void
put_needs_type(struct strbuf *b, const char *type)
{
	if (strcmp(type, "http-ingress") == 0) {
		strbuf_fmt(b, "%s needs a node started with --http", type);
	} else {
		strbuf_fmt(b, "%s needs a node that offers it", type);
	}
}

/*
 * The nodes marked in c->show that are lost or draining: "c is lost,
 * d is draining", preceded by `lead` if there is any.
 */
static void
put_down(const struct ctx *c, struct strbuf *b, const char *lead)
{
	bool first = true;

	for (size_t i = 0; i < c->nnodes; i++) {
		unsigned m = down_mask(&c->nodes[i]);

		if (!c->show[i] || m == 0) {
			continue;
		}
		strbuf_fmt(b, "%s%s is %s", first ? lead : ", ",
		    c->nodes[i].name, m == F_LOST ? "lost" : "draining");
		first = false;
	}
}

/*
 * What node `n` lacks for `f`, from its mask `m`: "lacks zone=north,
 * http-ingress and is x86_64".  `verbose` adds what was asked for, for
 * a message about one named node.
 */
static void
put_lacks(struct strbuf *b, const struct wf_function *f,
    const struct orc_place_node *n, unsigned m, bool verbose)
{
	const struct wf_placement *pl = &f->placement;
	bool lacks = false;
	bool ingress = false;

	for (size_t i = 0; i < pl->nlabels && (m & F_LABELS); i++) {
		if (!has_label(n, pl->label_keys[i], pl->label_values[i])) {
			strbuf_fmt(b, "%s%s=%s", lacks ? ", " : "lacks ",
			    pl->label_keys[i], pl->label_values[i]);
			lacks = true;
		}
	}
	for (size_t i = 0; i < pl->nresources && (m & F_RES); i++) {
		if (!offers(n, pl->resources[i])) {
			strbuf_fmt(b, "%s%s", lacks ? ", " : "lacks ",
			    pl->resources[i]);
			lacks = true;
			ingress = ingress ||
			    strcmp(pl->resources[i], "http-ingress") == 0;
		}
	}
	if (verbose && ingress) {
		strbuf_fmt(b, " (not started with --http)");
	}
	if (m & (F_ARCH | F_CODE)) {
		if (n->arch != NULL) {
			strbuf_fmt(b, "%sis %s", lacks ? " and " : "", n->arch);
		} else {
			strbuf_fmt(
			    b, "%sis of unknown arch", lacks ? " and " : "");
		}
		if (verbose && (m & F_ARCH)) {
			strbuf_fmt(b, ", not %s", pl->arch);
		} else if (verbose) {
			strbuf_fmt(b, " (code exists for ");
			strbuf_join(b, (const char *const *)f->code_arch,
			    f->ncode_arch, ", ");
			strbuf_fmt(b, " only)");
		}
	}
}

/* The constraints in `k`: "has label zone=north and runs aarch64". */
static void
put_needs(struct strbuf *b, const struct wf_function *f, unsigned k)
{
	const struct wf_placement *pl = &f->placement;
	const char *sep = "";

	if (k & F_LABELS) {
		strbuf_fmt(b, "has label%s ", pl->nlabels > 1 ? "s" : "");
		for (size_t i = 0; i < pl->nlabels; i++) {
			strbuf_fmt(b, "%s%s=%s", i > 0 ? ", " : "",
			    pl->label_keys[i], pl->label_values[i]);
		}
		sep = " and ";
	}
	if (k & F_ARCH) {
		strbuf_fmt(b, "%sruns %s", sep, pl->arch);
		sep = " and ";
	}
	if (k & F_CODE) {
		strbuf_fmt(b, "%sruns ", sep);
		strbuf_join(b, (const char *const *)f->code_arch, f->ncode_arch,
		    " or ");
		sep = " and ";
	}
	if (k & F_RES) {
		strbuf_fmt(b, "%soffers ", sep);
		strbuf_join(b, (const char *const *)pl->resources,
		    pl->nresources, ", ");
	}
}

/* "a (zone=south), b (no labels)" for the up nodes marked in c->show. */
static void
put_labels(const struct ctx *c, struct strbuf *b)
{
	bool first = true;

	for (size_t i = 0; i < c->nnodes; i++) {
		const struct orc_place_node *n = &c->nodes[i];

		if (!c->show[i] || down_mask(n) != 0) {
			continue;
		}
		strbuf_fmt(b, "%s%s (", first ? "" : ", ", n->name);
		for (size_t j = 0; j < n->nlabels; j++) {
			strbuf_fmt(b, "%s%s=%s", j > 0 ? ", " : "",
			    n->label_keys[j], n->label_values[j]);
		}
		strbuf_fmt(b, "%s)", n->nlabels == 0 ? "no labels" : "");
		first = false;
	}
}

static void
show_all(struct ctx *c)
{
	for (size_t i = 0; i < c->nnodes; i++) {
		c->show[i] = true;
	}
}

/* Why no node fits function `f`; NULL if out of memory. */
static char *
fn_reason(struct ctx *c, const struct wf_function *f)
{
	const struct wf_placement *pl = &f->placement;
	const char *missing = NULL;
	struct strbuf b = { 0 };
	size_t nup = 0;
	unsigned k = 0;
	bool first = true;
	int named;

	show_all(c);
	strbuf_fmt(&b, "%s: ", f->name);
	if (pl->arch != NULL && f->ncode_arch > 0 &&
	    !in_list(
	        pl->arch, (const char *const *)f->code_arch, f->ncode_arch)) {
		strbuf_fmt(
		    &b, "placement asks for %s but code exists for ", pl->arch);
		strbuf_join(
		    &b, (const char *const *)f->code_arch, f->ncode_arch, ", ");
		strbuf_fmt(&b, " only");
		return strbuf_take(&b);
	}
	if (c->nnodes == 0) {
		strbuf_fmt(&b, "no node is up");
		return strbuf_take(&b);
	}
	if (pl->node != NULL) {
		if ((named = find_node(c, pl->node)) < 0) {
			strbuf_fmt(&b,
			    "node '%s' is not in the domain (nodes: ",
			    pl->node);
			for (size_t i = 0; i < c->nnodes; i++) {
				strbuf_fmt(&b, "%s%s", i > 0 ? ", " : "",
				    c->nodes[i].name);
			}
			strbuf_fmt(&b, ")");
		} else if (!c->nodes[named].up) {
			strbuf_fmt(&b, "node '%s' is lost", pl->node);
		} else if (c->nodes[named].draining) {
			strbuf_fmt(&b, "node '%s' is draining", pl->node);
		} else {
			strbuf_fmt(&b, "node '%s' ", pl->node);
			put_lacks(&b, f, &c->nodes[named],
			    fn_fails(f, &c->nodes[named]), true);
		}
		return strbuf_take(&b);
	}
	for (size_t i = 0; i < c->nnodes; i++) {
		if (down_mask(&c->nodes[i]) == 0) {
			nup++;
			k |= fn_fails(f, &c->nodes[i]);
		}
	}
	if (nup == 0) {
		strbuf_fmt(&b, "no node is up");
		put_down(c, &b, " (nodes: ");
		strbuf_fmt(&b, ")");
		return strbuf_take(&b);
	}
	if (k == F_RES) {
		/* The first needed type that no up node offers, if any. */
		for (size_t t = 0; t < pl->nresources && missing == NULL; t++) {
			missing = pl->resources[t];
			for (size_t i = 0; i < c->nnodes; i++) {
				if (down_mask(&c->nodes[i]) == 0 &&
				    offers(&c->nodes[i], pl->resources[t])) {
					missing = NULL;
					break;
				}
			}
		}
	}
	if (k == F_LABELS) {
		strbuf_fmt(
		    &b, "no node has label%s ", pl->nlabels > 1 ? "s" : "");
		for (size_t i = 0; i < pl->nlabels; i++) {
			strbuf_fmt(&b, "%s%s=%s", i > 0 ? ", " : "",
			    pl->label_keys[i], pl->label_values[i]);
		}
		strbuf_fmt(&b, "; nodes: ");
		put_labels(c, &b);
		put_down(c, &b, "; ");
		return strbuf_take(&b);
	}
	if (k == F_ARCH || k == F_CODE) {
		if (k == F_ARCH) {
			strbuf_fmt(&b, "no node runs %s (nodes: ", pl->arch);
		} else {
			strbuf_fmt(&b, "code exists for ");
			strbuf_join(&b, (const char *const *)f->code_arch,
			    f->ncode_arch, ", ");
			strbuf_fmt(&b, " only (nodes: ");
		}
		for (size_t i = 0; i < c->nnodes; i++) {
			if (down_mask(&c->nodes[i]) == 0) {
				strbuf_fmt(&b, "%s%s %s", first ? "" : ", ",
				    c->nodes[i].name, arch_of(&c->nodes[i]));
				first = false;
			}
		}
	} else if (missing != NULL) {
		put_needs_type(&b, missing);
		strbuf_fmt(&b, " (nodes: ");
		for (size_t i = 0; i < c->nnodes; i++) {
			if (down_mask(&c->nodes[i]) == 0) {
				strbuf_fmt(&b, "%s%s", first ? "" : ", ",
				    c->nodes[i].name);
				first = false;
			}
		}
		strbuf_fmt(&b, " %s none", nup > 1 ? "have" : "has");
	} else {
		strbuf_fmt(&b, "no node ");
		put_needs(&b, f, k);
		strbuf_fmt(&b, " (nodes: ");
		for (size_t i = 0; i < c->nnodes; i++) {
			const struct orc_place_node *n = &c->nodes[i];

			if (down_mask(n) == 0) {
				strbuf_fmt(
				    &b, "%s%s ", first ? "" : ", ", n->name);
				put_lacks(&b, f, n, fn_fails(f, n), false);
				first = false;
			}
		}
	}
	put_down(c, &b, "; ");
	strbuf_fmt(&b, ")");
	return strbuf_take(&b);
}

/* Why no node fits resource `r`; NULL if out of memory. */
static char *
res_reason(struct ctx *c, const struct wf_resource *r)
{
	struct strbuf b = { 0 };
	size_t nup = 0;

	show_all(c);
	strbuf_fmt(&b, "%s: ", r->name);
	for (size_t i = 0; i < c->nnodes; i++) {
		nup += down_mask(&c->nodes[i]) == 0;
	}
	if (nup == 0) {
		strbuf_fmt(&b, "no node is up");
		put_down(c, &b, " (nodes: ");
		strbuf_fmt(&b, "%s", c->nnodes > 0 ? ")" : "");
		return strbuf_take(&b);
	}
	put_needs_type(&b, r->type);
	strbuf_fmt(&b, " (nodes: ");
	nup = 0;
	for (size_t i = 0; i < c->nnodes; i++) {
		if (down_mask(&c->nodes[i]) == 0) {
			strbuf_fmt(&b, "%s%s", nup++ > 0 ? ", " : "",
			    c->nodes[i].name);
		}
	}
	strbuf_fmt(&b, " %s none", nup > 1 ? "have" : "has");
	put_down(c, &b, "; ");
	strbuf_fmt(&b, ")");
	return strbuf_take(&b);
}

/* Fewer replicas than asked: "f: 1 of 2 state replicas placed (...)". */
static char *
replica_note(struct ctx *c, const struct wf_function *f,
    const struct orc_place_choice *ch)
{
	struct strbuf b = { 0 };
	bool others = false;
	bool first = true;

	for (size_t i = 0; i < c->nnodes; i++) {
		c->show[i] = (int)i != ch->node;
		for (size_t j = 0; j < ch->nreplicas; j++) {
			c->show[i] = c->show[i] && ch->replicas[j] != (int)i;
		}
		others = others || c->show[i];
	}
	strbuf_fmt(&b, "%s: %zu of %u state replica%s placed (", f->name,
	    ch->nreplicas, (unsigned)f->replicas, f->replicas > 1 ? "s" : "");
	if (!others) {
		strbuf_fmt(&b, "the domain has no other node)");
		return strbuf_take(&b);
	}
	strbuf_fmt(&b, "no other node fits: ");
	for (size_t i = 0; i < c->nnodes; i++) {
		const struct orc_place_node *n = &c->nodes[i];

		if (c->show[i] && down_mask(n) == 0) {
			strbuf_fmt(&b, "%s%s ", first ? "" : ", ", n->name);
			put_lacks(&b, f, n, fn_fails(f, n) & ~F_NAME, false);
			first = false;
		}
	}
	put_down(c, &b, first ? "" : "; ");
	strbuf_fmt(&b, ")");
	return strbuf_take(&b);
}

/* --- placing --- */

/*
 * Rule 3b: the slots of a keyed function are evened out over the nodes
 * that fit it: a node keeps at most its share (slots / fitting nodes,
 * rounded up), and the slots past it - the highest numbers first - go to
 * the fitting nodes with the fewest of them (ties: the least loaded).  So
 * the N-th node to join gets about 1/N of the slots and only those move.
 *
 * It runs twice: on the slots kept where they are (`kept`), and once
 * the others are placed (rule 4 sends a slot to its replica's node, so a
 * drained node's slots may all land on one node) on those that move
 * from a node still up, or are new - their state can go with them.  A
 * slot of a lost node stays with its replica: its state is only there.
 */
static void
balance_slots(struct ctx *c, struct orc_place_choice *out,
    const struct orc_place_current *current, bool kept)
{
	const struct workflow *wf = c->wf;

	for (size_t g = 0; g < wf->nfunctions; g++) {
		const struct wf_function *f = &wf->functions[g];
		size_t nfit = 0, share;
		if (f->group == NULL || f->slot != 0) {
			continue;
		}
		for (size_t j = 0; j < c->nnodes; j++) {
			c->count[j] = 0;
			nfit += fn_fails(f, &c->nodes[j]) == 0;
		}
		if (nfit < 2) {
			continue;
		}
		for (size_t s = g; s < g + f->nslots; s++) {
			if (out[s].node >= 0) {
				c->count[out[s].node]++;
			}
		}
		share = (f->nslots + nfit - 1) / nfit;
		for (size_t s = g + f->nslots; s-- > g;) {
			int from = out[s].node, to = -1;
			int was = find_node(c, current ? current[s].node : NULL);
			if (from < 0 || c->count[from] <= share) {
				continue;
			}
			if (!kept && (from == was ||
			                 (was >= 0 && !c->nodes[was].up))) {
				continue; /* kept (done), or its state is here */
			}
			for (size_t j = 0; j < c->nnodes; j++) {
				if (fn_fails(f, &c->nodes[j]) != 0) {
					continue;
				}
				if (to < 0 || c->count[j] < c->count[to] ||
				    (c->count[j] == c->count[to] &&
				        lighter(c, j, (size_t)to))) {
					to = (int)j;
				}
			}
			if (to < 0 || c->count[to] + 1 > share) {
				continue;
			}
			c->count[from]--;
			c->load[from]--;
			c->count[to]++;
			if (!kept) {
				/* placed by rule 4: start again from nothing */
				free(out[s].why);
				out[s].why = NULL;
			}
			place_on(c, &out[s], to);
		}
	}
}

static const struct orc_place_current *
cur_of(const struct orc_place_current *current, size_t part)
{
	return current != NULL ? &current[part] : NULL;
}

/* Place function `i`, which is not kept where it is. */
static int
place_function(struct ctx *c, size_t i, const struct orc_place_current *cur,
    struct orc_place_choice *ch)
{
	const struct wf_function *f = &c->wf->functions[i];
	bool any = false, sync = f->replicas > 0 && !f->ack_primary;
	size_t ncand = cur == NULL ? 0 : sync ? cur->nsync : cur->nreplicas;
	int node, was = cur != NULL ? find_node(c, cur->node) : -1;

	/* Where a replica of its state is, the function can start at once:
	 * one in sync, unless it acknowledges once durable on its node. */
	for (size_t j = 0; j < c->nnodes; j++) {
		c->sel[j] = false;
	}
	for (size_t r = 0; r < ncand; r++) {
		node = find_node(c, sync ? cur->sync[r] : cur->replicas[r]);
		if (node >= 0 && fn_fails(f, &c->nodes[node]) == 0) {
			c->sel[node] = true;
			any = true;
		}
	}
	if (!any && sync && was >= 0 &&
	    (fn_fails(f, &c->nodes[was]) & F_LOST) != 0) {
		/* Its node is lost with writes no replica up holds. */
		struct strbuf b = { 0 };
		strbuf_fmt(&b,
		    "%s: waiting for node %s to come back: no replica holds "
		    "every write it acknowledged, so starting it elsewhere "
		    "would lose some",
		    f->name, c->nodes[was].name);
		ch->wait = true;
		return (ch->why = strbuf_take(&b)) != NULL ? LEDGE_OK
		                                           : LEDGE_ENOMEM;
	}
	if (!any) {
		for (size_t j = 0; j < c->nnodes; j++) {
			c->sel[j] = fn_fails(f, &c->nodes[j]) == 0;
		}
	}
	if ((node = pick_least(c)) >= 0) {
		place_on(c, ch, node);
		return LEDGE_OK;
	}
	return (ch->why = fn_reason(c, f)) != NULL ? LEDGE_OK : LEDGE_ENOMEM;
}

static bool
replica_ok(const struct ctx *c, const struct wf_function *f,
    const struct orc_place_choice *ch, int node)
{
	if (node < 0 || node == ch->node ||
	    (fn_fails(f, &c->nodes[node]) & ~F_NAME) != 0) {
		return false;
	}
	for (size_t j = 0; j < ch->nreplicas; j++) {
		if (ch->replicas[j] == node) {
			return false;
		}
	}
	return true;
}

/* Choose the state replicas of placed function `i`. */
static int
place_replicas(struct ctx *c, size_t i, const struct orc_place_current *cur,
    struct orc_place_choice *ch)
{
	const struct wf_function *f = &c->wf->functions[i];
	size_t want = f->replicas;
	int node;

	if (want > c->nnodes) {
		want = c->nnodes; /* at most nnodes - 1 can be found */
	}
	if (want > 0 && (ch->replicas = malloc(want * sizeof(int))) == NULL) {
		return LEDGE_ENOMEM;
	}
	for (size_t r = 0; cur != NULL && r < cur->nreplicas; r++) {
		node = find_node(c, cur->replicas[r]);
		if (ch->nreplicas < want && replica_ok(c, f, ch, node)) {
			ch->replicas[ch->nreplicas++] = node;
		}
	}
	while (ch->nreplicas < want) {
		for (size_t j = 0; j < c->nnodes; j++) {
			c->sel[j] = replica_ok(c, f, ch, (int)j);
		}
		if ((node = pick_least(c)) < 0) {
			break;
		}
		ch->replicas[ch->nreplicas++] = node;
	}
	if (ch->nreplicas == 0) {
		free(ch->replicas);
		ch->replicas = NULL;
	}
	if (ch->nreplicas < f->replicas &&
	    (ch->why = replica_note(c, f, ch)) == NULL) {
		return LEDGE_ENOMEM;
	}
	return LEDGE_OK;
}

/* The function resource `r` is wired with, or NULL. */
static const struct wf_function *
wired_function(const struct workflow *wf, const struct wf_resource *r)
{
	const struct wf_function *f;

	for (size_t o = 0; o < r->noutputs; o++) {
		for (size_t t = 0; t < r->outputs[o].ntargets; t++) {
			size_t ns;
			f = wf_find_slots(wf, r->outputs[o].targets[t], &ns);
			if (f != NULL) {
				return f;
			}
		}
	}
	for (size_t i = 0; i < wf->nfunctions; i++) {
		f = &wf->functions[i];
		for (size_t o = 0; o < f->noutputs; o++) {
			if (in_list(r->name,
			        (const char *const *)f->outputs[o].targets,
			        f->outputs[o].ntargets)) {
				return f;
			}
		}
	}
	return NULL;
}

/* Place resource `i`, which is not kept where it is. */
static int
place_resource(
    struct ctx *c, size_t i, struct orc_place_choice *out, size_t part)
{
	const struct wf_resource *r = &c->wf->resources[i];
	const struct wf_function *f = wired_function(c->wf, r);
	struct orc_place_choice *ch = &out[part];
	int node = -1;

	if (f != NULL) {
		node = out[f - c->wf->functions].node;
	}
	if (node < 0 || res_fails(r, &c->nodes[node]) != 0) {
		for (size_t j = 0; j < c->nnodes; j++) {
			c->sel[j] = res_fails(r, &c->nodes[j]) == 0;
		}
		node = pick_least(c);
	}
	if (node >= 0) {
		place_on(c, ch, node);
		return LEDGE_OK;
	}
	return (ch->why = res_reason(c, r)) != NULL ? LEDGE_OK : LEDGE_ENOMEM;
}

static bool
nodes_valid(const struct orc_place_node *nodes, size_t nnodes)
{
	if (nnodes > INT_MAX || (nnodes > 0 && nodes == NULL)) {
		return false;
	}
	for (size_t i = 0; i < nnodes; i++) {
		const struct orc_place_node *n = &nodes[i];

		if (n->name == NULL ||
		    (n->nlabels > 0 &&
		        (n->label_keys == NULL || n->label_values == NULL)) ||
		    (n->nresources > 0 && n->resources == NULL)) {
			return false;
		}
		for (size_t j = 0; j < n->nlabels; j++) {
			if (n->label_keys[j] == NULL ||
			    n->label_values[j] == NULL) {
				return false;
			}
		}
		for (size_t j = 0; j < n->nresources; j++) {
			if (n->resources[j] == NULL) {
				return false;
			}
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(nodes[j].name, n->name) == 0) {
				return false;
			}
		}
	}
	return true;
}

size_t
orc_place_nparts(const struct workflow *wf)
{
	return wf != NULL ? wf->nfunctions + wf->nresources : 0;
}

int
orc_place_workflow(const struct workflow *wf,
    const struct orc_place_node *nodes, size_t nnodes,
    const struct orc_place_current *current, struct orc_place_choice *out)
{
	size_t nparts = orc_place_nparts(wf);
	size_t nf;
	struct ctx c = { .wf = wf, .nodes = nodes, .nnodes = nnodes };
	int rv = LEDGE_OK;
	int node;

	for (size_t p = 0; out != NULL && p < nparts; p++) {
		out[p] = (struct orc_place_choice) { .node = -1 };
	}
	if (wf == NULL || (out == NULL && nparts > 0) ||
	    !nodes_valid(nodes, nnodes)) {
		return LEDGE_EINVAL;
	}
	if (nparts == 0) {
		return LEDGE_OK;
	}
	nf = wf->nfunctions;
	/* One extra element so that an empty domain still allocates. */
	c.load = calloc(nnodes + 1, sizeof *c.load);
	c.sel = calloc(nnodes + 1, sizeof *c.sel);
	c.show = calloc(nnodes + 1, sizeof *c.show);
	c.count = calloc(nnodes + 1, sizeof *c.count);
	if (c.load == NULL || c.sel == NULL || c.show == NULL ||
	    c.count == NULL) {
		rv = LEDGE_ENOMEM;
		goto done;
	}

	/* The parts of this workflow are decided now: count them only where
	 * they end up. */
	for (size_t i = 0; i < nnodes; i++) {
		c.load[i] = nodes[i].instances;
	}
	for (size_t p = 0; current != NULL && p < nparts; p++) {
		node = find_node(&c, current[p].node);
		if (node >= 0 && c.load[node] > 0) {
			c.load[node]--;
		}
	}

	/* Parts that stay where they are come first, so that the parts that
	 * move see the load they make. */
	for (size_t p = 0; current != NULL && p < nparts; p++) {
		node = find_node(&c, current[p].node);
		if (node < 0) {
			continue;
		}
		if (p < nf ? fn_fails(&wf->functions[p], &nodes[node]) == 0
		           : res_fails(&wf->resources[p - nf], &nodes[node]) ==
		            0) {
			place_on(&c, &out[p], node);
		}
	}
	balance_slots(&c, out, current, true);
	for (size_t i = 0; i < nf && rv == LEDGE_OK; i++) {
		if (out[i].node < 0) {
			rv = place_function(&c, i, cur_of(current, i), &out[i]);
		}
	}
	if (rv == LEDGE_OK) {
		balance_slots(&c, out, current, false);
	}
	for (size_t i = 0; i < nf && rv == LEDGE_OK; i++) {
		if (out[i].node >= 0 && wf->functions[i].replicas > 0) {
			rv = place_replicas(&c, i, cur_of(current, i), &out[i]);
		}
	}
	for (size_t i = 0; i < wf->nresources && rv == LEDGE_OK; i++) {
		if (out[nf + i].node < 0) {
			rv = place_resource(&c, i, out, nf + i);
		}
	}

done:
	if (rv != LEDGE_OK) {
		orc_place_choices_free(out, nparts);
	}
	free(c.count);
	free(c.show);
	free(c.sel);
	free(c.load);
	return rv;
}

void
orc_place_choices_free(struct orc_place_choice *c, size_t n)
{
	for (size_t i = 0; c != NULL && i < n; i++) {
		free(c[i].why);
		free(c[i].replicas);
		c[i] = (struct orc_place_choice) { .node = -1 };
	}
}
