/*
 * torture.c - crash torture of a domain (issue 5): concurrent clients
 * increment counters through HTTP (Idempotency-Key, cast mode) and, from
 * there, through a cross-node cast, while a node or the orchestrator is
 * killed with SIGKILL at random moments and started again on its data
 * folder.  At the end every counter must equal the number of increments
 * acknowledged: nothing lost, nothing applied twice.
 *
 *   ledge-torture [--kills N] [--target nodes|orchestrator|all]
 *                 [--clients N] [--seed S]
 *
 * The domain: an orchestrator and nodes a (with HTTP) and b as real
 * `ledge` processes on loopback (tests/support/domain.h), workflow
 * POST /inc -> front (tally.so, on a) -> cast -> back (tally.so, on b).
 * A client retries each increment with the same key until it is
 * answered 202 (durably queued), so every key is acknowledged once and
 * both counts must end at exactly the number of keys.  The node timeout
 * is long: killed processes come back before anything is moved (failover
 * has its own tests).
 *
 * With --target replicas the domain is a (HTTP) and b, c: POST /cnt is
 * a call to counter (counter_step1.so, state: {replicas: 1}, on b or c);
 * each kill is a kill -9 of the node the counter runs on, in the middle
 * of the load, with a short node timeout: the counter fails over to its
 * replica if that is in sync (the killed node comes back as the new
 * replica, and the next kill takes the new primary), or else waits for
 * its node to come back.  Most kills wait for the replica to be in sync
 * first, some do not.  A client retries each increment with the
 * same key until it is answered 200, so the count must end at exactly
 * the number of keys (synchronous replication: nothing acknowledged is
 * lost; the replicated Idempotency-Key answers: nothing is applied
 * twice).
 *
 * Exit status 0 when the counts are exact, 1 when not, 2 on a usage or
 * set-up error.  Run by `make test` with 3 kills per target; the long
 * form is 20 or more.  Every wait is bounded; the scratch folder and
 * every process are removed at the end.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "domain.h"
#include "httpc.h"

#define ARGS(...)   ((const char *const[]) { __VA_ARGS__, NULL })
#define MAX_CLIENTS 16
/* How long one increment may take to be acknowledged, kills included. */
#define ACK_BOUND_MS 60000
/* How long the counts may take to settle after the last increment. */
#define SETTLE_MS 60000

static const char usage[] =
    "usage: ledge-torture [--kills N]\n"
    "                     [--target nodes|orchestrator|all|replicas]\n"
    "                     [--clients N] [--seed S]\n"
    "\n"
    "Kill -9 parts of a domain (orchestrator, node a with HTTP, node b) at\n"
    "random moments while clients increment counters over HTTP and a\n"
    "cross-node cast; check that every count equals the increments\n"
    "acknowledged.  --target replicas kills the primary of a replicated\n"
    "counter instead, each time (it fails over to its replica).\n"
    "Defaults: --kills 3 --target all --clients 4.\n"
    "Uses $LEDGE_BIN (build/ledge) and $LEDGE_FIXTURES\n"
    "(build/tests/fixtures).  Exit 0 exact, 1 not exact, 2 set-up error.\n";

static const char wf_text[] =
    "workflow: tt\n"
    "functions:\n"
    "  front:\n"
    "    code: @F/tally.so\n"
    "    outputs: { out: back }\n"
    "    placement: { node: a }\n"
    "  back:\n"
    "    code: @F/tally.so\n"
    "    placement: { node: b }\n"
    "resources:\n"
    "  inc:\n"
    "    type: http-ingress\n"
    "    config: { path: /inc, methods: [POST], mode: cast }\n"
    "    outputs: { request: front }\n";

static const char wf_repl_text[] =
    "workflow: tr\n"
    "functions:\n"
    "  counter:\n"
    "    code: @F/counter_step1.so\n"
    "    state: { replicas: 1 }\n"
    "    placement: { labels: { role: counter } }\n"
    "resources:\n"
    "  cnt:\n"
    "    type: http-ingress\n"
    "    config: { path: /cnt, methods: [POST] }\n"
    "    outputs: { request: counter }\n";

