/*
 * netfault_test.c - bad networks (issue 5): nodes in network namespaces
 * this test makes (`ip netns`, a veth pair each, routed through this
 * namespace), with faults on their links: 10% packet loss (nftables,
 * `numgen random`), a partition that heals (nftables drop-all for 10 s),
 * and, where the kernel has netem, 100 ms +- 50 ms delay with
 * reordering.  Cross-node casts must keep exactly-once effect and order
 * (tests/fixtures/seqcheck.c counts every number out of order); a node
 * cut off for longer than the node timeout is fenced when the partition
 * heals and the domain converges with no operator action.
 *
 * Needs root, iproute2 and nft; without them the tests are skipped and
 * say why.  Addresses are 10.201.N.0/24 inside the namespaces made here;
 * everything made is removed at the end, also after a failed assertion.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "domain.h"
#include "proc.h"

#define ARGS(...) ((const char *const[]) { __VA_ARGS__, NULL })
#define NNS       3
#define WAIT_MS   60000

struct net {
	char ns[NNS][32];
	char veth[NNS][16];
	bool made[NNS];
	char fwd_old[8];
	bool netem; /* the kernel has sch_netem */
	int lock;   /* NET_LOCK, held from net_up to net_down (0: none) */
};

/* The addresses 10.201/16 are the same in every run: two test runs on
 * one machine (two checkouts, `make test` beside `make long`) would take
 * each other's routes, so a run holds this lock while it has them. */
#define NET_LOCK "/tmp/ledge-netfault.lock"

static struct net net;
static struct domain *dom;

/* Run a shell command line; its exit status (stderr kept in *err if
 * given). */
static int
sh(char **err, const char *fmt, ...)
{
	char line[1024], *out = NULL, *e = NULL;
	va_list ap;
	int rc;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	rc = dom_exec(ARGS("/bin/sh", "-c", line), 20000, &out, &e);
	free(out);
	if (err != NULL) {
		*err = e;
	} else {
		free(e);
	}
	return rc;
}

static void
net_down(void)
{
	for (int i = 0; i < NNS; i++) {
		if (net.made[i]) {
			sh(NULL, "ip netns del %s", net.ns[i]);
			net.made[i] = false;
		}
	}
	if (net.fwd_old[0] != '\0') {
		sh(NULL, "echo %s > /proc/sys/net/ipv4/ip_forward",
		    net.fwd_old);
		net.fwd_old[0] = '\0';
	}
	if (net.lock > 0) {
		close(net.lock); /* releases the flock */
		net.lock = 0;
	}
}

static void
fini(void)
{
	dom_free(dom); /* the processes first: they run in the namespaces */
	dom = NULL;
	net_down();
}

TestSuite(netfault, .fini = fini, .timeout = 300);

/*
 * What an earlier run killed before its clean-up left behind (a
 * namespace outlives `ip netns del` while a process is in it, and its
 * veth keeps an address of 10.201/16 here, which would take the routes):
 * namespaces named after a process that is gone, their processes first.
 */
static void
net_sweep(void)
{
	sh(NULL,
	    "for ns in $(ip netns list | sed -n "
	    "'s/^\\(ledge-nf[0-9]*-[0-9]\\).*/\\1/p'); do "
	    "p=${ns#ledge-nf}; p=${p%%%%-*}; "
	    "kill -0 $p 2>/dev/null && continue; "
	    "ip netns pids $ns | xargs -r kill -9; "
	    "ip netns del $ns; done");
}

