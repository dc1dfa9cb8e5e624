/*
 * wf_int.h - the workflow loader's internals, shared by its files.
 *
 * One load is one struct wf_loader: the text, the libyaml document, the
 * workflow being filled and the diag list.  The files call downwards only:
 *
 *   wf_load.c      parse, the passes in order, wf_load/wf_load_mem
 *   wf_function.c  `functions:` (code, mailbox), calling wf_options.c
 *   wf_options.c   placement, state, isolation and limits
 *   wf_resource.c  `resources:` and each type's parameter table
 *   wf_output.c    `outputs:` of both;  wf_config.c  `config:` of both
 *   wf_limits.c    pass 1 (depth, alias expansion, NULs, duplicate keys)
 *   wf_wiring.c    the name index and outputs to defined names
 *   wf_code.c      the caller's code checks
 *   wf_value.c     small values (integers, names, optional sections)
 *   wf_node.c      the YAML node tree with line:column positions
 *   wf_msg.c       reporting "file:line:col: message" and its pieces
 *
 * Every function here reports what is wrong to ld->d and goes on, so
 * that one load reports every problem; an allocation failure reports
 * "out of memory" once (wf_oom) and sets ld->oom, after which callers
 * stop early.  Not thread-safe: a loader belongs to one wf_load call.
 * Nothing in this header is part of the public API (workflow.h).
 */
#ifndef LEDGE_WORKFLOW_WF_INT_H
#define LEDGE_WORKFLOW_WF_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/utsname.h>

#include <yaml.h>

#include "base/diag.h"
#include "workflow/workflow.h"

#define DIAG_DEFAULT_MAX 200 /* diag.h: a limit of 0 means 200 */
#define SHOW_MAX         40  /* bytes of a user's text quoted in a message */
#define SHOW_SIZE        (SHOW_MAX + 8)
#define LIST_SIZE        256 /* room for "a, b, c" lists in messages */

struct res_type;
struct wf_name_ref; /* wf_wiring.c */

/* `isolation:` and `limits:`, of a function or the whole workflow. */
struct wf_isolation {
	bool set;        /* isolation: given */
	bool process;    /* isolation: process */
	bool given;      /* `limits:` is there (`limits: ~` says none) */
	bool has_limits; /* limits: given, not null */
	uint32_t timeout_ms, memory_mb, state_mb;
	struct wf_pos limits_pos;
};

/* The state of one load; lives on wf_load_mem's stack. */
struct wf_loader {
	const char *file; /* name used in messages */
	const char *text;
	size_t len;
	struct diag *d;
	size_t start; /* d->count when loading began */
	bool oom;
	yaml_document_t doc;
	struct workflow *wf;
	const struct res_type *const *types; /* the types it may use */
	wf_code_check check;
	void *check_arg;
	struct utsname uts;
	size_t alias_visits;
	unsigned char *seen; /* per node: visited by wf_walk_limits */
	struct wf_name_ref *names;
	const char **name_list; /* the same names, for suggestions */
	size_t nnames;
	bool *res_clean; /* per resource: no schema error, so run check() */
	struct wf_isolation top; /* the workflow's `isolation:`/`limits:` */
};

/* ---- wf_msg.c: messages ------------------------------------------- */

/* Add "file:line:col: message" to ld->d (printf-style). */
void wf_report(struct wf_loader *ld, struct wf_pos p, const char *fmt, ...)
    DIAG_PRINTF(3, 4);

/* Report "out of memory" once per load and set ld->oom. */
void wf_oom(struct wf_loader *ld);

/* True if this load has reported anything. */
bool wf_failed(const struct wf_loader *ld);

/*
 * A "did you mean" candidate for `word` among `cands`, or NULL.
 * Hints cost an edit distance per candidate; once the diag list is full
 * they would not be shown, so hostile input with thousands of bad names
 * stops paying for them.
 */
const char *wf_suggest(
    struct wf_loader *ld, const char *word, const char *const *cands, size_t n);