struct torture {
	struct domain *d;
	struct dom_proc *a, *b, *c; /* c: --target replicas only */
	bool repl;                  /* --target replicas */
	atomic_int port;  /* node a's HTTP port (it changes on restarts) */
	atomic_bool stop; /* clients: no new increments */
	atomic_ullong acked, retries, unacked;
};

struct client {
	struct torture *t;
	int id;
	pthread_t th;
};

/* Increment once: POST /inc with this key until it is acknowledged. */
static bool
increment(struct torture *t, const char *key)
{
	char hdr[96];
	const char *headers[] = { hdr, NULL };
	int64_t end = dom_now_ms() + ACK_BOUND_MS;
	snprintf(hdr, sizeof hdr, "Idempotency-Key: %s", key);
	for (bool first = true; dom_now_ms() < end; first = false) {
		struct httpc_resp r;
		int rv = httpc_once("127.0.0.1", atomic_load(&t->port), 3000,
		    "POST", t->repl ? "/cnt" : "/inc", headers, "1", 1, &r);
		int status = rv == 0 ? r.status : 0;
		if (rv == 0) {
			httpc_resp_free(&r);
		}
		if (!first) {
			atomic_fetch_add(&t->retries, 1);
		}
		if (status == (t->repl ? 200 : 202)) {
			return true;
		}
		/* Refused connections while a is down, 409 while the same key
		 * is in flight, 503 while the domain recovers: try again. */
		dom_nap_ms(20);
	}
	return false;
}

static void *
client_main(void *arg)
{
	struct client *c = arg;
	char key[64];
	for (unsigned i = 0; !atomic_load(&c->t->stop); i++) {
		snprintf(key, sizeof key, "c%d-%u", c->id, i);
		if (increment(c->t, key)) {
			atomic_fetch_add(&c->t->acked, 1);
		} else {
			atomic_fetch_add(&c->t->unacked, 1);
			break;
		}
	}
	return NULL;
}

/* kill -9 p, wait a moment, start it again; 0 or -1. */
static int
kill_and_restart(struct torture *t, struct dom_proc *p, unsigned *seed)
{
	if (dom_stop(p, SIGKILL, 10000) == -1) {
		fprintf(stderr, "torture: %s did not die\n", p->name);
		return -1;
	}
	dom_nap_ms((int)(rand_r(seed) % 300));
	if (dom_restart(p) != 0) {
		fprintf(stderr, "torture: %s did not start again\n", p->name);
		return -1;
	}
	if (p == t->a) {
		atomic_store(&t->port, p->http_port);
	}
	return 0;
}

/* Where counter runs, its replica, whether that is in sync and whether
 * the counter waits for its lost node, by `workflow show` ("" if not
 * known). */
struct where {
	char node[64], rep[64];
	bool in_sync, waiting;
};

static void
counter_where(struct torture *t, struct where *w)
{
	int rc;
	struct dj *v =
	    dom_json(t->d, ARGS("workflow", "show", "tr"), &rc, NULL);
	const struct dj *parts = dj_get(v, "parts");
	memset(w, 0, sizeof *w);
	for (size_t i = 0; rc == 0 && i < dj_len(parts); i++) {
		const struct dj *p = dj_at(parts, i);
		const char *name = dj_gets(p, "part"), *n = dj_gets(p, "node");
		const struct dj *rn = dj_get(p, "replica_nodes");
		if (name != NULL && strcmp(name, "counter") == 0) {
			snprintf(w->node, sizeof w->node, "%s", n ? n : "");
			if (dj_len(rn) > 0 && dj_str(dj_at(rn, 0)) != NULL) {
				snprintf(w->rep, sizeof w->rep, "%s",
				    dj_str(dj_at(rn, 0)));
			}
			w->in_sync =
			    dj_int(dj_get(p, "replicas_in_sync"), 0) > 0;
			w->waiting = dj_true(dj_get(p, "waiting"));
		}
	}
	dj_free(v);
}

