/*
 * workflow.c - a workflow YAML file, parsed with libyaml's document API
 * and validated against the schema in DESIGN.md ("Workflow YAML").
 *
 * Loading runs in passes over one yaml_document_t so that every problem
 * is reported, not only the first: limits, NUL bytes and duplicate keys
 * first (the only pass that may stop early), then the schema of the top
 * level and of each function and resource, then the names they share, the
 * code checks, the wiring of outputs, and last each resource type's own
 * check.  Nothing half-validated escapes: on any error the caller gets
 * NULL and the diag list says why.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include <yaml.h>

#include "workflow/resource.h"
#include "workflow/workflow.h"

#define MAX_FILE         (1024 * 1024)
#define MAX_DEPTH        32
#define MAX_CONFIG       10000
#define MAX_ALIAS_VISITS 1000
#define MAX_NAME         64
#define MAILBOX_DEFAULT  1024
#define MAILBOX_MAX      1000000
#define REPLICAS_MAX     16
#define DIAG_DEFAULT_MAX 200 /* diag.h: a limit of 0 means 200 */
#define SHOW_MAX         40  /* bytes of a user's text quoted in a message */
#define SHOW_SIZE        (SHOW_MAX + 8)
#define LIST_SIZE        256 /* room for "a, b, c" lists in messages */
#define MAX_PARAMS       64
#define MAX_TYPES        64
#define CHECK_ERR_SIZE   512

#define NAME_CHARS                                                             \
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
#define NAME_RULE "1 to 64 letters, digits, '_' or '-'"

enum kind { K_FUNCTION, K_RESOURCE };

/* One function or resource name, for uniqueness and output targets. */
struct name_ref {
	const char *name;
	enum kind kind;
	size_t idx; /* into wf->functions or wf->resources */
	struct wf_pos pos;
};

/* `isolation:` and `limits:`, of a function or the whole workflow. */
struct isolation {
	bool set;        /* isolation: given */
	bool process;    /* isolation: process */
	bool given;      /* `limits:` is there (`limits: ~` says none) */
	bool has_limits; /* limits: given, not null */
	uint32_t timeout_ms, memory_mb;
	struct wf_pos limits_pos;
};

struct loader {
	const char *file; /* name used in messages */
	const char *text;
	size_t len;
	struct diag *d;
	size_t start; /* d->count when loading began */
	bool oom;
	yaml_document_t doc;
	struct workflow *wf;
	wf_code_check check;
	void *check_arg;
	struct utsname uts;
	size_t alias_visits;
	unsigned char *seen; /* per node: visited by walk_limits */
	struct name_ref *names;
	const char **name_list; /* the same names, for suggestions */
	size_t nnames;
	bool *res_clean; /* per resource: no schema error, so run check() */
	struct isolation top; /* the workflow's `isolation:`/`limits:` */
};

/* ------------------------------------------------------------------ */
/* Messages                                                            */

static void report(struct loader *ld, struct wf_pos p, const char *fmt, ...)
    DIAG_PRINTF(3, 4);

static void
report(struct loader *ld, struct wf_pos p, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0) {
		msg = NULL;
	}
	va_end(ap);
	diag_add(ld->d, ld->file, p.line, p.col, "%s",
	    msg != NULL ? msg : "(message lost: out of memory)");
	free(msg);
}

static void
oom(struct loader *ld)
{
	if (!ld->oom) {
		ld->oom = true;
		report(ld, (struct wf_pos) { 0, 0 }, "out of memory");
	}
}

static bool
failed(const struct loader *ld)
{
	return ld->d->count != ld->start;
}

/*
 * Hints cost an edit distance per candidate; once the diag list is full
 * they would not be shown, so hostile input with thousands of bad names
 * stops paying for them.
 */
static const char *
suggest(struct loader *ld, const char *word, const char *const *cands, size_t n)
{
	size_t limit = ld->d->limit != 0 ? ld->d->limit : DIAG_DEFAULT_MAX;

	if (ld->d->count >= limit) {
		return NULL;
	}
	return diag_suggest(word, cands, n);
}

/* `s`, or its first SHOW_MAX bytes and "..." if it is longer. */
static const char *
clip(const char *s, char *buf, size_t size)
{
	size_t cut = SHOW_MAX;

	if (strlen(s) <= SHOW_MAX) {
		return s;
	}
	while (cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80) {
		cut--; /* do not split a UTF-8 sequence */
	}
	snprintf(buf, size, "%.*s...", (int)cut, s);
	return buf;
}

/* "a, b, c" from n strings, cut with "..." if it does not fit. */
static const char *
join(const char *const *items, size_t n, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		int w = snprintf(buf + used, size - used, "%s%s",
		    i > 0 ? ", " : "", items[i]);
		if (w < 0 || (size_t)w >= size - used) {
			memcpy(buf + size - 4, "...", 4);
			break;
		}
		used += (size_t)w;
	}
	return buf;
}

static size_t
list_len(const char *const *list)
{
	size_t n = 0;

	while (list != NULL && list[n] != NULL) {
		n++;
	}
	return n;
}

static bool
in_list(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(s, list[i]) == 0) {
			return true;
		}
	}
	return false;
}

static const char *
article(const char *word)
{
	bool vowel = word[0] != '\0' && strchr("aeiou", word[0]) != NULL;

	return vowel || strncmp(word, "http", 4) == 0 ? "an" : "a";
}

/* ------------------------------------------------------------------ */
/* Nodes                                                               */

static yaml_node_t *
node_at(struct loader *ld, int idx)
{
	return yaml_document_get_node(&ld->doc, idx);
}

static struct wf_pos
pos_of(const yaml_node_t *n)
{
	struct wf_pos p = { 0, 0 };

	if (n != NULL) {
		p.line = (int)n->start_mark.line + 1;
		p.col = (int)n->start_mark.column + 1;
	}
	return p;
}

