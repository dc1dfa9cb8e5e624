/*
 * keyed.c - B10b and B10d: keyed events in one node.
 *
 *   bench_keyed [--workers W] [--events N] [--keys K] [--state]
 *               [--work-us U] FUNCDIR
 *
 * Throughput: N events injected round robin over K keys of a keyed sink
 * (with --state each event also makes one state write), timed until the
 * sink has seen them all (with --work-us each event first keeps its worker
 * busy for U us, so that workers, not the injection, are what limits).
 * Activation: then the K keys are left idle
 * until all are passivated (idle_s 1), and one event at a time goes to
 * each again, timed from injection to the sink: the activation of a
 * passivated key (init, its state read back) and its first event (with
 * its work_us: run without it to time the runtime alone).
 * Prints one line of key=value.
 */
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_node.h"
#include "bench_shared.h"
#include "node/node.h"

struct passive {
	uint64_t active, passivations;
};

static void
count_keys(void *arg, const struct node_inst_stats *st)
{
	struct passive *p = arg;
	if (st->keyed) {
		p->active = st->keys_active;
		p->passivations = st->key_passivations;
	}
}

int
main(int argc, char **argv)
{
	struct bench_stats st = { 0 };
	struct bnode b;
	struct node_target *t;
	const char *dir = NULL;
	long events = 200000, keys = 1000, workers = 0, work_us = 0;
	bool state = false;
	char yaml[2 * PATH_MAX], key[32];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--state")) {
			state = true;
		} else if (!strcmp(argv[i], "--events") && i + 1 < argc) {
			events = atol(argv[++i]);
		} else if (!strcmp(argv[i], "--keys") && i + 1 < argc) {
			keys = atol(argv[++i]);
		} else if (!strcmp(argv[i], "--work-us") && i + 1 < argc) {
			work_us = atol(argv[++i]);
		} else if (!strcmp(argv[i], "--workers") && i + 1 < argc) {
			workers = atol(argv[++i]);
		} else {
			dir = argv[i];
		}
	}
	static char absdir[PATH_MAX];
	if (dir == NULL || realpath(dir, absdir) == NULL || keys < 1 ||
	    events < keys) {
		fprintf(stderr,
		    "usage: bench_keyed [--workers W] [--events N] [--keys K] "
		    "[--state] FUNCDIR\n");
		return 2;
	}
	st.cap = (uint64_t)(events > keys ? events : keys);
	st.samples = calloc(st.cap, sizeof *st.samples);
	snprintf(yaml, sizeof yaml,
	    "workflow: kb\n"
	    "functions:\n"
	    "  sink:\n"
	    "    code: %s/sink.so\n"
	    "    keyed: { idle_s: 1 }\n"
	    "    mailbox: 100000\n"
	    "    config: { stats: \"%p\", state: %s, work_us: %ld }\n",
	    absdir, (void *)&st, state ? "true" : "false", work_us);
	bnode_start_workers(&b, yaml, (int)workers);
	t = bnode_target(&b, "kb/sink");

	/* Throughput. */
	uint64_t t0 = bench_now_ns();
	for (long i = 0; i < events; i++) {
		uint64_t now = bench_now_ns();
		int n = snprintf(key, sizeof key, "k%ld", i % keys);
		bnode_inject_key(&b, t, key, (size_t)n, &now, sizeof now);
	}
	while ((long)atomic_load(&st.count) < events) {
		usleep(200);
	}
	double secs = (double)(bench_now_ns() - t0) / 1e9;

	/* Activation of passivated keys, one at a time. */
	struct passive p = { 1, 0 };
	for (int i = 0; i < 200 && p.active > 0; i++) {
		usleep(50000);
		node_foreach_instance(b.node, count_keys, &p);
	}
	atomic_store(&st.count, 0);
	for (long i = 0; i < keys; i++) {
		uint64_t now = bench_now_ns();
		int n = snprintf(key, sizeof key, "k%ld", i);
		bnode_inject_key(&b, t, key, (size_t)n, &now, sizeof now);
		while ((long)atomic_load(&st.count) <= i) {
			sched_yield();
		}
	}
	double p50 = bench_percentile(st.samples, (size_t)keys, 50) / 1e3;
	double p99 = bench_percentile(st.samples, (size_t)keys, 99) / 1e3;
	bnode_stop(&b);
	printf("B10 workers=%ld keys=%ld events=%ld state=%d work_us=%ld "
	       "events_per_s=%.0f "
	       "passivated=%llu act_p50_us=%.1f act_p99_us=%.1f\n",
	    workers, keys, events, state, work_us, (double)events / secs,
	    (unsigned long long)p.passivations, p50, p99);
	free(st.samples);
	return 0;
}
