/*
 * ledge_run.h - start `build/ledge run` as a real process for a test.
 *
 * A struct lrun owns a scratch folder (workflows, data folder, log), the
 * child process and its HTTP port.  Workflow texts may use @F/ for the
 * folder of the fixture functions and @B/ for the build tree; they are
 * replaced before the file is written.
 *
 * Environment: LEDGE_BIN (the binary), LEDGE_FIXTURES, LEDGE_BUILD; set
 * by meson.  LEDGE_KEEP_TMP=1 keeps scratch folders for a post-mortem.
 *
 * Threads: one lrun per test; not shared.
 */
#ifndef LEDGE_TEST_LEDGE_RUN_H
#define LEDGE_TEST_LEDGE_RUN_H

#include <stdbool.h>
#include <stddef.h>

#include "httpc.h"
#include "proc.h"

struct lrun {
	char *dir;  /* scratch folder */
	char *data; /* dir/data: the data folder given to ledge */
	char *log;  /* dir/ledge.log: stdout and stderr of every start */
	char *files[8];
	size_t nfiles;
	struct proc *p;
	int port;   /* HTTP port of the running node, or -1 */
	int starts; /* how many times it was started */
};

/* A scratch folder named after `tag`; NULL on failure. */
struct lrun *lrun_new(const char *tag);

/*
 * Write a workflow file `name` (e.g. "wf.yaml") into the scratch folder
 * with the @F/ and @B/ replacements, and add it to those started.
 * Returns its path (owned by r) or NULL.
 */
const char *lrun_workflow(struct lrun *r, const char *name, const char *yaml);

/*
 * Start `ledge run -H 127.0.0.1:0 -d DATA [extra...] FILES` and wait up to
 * 15 s for "ready".  `extra` is NULL-terminated (may be NULL).  Returns 0,
 * or -1 if it did not become ready (the log is printed to stderr).
 */
int lrun_start(struct lrun *r, const char *const *extra);

/*
 * Run ledge with any arguments to completion (e.g. `validate`), output to
 * `out` (malloc'd, caller frees).  Returns the exit status, -1 on error.
 */
int lrun_exec(const char *const *args, char **out);

/* Signal the node and wait up to timeout_ms; returns its wait status or
 * -1 on timeout. */
int lrun_stop(struct lrun *r, int sig, int timeout_ms);

/* The whole log so far (malloc'd). */
char *lrun_logtext(struct lrun *r);

/* One request on a fresh connection; returns an httpc code. */
int lrun_http(struct lrun *r, const char *method, const char *path,
    const char *body, struct httpc_resp *resp);

/* Kill the node if running, remove the scratch folder. */
void lrun_free(struct lrun *r);

/* The path of a fixture (static buffer per call site is not safe:
 * malloc'd, caller frees). */
char *lrun_fixture(const char *name);

#endif