static size_t
npairs(const yaml_node_t *n)
{
	return (
	    size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
}

static size_t
nitems(const yaml_node_t *n)
{
	return (
	    size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

static bool
is_scalar(const yaml_node_t *n)
{
	return n != NULL && n->type == YAML_SCALAR_NODE;
}

static bool
is_map(const yaml_node_t *n)
{
	return n != NULL && n->type == YAML_MAPPING_NODE;
}

static const char *
text_of(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

/* A plain scalar that YAML reads as null: `key:`, `~`, `null`. */
static bool
is_null(const yaml_node_t *n)
{
	const char *s;

	if (!is_scalar(n) || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
		return false;
	}
	s = text_of(n);
	return s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	    strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

/* What a node is, for "found ..." in messages. */
static const char *
describe(const yaml_node_t *n, char *buf, size_t size)
{
	char clipped[SHOW_SIZE];

	if (n->type == YAML_MAPPING_NODE) {
		return "a mapping";
	}
	if (n->type == YAML_SEQUENCE_NODE) {
		return "a sequence";
	}
	if (is_null(n)) {
		return "nothing";
	}
	const char *t = clip(text_of(n), clipped, sizeof clipped);
	size_t len = strlen(t);
	if (size < 3) {
		return "a value";
	}
	if (len > size - 3) {
		len = size - 3;
	}
	buf[0] = '\'';
	memcpy(buf + 1, t, len);
	buf[len + 1] = '\'';
	buf[len + 2] = '\0';
	return buf;
}

static const yaml_node_pair_t *
map_find(struct loader *ld, const yaml_node_t *map, const char *key)
{
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node_at(ld, p->key);
		if (is_scalar(k) && strcmp(text_of(k), key) == 0) {
			return p;
		}
	}
	return NULL;
}

static yaml_node_t *
map_value(struct loader *ld, const yaml_node_t *map, const char *key)
{
	const yaml_node_pair_t *p = map_find(ld, map, key);

	return p != NULL ? node_at(ld, p->value) : NULL;
}

/* ------------------------------------------------------------------ */
/* Small values                                                        */

static char *
dup(struct loader *ld, const char *s)
{
	char *c = strdup(s);

	if (c == NULL) {
		oom(ld);
	}
	return c;
}

/* A decimal integer with an optional '-'; false on anything else. */
static bool
parse_int(const char *s, long long *out)
{
	unsigned long long v = 0;
	bool neg = *s == '-';

	s += neg ? 1 : 0;
	if (*s == '\0') {
		return false;
	}
	for (; *s != '\0'; s++) {
		unsigned digit = (unsigned)(*s - '0');
		if (*s < '0' || *s > '9' ||
		    v > ((unsigned long long)LLONG_MAX - digit) / 10) {
			return false;
		}
		v = v * 10 + digit;
	}
	*out = neg ? -(long long)v : (long long)v;
	return true;
}

static bool
get_int(struct loader *ld, const yaml_node_t *n, const char *what,
    long long min, long long max, long long *out)
{
	char found[SHOW_SIZE];
	long long v;

	if (is_scalar(n) && parse_int(text_of(n), &v) && v >= min && v <= max) {
		*out = v;
		return true;
	}
	report(ld, pos_of(n),
	    "'%s' must be an integer between %lld and %lld, found %s", what,
	    min, max, describe(n, found, sizeof found));
	return false;
}

static bool
is_bool(const char *s)
{
	static const char *const words[] = { "true", "false", "yes", "no", "on",
		"off" };

	return in_list(s, words, sizeof words / sizeof words[0]);
}

static bool
valid_name(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= MAX_NAME && strspn(s, NAME_CHARS) == n;
}

/* Report a node that is not a valid name; `what` is "a function name". */
static bool
check_name(struct loader *ld, const yaml_node_t *n, const char *what)
{
	char found[SHOW_SIZE];

	if (is_scalar(n) && valid_name(text_of(n))) {
		return true;
	}
	report(ld, pos_of(n), "%s must be " NAME_RULE ", found %s", what,
	    describe(n, found, sizeof found));
	return false;
}

/* An optional scalar: NULL if absent or null, else a copy. */
static char *
opt_str(struct loader *ld, const yaml_node_t *n, const char *what)
{
	char found[SHOW_SIZE];

	if (n == NULL || is_null(n)) {
		return NULL;
	}
	if (!is_scalar(n)) {
		report(ld, pos_of(n), "'%s': expected a scalar, found %s", what,
		    describe(n, found, sizeof found));
		return NULL;
	}
	return dup(ld, text_of(n));
}

/*
 * An optional mapping such as `outputs:`; NULL if absent or null (an
 * empty section is as good as none), and an error if it is not a mapping.
 */
static yaml_node_t *
opt_map(struct loader *ld, yaml_node_t *n, const char *what, bool *bad)
{
	char found[SHOW_SIZE];

	if (n == NULL || is_null(n)) {
		return NULL;
	}
	if (!is_map(n)) {
		report(ld, pos_of(n), "'%s' must be a mapping, found %s", what,
		    describe(n, found, sizeof found));
		if (bad != NULL) {
			*bad = true;
		}
		return NULL;
	}
	return n;
}

/* Report keys of `map` not in `keys`; `kind`/`name` say whose they are. */
static void
check_keys(struct loader *ld, const yaml_node_t *map, const char *const *keys,
    size_t nkeys, const char *kind, const char *name)
{
	char list[LIST_SIZE];
	char shown[SHOW_SIZE];
	char where[LIST_SIZE + SHOW_SIZE + 16];

	where[0] = '\0';
	if (kind != NULL) {
		snprintf(where, sizeof where, " in %s '%s'", kind,
		    clip(name, shown, sizeof shown));
	}
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node_at(ld, p->key);
		const char *hint;
		char key[SHOW_SIZE];

		if (!is_scalar(k) || in_list(text_of(k), keys, nkeys)) {
			continue;
		}
		hint = suggest(ld, text_of(k), keys, nkeys);
		if (hint != NULL) {
			report(ld, pos_of(k),
			    "unknown key '%s'%s (did you mean '%s'?)",
			    clip(text_of(k), key, sizeof key), where, hint);
		} else {
			report(ld, pos_of(k),
			    "unknown key '%s'%s (known keys: %s)",
			    clip(text_of(k), key, sizeof key), where,
			    join(keys, nkeys, list, sizeof list));
		}
	}
}

/* ------------------------------------------------------------------ */
/* Pass 1: limits against hostile input, NUL bytes, duplicate keys     */

struct key_ref {
	const char *s;
	size_t len;
	size_t order;
	bool dup;
};

static int
cmp_key_text(const void *a, const void *b)
{
	const struct key_ref *x = a;
	const struct key_ref *y = b;
	int c = memcmp(x->s, y->s, x->len < y->len ? x->len : y->len);

	if (c != 0) {
		return c;
	}
	if (x->len != y->len) {
		return x->len < y->len ? -1 : 1;
	}
	return x->order < y->order ? -1 : x->order > y->order;
}

static int
cmp_key_order(const void *a, const void *b)
{
	const struct key_ref *x = a;
	const struct key_ref *y = b;

	return x->order < y->order ? -1 : x->order > y->order;
}

/*
 * Report keys that are not scalars and keys given twice, the later ones
 * in document order.  Sorting keeps a mapping with many keys linear-log.
 */
static void
check_map_keys(struct loader *ld, const yaml_node_t *map)
{
	size_t n = npairs(map);
	size_t m = 0;
	struct key_ref *refs = malloc((n > 0 ? n : 1) * sizeof *refs);
	char found[SHOW_SIZE];

	if (refs == NULL) {
		oom(ld);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *k =
		    node_at(ld, map->data.mapping.pairs.start[i].key);
		if (!is_scalar(k)) {
			report(ld, pos_of(k),
			    "a key must be a scalar, found %s",
			    describe(k, found, sizeof found));
			continue;
		}
		refs[m++] = (struct key_ref) { text_of(k),
			k->data.scalar.length, i, false };
	}
	qsort(refs, m, sizeof *refs, cmp_key_text);
	for (size_t i = 1; i < m; i++) {
		refs[i].dup = refs[i].len == refs[i - 1].len &&
		    memcmp(refs[i].s, refs[i - 1].s, refs[i].len) == 0;
	}
	qsort(refs, m, sizeof *refs, cmp_key_order);
	for (size_t i = 0; i < m; i++) {
		if (refs[i].dup) {
			yaml_node_t *k = node_at(ld,
			    map->data.mapping.pairs.start[refs[i].order].key);
			report(ld, pos_of(k), "duplicate key '%s'",
			    clip(refs[i].s, found, sizeof found));
		}
	}
	free(refs);
}

static int walk_limits(
    struct loader *ld, int idx, int depth, const yaml_node_t *owner);

static int
walk_children(struct loader *ld, const yaml_node_t *n, int depth,
    const yaml_node_t *owner)
{
	if (n->type == YAML_SEQUENCE_NODE) {
		for (yaml_node_item_t *i = n->data.sequence.items.start;
		     i < n->data.sequence.items.top; i++) {
			if (walk_limits(ld, *i, depth + 1, owner) != 0) {
				return -1;
			}
		}
		return 0;
	}
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top; p++) {
		if (walk_limits(ld, p->key, depth + 1, owner) != 0 ||
		    walk_limits(ld, p->value, depth + 1, owner) != 0) {
			return -1;
		}
	}
	return 0;
}

/*
 * libyaml keeps an alias as a second reference to its anchor's node, so
 * the document is a graph whose tree form can be exponentially larger
 * than the file ("billion laughs") or infinite (an alias inside its own
 * anchor).  This walk visits the tree form once, as every later pass
 * will, and stops after MAX_ALIAS_VISITS repeated visits or MAX_DEPTH
 * levels; so the later passes do bounded work and recursion stays
 * shallow.  Node-level checks run on the first visit only.  `owner` is
 * the innermost node seen for the first time: the one written in the
 * file whose aliases expand, which is where a message should point.
 */
static int
walk_limits(struct loader *ld, int idx, int depth, const yaml_node_t *owner)
{
	yaml_node_t *n = node_at(ld, idx);
	bool again = ld->seen[idx - 1] != 0;

	if (again && ++ld->alias_visits > MAX_ALIAS_VISITS) {
		report(ld, pos_of(owner),
		    "aliases expand to too much (more than %d repeated nodes)",
		    MAX_ALIAS_VISITS);
		return -1;
	}
	ld->seen[idx - 1] = 1;
	if (n->type == YAML_SCALAR_NODE) {
		if (!again && strlen(text_of(n)) != n->data.scalar.length) {
			report(ld, pos_of(n), "a NUL character is not allowed");
		}
		return 0;
	}
	if (n->type != YAML_MAPPING_NODE && n->type != YAML_SEQUENCE_NODE) {
		return 0;
	}
	if (depth > MAX_DEPTH) {
		report(
		    ld, pos_of(n), "nesting deeper than %d levels", MAX_DEPTH);
		return -1;
	}
	if (!again && n->type == YAML_MAPPING_NODE) {
		check_map_keys(ld, n);
	}
	return walk_children(ld, n, depth, again ? owner : n);
}

/* ------------------------------------------------------------------ */
/* Config: flattening {a: {b: 1}, c: [x, y]} to a.b=1, c.0=x, c.1=y    */

struct flat {
	struct loader *ld;
	struct wf_config *c;
	size_t cap;
	char *key; /* the key being built */
	size_t keycap;
	bool full;
	struct wf_pos at; /* of the config, for the size limit */
};

/* Append ".part" (or "part" at the top) to the key; new length or -1. */
static long
key_push(struct flat *fl, size_t klen, bool top, const char *part)
{
	size_t plen = strlen(part);
	size_t need = klen + 1 + plen + 1;

	if (need > fl->keycap) {
		size_t ncap = fl->keycap * 2 > need ? fl->keycap * 2 : need;
		char *k = realloc(fl->key, ncap < 64 ? 64 : ncap);
		if (k == NULL) {
			oom(fl->ld);
			return -1;
		}
		fl->key = k;
		fl->keycap = ncap < 64 ? 64 : ncap;
	}
	if (!top) {
		fl->key[klen++] = '.';
	}
	memcpy(fl->key + klen, part, plen + 1);
	return (long)(klen + plen);
}

static int
flat_grow(struct flat *fl)
{
	struct wf_config *c = fl->c;
	size_t ncap = fl->cap != 0 ? fl->cap * 2 : 8;
	char **k;
	char **v;
	struct wf_pos *p;

	/* Each array keeps its new size even if a later one fails. */
	if ((k = realloc(c->keys, ncap * sizeof *k)) == NULL) {
		return -1;
	}
	c->keys = k;
	if ((v = realloc(c->values, ncap * sizeof *v)) == NULL) {
		return -1;
	}
	c->values = v;
	if ((p = realloc(c->pos, ncap * sizeof *p)) == NULL) {
		return -1;
	}
	c->pos = p;
	fl->cap = ncap;
	return 0;
}

static void
flat_add(struct flat *fl, size_t klen, const yaml_node_t *v)
{
	struct wf_config *c = fl->c;
	char *key;
	char *value;

	if (c->count == MAX_CONFIG) {
		report(fl->ld, fl->at, "'config' has more than %d entries",
		    MAX_CONFIG);
		fl->full = true;
		return;
	}
	if (c->count == fl->cap && flat_grow(fl) != 0) {
		oom(fl->ld);
		return;
	}
	key = strndup(fl->key, klen);
	value = strdup(text_of(v));
	if (key == NULL || value == NULL) {
		free(key);
		free(value);
		oom(fl->ld);
		return;
	}
	c->keys[c->count] = key;
	c->values[c->count] = value;
	c->pos[c->count] = pos_of(v);
	c->count++;
}

static void
flat_node(struct flat *fl, struct loader *ld, const yaml_node_t *n, size_t klen,
    bool top)
{
	char index[24];
	long len;

	if (fl->full || ld->oom) {
		return;
	}
	if (n->type == YAML_SCALAR_NODE) {
		flat_add(fl, klen, n);
	} else if (n->type == YAML_SEQUENCE_NODE) {
		for (size_t i = 0; i < nitems(n); i++) {
			snprintf(index, sizeof index, "%zu", i);
			if ((len = key_push(fl, klen, top, index)) < 0) {
				return;
			}
			flat_node(fl, ld,
			    node_at(ld, n->data.sequence.items.start[i]),
			    (size_t)len, false);
		}
	} else if (n->type == YAML_MAPPING_NODE) {
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
		     p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *k = node_at(ld, p->key);
			if (!is_scalar(k)) {
				continue; /* reported by check_map_keys */
			}
			if ((len = key_push(fl, klen, top, text_of(k))) < 0) {
				return;
			}
			flat_node(
			    fl, ld, node_at(ld, p->value), (size_t)len, false);
		}
	}
}

/* Fill `c` from an optional `config:` node. */
static void
load_config(struct loader *ld, yaml_node_t *n, struct wf_config *c)
{
	struct flat fl = { .ld = ld, .c = c, .at = pos_of(n) };

	if ((n = opt_map(ld, n, "config", NULL)) == NULL) {
		return;
	}
	flat_node(&fl, ld, n, 0, true);
	free(fl.key);
	if (c->count == 0 || ld->oom) {
		return;
	}
	if ((c->view = malloc(c->count * sizeof *c->view)) == NULL) {
		oom(ld);
		return;
	}
	for (size_t i = 0; i < c->count; i++) {
		c->view[i] = (ledge_kv) { c->keys[i], c->values[i] };
	}
	c->sdk = (ledge_config) { c->count, c->view };
}

/* ------------------------------------------------------------------ */
/* Outputs                                                             */

static void
load_targets(
    struct loader *ld, struct wf_output *o, yaml_node_t *v, const char *owner)
{
	char found[SHOW_SIZE];
	size_t n = v->type == YAML_SEQUENCE_NODE ? nitems(v) : 1;

	if (n == 0) {
		report(ld, pos_of(v), "output '%s' of '%s' has no targets",
		    o->name, owner);
		return;
	}
	o->targets = calloc(n, sizeof *o->targets);
	o->target_pos = calloc(n, sizeof *o->target_pos);
	if (o->targets == NULL || o->target_pos == NULL) {
		oom(ld);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *t = v->type == YAML_SEQUENCE_NODE
		    ? node_at(ld, v->data.sequence.items.start[i])
		    : v;
		if (!is_scalar(t) || is_null(t)) {
			report(ld, pos_of(t),
			    "output '%s' of '%s' must name a function or a "
			    "resource, found %s",
			    o->name, owner, describe(t, found, sizeof found));
			continue;
		}
		o->target_pos[o->ntargets] = pos_of(t);
		if ((o->targets[o->ntargets++] = dup(ld, text_of(t))) == NULL) {
			return;
		}
	}
}

/* Fill outputs from an optional `outputs:` node of function `owner`. */
static void
load_outputs(struct loader *ld, yaml_node_t *n, struct wf_output **outs,
    size_t *nouts, const char *owner)
{
	char found[SHOW_SIZE];

	if ((n = opt_map(ld, n, "outputs", NULL)) == NULL) {
		return;
	}
	if ((*outs = calloc(npairs(n) + 1, sizeof **outs)) == NULL) {
		oom(ld);
		return;
	}
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top && !ld->oom; p++) {
		yaml_node_t *k = node_at(ld, p->key);
		yaml_node_t *v = node_at(ld, p->value);
		struct wf_output *o;

		if (!is_scalar(k)) {
			continue;
		}
		o = &(*outs)[(*nouts)++];
		o->pos = pos_of(k);
		if ((o->name = dup(ld, text_of(k))) == NULL) {
			return;
		}
		check_name(ld, k, "an output name");
		if (v->type == YAML_MAPPING_NODE) {
			report(ld, pos_of(v),
			    "output '%s' of '%s' must name a function or a "
			    "resource, or list them, found %s",
			    o->name, owner, describe(v, found, sizeof found));
			continue;
		}
		load_targets(ld, o, v, owner);
	}
}

