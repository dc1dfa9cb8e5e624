/*
 * roles_test.c - who may do what in a TLS domain whose certificates
 * `ledge certs` made (issue 11): each role's boundary against real
 * processes, the CLI and raw requests from peers with certificates of
 * the domain's CA but the wrong role, no role, or a forged one.
 *
 * Workflow: front (tally.so, on n1) passes each cast to back (tally.so,
 * on n2), which counts them in state "n".
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "domain.h"
#include "net/msg.h"
#include "net/wire.h"
#include "proc.h"

#define ARGS(...) ((const char *const[]) { __VA_ARGS__, NULL })
#define WAIT_MS   10000

static struct domain *dom;

static void
fini(void)
{
	dom_free(dom);
	dom = NULL;
}

TestSuite(roles, .fini = fini, .timeout = 90);

/* The certificate files of NAME in the domain's pki folder. */
struct who {
	char *crt, *key, *ca;
};

static struct who
who(const char *name)
{
	struct who w = { dom_fmt("%s/pki/%s.crt", dom->dir, name),
		dom_fmt("%s/pki/%s.key", dom->dir, name),
		dom_fmt("%s/pki/ca.crt", dom->dir) };
	return w;
}

static void
who_free(struct who *w)
{
	free(w->crt);
	free(w->key);
	free(w->ca);
}

/* `ledge ARGS` as NAME: the exit status; what it printed (stdout then
 * stderr) to *said (malloc'd). */
static int
as(const char *name, const char *const *args, char **said)
{
	struct who w = who(name);
	char *out = NULL, *err = NULL;
	int rc = dom_cli_tls(
	    dom, &(struct dom_tls) { w.crt, w.key, w.ca }, args, &out, &err);
	*said = dom_fmt("%s%s", out ? out : "", err ? err : "");
	free(out);
	free(err);
	who_free(&w);
	return rc;
}

/* NAME may do it. */
static void
may(const char *name, const char *const *args)
{
	char *said;
	int rc = as(name, args, &said);
	if (rc != 0) {
		dom_dump(dom, stderr, 30);
	}
	cr_expect_eq(rc, 0, "%s: ledge %s %s: exit %d: %s", name, args[0],
	    args[1], rc, said);
	free(said);
}

/* NAME may not: refused, saying so (NAME's certificate is for ROLE). */
static void
may_not(
    const char *name, const char *role, const char *const *args, const char *op)
{
	char *said, *want = dom_fmt("forbidden: %s may not %s", role, op);
	int rc = as(name, args, &said);
	cr_expect_eq(rc, 1, "%s: ledge %s %s: exit %d: %s", name, args[0],
	    args[1], rc, said);
	cr_expect(strstr(said, want) != NULL, "%s: want '%s' in: %s", name,
	    want, said);
	free(want);
	free(said);
}

/* A raw request from NAME's certificate (its token, if NAME.token is
 * beside NAME.crt) to url: the reply's error text (malloc'd), or NULL
 * if it was not refused. */
static char *
raw_refusal(const char *name, const char *url, struct wire_w *w)
{
	struct who c = who(name);
	struct msg_tls tls = { c.crt, c.key, c.ca };
	const void *data;
	void *reply = NULL;
	size_t len, rlen = 0;
	char err[256];
	struct wire_r r;
	char *why = NULL;

	data = wire_data(w, &len);
	cr_assert_not_null(data);
	int rc = msg_call_sync(
	    url, &tls, data, len, 5000, &reply, &rlen, err, sizeof err);
	cr_assert_eq(rc, MSG_OK, "%s to %s: %s", name, url, err);
	cr_assert_eq(wire_parse(&r, reply, rlen), 0);
	if (!wire_as_bool(wire_get(wire_root(&r), "ok"), false) &&
	    wire_str_eq(wire_get(wire_root(&r), "code"), "forbidden")) {
		why = wire_str_dup(wire_get(wire_root(&r), "error"));
	}
	wire_r_fini(&r);
	free(reply);
	who_free(&c);
	return why;
}

/* Well-formed requests a wrong peer may try (the fields real senders
 * use: orc_deploy.c, orc_move.c, orc_members.c, link_send.c). */
enum {
	ROGUE_UNDEPLOY,
	ROGUE_FORGET,
	ROGUE_FENCE,
	ROGUE_EV,
	ROGUE_JOIN,
	NROGUE
};

static const char *const rogue_op[NROGUE] = { "undeploy", "forget",
	"fence.node", "ev", "join" };