/*
 * kill -9 the counter's node in the middle of the load.  Mostly once its
 * replica is in sync (as an operator would check before a maintenance):
 * the counter must fail over to it, and the killed node comes back as
 * the new replica.  Sometimes without waiting for that: if the replica
 * was not in sync, the counter must wait for its node instead (a
 * failover would lose acknowledged increments), and run there again once
 * it is back.  0 or -1; *failed_over says which happened.
 */
static int
kill_primary(struct torture *t, unsigned *seed, bool *failed_over)
{
	struct where w;
	struct dom_proc *p;
	int64_t end = dom_now_ms() + 30000;
	bool check = rand_r(seed) % 4 != 0;
	counter_where(t, &w);
	while (check && !w.in_sync && dom_now_ms() < end) {
		dom_nap_ms(50);
		counter_where(t, &w);
	}
	p = strcmp(w.node, "b") == 0   ? t->b
	    : strcmp(w.node, "c") == 0 ? t->c
	                               : NULL;
	if (p == NULL || w.rep[0] == '\0' || (check && !w.in_sync)) {
		fprintf(stderr,
		    "torture: counter on '%s' with replica '%s' (%s)\n", w.node,
		    w.rep, w.in_sync ? "in sync" : "not in sync");
		return -1;
	}
	if (check) {
		/* The load goes on a moment after the check. */
		dom_nap_ms((int)(rand_r(seed) % 200));
	}
	if (dom_stop(p, SIGKILL, 10000) == -1) {
		fprintf(stderr, "torture: %s did not die\n", p->name);
		return -1;
	}
	end = dom_now_ms() + 30000;
	while (counter_where(t, &w),
	    strcmp(w.node, p->name) == 0 && !w.waiting && dom_now_ms() < end) {
		dom_nap_ms(50);
	}
	*failed_over = strcmp(w.node, p->name) != 0;
	if (!*failed_over && !w.waiting) {
		fprintf(stderr,
		    "torture: counter still on %s 30 s after its kill, and "
		    "not waiting for it\n",
		    p->name);
		return -1;
	}
	dom_nap_ms((int)(rand_r(seed) % 300));
	if (dom_restart(p) != 0) {
		fprintf(stderr, "torture: %s did not start again\n", p->name);
		return -1;
	}
	/* Failed over: p comes back as the replica.  Waiting: the counter
	 * runs on p again, with its replica. */
	end = dom_now_ms() + 30000;
	while (counter_where(t, &w),
	    (*failed_over ? strcmp(w.rep, p->name) != 0
	                  : strcmp(w.node, p->name) != 0 || w.waiting) &&
	        dom_now_ms() < end) {
		dom_nap_ms(50);
	}
	if (*failed_over ? strcmp(w.rep, p->name) != 0
	                 : strcmp(w.node, p->name) != 0 || w.waiting) {
		fprintf(stderr,
		    "torture: counter on '%s' with replica '%s'%s 30 s after "
		    "the kill of %s\n",
		    w.node, w.rep, w.waiting ? " (waiting)" : "", p->name);
		return -1;
	}
	return 0;
}