/* ------------------------------------------------------------------ */
/* Functions                                                           */

static char *
resolve(struct loader *ld, const char *path)
{
	const char *dir = ld->wf->dir;
	char *out;

	/* "./f.so" rather than "f.so": dlopen() searches the library path
	 * for a name without a slash. */
	if (path[0] == '/') {
		out = strdup(path);
	} else if (asprintf(&out, "%s%s%s", dir,
	               dir[strlen(dir) - 1] == '/' ? "" : "/", path) < 0) {
		out = NULL;
	}
	if (out == NULL) {
		oom(ld);
	}
	return out;
}

static bool
is_path(const yaml_node_t *n)
{
	return is_scalar(n) && !is_null(n) && text_of(n)[0] != '\0';
}

static void
set_code(struct loader *ld, struct wf_function *f, const yaml_node_t *v)
{
	f->code_pos = pos_of(v);
	if ((f->code = dup(ld, text_of(v))) != NULL) {
		f->code_path = resolve(ld, f->code);
	}
}

/* `code: {x86_64: a.so, aarch64: b.so}`: keep all, use this machine's. */
static void
load_code_map(struct loader *ld, struct wf_function *f, yaml_node_t *v)
{
	const char *machine = ld->uts.machine;
	const yaml_node_t *mine = NULL;
	bool listed = false;
	char found[SHOW_SIZE];
	char shown[SHOW_SIZE];
	char list[LIST_SIZE];

	f->code_arch = calloc(npairs(v) + 1, sizeof *f->code_arch);
	f->code_arch_path = calloc(npairs(v) + 1, sizeof *f->code_arch_path);
	if (f->code_arch == NULL || f->code_arch_path == NULL) {
		oom(ld);
		return;
	}
	for (yaml_node_pair_t *p = v->data.mapping.pairs.start;
	     p < v->data.mapping.pairs.top; p++) {
		yaml_node_t *arch = node_at(ld, p->key);
		yaml_node_t *path = node_at(ld, p->value);
		size_t i;

		if (!is_scalar(arch)) {
			continue;
		}
		listed = listed || strcmp(text_of(arch), machine) == 0;
		if (!is_path(path)) {
			report(ld, pos_of(path),
			    "'%s' must be a path to a shared object, found %s",
			    clip(text_of(arch), shown, sizeof shown),
			    describe(path, found, sizeof found));
			continue;
		}
		i = f->ncode_arch++;
		if ((f->code_arch[i] = dup(ld, text_of(arch))) == NULL ||
		    (f->code_arch_path[i] = resolve(ld, text_of(path))) ==
		        NULL) {
			return;
		}
		if (mine == NULL && strcmp(text_of(arch), machine) == 0) {
			mine = path;
		}
	}
	if (mine != NULL) {
		set_code(ld, f, mine);
	} else if (!listed) {
		report(ld, pos_of(v),
		    "no code for this machine's architecture '%s' (have: %s)",
		    machine,
		    join((const char *const *)f->code_arch, f->ncode_arch, list,
		        sizeof list));
	}
}

