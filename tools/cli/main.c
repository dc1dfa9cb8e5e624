/*
 * ledge.c - the `ledge` command: argument parsing and the subcommands.
 * The runtime lives in runtime/; this file only wires it to a command
 * line.
 */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "args.h"
#include "base/diag.h"
#include "base/rlog.h"
#include "cli_serve.h"
#include "cmd_certs.h"
#include "cmd_function.h"
#include "cmd_help.h"
#include "cmd_invoke.h"
#include "cmd_logs.h"
#include "cmd_node.h"
#include "cmd_state.h"
#include "cmd_workflow.h"
#include "code/code.h"
#include "code/code_sign.h"
#include "domain/embed.h"
#include "node/exec.h"
#include "node/node.h"
#include "resources/resources.h"
#include "workflow/resource.h"
#include "workflow/workflow.h"

#ifndef LEDGE_VERSION
#define LEDGE_VERSION "unknown"
#endif

static const char usage_main[] =
    "usage: ledge COMMAND [ARGS]\n"
    "\n"
    "ledge runs stateful C functions at the edge: functions are shared\n"
    "objects, their state lives in LMDB beside them, and workflows in YAML\n"
    "wire them to HTTP, timers, logs and each other.\n"
    "\n"
    "commands:\n"
    "  run WORKFLOW.yaml...         run workflows on this machine (an\n"
    "                               embedded node), until Ctrl-C\n"
    "  validate WORKFLOW.yaml...    check workflows and their code; print\n"
    "                               every problem as file:line:col\n"
    "  function build SRC.c... -o NAME.so\n"
    "                               compile a function with the right flags\n"
    "  function keygen NAME, function sign --key NAME.key FILE.so...\n"
    "                               a key pair for signing code; sign code\n"
    "\n"
    "  orchestrator [OPTIONS]       run the orchestrator of a domain\n"
    "  node --listen URL [OPTIONS]  run a node of a domain (joins the\n"
    "                               orchestrator)\n"
    "  certs init DIR, certs issue --dir DIR --role ROLE NAME\n"
    "                               a domain CA, and certificates it signs\n"
    "                               (for tls+tcp://)\n"
    "\n"
    "commands for a domain (through its orchestrator: --orchestrator URL,\n"
    "or LEDGE_ORCHESTRATOR, default tcp://127.0.0.1:7600; --json for\n"
    "scripts):\n"
    "  workflow start FILE.yaml     validate, upload code, place and start\n"
    "  workflow stop|show NAME, workflow list\n"
    "                               stop, inspect and list workflows\n"
    "  node list, node drain NAME   the nodes; move everything off one\n"
    "  function move WORKFLOW FUNCTION NODE [--accept-loss]\n"
    "                               move a function, with its state\n"
    "  function reload WORKFLOW FUNCTION FILE.so\n"
    "                               hot-reload new code everywhere it runs\n"
    "  invoke WORKFLOW TARGET [--call] DATA\n"
    "                               send an event (a call prints the reply)\n"
    "  state get WORKFLOW FUNCTION [KEY]\n"
    "                               print a function's state\n"
    "  logs WORKFLOW [-f]           print (and follow) function logs\n"
    "\n"
    "  host ...                     a function host process, started by a\n"
    "                               node for `isolation: process` (not by\n"
    "                               hand)\n"
    "\n"
    "  version                      print the version\n"
    "  help [COMMAND]               this text, or a command's\n"
    "\n"
    "`ledge COMMAND --help` describes each command.\n";