/* `s`, or its first SHOW_MAX bytes and "..." if it is longer (in `buf`). */
const char *wf_clip(const char *s, char *buf, size_t size);

/* "a, b, c" from n strings in `buf`, cut with "..." if it does not fit. */
const char *wf_join(const char *const *items, size_t n, char *buf, size_t size);

/* The length of a NULL-terminated list (0 for NULL). */
size_t wf_list_len(const char *const *list);

/* True if `s` is one of the n strings of `list`. */
bool wf_in_list(const char *s, const char *const *list, size_t n);

/* "a" or "an" for `word` ("an http-ingress"). */
const char *wf_article(const char *word);

/* ---- wf_node.c: the YAML node tree -------------------------------- */

/* The node with 1-based index `idx` in ld->doc, or NULL. */
yaml_node_t *wf_node_at(struct wf_loader *ld, int idx);

/* A node's 1-based line:column, {0, 0} for NULL. */
struct wf_pos wf_pos_of(const yaml_node_t *n);

/* The number of pairs of a mapping node / items of a sequence node. */
size_t wf_npairs(const yaml_node_t *n);
size_t wf_nitems(const yaml_node_t *n);

/* Node kinds; both false for NULL. */
bool wf_is_scalar(const yaml_node_t *n);
bool wf_is_map(const yaml_node_t *n);

/* The text of a scalar node (owned by the document). */
const char *wf_text_of(const yaml_node_t *n);

/* A plain scalar that YAML reads as null: `key:`, `~`, `null`. */
bool wf_is_null(const yaml_node_t *n);

/* What a node is, for "found ..." in messages; may use `buf`. */
const char *wf_describe(const yaml_node_t *n, char *buf, size_t size);

/* The pair of mapping `map` whose scalar key is `key`, or NULL. */
const yaml_node_pair_t *wf_map_find(
    struct wf_loader *ld, const yaml_node_t *map, const char *key);

/* The value under `key` in mapping `map`, or NULL. */
yaml_node_t *wf_map_value(
    struct wf_loader *ld, const yaml_node_t *map, const char *key);

/* ---- wf_value.c: small values ------------------------------------- */

/* strdup, reporting out of memory; NULL then. */
char *wf_dup(struct wf_loader *ld, const char *s);

/* An integer in [min, max] into *out; false after reporting `what`. */
bool wf_get_int(struct wf_loader *ld, const yaml_node_t *n, const char *what,
    long long min, long long max, long long *out);

/* true/false, yes/no, on/off. */
bool wf_is_bool(const char *s);

/* Report a node that is not a valid name; `what` is "a function name". */
bool wf_check_name(
    struct wf_loader *ld, const yaml_node_t *n, const char *what);

/* An optional scalar: NULL if absent or null, else a copy (caller's). */
char *wf_opt_str(struct wf_loader *ld, const yaml_node_t *n, const char *what);

/*
 * An optional mapping such as `outputs:`; NULL if absent or null (an
 * empty section is as good as none), and an error if it is not a mapping
 * (then *bad is set, if `bad` is not NULL).
 */
yaml_node_t *wf_opt_map(
    struct wf_loader *ld, yaml_node_t *n, const char *what, bool *bad);

/* Report keys of `map` not in `keys`; `kind`/`name` say whose they are
 * (both NULL at the top level). */
void wf_check_keys(struct wf_loader *ld, const yaml_node_t *map,
    const char *const *keys, size_t nkeys, const char *kind, const char *name);

/* ---- wf_limits.c: pass 1 ------------------------------------------ */

/*
 * Walk node `idx` (1 for the root) against the limits of hostile input,
 * reporting NUL bytes, non-scalar and duplicate keys on the way.  Needs
 * ld->seen (one byte per node, zeroed).  Returns LEDGE_OK, or
 * LEDGE_ETOOBIG after reporting a limit that stops the load (too deep,
 * aliases expand too much).
 * `owner` is where such a message points: the root at the start.
 */
int wf_walk_limits(
    struct wf_loader *ld, int idx, int depth, const yaml_node_t *owner);