static void
rogue_request(struct wire_w *w, int m)
{
	wire_str(w, "t");
	wire_str(w, rogue_op[m]);
	switch (m) {
	case ROGUE_UNDEPLOY:
		wire_str(w, "wf");
		wire_str(w, "rx");
		break;
	case ROGUE_FORGET:
		wire_str(w, "wf");
		wire_str(w, "rx");
		wire_str(w, "part");
		wire_str(w, "back");
		break;
	case ROGUE_FENCE:
		wire_str(w, "node");
		wire_str(w, "n1");
		wire_str(w, "min_epoch");
		wire_u64(w, 1000);
		break;
	case ROGUE_EV:
		wire_str(w, "from");
		wire_str(w, "n1");
		wire_str(w, "inc");
		wire_u64(w, 1);
		wire_str(w, "epoch");
		wire_u64(w, 1);
		wire_str(w, "seq");
		wire_u64(w, 1);
		wire_str(w, "n");
		wire_u64(w, 0);
		wire_str(w, "events");
		wire_array(w, 0);
		break;
	default:
		wire_str(w, "name");
		wire_str(w, "n1");
		wire_str(w, "url");
		wire_str(w, "tls+tcp://127.0.0.1:1");
		break;
	}
}

/* Request m from NAME (certificate for ROLE) to url is refused: "forbidden:
 * ROLE may not OP". */
static void
expect_refused(const char *name, const char *role, const char *url, int m)
{
	static const size_t fields[NROGUE] = { 2, 3, 3, 7, 3 };
	struct wire_w w;
	char *why,
	    *want = dom_fmt("forbidden: %s may not %s", role, rogue_op[m]);

	cr_assert_eq(wire_w_init(&w), 0);
	wire_map(&w, fields[m]);
	rogue_request(&w, m);
	why = raw_refusal(name, url, &w);
	/* The message may go on with a hint, after the words. */
	cr_expect(why != NULL && strncmp(why, want, strlen(want)) == 0 &&
	        (why[strlen(want)] == '\0' || why[strlen(want)] == ' '),
	    "%s to %s: want '%s', got '%s'", name, url, want,
	    why ? why : "(not refused)");
	free(why);
	free(want);
	wire_w_fini(&w);
}

static uint64_t
count(void)
{
	uint64_t n = 0;
	cr_assert_eq(dom_state_u64(dom, "rx", "back", "n", &n), 0);
	return n;
}

/* Poll until back has counted `n` casts. */
static void
wait_count(uint64_t n)
{
	int64_t end = dom_now_ms() + WAIT_MS;
	uint64_t got = 0;
	while ((got = count()) != n && dom_now_ms() < end) {
		dom_nap_ms(50);
	}
	if (got != n) {
		dom_dump(dom, stderr, 30);
	}
	cr_assert_eq(got, n, "back counted %" PRIu64 ", want %" PRIu64, got, n);
}

static void
wait_up(const char *name)
{
	cr_assert_eq(dom_wait_health(dom, name, "up", WAIT_MS), 0,
	    "node %s never came up", name);
}