static void
load_code(struct loader *ld, struct wf_function *f, yaml_node_t *fn)
{
	yaml_node_t *v = map_value(ld, fn, "code");
	char found[SHOW_SIZE];

	if (v == NULL) {
		report(ld, f->pos, "function '%s' has no 'code'", f->name);
	} else if (is_map(v) && npairs(v) > 0) {
		load_code_map(ld, f, v);
	} else if (is_path(v)) {
		set_code(ld, f, v);
	} else {
		report(ld, pos_of(v),
		    "'code' must be a path or a mapping of architecture to "
		    "path, found %s",
		    is_map(v) ? "an empty mapping"
		              : describe(v, found, sizeof found));
	}
}

static const struct res_type *find_type(struct loader *ld, yaml_node_t *n);

static void
load_labels(struct loader *ld, yaml_node_t *n, struct wf_placement *pl)
{
	char found[SHOW_SIZE];
	char shown[SHOW_SIZE];

	if ((n = opt_map(ld, n, "labels", NULL)) == NULL) {
		return;
	}
	pl->label_keys = calloc(npairs(n) + 1, sizeof *pl->label_keys);
	pl->label_values = calloc(npairs(n) + 1, sizeof *pl->label_values);
	if (pl->label_keys == NULL || pl->label_values == NULL) {
		oom(ld);
		return;
	}
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node_at(ld, p->key);
		yaml_node_t *v = node_at(ld, p->value);
		size_t i;

		if (!is_scalar(k)) {
			continue;
		}
		if (!is_scalar(v)) {
			report(ld, pos_of(v),
			    "label '%s': expected a scalar, found %s",
			    clip(text_of(k), shown, sizeof shown),
			    describe(v, found, sizeof found));
			continue;
		}
		i = pl->nlabels++;
		if ((pl->label_keys[i] = dup(ld, text_of(k))) == NULL ||
		    (pl->label_values[i] = dup(ld, text_of(v))) == NULL) {
			return;
		}
	}
}

