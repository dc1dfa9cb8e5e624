/*
 * wf_value.c - small values of the schema: copies, integers in a range,
 * booleans, names, optional scalars and mappings, and unknown keys.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "workflow/wf_int.h"

#define MAX_NAME 64

#define NAME_CHARS                                                             \
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
#define NAME_RULE "1 to 64 letters, digits, '_' or '-'"

char *
wf_dup(struct wf_loader *ld, const char *s)
{
	char *c = strdup(s);

	if (c == NULL) {
		wf_oom(ld);
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

bool
wf_get_int(struct wf_loader *ld, const yaml_node_t *n, const char *what,
    long long min, long long max, long long *out)
{
	char found[SHOW_SIZE];
	long long v;

	if (wf_is_scalar(n) && parse_int(wf_text_of(n), &v) && v >= min &&
	    v <= max) {
		*out = v;
		return true;
	}
	wf_report(ld, wf_pos_of(n),
	    "'%s' must be an integer between %lld and %lld, found %s", what,
	    min, max, wf_describe(n, found, sizeof found));
	return false;
}

bool
wf_is_bool(const char *s)
{
	static const char *const words[] = { "true", "false", "yes", "no", "on",
		"off" };

	return wf_in_list(s, words, sizeof words / sizeof words[0]);
}

static bool
valid_name(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= MAX_NAME && strspn(s, NAME_CHARS) == n;
}

/* Report a node that is not a valid name; `what` is "a function name". */
bool
wf_check_name(struct wf_loader *ld, const yaml_node_t *n, const char *what)
{
	char found[SHOW_SIZE];

	if (wf_is_scalar(n) && valid_name(wf_text_of(n))) {
		return true;
	}
	wf_report(ld, wf_pos_of(n), "%s must be " NAME_RULE ", found %s", what,
	    wf_describe(n, found, sizeof found));
	return false;
}

/* An optional scalar: NULL if absent or null, else a copy. */
char *
wf_opt_str(struct wf_loader *ld, const yaml_node_t *n, const char *what)
{
	char found[SHOW_SIZE];

	if (n == NULL || wf_is_null(n)) {
		return NULL;
	}
	if (!wf_is_scalar(n)) {
		wf_report(ld, wf_pos_of(n), "'%s': expected a scalar, found %s",
		    what, wf_describe(n, found, sizeof found));
		return NULL;
	}
	return wf_dup(ld, wf_text_of(n));
}

/*
 * An optional mapping such as `outputs:`; NULL if absent or null (an
 * empty section is as good as none), and an error if it is not a mapping.
 */
yaml_node_t *
wf_opt_map(struct wf_loader *ld, yaml_node_t *n, const char *what, bool *bad)
{
	char found[SHOW_SIZE];

	if (n == NULL || wf_is_null(n)) {
		return NULL;
	}
	if (!wf_is_map(n)) {
		wf_report(ld, wf_pos_of(n), "'%s' must be a mapping, found %s",
		    what, wf_describe(n, found, sizeof found));
		if (bad != NULL) {
			*bad = true;
		}
		return NULL;
	}
	return n;
}

/* Report keys of `map` not in `keys`; `kind`/`name` say whose they are. */
void
wf_check_keys(struct wf_loader *ld, const yaml_node_t *map,
    const char *const *keys, size_t nkeys, const char *kind, const char *name)
{
	char list[LIST_SIZE];
	char shown[SHOW_SIZE];
	char where[LIST_SIZE + SHOW_SIZE + 16];

	where[0] = '\0';
	if (kind != NULL) {
		snprintf(where, sizeof where, " in %s '%s'", kind,
		    wf_clip(name, shown, sizeof shown));
	}
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = wf_node_at(ld, p->key);
		const char *hint;
		char key[SHOW_SIZE];

		if (!wf_is_scalar(k) ||
		    wf_in_list(wf_text_of(k), keys, nkeys)) {
			continue;
		}
		hint = wf_suggest(ld, wf_text_of(k), keys, nkeys);
		if (hint != NULL) {
			wf_report(ld, wf_pos_of(k),
			    "unknown key '%s'%s (did you mean '%s'?)",
			    wf_clip(wf_text_of(k), key, sizeof key), where,
			    hint);
		} else {
			wf_report(ld, wf_pos_of(k),
			    "unknown key '%s'%s (known keys: %s)",
			    wf_clip(wf_text_of(k), key, sizeof key), where,
			    wf_join(keys, nkeys, list, sizeof list));
		}
	}
}
