/*
 * reload.c - B7: hot reload under a steady stream of events.
 *
 *   bench_reload FUNCDIR [RATE [SECONDS]]
 *
 * A counter (bcounter v1) gets RATE events per second, paced; halfway
 * its code file is replaced by v2 (the same logic, other bytes) and the
 * node reloads it.  Each event carries the time it was sent, and the
 * handler records how long it waited.  Reports the longest wait of the
 * events handled around the reload (the pause), the longest wait
 * elsewhere (the baseline), and whether every event was handled exactly
 * once (handler runs and the counter's committed state both equal the
 * events sent).  Prints one line of key=value.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_node.h"
#include "bench_shared.h"
#include "node/commit.h"
#include "node/instance.h"
#include "store/store.h"

static void
copy(const char *from, const char *to)
{
	char tmp[PATH_MAX + 8];
	FILE *in = fopen(from, "rb"), *out;
	char buf[65536];
	size_t n;
	snprintf(tmp, sizeof tmp, "%s.tmp", to);
	if (in == NULL || (out = fopen(tmp, "wb")) == NULL) {
		perror(from);
		exit(1);
	}
	while ((n = fread(buf, 1, sizeof buf, in)) > 0) {
		fwrite(buf, 1, n, out);
	}
	fclose(in);
	fclose(out);
	rename(tmp, to);
}

int
main(int argc, char **argv)
{
	struct bench_stats st = { 0 };
	struct bnode b;
	char so[PATH_MAX], v1[PATH_MAX + 32], v2[PATH_MAX + 32],
	    yaml[2 * PATH_MAX];
	long rate = argc > 2 ? atol(argv[2]) : 20000;
	double seconds = argc > 3 ? atof(argv[3]) : 2.0;
	long total = (long)((double)rate * seconds);
	uint64_t t_reload = 0;

	char dir[PATH_MAX];
	if (argc < 2 || realpath(argv[1], dir) == NULL) {
		fprintf(
		    stderr, "usage: bench_reload FUNCDIR [RATE [SECONDS]]\n");
		return 2;
	}
	snprintf(v1, sizeof v1, "%s/bcounter_v1.so", dir);
	snprintf(v2, sizeof v2, "%s/bcounter_v2.so", dir);
	st.cap = (uint64_t)total + 16;
	st.samples = calloc(st.cap, sizeof *st.samples);
	bnode_start(&b, NULL);
	snprintf(so, sizeof so, "%s/bc.so", bnode_dir(&b));
	copy(v1, so);
	snprintf(yaml, sizeof yaml,
	    "workflow: reload\nfunctions:\n"
	    "  c:\n    code: %s\n    config: { stats: \"%p\" }\n"
	    "    mailbox: 100000\n",
	    so, (void *)&st);
	if (bnode_deploy(&b, yaml) != 0) {
		return 1;
	}
	struct node_target *t = bnode_target(&b, "reload/c");

	/* Paced injection: every millisecond, the events due by then. */
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	uint64_t start = bench_now_ns();
	long sent = 0;
	while (sent < total) {
		uint64_t now = bench_now_ns();
		long due = (long)((double)(now - start) / 1e9 * (double)rate);
		if (due > total) {
			due = total;
		}
		for (; sent < due; sent++) {
			uint64_t at = bench_now_ns();
			bnode_inject(&b, t, &at, sizeof at);
		}
		if (t_reload == 0 && sent >= total / 2) {
			copy(v2, so);
			t_reload = bench_now_ns();
			node_reload_async(b.node, so);
		}
		next.tv_nsec += 1000000;
		if (next.tv_nsec >= 1000000000) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
	for (int i = 0; i < 10000 && (long)atomic_load(&st.count) < total;
	     i++) {
		usleep(1000);
	}
	usleep(100000); /* anything handled twice would show up now */
	long handled = (long)atomic_load(&st.count);

	/* The committed counter. */
	commit_flush(node_commit(b.node));
	struct store_reader *r;
	ledge_bytes v;
	uint64_t state = 0;
	if (store_reader_open(node_store(b.node), &r) == 0 &&
	    store_reader_begin(r) == 0 &&
	    store_state_get(r, t->id, "n", 1, &v) == 0 && v.len == 8) {
		memcpy(&state, v.data, 8);
	}
	store_reader_end(r);
	store_reader_close(r);

	/* Each event recorded (handled - injected) in the order handled;
	 * the events handled around the reload saw its pause. */
	uint64_t max_reload = 0, max_base = 0;
	long n = handled < total ? handled : total;
	uint64_t reload_at = t_reload - start;
	for (long i = 0; i < n; i++) {
		/* Events are handled in order, at about i / rate seconds. */
		uint64_t when = (uint64_t)((double)i / (double)rate * 1e9);
		bool near =
		    when + 50000000 > reload_at && when < reload_at + 500000000;
		uint64_t lat = st.samples[i];
		if (near) {
			max_reload = lat > max_reload ? lat : max_reload;
		} else {
			max_base = lat > max_base ? lat : max_base;
		}
	}
	printf(
	    "B7 rate=%ld sent=%ld handled=%ld state=%llu lost=%ld "
	    "duplicated=%ld max_pause_us=%.1f baseline_max_latency_us=%.1f\n",
	    rate, total, handled, (unsigned long long)state,
	    total > (long)state ? total - (long)state : 0,
	    handled > total ? handled - total : 0, (double)max_reload / 1e3,
	    (double)max_base / 1e3);
	bnode_stop(&b);
	free(st.samples);
	return 0;
}