/* `resources: [http-ingress]` (or one name): types the node must offer. */
static void
load_needed_types(struct loader *ld, yaml_node_t *n, struct wf_placement *pl)
{
	char found[SHOW_SIZE];
	size_t count;

	if (n == NULL || is_null(n)) {
		return;
	}
	if (is_map(n)) {
		report(ld, pos_of(n),
		    "'resources' must be a list of resource types, found a "
		    "mapping");
		return;
	}
	count = n->type == YAML_SEQUENCE_NODE ? nitems(n) : 1;
	if ((pl->resources = calloc(count + 1, sizeof *pl->resources)) ==
	    NULL) {
		oom(ld);
		return;
	}
	for (size_t i = 0; i < count; i++) {
		yaml_node_t *t = n->type == YAML_SEQUENCE_NODE
		    ? node_at(ld, n->data.sequence.items.start[i])
		    : n;
		if (!is_scalar(t)) {
			report(ld, pos_of(t),
			    "'resources': expected a scalar, found %s",
			    describe(t, found, sizeof found));
			continue;
		}
		find_type(ld, t);
		if ((pl->resources[pl->nresources++] = dup(ld, text_of(t))) ==
		    NULL) {
			return;
		}
	}
}

static void
load_placement(struct loader *ld, yaml_node_t *n, struct wf_function *f)
{
	static const char *const keys[] = { "labels", "node", "arch",
		"resources" };
	struct wf_placement *pl = &f->placement;

	if ((n = opt_map(ld, n, "placement", NULL)) == NULL) {
		return;
	}
	check_keys(ld, n, keys, sizeof keys / sizeof keys[0],
	    "the placement of function", f->name);
	load_labels(ld, map_value(ld, n, "labels"), pl);
	pl->node = opt_str(ld, map_value(ld, n, "node"), "node");
	pl->arch = opt_str(ld, map_value(ld, n, "arch"), "arch");
	load_needed_types(ld, map_value(ld, n, "resources"), pl);
}

static void
load_state(struct loader *ld, yaml_node_t *n, struct wf_function *f)
{
	static const char *const keys[] = { "replicas" };
	yaml_node_t *r;
	long long v;

	if ((n = opt_map(ld, n, "state", NULL)) == NULL) {
		return;
	}
	check_keys(ld, n, keys, 1, "the state of function", f->name);
	r = map_value(ld, n, "replicas");
	if (r != NULL && get_int(ld, r, "replicas", 0, REPLICAS_MAX, &v)) {
		f->replicas = (uint32_t)v;
	}
}

/* Longest `limits: {timeout_ms}` (an hour) and `memory_mb` (1 TiB). */
#define LIMIT_TIMEOUT_MAX 3600000
#define LIMIT_MEMORY_MAX  (1 << 20)

/* `isolation: node|process` and `limits: {timeout_ms, memory_mb}` in
 * map `m` (a function's or the top level) into *is. */
static void
load_isolation(struct loader *ld, yaml_node_t *m, struct isolation *is,
    const char *kind, const char *name)
{
	static const char *const keys[] = { "timeout_ms", "memory_mb" };
	yaml_node_t *n = map_value(ld, m, "isolation");
	char found[SHOW_SIZE];
	long long v;

	if (n != NULL) {
		if (is_scalar(n) &&
		    (strcmp(text_of(n), "node") == 0 ||
		        strcmp(text_of(n), "process") == 0)) {
			is->set = true;
			is->process = strcmp(text_of(n), "process") == 0;
		} else {
			report(ld, pos_of(n),
			    "'isolation' must be node (in the node's own "
			    "process, the default) or process (a supervised "
			    "host process), found %s",
			    describe(n, found, sizeof found));
		}
	}
	is->given = map_value(ld, m, "limits") != NULL;
	if ((n = opt_map(ld, map_value(ld, m, "limits"), "limits", NULL)) ==
	    NULL) {
		return;
	}
	check_keys(ld, n, keys, 2, kind, name);
	is->has_limits = true;
	is->limits_pos = pos_of(n);
	is->timeout_ms = is->memory_mb = 0;
	if (map_value(ld, n, "timeout_ms") != NULL &&
	    get_int(ld, map_value(ld, n, "timeout_ms"), "timeout_ms", 1,
	        LIMIT_TIMEOUT_MAX, &v)) {
		is->timeout_ms = (uint32_t)v;
	}
	if (map_value(ld, n, "memory_mb") != NULL &&
	    get_int(ld, map_value(ld, n, "memory_mb"), "memory_mb", 1,
	        LIMIT_MEMORY_MAX, &v)) {
		is->memory_mb = (uint32_t)v;
	}
}

/* A function's own isolation over the workflow's; limits need a host
 * process (code in the node's own process can be neither stopped nor
 * measured on its own). */
static void
apply_isolation(
    struct loader *ld, struct wf_function *f, const struct isolation *own)
{
	const struct isolation *top = &ld->top;
	const struct isolation *lim = own->given ? own : top;

	f->isolated = own->set ? own->process : top->process;
	if (!lim->has_limits) {
		return;
	}
	if (!f->isolated) {
		report(ld, lim->limits_pos,
		    "function '%s': 'limits' need 'isolation: process' (code "
		    "in the node's own process cannot be stopped or measured "
		    "on its own)",
		    f->name);
		return;
	}
	f->timeout_ms = lim->timeout_ms;
	f->memory_mb = lim->memory_mb;
}

static void
load_function(
    struct loader *ld, struct wf_function *f, yaml_node_t *k, yaml_node_t *v)
{
	static const char *const keys[] = { "code", "config", "outputs",
		"placement", "state", "mailbox", "isolation", "limits" };
	struct isolation own = { 0 };
	char found[SHOW_SIZE];
	yaml_node_t *mb;
	long long n;

	f->mailbox = MAILBOX_DEFAULT;
	f->pos = pos_of(k);
	if ((f->name = dup(ld, text_of(k))) == NULL) {
		return;
	}
	check_name(ld, k, "a function name");
	if (!is_map(v)) {
		report(ld, pos_of(v),
		    "function '%s' must be a mapping with at least 'code', "
		    "found %s",
		    f->name, describe(v, found, sizeof found));
		return;
	}
	check_keys(
	    ld, v, keys, sizeof keys / sizeof keys[0], "function", f->name);
	load_code(ld, f, v);
	load_config(ld, map_value(ld, v, "config"), &f->config);
	load_outputs(ld, map_value(ld, v, "outputs"), &f->outputs, &f->noutputs,
	    f->name);
	load_placement(ld, map_value(ld, v, "placement"), f);
	load_state(ld, map_value(ld, v, "state"), f);
	mb = map_value(ld, v, "mailbox");
	if (mb != NULL && get_int(ld, mb, "mailbox", 1, MAILBOX_MAX, &n)) {
		f->mailbox = (uint32_t)n;
	}
	load_isolation(ld, v, &own, "the limits of function", f->name);
	apply_isolation(ld, f, &own);
}

