/*
 * domain.h - a domain of real processes for tests: one `ledge
 * orchestrator` and any number of `ledge node`s on loopback TCP (or
 * tls+tcp), each with its own scratch folder (data folder and log), and
 * the `ledge` CLI run as a child with its stdout and stderr kept apart,
 * plus the small readers a test needs for what the CLI prints with
 * --json (a JSON parser, base64).
 *
 * Addresses are never fixed: every listener gets a port that was free a
 * moment before (one per process: the orchestrator, like a node, listens
 * on its one address only).  A restarted process keeps its address, data folder
 * and log (appended to), so the log tells its whole story.
 *
 * Workflow texts written with dom_file() may use @F/ for the folder of
 * the fixture functions ($LEDGE_FIXTURES) and @B/ for the build tree
 * ($LEDGE_BUILD), as in ledge_run.h.  LEDGE_BIN names the binary.
 * LEDGE_KEEP_TMP=1 keeps the scratch folder for a post-mortem.
 *
 * Nothing here uses Criterion: functions report failure by their return
 * value and the test decides.  Every wait is bounded.
 *
 * Threads: a domain belongs to one thread, which must outlive its
 * processes (see proc_start: children die with the thread that started
 * them).
 */
#ifndef LEDGE_TEST_DOMAIN_H
#define LEDGE_TEST_DOMAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "proc.h"

/* ------------------------------------------------------------------ */
/* ports and child commands                                            */

/*
 * A loopback TCP port that was free when asked; -1 on error.  Ports are
 * taken below the kernel's range for outgoing connections when there is
 * room, so that no client socket can hold one when a server (re)binds it.
 */
int dom_port(void);

/*
 * Run argv[0] (a path) with `argv` to completion, stdin from /dev/null,
 * stdout and stderr captured apart into *out and *err (malloc'd,
 * NUL-terminated; either pointer may be NULL).  A child still running
 * after `timeout_ms` is killed.  Returns its exit status, 128 + the
 * signal that ended it, or -1 (could not run, or killed on timeout).
 */
int dom_exec(const char *const argv[], int timeout_ms, char **out, char **err);

/* The first executable `name` in $PATH (malloc'd), or NULL. */
char *dom_which(const char *name);

/* ------------------------------------------------------------------ */
/* JSON (what `ledge ... --json` prints)                               */

enum dj_type { DJ_NULL, DJ_BOOL, DJ_NUM, DJ_STR, DJ_ARR, DJ_OBJ };

/* A parsed JSON value; a tree owned by its root. */
struct dj {
	enum dj_type type;
	bool b;      /* DJ_BOOL */
	double num;  /* DJ_NUM */
	int64_t i;   /* DJ_NUM when is_int */
	bool is_int; /* an integer that fits int64_t */
	char *str;   /* DJ_STR: UTF-8, NUL-terminated (may hold NULs) */
	size_t len;  /* DJ_STR: its length in bytes */
	size_t n;    /* DJ_ARR, DJ_OBJ: how many items */
	struct dj **items;
	char **keys; /* DJ_OBJ: the key of each item */
};

/*
 * Parse one JSON document (whitespace around it is allowed, anything
 * else after it is not).  Returns the tree, or NULL with a reason
 * ("at byte N: ...") in err.
 */
struct dj *dj_parse(const char *text, char *err, size_t errlen);
void dj_free(struct dj *v);

/* The member `key` of an object; NULL if v is not an object or has none. */
const struct dj *dj_get(const struct dj *v, const char *key);
/* Item i of an array; NULL when out of range or not an array. */
const struct dj *dj_at(const struct dj *v, size_t i);
/* Items of an array or object; 0 for anything else. */
size_t dj_len(const struct dj *v);
/* The first object in array `arr` whose member `key` is the string
 * `value`; NULL if none. */
const struct dj *dj_find(
    const struct dj *arr, const char *key, const char *value);
/* The string, or NULL if v is not a string. */
const char *dj_str(const struct dj *v);
/* The member `key` of v as a string, or NULL. */
const char *dj_gets(const struct dj *v, const char *key);
/* The integer, or `dflt` if v is not an integer. */
int64_t dj_int(const struct dj *v, int64_t dflt);
/* Whether v is the literal true. */
bool dj_true(const struct dj *v);

/*
 * Decode standard base64 (with or without padding).  Returns 0 with a
 * malloc'd buffer of *len bytes (NUL-terminated too) in *out; -1 on a
 * character outside the alphabet or a bad length.
 */
int dom_b64_decode(const char *s, unsigned char **out, size_t *len);

/* Milliseconds of the monotonic clock. */
int64_t dom_now_ms(void);
/* Sleep ms milliseconds (signals do not cut it short). */
void dom_nap_ms(int ms);

/* ------------------------------------------------------------------ */
/* the domain                                                          */

/* Certificate files for tls+tcp:// (PEM paths). */
struct dom_tls {
	const char *cert, *key, *ca;
};

/* One long-running process of the domain. */
struct dom_proc {
	char *name; /* the node name, or "orchestrator" */
	char *dir;  /* its scratch folder */
	char *data; /* dir/data: its data folder */
	char *log;  /* dir/log: stdout and stderr of every start */
	char *url;  /* its --listen address */
	int http_port;
	int starts; /* how many times it was started */
	struct proc *p;
	char *argv[48]; /* what it is started with; owned */
};