static const char usage_run[] =
    "usage: ledge run [OPTIONS] WORKFLOW.yaml...\n"
    "\n"
    "Validate the workflows, then run them side by side in one process (an\n"
    "orchestrator and a node in one).  State is kept in the data folder and\n"
    "survives restarts, crashes included: every request answered with 2xx\n"
    "has its effect exactly once.  A function's code is hot-reloaded when\n"
    "its .so file is replaced; SIGHUP reloads changed code and reopens\n"
    "log files.  Ctrl-C drains mailboxes, calls stop handlers and exits.\n"
    "\n"
    "options:\n"
    "  -d, --data DIR        data folder (default ./.ledge)\n"
    "  -H, --http ADDR       HTTP listener for http-ingress, and\n"
    "                        Prometheus text at /metrics (default\n"
    "                        127.0.0.1:8080; port 0 picks a free one)\n"
    "  -w, --workers N       worker threads (default: one per CPU, >= 2)\n"
    "  -l, --log-level L     error, warn, info (default) or debug\n"
    "      --no-watch        do not reload code when its file changes\n"
    "      --no-sync         do not fsync commits: survives a process\n"
    "                        crash but not a power loss (faster)\n"
    "      --store-size MB   the most the store may use (default 8192);\n"
    "                        its map starts at 1 MiB and grows on demand;\n"
    "                        a full store fails the writes that do not fit\n"
    "                        (507 at http-ingress), not the node\n"
    "      --no-inline       always run handlers on worker threads (by\n"
    "                        default short handlers of idle instances run\n"
    "                        on the I/O thread, saving two thread hops)\n"
    "  -n, --name NAME       node name in logs (default: host name)\n"
    "  -L, --listen URL      the orchestrator inside, for the domain\n"
    "                        commands (ledge workflow show, invoke,\n"
    "                        state get, logs, ...); default\n"
    "                        $LEDGE_ORCHESTRATOR, else the socket\n"
    "                        DIR/control.sock in the data folder, for\n"
    "                        your user only (mode 0600; the commands\n"
    "                        find it by --data or $LEDGE_DATA, or in\n"
    "                        ./.ledge); \"none\" for none.  Other\n"
    "                        nodes may join it over tcp://.  If the\n"
    "                        address is taken, the node runs without it\n"
    "                        (logged).  Refused if other hosts could\n"
    "                        reach it (plain tcp:// on an address that\n"
    "                        is not loopback) unless --insecure\n"
    "      --insecure        allow that (logged at every start)\n"
    "      --trust KEY.pub   run only code signed by this key (F.so.sig\n"
    "                        beside F.so, from `ledge function sign`),\n"
    "                        also code given later by the domain\n"
    "                        commands or a hot reload; a file or the\n"
    "                        key's hex; repeatable\n"
    "      --host-user USER  the user the hosts of `isolation: process`\n"
    "                        functions run as when ledge runs as root\n"
    "                        (default nobody)\n"
    "  -h, --help            this text\n";

static const char usage_validate[] =
    "usage: ledge validate WORKFLOW.yaml...\n"
    "\n"
    "Check each workflow - its schema, resource types and their config,\n"
    "the wiring of outputs, and that every code file is a loadable ledge\n"
    "function - and print every problem as file:line:col: message.\n"
    "Exit status 0 when all are valid, 1 otherwise.\n";

static const char usage_build[] =
    "usage: ledge function build [-v] SRC.c... -o NAME.so [-- CFLAGS...]\n"
    "\n"
    "Compile C sources into a ledge function: C11, -fPIC -shared\n"
    "-fvisibility=hidden -Wl,-z,defs, warnings on, and the SDK's include\n"
    "folder (from this build tree, or the installed one; override with\n"
    "LEDGE_SDK_INCLUDE).  The compiler is $CC or cc.  Arguments after --\n"
    "go to the compiler as they are (e.g. -DSTEP=2 -lm).\n"
    "\n"
    "  -o FILE   output file (required)\n"
    "  -v        print the compiler command\n";

/* ------------------------------------------------------------------ */
/* crash reporting                                                     */

