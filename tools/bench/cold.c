/*
 * cold.c - B5: cold starts on a running node.
 *
 *   bench_cold FUNCDIR N
 *
 * "first": a workflow whose function is a .so the node has never seen
 * (a copy of pass.so with a few bytes appended, so its hash is new):
 * reading, hashing, copying and dlopen-ing the code, creating the
 * instance and running its init.  "another": a workflow whose function is
 * code the node has loaded already: the instance and its init.  The
 * workflow text is parsed beforehand.  Timed twice: on the node's loop,
 * from taking up the deploy to the init's answer (the node's own cost),
 * and end to end from this thread (adding two hand-offs between threads,
 * which a deploy arriving over the network on the loop does not pay).
 * Prints one line of key=value.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "bench_node.h"
#include "bench_shared.h"
#include "resources/resources.h"
#include "workflow/workflow.h"

static void
copy_with_tail(const char *from, const char *to, long tail)
{
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	char buf[65536];
	size_t n;
	if (in == NULL || out == NULL) {
		perror(from);
		exit(1);
	}
	while ((n = fread(buf, 1, sizeof buf, in)) > 0) {
		fwrite(buf, 1, n, out);
	}
	fwrite(&tail, sizeof tail, 1, out);
	fclose(in);
	fclose(out);
}

/* Returns the time seen by this thread; *on_loop the node's own. */
static uint64_t
deploy_timed(struct bnode *b, const char *yaml, uint64_t *on_loop)
{
	struct diag d;
	char name[300], err[1024];
	struct workflow *wf;
	uint64_t t0;

	snprintf(name, sizeof name, "%s/w.yaml", bnode_dir(b));
	diag_init(&d);
	if ((wf = wf_load_mem(name, yaml, strlen(yaml), res_types(), NULL, NULL,
	         &d)) == NULL) {
		diag_print(&d, stderr);
		exit(1);
	}
	diag_fini(&d);
	t0 = bench_now_ns();
	if (node_deploy_wait(b->node, wf, err, sizeof err, on_loop) != 0) {
		fprintf(stderr, "deploy: %s\n", err);
		exit(1);
	}
	*on_loop *= 1000; /* us -> ns, like the rest */
	return bench_now_ns() - t0;
}

int
main(int argc, char **argv)
{
	struct bnode b;
	char yaml[2 * PATH_MAX], path[PATH_MAX + 64], src[PATH_MAX + 16];
	long n = argc > 2 ? atol(argv[2]) : 100;
	uint64_t *first, *another, *first_e2e, *another_e2e, dummy;

	char dir[PATH_MAX];
	if (argc < 2 || realpath(argv[1], dir) == NULL) {
		fprintf(stderr, "usage: bench_cold FUNCDIR [N]\n");
		return 2;
	}
	first = calloc((size_t)n, sizeof *first);
	another = calloc((size_t)n, sizeof *another);
	first_e2e = calloc((size_t)n, sizeof *first_e2e);
	another_e2e = calloc((size_t)n, sizeof *another_e2e);
	snprintf(src, sizeof src, "%s/pass.so", dir);
	bnode_start(&b, NULL);
	for (long i = 0; i < n; i++) {
		snprintf(path, sizeof path, "%s/cold%ld.so", bnode_dir(&b), i);
		copy_with_tail(src, path, i);
		snprintf(yaml, sizeof yaml,
		    "workflow: cold%ld\nfunctions:\n  f: { code: %s }\n", i,
		    path);
		first_e2e[i] = deploy_timed(&b, yaml, &first[i]);
	}
	/* Load pass.so once, then time more instances of it. */
	snprintf(yaml, sizeof yaml,
	    "workflow: warmup\nfunctions:\n  f: { code: %s }\n", src);
	deploy_timed(&b, yaml, &dummy);
	for (long i = 0; i < n; i++) {
		snprintf(yaml, sizeof yaml,
		    "workflow: warm%ld\nfunctions:\n  f: { code: %s }\n", i,
		    src);
		another_e2e[i] = deploy_timed(&b, yaml, &another[i]);
	}
	printf("B5 n=%ld first_p50_us=%.1f first_p99_us=%.1f "
	       "another_p50_us=%.1f another_p99_us=%.1f "
	       "first_e2e_p50_us=%.1f another_e2e_p50_us=%.1f\n",
	    n, bench_percentile(first, (size_t)n, 50) / 1e3,
	    bench_percentile(first, (size_t)n, 99) / 1e3,
	    bench_percentile(another, (size_t)n, 50) / 1e3,
	    bench_percentile(another, (size_t)n, 99) / 1e3,
	    bench_percentile(first_e2e, (size_t)n, 50) / 1e3,
	    bench_percentile(another_e2e, (size_t)n, 50) / 1e3);
	free(first_e2e);
	free(another_e2e);
	bnode_stop(&b);
	free(first);
	free(another);
	return 0;
}
