/*
 * orc.h - the orchestrator of a domain (`ledge orchestrator`).
 *
 * It keeps the desired state - workflows, the code they run (by content
 * hash), the nodes that joined, where each part is placed and with which
 * epoch - in its own LMDB store, and recovers it on restart.  It answers
 * the CLI and the nodes on one address (docs/protocol.md) - the nodes'
 * heartbeats and function logs arrive there too, as requests - places
 * parts (orc_place.h), deploys them to nodes, declares a node lost when
 * its heartbeats stop for node_timeout_ms and places its parts elsewhere
 * (a replica holder first), and fences a lost node that comes back: it
 * gets a new membership epoch and stops the parts now placed elsewhere.
 *
 * Threads: loop thread.
 */
#ifndef LEDGE_ORC_ORC_H
#define LEDGE_ORC_ORC_H

#include <stddef.h>
#include <stdint.h>

struct loop;
struct orc;
struct rlog;
struct msg_tls;
struct store;

struct orc_opts {
	const char *listen;       /* request address */
	uint32_t node_timeout_ms; /* default 3000 */
	const struct msg_tls *tls;
	/* With keys in it, only code signed by one of them is started or
	 * reloaded (code/code_sign.h); NULL or empty: any code.  Borrowed
	 * until orc_free. */
	const struct code_trust *trust;
};

/*
 * Start on `l` with desired state in `store` (owned by the caller).
 * It listens on o->listen and nowhere else.  Returns LEDGE_OK;
 * LEDGE_ENOMEM; the error of msg_server_new (LEDGE_EINVAL: a malformed
 * address; LEDGE_ECONN: cannot listen; ...); with a reason in err.
 */
int orc_start(struct orc **op, struct loop *l, struct store *store,
    struct rlog *log, const struct orc_opts *o, char *err, size_t errlen);

/*
 * Adopt a workflow that node `node` runs already (`ledge run` deploys its
 * files itself and embeds an orchestrator): record it, with its code
 * (read from code_paths[i], the file of function fn_names[i]; nfn of
 * them) and every part on that node, so that the domain commands see it.
 * Nothing is deployed, and the orchestrator never places it elsewhere.
 * yaml is the workflow's text (ylen bytes), file its path for messages.
 * Loop thread, or before the loop runs.  Returns LEDGE_OK; LEDGE_EINVAL
 * (the workflow does not parse); LEDGE_ENOMEM; the error of reading a
 * code file or of writing the store; with a reason in err.
 */
int orc_adopt(struct orc *o, const char *file, const char *yaml, size_t ylen,
    size_t nfn, const char *const *fn_names, const char *const *code_paths,
    const char *node, char *err, size_t errlen);

/*
 * Forget every adopted workflow (before adopting the ones of this run:
 * a workflow a previous `ledge run` had and this one has not is gone).
 * Nothing is undeployed.  Loop thread, or before the loop runs.
 */
void orc_drop_adopted(struct orc *o);

/* Stop and free (loop thread, or after the loop stopped). */
void orc_free(struct orc *o);

/*
 * Prometheus text of the orchestrator's view (nodes, liveness, parts);
 * malloc'd into *out (the caller frees it).  LEDGE_OK or LEDGE_ENOMEM.
 * Loop thread.
 */
int orc_metrics(struct orc *o, char **out, size_t *len);

#endif