static void
ledge_ok(const char *const *args)
{
	const char *argv[32] = { test_ledge_bin() };
	size_t n = 1;
	char *out = NULL, *err = NULL;
	for (size_t i = 0; args[i] != NULL && n < 31; i++) {
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	int rc = dom_exec(argv, 30000, &out, &err);
	cr_assert_eq(rc, 0, "ledge %s: %s", args[0], err);
	free(out);
	free(err);
}

static const char *const rx_wf = "workflow: rx\n"
                                 "functions:\n"
                                 "  front:\n"
                                 "    code: @F/tally.so\n"
                                 "    outputs: { out: back }\n"
                                 "    placement: { node: n1 }\n"
                                 "  back:\n"
                                 "    code: @F/tally.so\n"
                                 "    placement: { node: n2 }\n";

/* A CA, certificates for every role, the orchestrator and two nodes
 * over tls+tcp://, and rx running (front on n1, back on n2). */
static void
setup_domain(const char *tag)
{
	char *pki;
	dom = dom_new(tag, NULL);
	cr_assert_not_null(dom);
	pki = dom_fmt("%s/pki", dom->dir);
	ledge_ok(ARGS("certs", "init", pki));
	ledge_ok(ARGS("certs", "issue", "--dir", pki, "--role", "orchestrator",
	    "orc", "--role", "node", "n1", "n2", "--role", "admin", "me",
	    "--role", "viewer", "v"));
	free(pki);
	/* The domain uses orc's files for everything not given its own. */
	struct who o = who("orc");
	dom->tls = true;
	dom->tls_files[0] = strdup(o.crt);
	dom->tls_files[1] = strdup(o.key);
	dom->tls_files[2] = strdup(o.ca);
	who_free(&o);
	cr_assert_not_null(dom_orchestrator(dom, 5.0, NULL));
	for (int i = 1; i <= 2; i++) {
		char name[8];
		snprintf(name, sizeof name, "n%d", i);
		struct who n = who(name);
		cr_assert_not_null(dom_node(dom, name, NULL, false,
		    &(struct dom_tls) { n.crt, n.key, n.ca }));
		who_free(&n);
	}
	wait_up("n1");
	wait_up("n2");
	char *wf = dom_file(dom, "rx.yaml", rx_wf);
	cr_assert_not_null(wf);
	may("me", ARGS("workflow", "start", wf));
	free(wf);
	may("me", ARGS("invoke", "rx", "front", "one"));
	wait_count(1);
}

Test(roles, each_role_may_do_only_its_part)
{
	setup_domain("roles-cli");
	char *wf = dom_fmt("%s/rx.yaml", dom->dir);

	/* A viewer lists, shows and reads logs; nothing else. */
	may("v", ARGS("workflow", "list"));
	may("v", ARGS("workflow", "show", "rx"));
	may("v", ARGS("node", "list"));
	may("v", ARGS("logs", "rx"));
	may_not("v", "viewer", ARGS("workflow", "start", wf), "wf.start");
	may_not("v", "viewer", ARGS("workflow", "stop", "rx"), "wf.stop");
	may_not("v", "viewer", ARGS("invoke", "rx", "front", "x"), "invoke");
	may_not("v", "viewer", ARGS("state", "get", "rx", "back"), "state.get");
	may_not("v", "viewer", ARGS("node", "drain", "n1"), "node.drain");
	may_not("v", "viewer", ARGS("function", "move", "rx", "front", "n2"),
	    "fn.move");

	/* A node's certificate joins and fetches code; it deploys nothing
	 * and reads nothing through the CLI. */
	may_not("n1", "node", ARGS("workflow", "start", wf), "wf.start");
	may_not("n1", "node", ARGS("workflow", "list"), "wf.list");
	may_not("n1", "node", ARGS("invoke", "rx", "front", "x"), "invoke");

	/* Nothing of it happened. */
	wait_count(1);
	may("me", ARGS("invoke", "rx", "front", "two"));
	wait_count(2);
	may("me", ARGS("state", "get", "rx", "back"));
	free(wf);
}

Test(roles, well_formed_requests_from_the_wrong_peer_change_nothing)
{
	setup_domain("roles-raw");
	struct dom_proc *n1 = dom->nodes[0], *n2 = dom->nodes[1];

	/* A token-less certificate of the same CA: NAME.crt without
	 * NAME.token. */
	char *a = dom_fmt("%s/pki/me.crt", dom->dir), *b;
	b = dom_fmt("%s/pki/anon.crt", dom->dir);
	cr_assert_eq(link(a, b), 0);
	free(a);
	free(b);
	a = dom_fmt("%s/pki/me.key", dom->dir);
	b = dom_fmt("%s/pki/anon.key", dom->dir);
	cr_assert_eq(link(a, b), 0);
	free(a);
	free(b);
	/* A forged token: the viewer's, its role changed to admin. */
	a = dom_fmt("%s/pki/v.token", dom->dir);
	b = dom_fmt("%s/pki/forged.token", dom->dir);
	FILE *in = fopen(a, "r"), *out = fopen(b, "w");
	char line[512];
	cr_assert(in && out && fgets(line, sizeof line, in));
	char *at = strstr(line, " viewer ");
	cr_assert_not_null(at);
	fprintf(out, "%.*s admin %s", (int)(at - line), line, at + 8);
	fclose(in);
	fclose(out);
	free(a);
	free(b);
	struct who v = who("v"), f = who("forged");
	cr_assert_eq(link(v.crt, f.crt), 0);
	cr_assert_eq(link(v.key, f.key), 0);
	who_free(&v);
	who_free(&f);

	static const struct {
		const char *who, *role;
	} peers[] = {
		{ "me", "admin" },
		{ "v", "viewer" },
		{ "anon", "a peer without a valid role token" },
		{ "forged", "a peer without a valid role token" },
	};
	/* To n2, as the orchestrator or n1 would send them: stop the
	 * workflow, drop back's state, fence n1, deliver an event; to the
	 * orchestrator, as a node: join under n1's name. */
	for (size_t p = 0; p < sizeof peers / sizeof peers[0]; p++) {
		for (int m = 0; m < NROGUE; m++) {
			expect_refused(peers[p].who, peers[p].role,
			    m == ROGUE_JOIN ? dom->url : n2->url, m);
		}
	}
	/* A liveness check is anyone's, without a token too. */
	struct wire_w pw;
	cr_assert_eq(wire_w_init(&pw), 0);
	wire_map(&pw, 1);
	wire_str(&pw, "t");
	wire_str(&pw, "ping");
	char *why = raw_refusal("anon", n2->url, &pw);
	cr_expect_null(why, "ping refused: %s", why);
	free(why);
	wire_w_fini(&pw);
	/* A node may not act as the orchestrator either. */
	expect_refused("n1", "node", n2->url, ROGUE_UNDEPLOY);

	/* Nothing changed: rx runs where it ran, back kept its count,
	 * n1's events still reach n2. */
	wait_count(1);
	may("me", ARGS("invoke", "rx", "front", "after"));
	wait_count(2);
	cr_expect(proc_running(n1->p) && proc_running(n2->p));
}