static void
on_crash(int sig)
{
	/* Async-signal-safe only: write(2) and the TLS name. */
	const char *who = exec_current();
	char buf[512];
	size_t n = 0;
	const char *parts[] = { "ledge: fatal signal ", NULL, NULL, NULL,
		NULL };
	char num[8];
	int k = 0, s = sig;
	char tmp[8];
	do {
		tmp[k++] = (char)('0' + s % 10);
		s /= 10;
	} while (s > 0 && k < 7);
	for (int i = 0; i < k; i++) {
		num[i] = tmp[k - 1 - i];
	}
	num[k] = '\0';
	parts[1] = num;
	if (who != NULL) {
		parts[2] = " in function ";
		parts[3] = who;
	} else {
		parts[2] = " in the runtime";
	}
	for (int i = 0; parts[i] != NULL; i++) {
		size_t len = strlen(parts[i]);
		if (n + len >= sizeof buf - 80) {
			break;
		}
		memcpy(buf + n, parts[i], len);
		n += len;
	}
	const char *tail = "; the node stops. Committed state is safe: start "
	                   "it again.\n";
	size_t tl = strlen(tail);
	memcpy(buf + n, tail, tl);
	n += tl;
	if (write(STDERR_FILENO, buf, n) < 0) {
		/* nothing left to do */
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static void
install_crash_handler(void)
{
	static char stack[64 * 1024];
	stack_t ss = { .ss_sp = stack, .ss_size = sizeof stack };
	struct sigaction sa;
	sigaltstack(&ss, NULL);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_crash;
	sa.sa_flags = SA_ONSTACK | SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGFPE, &sa, NULL);
	sigaction(SIGILL, &sa, NULL);
}

/* ------------------------------------------------------------------ */
/* validation                                                          */

struct check_ctx {
	struct code_cache *codes;
	struct node_code **held;
	size_t nheld, cap;
};

static int
check_code(void *arg, const char *path, char *err, size_t errlen)
{
	struct check_ctx *c = arg;
	struct node_code *code;
	if (code_load(c->codes, path, &code, err, errlen) != LEDGE_OK) {
		return -1;
	}
	if (c->nheld == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 16;
		struct node_code **h = realloc(c->held, ncap * sizeof *h);
		if (h == NULL) {
			code_release(code);
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		c->held = h;
		c->cap = ncap;
	}
	c->held[c->nheld++] = code;
	return 0;
}

static void
check_release(struct check_ctx *c)
{
	for (size_t i = 0; i < c->nheld; i++) {
		code_release(c->held[i]);
	}
	free(c->held);
	c->held = NULL;
	c->nheld = c->cap = 0;
}

/* Load every file; all problems go to stderr.  Returns how many failed. */
static int
load_all(int argc, char **argv, struct check_ctx *cc, struct workflow **wfs)
{
	int failed = 0;
	for (int i = 0; i < argc; i++) {
		struct diag d;
		diag_init(&d);
		wfs[i] = wf_load(argv[i], res_types(), check_code, cc, &d);
		if (wfs[i] == NULL) {
			diag_print(&d, stderr);
			failed++;
		}
		diag_fini(&d);
	}
	return failed;
}

static bool
needs_http(struct workflow **wfs, int n)
{
	for (int i = 0; i < n; i++) {
		for (size_t k = 0; wfs[i] && k < wfs[i]->nresources; k++) {
			if (strcmp(wfs[i]->resources[k].type, "http-ingress") ==
			    0) {
				return true;
			}
		}
	}
	return false;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* Remove a scratch folder this process made (mkdtemp). */
static int
rm_tree(const char *path)
{
	return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* `ledge help`: the commands, then the resource types this build has. */
static void
print_help(FILE *fp)
{
	const struct res_type *const *t = res_types();
	fputs(usage_main, fp);
	fputs("\nresource types (the `type:` of a resource in a workflow):\n",
	    fp);
	for (size_t i = 0; t[i] != NULL; i++) {
		fprintf(fp, "  %-13s %s\n", t[i]->name, t[i]->summary);
	}
}

static int
cmd_validate(int argc, char **argv)
{
	struct check_ctx cc = { 0 };
	struct workflow **wfs;
	char tmpl[] = "/tmp/ledge-validate-XXXXXX";
	char err[512];
	int failed;

	if (argc < 1 || strcmp(argv[0], "--help") == 0 ||
	    strcmp(argv[0], "-h") == 0) {
		fputs(usage_validate, argc < 1 ? stderr : stdout);
		return argc < 1 ? 2 : 0;
	}
	if (mkdtemp(tmpl) == NULL ||
	    code_cache_open(&cc.codes, tmpl, err, sizeof err) != LEDGE_OK) {
		fprintf(stderr, "ledge: cannot make a scratch folder: %s\n",
		    strerror(errno));
		return 1;
	}
	if ((wfs = calloc((size_t)argc, sizeof *wfs)) == NULL) {
		return 1;
	}
	failed = load_all(argc, argv, &cc, wfs);
	for (int i = 0; i < argc; i++) {
		if (wfs[i] != NULL) {
			size_t nf = 0;
			for (size_t k = 0; k < wfs[i]->nfunctions; k++) {
				nf += wfs[i]->functions[k].slot == 0;
			}
			printf("%s: ok (workflow %s: %zu functions, %zu "
			       "resources)\n",
			    argv[i], wfs[i]->name, nf, wfs[i]->nresources);
			wf_free(wfs[i]);
		}
	}
	free(wfs);
	check_release(&cc);
	code_cache_close(cc.codes);
	rm_tree(tmpl);
	return failed ? 1 : 0;
}

/* ------------------------------------------------------------------ */
/* run                                                                 */

static int
cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "http", required_argument, NULL, 'H' },
		{ "workers", required_argument, NULL, 'w' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "no-watch", no_argument, NULL, 'W' },
		{ "no-sync", no_argument, NULL, 'S' },
		{ "store-size", required_argument, NULL, 'z' },
		{ "no-inline", no_argument, NULL, 'I' },
		{ "name", required_argument, NULL, 'n' },
		{ "listen", required_argument, NULL, 'L' },
		{ "insecure", no_argument, NULL, 'X' },
		{ "trust", required_argument, NULL, 'T' },
		{ "host-user", required_argument, NULL, 'U' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *listen = getenv("LEDGE_ORCHESTRATOR");
	struct code_trust *trust = NULL;
	struct embed *e = NULL;
	struct embed_opts eo;
	struct node_opts o = { .host_exe = cli_serve_self_exe(),
		.data_dir = "./.ledge",
		.http_addr = "127.0.0.1:8080",
		.watch = true };
	struct rlog log;
	struct check_ctx cc = { 0 };
	struct workflow **wfs = NULL;
	char err[2048], codedir[PATH_MAX];
	int level = RLOG_INFO, c, nwf, rc = 1, rv;
	bool insecure = false;
	char sock_url[PATH_MAX + 16];

	optind = 1;
	while (
	    (c = getopt_long(argc, argv, "d:H:w:l:n:L:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			o.data_dir = optarg;
			break;
		case 'H':
			o.http_addr = optarg;
			break;
		case 'w':
			o.workers = atoi(optarg);
			if (o.workers < 1 || o.workers > 128) {
				fprintf(stderr,
				    "ledge run: --workers must be "
				    "between 1 and 128\n");
				return 2;
			}
			break;
		case 'l':
			if ((level = rlog_level_parse(optarg)) < 0) {
				fprintf(stderr,
				    "ledge run: unknown log level '%s' (error, "
				    "warn, info, debug)\n",
				    optarg);
				return 2;
			}
			break;
		case 'W':
			o.watch = false;
			break;
		case 'S':
			o.store.nosync = true;
			break;
		case 'z':
			o.store.map_mb = strtoul(optarg, NULL, 10);
			if (o.store.map_mb < 16) {
				fprintf(stderr,
				    "ledge run: --store-size must "
				    "be at least 16 (MB)\n");
				return 2;
			}
			break;
		case 'n':
			o.name = optarg;
			break;
		case 'I':
			o.no_inline = true;
			break;
		case 'L':
			listen = optarg;
			break;
		case 'X':
			insecure = true;
			break;
		case 'U':
			o.host_user = optarg;
			break;
		case 'T':
			if (cli_serve_trust_add("ledge run", &trust, optarg) !=
			    0) {
				code_trust_free(trust);
				return 2;
			}
			break;
		case 'h':
			code_trust_free(trust);
			fputs(usage_run, stdout);
			return 0;
		default:
			code_trust_free(trust);
			fputs(usage_run, stderr);
			return 2;
		}
	}
	nwf = argc - optind;
	if (nwf < 1) {
		code_trust_free(trust);
		fprintf(
		    stderr, "ledge run: no workflow given\n\n%s", usage_run);
		return 2;
	}
	rlog_init(&log, stderr, level);
	snprintf(codedir, sizeof codedir, "%s/code", o.data_dir);
	if (mkdir(o.data_dir, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr,
		    "ledge run: cannot create data folder '%s': %s\n",
		    o.data_dir, strerror(errno));
		goto out;
	}
	if (code_cache_open(&cc.codes, codedir, err, sizeof err) != LEDGE_OK) {
		fprintf(stderr, "ledge run: %s\n", err);
		goto out;
	}
	/* Unsigned code is refused already here, at its `code:`. */
	code_cache_trust(cc.codes, trust);
	o.trust = trust;
	cli_serve_trust_note(&log, trust);
	if ((wfs = calloc((size_t)nwf, sizeof *wfs)) == NULL) {
		goto out;
	}
	/* Everything is checked before anything starts. */
	if (load_all(nwf, argv + optind, &cc, wfs) > 0) {
		fprintf(stderr, "ledge run: nothing started\n");
		goto out;
	}
	if (!needs_http(wfs, nwf)) {
		o.http_addr = NULL;
	}
	if (listen == NULL || *listen == '\0') {
		/* The control socket in the data folder, for this user. */
		if (args_control_url(o.data_dir, sock_url, sizeof sock_url) !=
		    0) {
			fprintf(stderr,
			    "ledge run: no control socket in %s: %s; give -L "
			    "URL\n",
			    o.data_dir, strerror(errno));
			rc = 2;
			goto out;
		}
		listen = sock_url;
	}
	if (strcmp(listen, "none") == 0) {
		listen = NULL;
	}
	if (listen != NULL &&
	    cli_serve_check_listen("ledge run", listen, insecure, &log) != 0) {
		rc = 2;
		goto out;
	}
	o.codes = cc.codes;
	eo = (struct embed_opts) { .node = o, .listen = listen };
	if (embed_new(&e, &eo, wfs, (size_t)nwf, &log, err, sizeof err) !=
	    LEDGE_OK) {
		fprintf(stderr, "ledge run: %s\n", err);
		goto out;
	}
	for (int i = 0; i < nwf; i++) {
		struct workflow *wf = wfs[i];
		wfs[i] = NULL;
		if (embed_deploy(e, wf, err, sizeof err) != LEDGE_OK) {
			fprintf(stderr,
			    "ledge run: %s\nledge run: nothing "
			    "started\n",
			    err);
			goto out;
		}
	}
	check_release(&cc);
	/* What starts now (the control socket above all) is this user's
	 * alone. */
	mode_t mask = umask(077);
	rv = embed_start(e, err, sizeof err);
	umask(mask);
	if (rv != LEDGE_OK) {
		fprintf(stderr, "ledge run: %s\nledge run: stopped\n", err);
		goto out;
	}
	if (listen == sock_url) {
		chmod(sock_url + 6, 0600);
	}
	rlog_write(&log, RLOG_INFO, NULL, "ready; Ctrl-C stops");
	rc = embed_run(e);
	rlog_write(&log, RLOG_INFO, NULL, "stopped cleanly");
out:
	embed_free(e);
	for (int i = 0; wfs != NULL && i < nwf; i++) {
		wf_free(wfs[i]);
	}
	free(wfs);
	check_release(&cc);
	code_cache_close(cc.codes);
	code_trust_free(trust);
	rlog_fini(&log);
	return rc;
}

/* ------------------------------------------------------------------ */
/* function build                                                      */

static bool
file_exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0;
}

/* The SDK's include folder: env, then this build tree's source, then the
 * installed one. */
static const char *
sdk_include(char *buf, size_t len)
{
	const char *env = getenv("LEDGE_SDK_INCLUDE");
	char exe[PATH_MAX], probe[PATH_MAX + 16];
	ssize_t n;

	if (env != NULL && *env) {
		return env;
	}
	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash != NULL) {
			*slash = '\0';
			snprintf(probe, sizeof probe, "%s/build.ninja", exe);
			if (file_exists(probe)) {
				snprintf(buf, len, "%s", LEDGE_SDK_SOURCE_DIR);
				return buf;
			}
		}
	}
	snprintf(buf, len, "%s", LEDGE_SDK_INSTALL_DIR);
	return buf;
}

static int
cmd_function(int argc, char **argv)
{
	const char *out = NULL, *cc = getenv("CC");
	const char *srcs[256], *extra[256];
	size_t nsrc = 0, nextra = 0;
	bool verbose = false;
	char inc[PATH_MAX], hdr[PATH_MAX + 16], incflag[PATH_MAX + 4];
	pid_t pid;
	int status;

	if (argc < 1 || strcmp(argv[0], "--help") == 0 ||
	    strcmp(argv[0], "-h") == 0) {
		fputs(usage_build, argc < 1 ? stderr : stdout);
		return argc < 1 ? 2 : 0;
	}
	if (strcmp(argv[0], "build") != 0) {
		fprintf(stderr, "ledge function: unknown command '%s'\n\n%s",
		    argv[0], usage_build);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			for (i++; i < argc && nextra < 255; i++) {
				extra[nextra++] = argv[i];
			}
			break;
		}
		if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
			out = argv[++i];
		} else if (strcmp(argv[i], "-v") == 0) {
			verbose = true;
		} else if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			fputs(usage_build, stdout);
			return 0;
		} else if (argv[i][0] == '-') {
			fprintf(stderr,
			    "ledge function build: unknown option '%s' (put "
			    "compiler flags after --)\n",
			    argv[i]);
			return 2;
		} else if (nsrc < 255) {
			srcs[nsrc++] = argv[i];
		}
	}
	if (nsrc == 0 || out == NULL) {
		fprintf(stderr, "ledge function build: %s\n\n%s",
		    nsrc == 0 ? "no source file given" : "no -o OUTPUT given",
		    usage_build);
		return 2;
	}
	for (size_t i = 0; i < nsrc; i++) {
		if (!file_exists(srcs[i])) {
			fprintf(stderr, "ledge function build: %s: %s\n",
			    srcs[i], strerror(errno));
			return 1;
		}
	}
	sdk_include(inc, sizeof inc);
	snprintf(hdr, sizeof hdr, "%s/ledge.h", inc);
	if (!file_exists(hdr)) {
		fprintf(stderr,
		    "ledge function build: the SDK header is not at %s (set "
		    "LEDGE_SDK_INCLUDE to the folder holding ledge.h)\n",
		    hdr);
		return 1;
	}
	snprintf(incflag, sizeof incflag, "-I%s", inc);
	const char *args[600];
	size_t na = 0;
	args[na++] = cc && *cc ? cc : "cc";
	args[na++] = "-std=c11";
	args[na++] = "-O2";
	args[na++] = "-g";
	args[na++] = "-Wall";
	args[na++] = "-Wextra";
	args[na++] = "-fPIC";
	args[na++] = "-shared";
	args[na++] = "-fvisibility=hidden";
	args[na++] = "-Wl,-z,defs";
	args[na++] = incflag;
	for (size_t i = 0; i < nsrc; i++) {
		args[na++] = srcs[i];
	}
	args[na++] = "-o";
	args[na++] = out;
	for (size_t i = 0; i < nextra; i++) {
		args[na++] = extra[i];
	}
	args[na] = NULL;
	if (verbose) {
		for (size_t i = 0; i < na; i++) {
			fprintf(stderr, "%s%s", i ? " " : "", args[i]);
		}
		fputc('\n', stderr);
	}
	if ((pid = fork()) < 0) {
		perror("ledge function build: fork");
		return 1;
	}
	if (pid == 0) {
		execvp(args[0], (char *const *)args);
		fprintf(stderr, "ledge function build: cannot run %s: %s\n",
		    args[0], strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR) { }
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "ledge function build: the compiler failed\n");
		return 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	signal(SIGPIPE, SIG_IGN);
	/* A function host's crash is its node's to report (isolate.h). */
	if (cmd == NULL || strcmp(cmd, "host") != 0) {
		install_crash_handler();
	}
	if (cmd == NULL) {
		print_help(stderr);
		return 2;
	}
	if (strcmp(cmd, "run") == 0) {
		return cmd_run(argc - 1, argv + 1);
	}
	if (strcmp(cmd, "validate") == 0) {
		return cmd_validate(argc - 2, argv + 2);
	}
	if (strcmp(cmd, "function") == 0) {
		const char *sub = argc > 2 ? argv[2] : NULL;
		if (sub != NULL &&
		    (strcmp(sub, "move") == 0 || strcmp(sub, "reload") == 0 ||
		        strcmp(sub, "sign") == 0 ||
		        strcmp(sub, "keygen") == 0)) {
			return cmd_function_main(argc - 2, argv + 2);
		}
		if (sub == NULL || strcmp(sub, "--help") == 0 ||
		    strcmp(sub, "-h") == 0) {
			FILE *fp = sub == NULL ? stderr : stdout;
			fputs(usage_build, fp);
			fputc('\n', fp);
			cmd_help("function", fp);
			return sub == NULL ? 2 : 0;
		}
		return cmd_function(argc - 2, argv + 2);
	}
	if (strcmp(cmd, "workflow") == 0) {
		return cmd_workflow_main(argc - 2, argv + 2);
	}
	if (strcmp(cmd, "orchestrator") == 0) {
		return cli_serve_orchestrator(argc - 1, argv + 1);
	}
	if (strcmp(cmd, "host") == 0) {
		return cli_serve_host(argc - 1, argv + 1);
	}
	if (strcmp(cmd, "node") == 0) {
		const char *sub = argc > 2 ? argv[2] : NULL;
		if (sub != NULL &&
		    (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0)) {
			fputs(cli_serve_usage_node(), stdout);
			fputc('\n', stdout);
			cmd_help("node", stdout);
			return 0;
		}
		if (sub != NULL &&
		    (strcmp(sub, "list") == 0 || strcmp(sub, "drain") == 0)) {
			return cmd_node_main(argc - 2, argv + 2);
		}
		return cli_serve_node(argc - 1, argv + 1);
	}
	if (strcmp(cmd, "invoke") == 0) {
		return cmd_invoke_main(argc - 2, argv + 2);
	}
	if (strcmp(cmd, "state") == 0) {
		return cmd_state_main(argc - 2, argv + 2);
	}
	if (strcmp(cmd, "certs") == 0) {
		return cmd_certs_main(argc - 2, argv + 2);
	}
	if (strcmp(cmd, "logs") == 0) {
		return cmd_logs_main(argc - 2, argv + 2);
	}
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("ledge %s (function ABI %u)\n", LEDGE_VERSION,
		    LEDGE_ABI_VERSION);
		return 0;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 ||
	    strcmp(cmd, "-h") == 0) {
		const char *topic = argc > 2 ? argv[2] : NULL;
		if (topic == NULL) {
			print_help(stdout);
		} else if (strcmp(topic, "run") == 0) {
			fputs(usage_run, stdout);
		} else if (strcmp(topic, "validate") == 0) {
			fputs(usage_validate, stdout);
		} else if (strcmp(topic, "certs") == 0) {
			cmd_certs_help(stdout);
		} else if (strcmp(topic, "function") == 0) {
			fputs(usage_build, stdout);
			fputc('\n', stdout);
			cmd_help("function", stdout);
		} else if (strcmp(topic, "orchestrator") == 0) {
			fputs(cli_serve_usage_orchestrator(), stdout);
		} else if (strcmp(topic, "node") == 0) {
			fputs(cli_serve_usage_node(), stdout);
			fputc('\n', stdout);
			cmd_help("node", stdout);
		} else if (cmd_help(topic, stdout) == 0) {
			/* a domain command */
		} else {
			fprintf(stderr, "ledge help: no command '%s'\n", topic);
			return 2;
		}
		return 0;
	}
	fprintf(stderr, "ledge: unknown command '%s'\n\n%s", cmd, usage_main);
	return 2;
}