static void
load_functions(struct loader *ld, yaml_node_t *map)
{
	struct workflow *wf = ld->wf;

	if ((wf->functions = calloc(npairs(map) + 1, sizeof *wf->functions)) ==
	    NULL) {
		oom(ld);
		return;
	}
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top && !ld->oom; p++) {
		yaml_node_t *k = node_at(ld, p->key);
		if (is_scalar(k)) {
			load_function(ld, &wf->functions[wf->nfunctions++], k,
			    node_at(ld, p->value));
		}
	}
}

/* ------------------------------------------------------------------ */
/* Resources                                                           */

/* The resource type named by scalar `n`, or NULL after reporting. */
static const struct res_type *
find_type(struct loader *ld, yaml_node_t *n)
{
	const struct res_type *const *all = res_types();
	const struct res_type *rt = res_type_find(text_of(n));
	const char *names[MAX_TYPES];
	char list[LIST_SIZE];
	char shown[SHOW_SIZE];
	const char *hint;
	size_t count = 0;

	if (rt != NULL) {
		return rt;
	}
	while (count < MAX_TYPES && all[count] != NULL) {
		names[count] = all[count]->name;
		count++;
	}
	hint = suggest(ld, text_of(n), names, count);
	if (hint != NULL) {
		report(ld, pos_of(n),
		    "unknown resource type '%s' (did you mean '%s'?)",
		    clip(text_of(n), shown, sizeof shown), hint);
	} else {
		report(ld, pos_of(n),
		    "unknown resource type '%s' (known types: %s)",
		    clip(text_of(n), shown, sizeof shown),
		    join(names, count, list, sizeof list));
	}
	return NULL;
}

static const struct res_type *
load_type(struct loader *ld, struct wf_resource *r, yaml_node_t *n)
{
	char found[SHOW_SIZE];

	if (n == NULL) {
		report(ld, r->pos, "resource '%s' has no 'type'", r->name);
		return NULL;
	}
	if (!is_scalar(n) || is_null(n)) {
		report(ld, pos_of(n),
		    "'type' must name a resource type, found %s",
		    describe(n, found, sizeof found));
		return NULL;
	}
	r->type_pos = pos_of(n);
	if ((r->type = dup(ld, text_of(n))) == NULL) {
		return NULL;
	}
	return find_type(ld, n);
}

static void
check_value(struct loader *ld, const struct res_param *p, yaml_node_t *v)
{
	char found[SHOW_SIZE];
	char list[LIST_SIZE];
	long long n;

	if (p->kind == RP_INT) {
		get_int(ld, v, p->name, p->min, p->max, &n);
	} else if (p->kind == RP_BOOL &&
	    !(is_scalar(v) && is_bool(text_of(v)))) {
		report(ld, pos_of(v),
		    "'%s' must be true or false (or yes/no, on/off), found %s",
		    p->name, describe(v, found, sizeof found));
	} else if (p->kind == RP_ENUM &&
	    !(is_scalar(v) &&
	        in_list(text_of(v), p->choices, list_len(p->choices)))) {
		report(ld, pos_of(v), "'%s' must be one of %s, found %s",
		    p->name,
		    join(p->choices, list_len(p->choices), list, sizeof list),
		    describe(v, found, sizeof found));
	} else if (p->kind == RP_LIST && v->type == YAML_SEQUENCE_NODE) {
		for (size_t i = 0; i < nitems(v); i++) {
			yaml_node_t *item =
			    node_at(ld, v->data.sequence.items.start[i]);
			if (!is_scalar(item)) {
				report(ld, pos_of(item),
				    "'%s': expected a scalar, found %s",
				    p->name,
				    describe(item, found, sizeof found));
			}
		}
	} else if ((p->kind == RP_STR || p->kind == RP_LIST) && !is_scalar(v) &&
	    !(p->kind == RP_LIST && v->type == YAML_SEQUENCE_NODE)) {
		report(ld, pos_of(v), "'%s': expected a scalar, found %s",
		    p->name, describe(v, found, sizeof found));
	}
}

/* Check a resource's `config:` against its type's parameter table. */
static void
check_params(struct loader *ld, const struct wf_resource *r,
    const struct res_type *rt, yaml_node_t *cfg)
{
	const struct res_param *params = rt->params;
	const char *names[MAX_PARAMS];
	char kind[LIST_SIZE];
	size_t n = 0;

	if (cfg != NULL && !is_null(cfg) && !is_map(cfg)) {
		return; /* reported by load_config */
	}
	cfg = is_map(cfg) ? cfg : NULL;
	while (params != NULL && n < MAX_PARAMS && params[n].name != NULL) {
		names[n] = params[n].name;
		n++;
	}
	if (cfg != NULL) {
		snprintf(kind, sizeof kind, "the config of %s", rt->name);
		check_keys(ld, cfg, names, n, kind, r->name);
	}
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *v =
		    cfg != NULL ? map_value(ld, cfg, names[i]) : NULL;
		if (v != NULL) {
			check_value(ld, &params[i], v);
		} else if (params[i].required) {
			report(ld, r->pos,
			    "%s '%s' is missing required config '%s'%s%s%s",
			    rt->name, r->name, names[i],
			    params[i].help != NULL ? " (" : "",
			    params[i].help != NULL ? params[i].help : "",
			    params[i].help != NULL ? ")" : "");
		}
	}
}

static void
check_output_names(struct loader *ld, const struct wf_resource *r,
    const struct res_type *rt, struct wf_pos at)
{
	size_t n = list_len(rt->outputs);
	char list[LIST_SIZE];

	if (r->noutputs > 0 && n == 0) {
		report(ld, at, "%s '%s' has no outputs", rt->name, r->name);
		return;
	}
	for (size_t i = 0; i < r->noutputs; i++) {
		const struct wf_output *o = &r->outputs[i];
		if (!in_list(o->name, rt->outputs, n)) {
			report(ld, o->pos,
			    "%s '%s' has no output '%s' (it has: %s)", rt->name,
			    r->name, o->name,
			    join(rt->outputs, n, list, sizeof list));
		}
	}
}

