/*
 * workflow.h - workflows: the parsed, validated form of a workflow YAML.
 *
 * wf_load() parses one file with libyaml and validates everything that
 * can be checked without running it: the schema (unknown keys, wrong value
 * types), resource types and their config, outputs wired to names that
 * exist, code files that can be loaded (through a caller-supplied check).
 * Every problem is reported to a diag list as "file:line:col: message".
 *
 * Ownership: a struct workflow and everything it points to is owned by
 * the workflow; wf_free() releases it.  Not thread-safe; once loaded a
 * workflow is read-only and may be shared between threads.
 */
#ifndef LEDGE_WORKFLOW_WORKFLOW_H
#define LEDGE_WORKFLOW_WORKFLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <stdbool.h>

#include "base/diag.h"
#include <ledge.h>

struct wf_pos {
	int line; /* 1-based; 0 when unknown */
	int col;  /* 1-based */
};

/* A flattened config map: {a: {b: 1}, c: [x, y]} -> a.b=1, c.0=x, c.1=y */
struct wf_config {
	size_t count;
	char **keys;        /* owned */
	char **values;      /* owned; scalars as written in the YAML */
	struct wf_pos *pos; /* position of each value */
	ledge_kv *view;     /* owned; the same pairs for ledge_config */
	ledge_config sdk;   /* {count, view}, handed to functions */
};

struct wf_output {
	char *name;     /* the output name, e.g. "out" */
	char **targets; /* names of functions/resources; owned */
	size_t ntargets;
	struct wf_pos pos; /* of the output's key */
	struct wf_pos *target_pos;
};

struct wf_placement {
	size_t nlabels;
	char **label_keys; /* required node labels */
	char **label_values;
	char *node; /* a named node, or NULL */
	char *arch; /* e.g. "x86_64", or NULL */
	size_t nresources;
	char **resources; /* resource types the node must offer */
};

struct wf_function {
	char *name;
	struct wf_pos pos;
	char *code;      /* path as written (for this machine's arch) */
	char *code_path; /* resolved against the workflow's folder */
	struct wf_pos code_pos;
	/* `code: {x86_64: a.so, aarch64: b.so}`: every variant, resolved.
	 * `code`/`code_path` above are the one for this machine (uname -m);
	 * with a plain `code: f.so`, ncode_arch is 0. */
	size_t ncode_arch;
	char **code_arch;      /* "x86_64", ... */
	char **code_arch_path; /* resolved paths */
	struct wf_config config;
	struct wf_output *outputs;
	size_t noutputs;
	struct wf_placement placement;
	uint32_t mailbox;  /* mailbox capacity (default 1024) */
	uint32_t replicas; /* state: {replicas: N} (default 0) */
	/* state: {ack: primary}: acknowledged once durable here, replicated
	 * after (default ack: replicas - once the replicas hold it too) */
	bool ack_primary;
	/* `isolation: process`: instances run in a supervised host process
	 * (isolate/isolate.h) instead of the node's own; `limits:` apply
	 * there only (0: none).  Either may come from the workflow's top
	 * level, as the default for its functions. */
	bool isolated;
	/* `sandbox:` of an isolated function: what its host may do besides
	 * the sandbox's default (WF_SANDBOX_* bits, from `allow: [...]`),
	 * or off altogether (`sandbox: off`). */
	unsigned sandbox_allow;
	bool sandbox_off;
	uint32_t timeout_ms; /* limits: {timeout_ms: N}: per callback */
	uint32_t memory_mb;  /* limits: {memory_mb: N}: host's resident size */
	/* limits: {state_mb: N}: the most state (keys + values, MiB) the
	 * function may keep on a node; ledge_state_put past it says
	 * LEDGE_EQUOTA.  Either isolation.  0: no quota of its own. */
	uint32_t state_mb;
	/* `keyed:`: one instance per key (its own state, mailbox and init),
	 * activated by the key's first event, passivated after idle_s
	 * without events or, past max_active active keys, the least
	 * recently used idle ones first. */
	bool keyed;
	struct wf_pos keyed_pos;
	uint32_t idle_s;
	uint32_t max_active;
	/* `keyed: {slots: N}` (default WF_SLOTS_DEFAULT): the key space is
	 * cut into N hash slots (wf_key_slot), and each slot is a function
	 * of its own in `functions`, named "NAME#i" - placed, moved,
	 * replicated and failed over like any function, so that the keys
	 * spread over the nodes of a domain.  For each of them `group` is
	 * NAME and `slot` is i; they lie next to each other, slot 0 first
	 * (wf_find_slots).  Outputs, routes and requests name NAME.  A
	 * function that is not split (not keyed, or slots: 1) has group
	 * NULL, slot 0, nslots 1.  The slots share slot 0's strings (its
	 * config, outputs, placement, code variants); each owns its name,
	 * group and code_path. */
	uint32_t nslots;
	uint32_t slot;
	char *group;
};

