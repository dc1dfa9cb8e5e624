/*
 * chain.c - B3: a chain of five functions in one node (four hops that
 * pass each event on, then a sink), each hop a durable cast.
 *
 *   bench_chain [--stateful] [--events N] [--samples M] FUNCDIR
 *
 * Throughput: N events injected as fast as the first mailbox takes them,
 * timed until the sink has seen them all; "events" are handler runs (five
 * per event through the chain).  Latency: M events one at a time, each
 * timed from injection to the sink.  --stateful: every function also
 * makes one state write.  Prints one line of key=value.
 */
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_node.h"
#include "bench_shared.h"

int
main(int argc, char **argv)
{
	struct bench_stats st = { 0 };
	struct bnode b;
	struct node_target *head;
	const char *dir = NULL, *hop = "pass.so";
	long events = 200000, samples = 5000;
	bool stateful = false;
	char yaml[6 * PATH_MAX];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--stateful")) {
			stateful = true;
			hop = "pass_state.so";
		} else if (!strcmp(argv[i], "--events") && i + 1 < argc) {
			events = atol(argv[++i]);
		} else if (!strcmp(argv[i], "--samples") && i + 1 < argc) {
			samples = atol(argv[++i]);
		} else {
			dir = argv[i];
		}
	}
	static char absdir[PATH_MAX];
	if (dir == NULL || realpath(dir, absdir) == NULL) {
		fprintf(stderr,
		    "usage: bench_chain [--stateful] [--events N] "
		    "[--samples M] FUNCDIR\n");
		return 2;
	}
	dir = absdir;
	st.cap = (uint64_t)(events > samples ? events : samples);
	st.samples = calloc(st.cap, sizeof *st.samples);
	snprintf(yaml, sizeof yaml,
	    "workflow: chain\n"
	    "functions:\n"
	    "  f1: { code: %s/%s, outputs: { out: f2 } }\n"
	    "  f2: { code: %s/%s, outputs: { out: f3 } }\n"
	    "  f3: { code: %s/%s, outputs: { out: f4 } }\n"
	    "  f4: { code: %s/%s, outputs: { out: f5 } }\n"
	    "  f5:\n"
	    "    code: %s/sink.so\n"
	    "    config: { stats: \"%p\", state: %s }\n",
	    dir, hop, dir, hop, dir, hop, dir, hop, dir, (void *)&st,
	    stateful ? "true" : "false");
	bnode_start(&b, yaml);
	head = bnode_target(&b, "chain/f1");

	/* Throughput. */
	uint64_t t0 = bench_now_ns();
	for (long i = 0; i < events; i++) {
		uint64_t now = bench_now_ns();
		bnode_inject(&b, head, &now, sizeof now);
	}
	while ((long)atomic_load(&st.count) < events) {
		usleep(200);
	}
	double secs = (double)(bench_now_ns() - t0) / 1e9;

	/* Latency, one event in flight at a time. */
	atomic_store(&st.count, 0);
	for (long i = 0; i < samples; i++) {
		uint64_t now = bench_now_ns();
		bnode_inject(&b, head, &now, sizeof now);
		while ((long)atomic_load(&st.count) <= i) {
			sched_yield();
		}
	}
	double p50 = bench_percentile(st.samples, (size_t)samples, 50) / 1e3;
	double p99 = bench_percentile(st.samples, (size_t)samples, 99) / 1e3;
	bnode_stop(&b);
	printf("B3 stateful=%d events=%ld chains_per_s=%.0f "
	       "events_per_s=%.0f p50_us=%.1f p99_us=%.1f\n",
	    stateful, events, (double)events / secs,
	    5.0 * (double)events / secs, p50, p99);
	free(st.samples);
	return 0;
}