static void
load_resource(struct loader *ld, size_t idx, yaml_node_t *k, yaml_node_t *v)
{
	static const char *const keys[] = { "type", "config", "outputs" };
	struct wf_resource *r = &ld->wf->resources[idx];
	size_t before = ld->d->count;
	const struct res_type *rt;
	const yaml_node_pair_t *outs;
	char found[SHOW_SIZE];

	r->pos = pos_of(k);
	if ((r->name = dup(ld, text_of(k))) == NULL) {
		return;
	}
	check_name(ld, k, "a resource name");
	if (!is_map(v)) {
		report(ld, pos_of(v),
		    "resource '%s' must be a mapping with at least 'type', "
		    "found %s",
		    r->name, describe(v, found, sizeof found));
		return;
	}
	check_keys(
	    ld, v, keys, sizeof keys / sizeof keys[0], "resource", r->name);
	rt = load_type(ld, r, map_value(ld, v, "type"));
	load_config(ld, map_value(ld, v, "config"), &r->config);
	if (rt != NULL) {
		check_params(ld, r, rt, map_value(ld, v, "config"));
	}
	outs = map_find(ld, v, "outputs");
	load_outputs(ld, outs != NULL ? node_at(ld, outs->value) : NULL,
	    &r->outputs, &r->noutputs, r->name);
	if (rt != NULL && outs != NULL && !ld->oom) {
		check_output_names(ld, r, rt, pos_of(node_at(ld, outs->key)));
	}
	ld->res_clean[idx] = rt != NULL && ld->d->count == before;
}

static void
load_resources(struct loader *ld, yaml_node_t *map)
{
	struct workflow *wf = ld->wf;
	size_t n = npairs(map) + 1;

	wf->resources = calloc(n, sizeof *wf->resources);
	ld->res_clean = calloc(n, sizeof *ld->res_clean);
	if (wf->resources == NULL || ld->res_clean == NULL) {
		oom(ld);
		return;
	}
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top && !ld->oom; p++) {
		yaml_node_t *k = node_at(ld, p->key);
		if (is_scalar(k)) {
			load_resource(
			    ld, wf->nresources++, k, node_at(ld, p->value));
		}
	}
}

/* ------------------------------------------------------------------ */
/* Top level                                                           */

static void
load_top(struct loader *ld, yaml_node_t *root)
{
	static const char *const keys[] = { "workflow", "functions",
		"resources", "isolation", "limits" };
	yaml_node_t *name = map_value(ld, root, "workflow");
	yaml_node_t *fns;
	yaml_node_t *res;
	bool bad = false;

	check_keys(ld, root, keys, sizeof keys / sizeof keys[0], NULL, NULL);
	if (name == NULL) {
		report(ld, pos_of(root),
		    "missing 'workflow' (the workflow's name)");
	} else if (check_name(ld, name, "the workflow name")) {
		ld->wf->name_pos = pos_of(name);
		ld->wf->name = dup(ld, text_of(name));
	}
	load_isolation(ld, root, &ld->top, "the limits of workflow",
	    ld->wf->name ? ld->wf->name : "?");
	fns = opt_map(ld, map_value(ld, root, "functions"), "functions", &bad);
	res = opt_map(ld, map_value(ld, root, "resources"), "resources", &bad);
	if (fns != NULL) {
		load_functions(ld, fns);
	}
	if (res != NULL && !ld->oom) {
		load_resources(ld, res);
	}
	if (!bad && ld->wf->nfunctions == 0 && ld->wf->nresources == 0) {
		report(ld, pos_of(root),
		    "the workflow has no functions and no resources");
	}
}