struct domain {
	char *dir;          /* the scratch folder */
	char *url;          /* the orchestrator's address */
	bool tls;           /* tls+tcp:// addresses */
	char *tls_files[3]; /* cert, key, ca of the domain (owned) */
	struct dom_proc *orc;
	struct dom_proc *nodes[8];
	size_t nnodes;
	/* Arguments (NULL-terminated, borrowed; NULL: none) given to every
	 * `ledge node` and `ledge run` started from now on. */
	const char *const *node_args;
};

/*
 * A scratch folder "ledge-test-TAG-XXXXXX" for a domain; with `tls`
 * (may be NULL) every address is tls+tcp:// and the orchestrator, nodes
 * (unless given their own) and the CLI use these files (copied paths).
 * Nothing is started yet.  NULL on failure.
 */
struct domain *dom_new(const char *tag, const struct dom_tls *tls);

/*
 * Start `ledge orchestrator -l URL -d DIR --node-timeout S [extra...]`
 * (and the --tls-* of the domain) and wait up to 15 s for "ready".
 * `extra` is NULL-terminated or NULL.  Returns it, or NULL (the log is
 * printed to stderr).
 */
struct dom_proc *dom_orchestrator(
    struct domain *d, double node_timeout_s, const char *const *extra);
/* The same, listening on `host` (an address of this network namespace)
 * instead of 127.0.0.1. */
struct dom_proc *dom_orchestrator_at(struct domain *d, double node_timeout_s,
    const char *const *extra, const char *host);
/* The same on TCP port `port` (chosen by the caller; host NULL is
 * 127.0.0.1). */
struct dom_proc *dom_orchestrator_port(struct domain *d, double node_timeout_s,
    const char *const *extra, const char *host, int port);

/*
 * Start `ledge node -o ORC -l URL -d DIR -n NAME [--label K=V...]
 * [-H 127.0.0.1:0]` and wait up to 15 s for "ready" (which is not
 * "joined": see the test's own polling of `node list`).  `labels` is a
 * NULL-terminated list of "K=V" or NULL.  `tls` NULL: the domain's.
 * Returns it (its http_port set with `http`), or NULL.
 */
struct dom_proc *dom_node(struct domain *d, const char *name,
    const char *const *labels, bool http, const struct dom_tls *tls);
/* The same inside network namespace `netns` (`ip netns exec`; NULL: this
 * one), listening on `host` (NULL: 127.0.0.1). */
struct dom_proc *dom_node_in(struct domain *d, const char *name,
    const char *const *labels, bool http, const struct dom_tls *tls,
    const char *netns, const char *host);

/*
 * Start `ledge run -L URL -d DIR -n NAME [-H 127.0.0.1:0] FILES...` (the
 * embedded orchestrator and node in one process) as the domain's
 * orchestrator: the CLI talks to it.  `files` is NULL-terminated.  Waits
 * up to 15 s for "ready".  Returns it (its http_port set with `http`), or
 * NULL (the log is printed to stderr).  No TLS.
 */
struct dom_proc *dom_run(
    struct domain *d, const char *name, const char *const *files, bool http);

/*
 * Start p again with the same arguments (address, data folder, log) and
 * wait up to 15 s for its next "ready".  It must have stopped (see
 * dom_stop).  Returns 0, or -1 (the log is printed to stderr).
 */
int dom_restart(struct dom_proc *p);

/*
 * Send `sig` to p's process group and wait up to timeout_ms for it to
 * exit; returns its wait status, or -1 on timeout.
 */
int dom_stop(struct dom_proc *p, int sig, int timeout_ms);

/*
 * Run `ledge ARGS... --orchestrator URL [--tls-*]` (the domain's TLS
 * files when `tls` is NULL and the domain has them; no TLS options when
 * `tls` has NULL members) with a 30 s bound.  Returns the exit status
 * as dom_exec does; *out / *err as there.
 */
int dom_cli_tls(struct domain *d, const struct dom_tls *tls,
    const char *const *args, char **out, char **err);
int dom_cli(struct domain *d, const char *const *args, char **out, char **err);

/*
 * dom_cli with --json, stdout parsed.  Returns the document (also for an
 * exit status other than 0: the CLI prints the failed reply too), or NULL
 * if stdout is not JSON; *rc gets the exit status, *err stderr (may be
 * NULL).
 */
struct dj *dom_json(
    struct domain *d, const char *const *args, int *rc, char **err);

/*
 * A u64 state value (as ledge_state_put_u64 writes it) of WF/FN under
 * `key`, through `ledge state get --json`: 0 with *out set (0 when the
 * key is absent), -1 when the command failed or the value is not 8
 * bytes.
 */
int dom_state_u64(struct domain *d, const char *wf, const char *fn,
    const char *key, uint64_t *out);

/*
 * Poll `node list` (every 50 ms, up to timeout_ms) until node `name` has
 * health `health` ("up").  0, or -1 (then the domain's logs are printed).
 */
int dom_wait_health(
    struct domain *d, const char *name, const char *health, int timeout_ms);

/* printf into a malloc'd string (NULL only when out of memory). */
char *dom_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Write `text` into the domain's scratch folder as `name`, with @F/ and
 * @B/ replaced.  Returns its path (malloc'd), or NULL.
 */
char *dom_file(struct domain *d, const char *name, const char *text);

/* The log of p (malloc'd), "" if there is none yet. */
char *dom_log(const struct dom_proc *p);

/* How many times `needle` occurs in the log of p. */
size_t dom_log_count(const struct dom_proc *p, const char *needle);

/* The last `lines` lines of every log of the domain, to fp. */
void dom_dump(const struct domain *d, FILE *fp, int lines);

/* Kill what still runs, remove the scratch folder, free d (may be NULL). */
void dom_free(struct domain *d);

#endif