static int
parse_int(const char *s, int lo, int hi, int *out)
{
	char *end;
	long v;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v < lo || v > hi) {
		return -1;
	}
	*out = (int)v;
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "kills", required_argument, NULL, 'k' },
		{ "target", required_argument, NULL, 't' },
		{ "clients", required_argument, NULL, 'c' },
		{ "seed", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct torture t = { 0 };
	struct client clients[MAX_CLIENTS];
	int kills = 3, nclients = 4, seed_arg = -1, c, rc = 2;
	int killed[3] = { 0 }; /* a, b, orchestrator */
	int failovers = 0;     /* --target replicas: kills that moved it */
	bool broken = false;   /* a kill's recovery did not come */
	const char *target = "all";
	char *path = NULL, *out = NULL, *err = NULL;
	uint64_t front = 0, back = 0;
	unsigned seed;
	int64_t t0, end;

	while ((c = getopt_long(argc, argv, "k:t:c:s:h", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			if (parse_int(optarg, 0, 10000, &kills) != 0) {
				fprintf(
				    stderr, "torture: --kills %s?\n", optarg);
				return 2;
			}
			break;
		case 't':
			target = optarg;
			break;
		case 'c':
			if (parse_int(optarg, 1, MAX_CLIENTS, &nclients) != 0) {
				fprintf(stderr, "torture: --clients 1..%d\n",
				    MAX_CLIENTS);
				return 2;
			}
			break;
		case 's':
			if (parse_int(optarg, 0, 1 << 30, &seed_arg) != 0) {
				fprintf(
				    stderr, "torture: --seed %s?\n", optarg);
				return 2;
			}
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (strcmp(target, "nodes") != 0 &&
	    strcmp(target, "orchestrator") != 0 && strcmp(target, "all") != 0 &&
	    strcmp(target, "replicas") != 0) {
		fprintf(stderr,
		    "torture: --target nodes, orchestrator, all or replicas\n");
		return 2;
	}
	t.repl = strcmp(target, "replicas") == 0;
	seed = seed_arg >= 0 ? (unsigned)seed_arg
	                     : (unsigned)getpid() ^ (unsigned)dom_now_ms();
	signal(SIGPIPE, SIG_IGN);

	/* The domain. */
	if ((t.d = dom_new("torture", NULL)) == NULL ||
	    dom_orchestrator(t.d, t.repl ? 1.5 : 30.0, NULL) == NULL ||
	    (t.a = dom_node(t.d, "a", NULL, true, NULL)) == NULL ||
	    (t.b = dom_node(t.d, "b", t.repl ? ARGS("role=counter") : NULL,
	         false, NULL)) == NULL ||
	    (t.repl &&
	        (t.c = dom_node(t.d, "c", ARGS("role=counter"), false, NULL)) ==
	            NULL) ||
	    (path = dom_file(
	         t.d, "tt.yaml", t.repl ? wf_repl_text : wf_text)) == NULL) {
		fprintf(stderr, "torture: cannot set up the domain\n");
		goto out;
	}
	atomic_store(&t.port, t.a->http_port);
	end = dom_now_ms() + 20000;
	while (dom_cli(t.d, ARGS("workflow", "start", path), &out, &err) != 0) {
		/* The nodes may not have joined yet. */
		if (dom_now_ms() > end) {
			fprintf(stderr, "torture: workflow start: %s%s\n",
			    out ? out : "", err ? err : "");
			goto out;
		}
		free(out);
		free(err);
		out = err = NULL;
		dom_nap_ms(200);
	}
	printf("torture: seed %u, %d kills of %s, %d clients, scratch %s\n",
	    seed, kills, target, nclients, t.d->dir);
	fflush(stdout);

	/* Clients, and kills at random moments while they run. */
	t0 = dom_now_ms();
	for (int i = 0; i < nclients; i++) {
		clients[i] = (struct client) { .t = &t, .id = i };
		pthread_create(&clients[i].th, NULL, client_main, &clients[i]);
	}
	for (int k = 0; k < kills; k++) {
		int who;
		dom_nap_ms(300 + (int)(rand_r(&seed) % 900));
		if (t.repl) {
			bool moved = false;
			if (kill_primary(&t, &seed, &moved) != 0) {
				atomic_store(&t.stop, true);
				broken = true;
				break;
			}
			killed[1]++;
			failovers += moved;
			continue;
		}
		if (strcmp(target, "nodes") == 0) {
			who = (int)(rand_r(&seed) % 2);
		} else if (strcmp(target, "orchestrator") == 0) {
			who = 2;
		} else {
			who = (int)(rand_r(&seed) % 3);
		}
		if (kill_and_restart(&t,
		        who == 0       ? t.a
		            : who == 1 ? t.b
		                       : t.d->orc,
		        &seed) != 0) {
			atomic_store(&t.stop, true);
			broken = true;
			break;
		}
		killed[who]++;
	}
	dom_nap_ms(500);
	atomic_store(&t.stop, true);
	for (int i = 0; i < nclients; i++) {
		pthread_join(clients[i].th, NULL);
	}

	/* Both counts must reach the increments acknowledged, and stay. */
	end = dom_now_ms() + SETTLE_MS;
	for (;;) {
		bool got = t.repl
		    ? dom_state_u64(t.d, "tr", "counter", "n", &front) == 0 &&
		        (back = front, true)
		    : dom_state_u64(t.d, "tt", "front", "n", &front) == 0 &&
		        dom_state_u64(t.d, "tt", "back", "n", &back) == 0;
		if ((got && front == atomic_load(&t.acked) &&
		        back == atomic_load(&t.acked)) ||
		    dom_now_ms() > end) {
			break;
		}
		dom_nap_ms(200);
	}
	dom_nap_ms(500); /* nothing more may arrive (a duplicate, late) */
	if (t.repl) {
		if (dom_state_u64(t.d, "tr", "counter", "n", &front) != 0) {
			fprintf(stderr, "torture: cannot read the count\n");
		}
		back = front;
	} else if (dom_state_u64(t.d, "tt", "front", "n", &front) != 0 ||
	    dom_state_u64(t.d, "tt", "back", "n", &back) != 0) {
		fprintf(stderr, "torture: cannot read the counts\n");
	}
	/* A kill whose recovery did not come (it said why) fails the run
	 * too, whatever the counts. */
	bool exact = front == atomic_load(&t.acked) &&
	    back == atomic_load(&t.acked) && atomic_load(&t.unacked) == 0;
	rc = exact && !broken ? 0 : 1;
	if (t.repl) {
		printf(
		    "torture: %d kills -9 of the replicated counter's primary "
		    "(%d failed over to the replica in sync, %d waited for "
		    "the primary) in %.1f s; %llu increments acknowledged "
		    "(%llu retries, %llu not acknowledged in %d s); counter "
		    "n=%" PRIu64 ": %s\n",
		    killed[1], failovers, killed[1] - failovers,
		    (double)(dom_now_ms() - t0) / 1000.0,
		    (unsigned long long)atomic_load(&t.acked),
		    (unsigned long long)atomic_load(&t.retries),
		    (unsigned long long)atomic_load(&t.unacked),
		    ACK_BOUND_MS / 1000, front,
		    !exact ? "NOT EXACT"
		        : broken
		        ? "exact, but a kill was not recovered from (above)"
		        : "exact");
	} else
		printf("torture: %d kills (node a %d, node b %d, orchestrator "
		       "%d) in "
		       "%.1f s; %llu increments acknowledged (%llu retries, "
		       "%llu not "
		       "acknowledged in %d s); front n=%" PRIu64
		       ", back n=%" PRIu64 ": %s\n",
		    killed[0] + killed[1] + killed[2], killed[0], killed[1],
		    killed[2], (double)(dom_now_ms() - t0) / 1000.0,
		    (unsigned long long)atomic_load(&t.acked),
		    (unsigned long long)atomic_load(&t.retries),
		    (unsigned long long)atomic_load(&t.unacked),
		    ACK_BOUND_MS / 1000, front, back,
		    !exact ? "NOT EXACT"
		        : broken
		        ? "exact, but a kill was not recovered from (above)"
		        : "exact");
	if (rc != 0) {
		dom_dump(t.d, stderr, 60);
	}
out:
	free(path);
	free(out);
	free(err);
	dom_free(t.d);
	return rc;
}