static int
cmp_name(const void *a, const void *b)
{
	const struct name_ref *x = a;
	const struct name_ref *y = b;
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
add_name(struct loader *ld, const char *name, enum kind kind, size_t idx,
    struct wf_pos pos)
{
	if (name != NULL) {
		ld->names[ld->nnames++] =
		    (struct name_ref) { name, kind, idx, pos };
	}
}

/*
 * Sort every function and resource name, for lookups that stay fast with
 * many names, and report a function and a resource that share one (two
 * of the same kind are duplicate keys, already reported).
 */
static void
index_names(struct loader *ld)
{
	const struct workflow *wf = ld->wf;
	size_t n = wf->nfunctions + wf->nresources + 1;
	static const char *const kinds[] = { "function", "resource" };

	ld->names = calloc(n, sizeof *ld->names);
	ld->name_list = calloc(n, sizeof *ld->name_list);
	if (ld->names == NULL || ld->name_list == NULL) {
		oom(ld);
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
		const struct name_ref *x = &ld->names[i];
		ld->name_list[i] = x->name;
		if (i == 0 || strcmp(x->name, ld->names[first].name) != 0) {
			first = i;
		} else if (x->kind != ld->names[first].kind) {
			report(ld, x->pos,
			    "duplicate name '%s' (already a %s at line %d)",
			    x->name, kinds[ld->names[first].kind],
			    ld->names[first].pos.line);
		}
	}
}

static int
cmp_name_key(const void *key, const void *elem)
{
	return strcmp(key, ((const struct name_ref *)elem)->name);
}

static void
check_target(
    struct loader *ld, const char *owner, const struct wf_output *o, size_t t)
{
	const char *name = o->targets[t];
	const struct name_ref *ref = bsearch(
	    name, ld->names, ld->nnames, sizeof *ld->names, cmp_name_key);
	const struct res_type *rt;
	const struct wf_resource *r;
	const char *hint;
	char shown[SHOW_SIZE];

	if (ref == NULL) {
		hint = suggest(ld, name, ld->name_list, ld->nnames);
		report(ld, o->target_pos[t],
		    "output '%s' of '%s' goes to '%s', which is not "
		    "defined%s%s%s",
		    o->name, owner, clip(name, shown, sizeof shown),
		    hint != NULL ? " (did you mean '" : "",
		    hint != NULL ? hint : "", hint != NULL ? "'?)" : "");
		return;
	}
	if (ref->kind != K_RESOURCE) {
		return;
	}
	r = &ld->wf->resources[ref->idx];
	rt = r->type != NULL ? res_type_find(r->type) : NULL;
	if (rt != NULL && !rt->accepts_cast && !rt->accepts_call) {
		report(ld, o->target_pos[t],
		    "output '%s' of '%s' goes to '%s', %s %s, which takes no "
		    "events",
		    o->name, owner, name, article(rt->name), rt->name);
	}
}

static void
check_wiring(struct loader *ld)
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

/* ------------------------------------------------------------------ */
/* Code checks                                                         */

struct code_ref {
	const char *path;
	size_t fn;
};

static int
cmp_code(const void *a, const void *b)
{
	const struct code_ref *x = a;
	const struct code_ref *y = b;
	int c = strcmp(x->path, y->path);

	return c != 0 ? c : (x->fn < y->fn ? -1 : x->fn > y->fn);
}

/* Run the check once per group of functions sharing a path. */
static void
check_group(
    struct loader *ld, const struct code_ref *g, size_t n, char **reasons)
{
	char err[CHECK_ERR_SIZE] = "";

	if (ld->check(ld->check_arg, g[0].path, err, sizeof err) == 0) {
		return;
	}
	err[sizeof err - 1] = '\0';
	for (size_t i = 0; i < n; i++) {
		reasons[g[i].fn] = dup(ld, err[0] != '\0' ? err : "unusable");
	}
}

/*
 * Ask the caller about each distinct code path once (loading a shared
 * object can be slow), then report in the order of the functions.
 */
static void
check_code(struct loader *ld)
{
	const struct workflow *wf = ld->wf;
	size_t n = wf->nfunctions + 1;
	struct code_ref *refs = calloc(n, sizeof *refs);
	char **reasons = calloc(n, sizeof *reasons);
	size_t m = 0;

	if (refs == NULL || reasons == NULL) {
		oom(ld);
		goto out;
	}
	for (size_t i = 0; i < wf->nfunctions; i++) {
		if (wf->functions[i].code_path != NULL) {
			refs[m++] =
			    (struct code_ref) { wf->functions[i].code_path, i };
		}
	}
	qsort(refs, m, sizeof *refs, cmp_code);
	for (size_t i = 0; i < m;) {
		size_t j = i + 1;
		while (j < m && strcmp(refs[j].path, refs[i].path) == 0) {
			j++;
		}
		check_group(ld, &refs[i], j - i, reasons);
		i = j;
	}
	for (size_t i = 0; i < wf->nfunctions; i++) {
		const struct wf_function *f = &wf->functions[i];
		if (reasons[i] != NULL) {
			report(ld, f->code_pos, "code '%s': %s", f->code,
			    reasons[i]);
		}
	}
out:
	for (size_t i = 0; reasons != NULL && i < wf->nfunctions; i++) {
		free(reasons[i]);
	}
	free(reasons);
	free(refs);
}

/* Each resource type's own checks, on resources that passed the schema. */
static void
run_type_checks(struct loader *ld)
{
	for (size_t i = 0; i < ld->wf->nresources; i++) {
		const struct wf_resource *r = &ld->wf->resources[i];
		const struct res_type *rt;

		if (!ld->res_clean[i]) {
			continue;
		}
		rt = res_type_find(r->type);
		if (rt != NULL && rt->check != NULL) {
			rt->check(ld->wf, r, ld->d);
		}
	}
}

/* ------------------------------------------------------------------ */
/* Parsing and the passes                                              */

/* Line and column of a byte offset, for reader errors that have none. */
static struct wf_pos
offset_pos(const struct loader *ld, size_t offset)
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
syntax_error(struct loader *ld, const yaml_parser_t *parser)
{
	const char *problem =
	    parser->problem != NULL ? parser->problem : "unknown problem";
	struct wf_pos p;

	if (parser->error == YAML_MEMORY_ERROR) {
		oom(ld);
		return;
	}
	if (parser->error == YAML_READER_ERROR) {
		p = offset_pos(ld, parser->problem_offset);
	} else {
		p.line = (int)parser->problem_mark.line + 1;
		p.col = (int)parser->problem_mark.column + 1;
	}
	if (parser->context != NULL) {
		report(ld, p, "YAML syntax error: %s (%s)", problem,
		    parser->context);
	} else {
		report(ld, p, "YAML syntax error: %s", problem);
	}
}

/*
 * Load the file's one document into ld->doc.  Returns -1, with the reason
 * reported, if there is no document to validate (and none to delete).
 */
static int
parse(struct loader *ld)
{
	yaml_parser_t parser;
	yaml_document_t extra;
	int rv = -1;

	if (!yaml_parser_initialize(&parser)) {
		oom(ld);
		return -1;
	}
	yaml_parser_set_input_string(
	    &parser, (const unsigned char *)ld->text, ld->len);
	if (!yaml_parser_load(&parser, &ld->doc)) {
		syntax_error(ld, &parser);
		goto out;
	}
	rv = 0;
	if (yaml_document_get_root_node(&ld->doc) == NULL) {
		goto out;
	}
	if (!yaml_parser_load(&parser, &extra)) {
		syntax_error(ld, &parser);
		goto out;
	}
	if (yaml_document_get_root_node(&extra) != NULL) {
		report(ld,
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
validate(struct loader *ld)
{
	yaml_node_t *root = yaml_document_get_root_node(&ld->doc);
	char found[SHOW_SIZE];
	size_t n = (size_t)(ld->doc.nodes.top - ld->doc.nodes.start);

	if (root == NULL) {
		report(ld, (struct wf_pos) { 0, 0 },
		    "empty document (expected a mapping with 'workflow', "
		    "'functions' and 'resources')");
		return;
	}
	if ((ld->seen = calloc(n, 1)) == NULL) {
		oom(ld);
		return;
	}
	if (walk_limits(ld, 1, 1, root) != 0 || ld->oom) {
		return;
	}
	if (!is_map(root)) {
		report(ld, pos_of(root),
		    "the top level must be a mapping, found %s",
		    describe(root, found, sizeof found));
		return;
	}
	load_top(ld, root);
	if (!ld->oom) {
		index_names(ld);
	}
	if (!ld->oom && ld->check != NULL) {
		check_code(ld);
	}
	if (!ld->oom) {
		check_wiring(ld);
	}
	if (!ld->oom) {
		run_type_checks(ld);
	}
}

/* wf->file and wf->dir from the name given to wf_load or wf_load_mem. */
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
	return wf->file != NULL && wf->dir != NULL ? 0 : -1;
}

struct workflow *
wf_load_mem(const char *name, const char *text, size_t len, wf_code_check check,
    void *check_arg, struct diag *d)
{
	struct loader ld = { .file = name,
		.text = text,
		.len = len,
		.d = d,
		.start = d->count,
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
		oom(&ld);
	} else if (parse(&ld) == 0) {
		validate(&ld);
		yaml_document_delete(&ld.doc);
	}
	free(ld.seen);
	free(ld.names);
	free(ld.name_list);
	free(ld.res_clean);
	if (failed(&ld)) {
		wf_free(ld.wf);
		return NULL;
	}
	return ld.wf;
}

struct workflow *
wf_load(const char *path, wf_code_check check, void *check_arg, struct diag *d)
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
		wf = wf_load_mem(path, buf, len, check, check_arg, d);
	}
	free(buf);
	return wf;
}

/* ------------------------------------------------------------------ */
/* Freeing and lookups                                                 */

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

const char *
wf_config_get(const struct wf_config *c, const char *key)
{
	for (size_t i = 0; i < c->count; i++) {
		if (strcmp(c->keys[i], key) == 0) {
			return c->values[i];
		}
	}
	return NULL;
}

/* "methods.0", "methods.1", ...: `key`, a dot, and only digits. */
static bool
is_item_of(const char *k, const char *key, size_t klen)
{
	if (strncmp(k, key, klen) != 0 || k[klen] != '.' ||
	    k[klen + 1] == '\0') {
		return false;
	}
	return strspn(k + klen + 1, "0123456789") == strlen(k + klen + 1);
}

size_t
wf_config_list(
    const struct wf_config *c, const char *key, const char **out, size_t max)
{
	const char *one = wf_config_get(c, key);
	size_t klen = strlen(key);
	size_t n = 0;

	if (one != NULL) {
		if (max > 0) {
			out[0] = one;
		}
		return 1;
	}
	/* Flattening stores a sequence's items in order. */
	for (size_t i = 0; i < c->count; i++) {
		if (is_item_of(c->keys[i], key, klen)) {
			if (n < max) {
				out[n] = c->values[i];
			}
			n++;
		}
	}
	return n;
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