/* Hash slots of a keyed function unless `slots:` says otherwise, and the
 * most it may ask for. */
#define WF_SLOTS_DEFAULT 16
#define WF_SLOTS_MAX     1024

/* What `sandbox: {allow: [...]}` may name (isolate/host_sandbox.h says
 * what each lets a host do). */
enum {
	WF_SANDBOX_SOCKET = 1 << 0,
	WF_SANDBOX_FORK = 1 << 1,
	WF_SANDBOX_EXEC = 1 << 2,
	WF_SANDBOX_WRITE = 1 << 3,
	WF_SANDBOX_NBITS = 4
};

/* The name of one WF_SANDBOX_* bit ("socket", "fork", "exec", "write"),
 * or NULL. */
const char *wf_sandbox_name(unsigned bit);

struct res_type;

struct wf_resource {
	char *name;
	struct wf_pos pos;
	char *type;
	struct wf_pos type_pos;
	/* The type's descriptor, from the table the loader was given (NULL
	 * only in a workflow that failed validation). */
	const struct res_type *rtype;
	struct wf_config config;
	struct wf_output *outputs;
	size_t noutputs;
};

struct workflow {
	char *name;
	struct wf_pos name_pos;
	char *file; /* the path given to wf_load */
	char *dir;  /* its folder, for relative code paths */
	struct wf_function *functions;
	size_t nfunctions;
	struct wf_resource *resources;
	size_t nresources;
};

/*
 * Check a code file named by `code:`.  Returns 0 if usable, else writes a
 * one-line reason (without location) to `err` and returns non-zero.
 * Called once per distinct path; may be NULL to skip the check.
 */
typedef int (*wf_code_check)(
    void *arg, const char *path, char *err, size_t errlen);

/*
 * Parse and validate `path`.  On success returns a workflow and leaves
 * `d` untouched; on any problem returns NULL and adds every problem found
 * to `d`.  Limits that stop hostile input: 1 MiB file, nesting depth 32,
 * 10000 config entries after flattening, aliases expanded at most 1000
 * times.  `types` is the NULL-terminated table of resource types a
 * workflow may use (resources/resources.h: res_types()); it is borrowed
 * and must outlive the workflow, whose resources point into it (rtype).
 */
struct workflow *wf_load(const char *path, const struct res_type *const *types,
    wf_code_check check, void *check_arg, struct diag *d);

/* Same, from memory; `name` is used in messages and to resolve paths. */
struct workflow *wf_load_mem(const char *name, const char *text, size_t len,
    const struct res_type *const *types, wf_code_check check, void *check_arg,
    struct diag *d);

/* Free a workflow (NULL is fine). */
void wf_free(struct workflow *wf);

/* A config value by flattened key, or NULL. */
const char *wf_config_get(const struct wf_config *c, const char *key);

/*
 * The first keyed function (`keyed:`) an output of resource `spec` goes
 * to, with where that output names it in *pos; NULL if none does.  For
 * resource checks: a resource that sends to a keyed function must say
 * which key.
 */
const struct wf_function *wf_keyed_target(const struct workflow *wf,
    const struct wf_resource *spec, struct wf_pos *pos);

/*
 * The items of a list (or a single scalar) under `key`: for key "methods"
 * and config {methods: [GET, POST]} fills out[0]="GET", out[1]="POST".
 * Returns the number of items (may exceed max; only max are stored).
 */
size_t wf_config_list(
    const struct wf_config *c, const char *key, const char **out, size_t max);

/*
 * The slot (0..nslots-1) of an instance key: the same on every node and
 * every run (FNV-1a over the bytes, mixed).  nslots 0 counts as 1.
 */
uint32_t wf_key_slot(const void *key, size_t klen, uint32_t nslots);

/*
 * The functions that are the slots of keyed function `name` (group):
 * the first, and their number in *n (contiguous in wf->functions).
 * A function that is not split is its own only slot (*n = 1).  NULL (and
 * *n = 0) if there is no function or group called `name`.
 */
const struct wf_function *wf_find_slots(
    const struct workflow *wf, const char *name, size_t *n);

/* The name requests and outputs use for f: its group, else its own. */
const char *wf_function_name(const struct wf_function *f);

/* Find a function or a resource by name; NULL if absent.  A slot is
 * found by its own name ("NAME#3"), not by its group's. */
const struct wf_function *wf_find_function(
    const struct workflow *wf, const char *name);
const struct wf_resource *wf_find_resource(
    const struct workflow *wf, const char *name);

#endif