/* Namespace i: 10.201.(i+1).2 inside, 10.201.(i+1).1 here. */
static void
net_up(void)
{
	char *err = NULL;
	FILE *fp;
	int id = (int)getpid() % 100000;

	if (geteuid() != 0) {
		cr_skip_test("needs root (network namespaces)");
	}
	if (sh(&err, "command -v ip && command -v nft") != 0) {
		cr_skip_test("needs iproute2 and nftables (ip, nft)");
	}
	free(err);
	/* Another run's test lasts at most the suite's timeout: wait. */
	net.lock = open(NET_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	cr_assert_geq(net.lock, 0, "%s: %s", NET_LOCK, strerror(errno));
	cr_assert_eq(flock(net.lock, LOCK_EX), 0, "flock %s: %s", NET_LOCK,
	    strerror(errno));
	net_sweep();
	fp = fopen("/proc/sys/net/ipv4/ip_forward", "r");
	if (fp == NULL || fscanf(fp, "%7s", net.fwd_old) != 1) {
		net.fwd_old[0] = '\0';
	}
	if (fp != NULL) {
		fclose(fp);
	}
	for (int i = 0; i < NNS; i++) {
		snprintf(net.ns[i], sizeof net.ns[i], "ledge-nf%d-%d",
		    (int)getpid(), i);
		snprintf(net.veth[i], sizeof net.veth[i], "lnf%d%d", id, i);
		if (sh(&err, "ip netns add %s", net.ns[i]) != 0) {
			cr_skip_test(
			    "cannot make a network namespace: %s", err);
		}
		free(err);
		err = NULL;
		net.made[i] = true;
		if (sh(&err,
		        "ip link add %s type veth peer name %sn && "
		        "ip link set %sn netns %s && "
		        "ip addr add 10.201.%d.1/24 dev %s && "
		        "ip link set %s up && "
		        "ip -n %s addr add 10.201.%d.2/24 dev %sn && "
		        "ip -n %s link set %sn up && "
		        "ip -n %s link set lo up && "
		        "ip -n %s route add default via 10.201.%d.1",
		        net.veth[i], net.veth[i], net.veth[i], net.ns[i], i + 1,
		        net.veth[i], net.veth[i], net.ns[i], i + 1, net.veth[i],
		        net.ns[i], net.veth[i], net.ns[i], net.ns[i],
		        i + 1) != 0) {
			cr_skip_test("cannot make a veth pair for %s: %s",
			    net.ns[i], err ? err : "");
		}
		free(err);
		err = NULL;
	}
	cr_assert_eq(sh(NULL, "echo 1 > /proc/sys/net/ipv4/ip_forward"), 0);
	if (sh(&err,
	        "ip netns exec %s nft add table inet probe && "
	        "ip netns exec %s nft delete table inet probe",
	        net.ns[0], net.ns[0]) != 0) {
		cr_skip_test("nftables does not work here: %s", err ? err : "");
	}
	free(err);
	err = NULL;
	/* Is there netem?  (Many small kernels leave it out.) */
	net.netem = sh(NULL,
	                "ip netns exec %s tc qdisc add dev %sn root netem "
	                "delay 1ms && ip netns exec %s tc qdisc del dev "
	                "%sn root",
	                net.ns[0], net.veth[0], net.ns[0], net.veth[0]) == 0;
}

/* Every packet leaving namespace i: 10% dropped; with netem also 100 ms
 * +- 50 ms delay (which reorders). */
static void
lossy(int i)
{
	char *err = NULL;
	cr_assert_eq(sh(&err,
	                 "ip netns exec %s nft add table inet loss && "
	                 "ip netns exec %s nft add chain inet loss out "
	                 "'{ type filter hook output priority 0; }' && "
	                 "ip netns exec %s nft add rule inet loss out "
	                 "numgen random mod 10 == 0 drop",
	                 net.ns[i], net.ns[i], net.ns[i]),
	    0, "nft: %s", err ? err : "");
	free(err);
	if (net.netem) {
		cr_assert_eq(sh(NULL,
		                 "ip netns exec %s tc qdisc add dev %sn root "
		                 "netem delay 100ms 50ms",
		                 net.ns[i], net.veth[i]),
		    0);
	}
}

/* Cut namespace i off (every packet in and out dropped), or heal it. */
static void
partition(int i, bool on)
{
	char *err = NULL;
	if (on) {
		cr_assert_eq(sh(&err,
		                 "ip netns exec %s nft add table inet cut && "
		                 "ip netns exec %s nft add chain inet cut in "
		                 "'{ type filter hook input priority 0; "
		                 "policy drop; }' && "
		                 "ip netns exec %s nft add chain inet cut out "
		                 "'{ type filter hook output priority 0; "
		                 "policy drop; }'",
		                 net.ns[i], net.ns[i], net.ns[i]),
		    0, "nft: %s", err ? err : "");
	} else {
		cr_assert_eq(
		    sh(&err, "ip netns exec %s nft delete table inet cut",
		        net.ns[i]),
		    0, "nft: %s", err ? err : "");
	}
	free(err);
}

/* Wait until `node list` shows every node of names[] up (joined): a
 * workflow started before then leaves its parts pending. */
static void
wait_up(const char *const *names)
{
	int64_t end = dom_now_ms() + WAIT_MS;
	for (;;) {
		int rc;
		bool all = true;
		struct dj *v = dom_json(dom, ARGS("node", "list"), &rc, NULL);
		for (size_t i = 0; names[i] != NULL; i++) {
			const struct dj *n =
			    dj_find(dj_get(v, "nodes"), "name", names[i]);
			const char *h = dj_str(dj_get(n, "health"));
			all &= h != NULL && strcmp(h, "up") == 0;
		}
		dj_free(v);
		if (all) {
			return;
		}
		if (dom_now_ms() > end) {
			dom_dump(dom, stderr, 40);
			cr_assert_fail("the nodes did not all join");
		}
		dom_nap_ms(100);
	}
}

static void
start_workflow(const char *name, const char *yaml)
{
	char *path = dom_file(dom, name, yaml), *out = NULL, *err = NULL;
	int64_t end = dom_now_ms() + WAIT_MS;
	cr_assert_not_null(path);
	while (dom_cli(dom, ARGS("workflow", "start", path), &out, &err) != 0) {
		if (dom_now_ms() > end) {
			dom_dump(dom, stderr, 40);
			cr_assert_fail("workflow start: %s%s", out ? out : "",
			    err ? err : "");
		}
		free(out);
		free(err);
		out = err = NULL;
		dom_nap_ms(200);
	}
	free(out);
	free(err);
	free(path);
}

/* `ledge invoke WF TARGET DATA`, retried (with the same data) only when
 * it was surely not taken: the orchestrator says the part is not
 * deployed yet (placed, but its node has not confirmed the deploy), or
 * the node does not run the target yet. */
static void
invoke(const char *wf, const char *target, const char *data)
{
	char *out = NULL, *err = NULL, why[512];
	int64_t end = dom_now_ms() + WAIT_MS;
	int rc;
	for (;;) {
		rc = dom_cli(dom, ARGS("invoke", wf, target, data), &out, &err);
		snprintf(why, sizeof why, "%s", err ? err : "");
		free(out);
		free(err);
		out = err = NULL;
		bool not_yet = strstr(why, " is not deployed yet: ") != NULL ||
		    (strstr(why, " on node ") != NULL &&
		        strncmp(why, "ledge invoke: no ", 17) == 0);
		if (rc == 0 || !not_yet || dom_now_ms() > end) {
			break;
		}
		dom_nap_ms(100);
	}
	if (rc != 0) {
		dom_dump(dom, stderr, 40);
	}
	cr_assert_eq(rc, 0, "invoke %s %s %s: %s", wf, target, data, why);
}

static uint64_t
state(const char *wf, const char *fn, const char *key)
{
	uint64_t v = 0;
	int64_t end = dom_now_ms() + WAIT_MS;
	while (dom_state_u64(dom, wf, fn, key, &v) != 0) {
		cr_assert_lt(dom_now_ms(), end, "state get %s/%s %s failed", wf,
		    fn, key);
		dom_nap_ms(200);
	}
	return v;
}

/* Poll until wf/fn's state `key` is `want`; assert it gets there. */
static void
wait_state(const char *wf, const char *fn, const char *key, uint64_t want)
{
	int64_t end = dom_now_ms() + WAIT_MS;
	uint64_t v;
	while ((v = state(wf, fn, key)) != want && dom_now_ms() < end) {
		dom_nap_ms(200);
	}
	if (v != want) {
		dom_dump(dom, stderr, 40);
	}
	cr_assert_eq(v, want, "%s/%s %s = %" PRIu64 ", want %" PRIu64, wf, fn,
	    key, v, want);
}

static const char seq_wf[] = "workflow: sq\n"
                             "functions:\n"
                             "  front:\n"
                             "    code: @F/seqcheck.so\n"
                             "    outputs: { out: back }\n"
                             "    placement: { node: a }\n"
                             "  back:\n"
                             "    code: @F/seqcheck.so\n"
                             "    placement: { node: b }\n";

/*
 * Loss on both nodes' links for the whole run, and a 10 s partition of b
 * in the middle (shorter than the node timeout: b is not moved): every
 * number reaches back once and in order.
 */
Test(netfault, loss_and_a_partition_keep_casts_in_order_and_once)
{
	uint64_t n = 0;
	int64_t t;
	char num[32];

	net_up();
	fprintf(stderr, "netfault: netem %s\n",
	    net.netem ? "available: delay 100 ms +- 50 ms with reordering too"
	              : "not in this kernel: loss and partition only");
	cr_assert_not_null(dom = dom_new("netfault", NULL));
	cr_assert_not_null(
	    dom_orchestrator_at(dom, 30.0, NULL, "10.201.1.1"), "orchestrator");
	cr_assert_not_null(
	    dom_node_in(dom, "a", NULL, false, NULL, net.ns[0], "10.201.1.2"));
	cr_assert_not_null(
	    dom_node_in(dom, "b", NULL, false, NULL, net.ns[1], "10.201.2.2"));
	wait_up(ARGS("a", "b"));
	start_workflow("sq.yaml", seq_wf);
	lossy(0);
	lossy(1);

	/* 5 s lossy, 10 s of it cut off, 5 s lossy again. */
	for (int phase = 0; phase < 3; phase++) {
		if (phase == 1) {
			partition(1, true);
		} else if (phase == 2) {
			partition(1, false);
		}
		t = dom_now_ms() + (phase == 1 ? 10000 : 5000);
		while (dom_now_ms() < t) {
			snprintf(num, sizeof num, "%" PRIu64, ++n);
			invoke("sq", "front", num);
		}
	}
	wait_state("sq", "back", "last", n);
	wait_state("sq", "back", "n", n);
	cr_expect_eq(state("sq", "front", "n"), n);
	cr_expect_eq(state("sq", "front", "bad"), 0);
	cr_expect_eq(state("sq", "back", "bad"), 0,
	    "numbers arrived out of order or twice");
	fprintf(stderr,
	    "netfault: %" PRIu64 " casts a -> b through 10%% loss and a 10 s "
	    "partition: in order, once\n",
	    n);
}

static const char fence_wf[] = "workflow: fz\n"
                               "functions:\n"
                               "  front:\n"
                               "    code: @F/tally.so\n"
                               "    outputs: { out: back }\n"
                               "    placement: { node: a }\n"
                               "  back:\n"
                               "    code: @F/tally.so\n"
                               "    placement: { labels: { role: back } }\n";

/*
 * b is cut off for 10 s with a node timeout of 2 s: back moves to c.
 * When the partition heals, b learns it was fenced and stops its copy;
 * events go to c only; b is up again - with no operator action.
 */
Test(netfault, a_partitioned_node_is_fenced_and_the_domain_converges)
{
	struct dom_proc *b, *c;
	size_t b_before;
	uint64_t n_c;
	int64_t end;
	char *out = NULL, *err = NULL;

	net_up();
	cr_assert_not_null(dom = dom_new("netfence", NULL));
	cr_assert_not_null(
	    dom_orchestrator_at(dom, 2.0, NULL, "10.201.1.1"), "orchestrator");
	cr_assert_not_null(
	    dom_node_in(dom, "a", NULL, false, NULL, net.ns[0], "10.201.1.2"));
	cr_assert_not_null(b = dom_node_in(dom, "b", ARGS("role=back"), false,
	                       NULL, net.ns[1], "10.201.2.2"));
	wait_up(ARGS("a", "b"));
	start_workflow("fz.yaml", fence_wf);
	for (int i = 0; i < 5; i++) {
		invoke("fz", "front", "x");
	}
	wait_state("fz", "back", "n", 5);
	/* c joins only now, so back started on b. */
	cr_assert_not_null(c = dom_node_in(dom, "c", ARGS("role=back"), false,
	                       NULL, net.ns[2], "10.201.3.2"));
	lossy(0);

	partition(1, true);
	/* b is lost after 2 s; back starts on c (empty: no replicas). */
	end = dom_now_ms() + WAIT_MS;
	while (dom_log_count(c, "[fz/back] tally init") == 0 &&
	    dom_now_ms() < end) {
		dom_nap_ms(100);
	}
	cr_assert_geq(dom_log_count(c, "[fz/back] tally init"), 1,
	    "back did not start on c");
	for (int i = 0; i < 5; i++) {
		invoke("fz", "front", "y");
	}
	wait_state("fz", "back", "n", 5); /* on c, from 0 */
	dom_nap_ms(6000);                 /* cut off for about 10 s in all */
	b_before = dom_log_count(b, "[fz/back] tally cast");
	partition(1, false);

	/* Healed: b says it was fenced, stops its back, and is up again. */
	if (proc_wait_log(b->p, "fenced: the domain moved fz/back", WAIT_MS) !=
	    0) {
		dom_dump(dom, stderr, 60);
		cr_assert_fail("b did not learn it was fenced");
	}
	end = dom_now_ms() + WAIT_MS;
	while (dom_now_ms() < end) {
		free(out);
		free(err);
		out = err = NULL;
		if (dom_cli(dom, ARGS("node", "list"), &out, &err) == 0 &&
		    strstr(out, "lost") == NULL) {
			break;
		}
		dom_nap_ms(200);
	}
	cr_assert_not_null(out);
	cr_assert_null(strstr(out, "lost"), "not every node is up:\n%s", out);
	free(out);
	free(err);

	/* Events go to back on c only. */
	for (int i = 0; i < 5; i++) {
		invoke("fz", "front", "z");
	}
	wait_state("fz", "back", "n", 10);
	n_c = state("fz", "back", "n");
	cr_expect_eq(n_c, 10);
	cr_expect_eq(dom_log_count(b, "[fz/back] tally cast"), b_before,
	    "the fenced copy on b handled events after the partition");
	cr_expect_eq(state("fz", "front", "n"), 15);
}

/* A node's health in `node list` ("" if not listed). */
static const char *
node_health(const char *name)
{
	static char h[32];
	int rc;
	struct dj *v = dom_json(dom, ARGS("node", "list"), &rc, NULL);
	const char *s =
	    dj_str(dj_get(dj_find(dj_get(v, "nodes"), "name", name), "health"));
	snprintf(h, sizeof h, "%s", s ? s : "");
	dj_free(v);
	return h;
}

static const char repl_wf[] = "workflow: rc\n"
                              "functions:\n"
                              "  f:\n"
                              "    code: @F/tally.so\n"
                              "    state: { replicas: 1 }\n"
                              "    placement: { labels: { role: f } }\n";

/* Where rc/f runs, whether its replica is in sync, and whether it is
 * degraded, by `workflow show`. */
static void
repl_where(char *node, size_t len, bool *in_sync, bool *degraded)
{
	int rc;
	struct dj *v = dom_json(dom, ARGS("workflow", "show", "rc"), &rc, NULL);
	const struct dj *p = dj_find(dj_get(v, "parts"), "part", "f");
	const char *n = dj_gets(p, "node");
	snprintf(node, len, "%s", rc == 0 && n ? n : "");
	*in_sync = dj_int(dj_get(p, "replicas_in_sync"), 0) == 1;
	*degraded = dj_true(dj_get(p, "degraded"));
	dj_free(v);
}

/* Poll until rc/f's replica is in sync (asserted); its node in node[]. */
static void
wait_repl_in_sync(char *node, size_t len)
{
	int64_t end = dom_now_ms() + WAIT_MS;
	bool in = false, deg;
	while (repl_where(node, len, &in, &deg), !in && dom_now_ms() < end) {
		dom_nap_ms(100);
	}
	if (!in) {
		dom_dump(dom, stderr, 40);
	}
	cr_assert(in, "rc/f on '%s': its replica is not in sync", node);
}

/*
 * The replica of a counted part is cut off by the network for longer
 * than the node timeout, while casts go on: writes wait for it, then go
 * on without it once the orchestrator no longer counts it in sync (the
 * part is degraded); the replica comes back, catches up, is in sync
 * again, and when the primary is then killed with -9 it takes over with
 * every cast that was acknowledged - none lost, none twice.
 */
Test(netfault, a_replica_cut_off_and_back_keeps_every_acknowledged_write)
{
	struct dom_proc *nd[2], *primary, *replica;
	char at[64], now[64], num[32];
	bool in, degraded, saw_degraded = false;
	uint64_t acked = 0;
	int cut;
	int64_t t;

	net_up();
	cr_assert_not_null(dom = dom_new("netrepl", NULL));
	cr_assert_not_null(
	    dom_orchestrator_at(dom, 3.0, NULL, "10.201.1.1"), "orchestrator");
	cr_assert_not_null(nd[0] = dom_node_in(dom, "a", ARGS("role=f"), false,
	                       NULL, net.ns[0], "10.201.1.2"));
	cr_assert_not_null(nd[1] = dom_node_in(dom, "b", ARGS("role=f"), false,
	                       NULL, net.ns[1], "10.201.2.2"));
	wait_up(ARGS("a", "b"));
	start_workflow("rc.yaml", repl_wf);
	for (int i = 0; i < 10; i++) {
		snprintf(num, sizeof num, "%d", i);
		invoke("rc", "f", num);
		acked++;
	}
	wait_repl_in_sync(at, sizeof at);
	primary = strcmp(at, "a") == 0 ? nd[0] : nd[1];
	replica = primary == nd[0] ? nd[1] : nd[0];
	cut = replica == nd[0] ? 0 : 1;

	/* 8 s cut off (the node timeout is 3 s), casts all along. */
	partition(cut, true);
	t = dom_now_ms() + 8000;
	while (dom_now_ms() < t) {
		snprintf(num, sizeof num, "%" PRIu64, acked);
		invoke("rc", "f", num);
		acked++;
		repl_where(now, sizeof now, &in, &degraded);
		saw_degraded |= degraded;
	}
	cr_expect(saw_degraded, "the part was never shown degraded");
	cr_expect_str_eq(node_health(replica->name), "lost");
	partition(cut, false);

	/* Back: it catches up and is in sync again; a few more casts. */
	for (int i = 0; i < 10; i++) {
		invoke("rc", "f", "more");
		acked++;
	}
	wait_repl_in_sync(now, sizeof now);
	cr_expect_str_eq(now, primary->name, "the part moved meanwhile");
	for (int i = 0; i < 10; i++) {
		invoke("rc", "f", "last");
		acked++;
	}

	/* The primary dies: the replica takes over with every cast. */
	cr_assert_eq(proc_kill(primary->p, SIGKILL), 0);
	t = dom_now_ms() + WAIT_MS;
	while (repl_where(now, sizeof now, &in, &degraded),
	    strcmp(now, replica->name) != 0 && dom_now_ms() < t) {
		dom_nap_ms(100);
	}
	cr_assert_str_eq(now, replica->name, "rc/f did not fail over");
	wait_state("rc", "f", "n", acked);
	dom_nap_ms(1000); /* nothing more arrives (a duplicate, late) */
	cr_expect_eq(state("rc", "f", "n"), acked);
	fprintf(stderr,
	    "netfault: replica cut off 8 s, back, primary killed: %" PRIu64
	    " casts acknowledged, %" PRIu64 " counted\n",
	    acked, state("rc", "f", "n"));
}