/* ---- wf_config.c: `config:` --------------------------------------- */

/* Fill `c` (zeroed) from an optional `config:` node, flattened. */
void wf_load_config(struct wf_loader *ld, yaml_node_t *n, struct wf_config *c);

/* ---- wf_output.c: `outputs:` -------------------------------------- */

/* Fill *outs and *nouts from an optional `outputs:` node of `owner` (a
 * function or resource name).  Targets are checked by wf_check_wiring. */
void wf_load_outputs(struct wf_loader *ld, yaml_node_t *n,
    struct wf_output **outs, size_t *nouts, const char *owner);

/* ---- wf_function.c: `functions:` ---------------------------------- */

/* Fill ld->wf->functions from the `functions:` mapping. */
void wf_load_functions(struct wf_loader *ld, yaml_node_t *map);

/* ---- wf_options.c: placement, state, isolation, limits ------------ */

/* `placement: {labels, node, arch, resources}` of function f. */
void wf_load_placement(
    struct wf_loader *ld, yaml_node_t *n, struct wf_function *f);

/* `state: {replicas}` of function f. */
void wf_load_state(struct wf_loader *ld, yaml_node_t *n, struct wf_function *f);

/* `isolation: node|process` and `limits: {timeout_ms, memory_mb,
 * state_mb}` in
 * map `m` (a function's or the top level) into *is; `kind`/`name` name
 * the owner in messages about unknown keys. */
void wf_load_isolation(struct wf_loader *ld, yaml_node_t *m,
    struct wf_isolation *is, const char *kind, const char *name);

/* A function's own isolation over the workflow's (ld->top); timeout_ms
 * and memory_mb need a host process (code in the node's own process can
 * be neither stopped nor measured on its own); state_mb works with
 * either. */
void wf_apply_isolation(struct wf_loader *ld, struct wf_function *f,
    const struct wf_isolation *own);

/* `sandbox: off` or `sandbox: {allow: [socket, fork, exec, write]}` of
 * function f (after wf_apply_isolation: it needs isolation: process). */
void wf_load_sandbox(
    struct wf_loader *ld, yaml_node_t *n, struct wf_function *f);

/* ---- wf_keyed.c: `keyed:` ------------------------------------------ */

/* `keyed: true` or `keyed: {idle_s, max_active}` of function f (after
 * wf_apply_isolation: keyed functions run in the node's process). */
void wf_load_keyed(struct wf_loader *ld, yaml_node_t *n, struct wf_function *f);

/* Split each keyed function of a validated workflow into its slots
 * (workflow.h, `nslots`).  LEDGE_OK, or LEDGE_ENOMEM (wf is still whole
 * enough for wf_free). */
int wf_split_slots(struct workflow *wf);

/* ---- wf_resource.c: `resources:` ---------------------------------- */

/* The resource type named by scalar `n`, or NULL after reporting (with
 * a "did you mean").  Also used for `placement: {resources}`. */
const struct res_type *wf_find_type(struct wf_loader *ld, yaml_node_t *n);

/* Fill ld->wf->resources and ld->res_clean from `resources:`. */
void wf_load_resources(struct wf_loader *ld, yaml_node_t *map);

/* Each resource type's own checks, on resources that passed the schema. */
void wf_run_type_checks(struct wf_loader *ld);

/* ---- wf_wiring.c: names and outputs -------------------------------- */

/*
 * Sort every function and resource name into ld->names, for lookups that
 * stay fast with many names, and report a function and a resource that
 * share one (two of the same kind are duplicate keys, already reported).
 */
void wf_index_names(struct wf_loader *ld);

/* Report outputs that go to undefined names ("did you mean") or to a
 * resource that takes no events.  After wf_index_names. */
void wf_check_wiring(struct wf_loader *ld);

/* ---- wf_code.c: code checks --------------------------------------- */

/*
 * Ask ld->check about each distinct code path once (loading a shared
 * object can be slow), then report in the order of the functions.
 */
void wf_check_code(struct wf_loader *ld);

#endif
