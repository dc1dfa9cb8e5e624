/*
 * cli_serve.c - the long-running commands of a domain: `ledge
 * orchestrator` and `ledge node` (and `ledge host`).  Argument parsing
 * only; the work is in runtime/orc/ and runtime/domain/embed.c.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "base/path.h"
#include "base/rlog.h"
#include "cli_serve.h"
#include "code/code_sign.h"
#include "domain/embed.h"
#include "isolate/host_confine.h"
#include "isolate/host_proc.h"
#include "isolate/host_sandbox.h"
#include "net/msg.h"
#include "net/msg_addr.h"
#include "node/node.h"
#include "orc/orc.h"
#include "platform/http.h"
#include "platform/loop.h"
#include "store/store.h"

static const char usage_orc[] =
    "usage: ledge orchestrator [OPTIONS]\n"
    "\n"
    "Run the orchestrator of a domain: it keeps the workflows, their code\n"
    "and where each part runs (in its data folder, recovered on restart),\n"
    "places parts on nodes, and moves the parts of a node that stops\n"
    "answering to other nodes.\n"
    "\n"
    "options:\n"
    "  -l, --listen URL        requests from the CLI and nodes, and the\n"
    "                          nodes' heartbeats (the only address the\n"
    "                          orchestrator listens on); default the\n"
    "                          socket DIR/control.sock, for your user\n"
    "                          only (mode 0600; the commands find it from\n"
    "                          the folder it runs in, or by --data DIR)\n"
    "  -d, --data DIR          data folder (default ./.ledge-orc)\n"
    "  -H, --http ADDR         serve /metrics (Prometheus) on ADDR\n"
    "  -t, --node-timeout S    a node is lost after S seconds without\n"
    "                          heartbeats (default 3; decimals allowed)\n"
    "      --tls-cert FILE     this process's certificate (PEM), for\n"
    "      --tls-key FILE      tls+tcp:// addresses: peers must present a\n"
    "      --tls-ca FILE       certificate signed by this CA\n"
    "      --insecure          allow a plain tcp:// --listen that other\n"
    "                          hosts can reach (refused without: anyone\n"
    "                          who reaches it can run code on the nodes)\n"
    "      --trust KEY.pub     start only workflows whose code is signed by\n"
    "                          this key (`ledge function sign`; a file or\n"
    "                          the key's hex; repeatable)\n"
    "      --log-level L       error, warn, info (default), debug\n"
    "  -h, --help              this text\n";

static const char usage_node[] =
    "usage: ledge node --orchestrator URL [--listen URL] [OPTIONS]\n"
    "\n"
    "Run a node of a domain: it joins the orchestrator (and keeps trying\n"
    "until it answers), runs the parts placed on it, and talks to other\n"
    "nodes directly.  It keeps running what it runs, with its state, while\n"
    "the orchestrator is away.\n"
    "\n"
    "options:\n"
    "  -o, --orchestrator URL  the orchestrator (default $LEDGE_ORCHESTRATOR,\n"
    "                          else the control socket in ./.ledge-orc or\n"
    "                          ./.ledge, else tcp://127.0.0.1:7600)\n"
    "  -l, --listen URL        this node's address (default the socket\n"
    "                          DIR/node.sock: nodes of this machine only)\n"
    "  -d, --data DIR          data folder (default ./.ledge-node)\n"
    "  -n, --name NAME         node name, unique in the domain (default:\n"
    "                          the host name)\n"
    "      --label K=V         a label for placement (repeatable)\n"
    "  -H, --http ADDR         HTTP listener: offers http-ingress, and\n"
    "                          serves /metrics\n"
    "  -w, --workers N         worker threads (default: one per CPU)\n"
    "      --no-sync           do not fsync commits (see ledge run --help)\n"
    "      --replica-timeout MS\n"
    "                          a replica that has not acknowledged writes\n"
    "                          for MS ms is no longer waited for (the parts\n"
    "                          it replicates run with fewer replicas until\n"
    "                          it catches up; logged, and /metrics shows\n"
    "                          ledge_replica_lagging); default 2000\n"
    "      --tls-cert FILE, --tls-key FILE, --tls-ca FILE\n"
    "                          certificates for tls+tcp:// (as above)\n"
    "      --insecure          allow a plain tcp:// --listen that other\n"
    "                          hosts can reach (refused without)\n"
    "      --trust KEY.pub     load only code signed by this key, whatever\n"
    "                          the orchestrator says (repeatable)\n"
    "      --host-user USER    the user the hosts of `isolation: process`\n"
    "                          functions run as when the node runs as root\n"
    "                          (default nobody)\n"
    "      --log-level L       error, warn, info (default), debug\n"
    "  -h, --help              this text\n";

enum {
	O_TLS_CERT = 1000,
	O_TLS_KEY,
	O_TLS_CA,
	O_LOG,
	O_LABEL,
	O_NOSYNC,
	O_REPLICA_TIMEOUT,
	O_INSECURE,
	O_TRUST,
	O_HOST_USER
};

int
cli_serve_check_listen(
    const char *prog, const char *url, bool insecure, struct rlog *log)
{
	if (!msg_addr_exposed(url)) {
		return 0;
	}
	if (!insecure) {
		fprintf(stderr,
		    "%s: refusing to listen on %s: other hosts could reach "
		    "it without TLS, and whoever reaches it can run code "
		    "here.  Use tls+tcp:// (with --tls-cert, --tls-key and "
		    "--tls-ca), a loopback address, or --insecure if the "
		    "network is yours alone\n",
		    prog, url);
		return 2;
	}
	rlog_write(log, RLOG_WARN, NULL,
	    "listening on %s without TLS (--insecure): anyone who can reach "
	    "it can deploy code and run it here",
	    url);
	return 0;
}

int
cli_serve_trust_add(const char *prog, struct code_trust **t, const char *spec)
{
	char err[1024];
	if (*t == NULL && code_trust_new(t) != LEDGE_OK) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return 2;
	}
	if (code_trust_add(*t, spec, err, sizeof err) != LEDGE_OK) {
		fprintf(stderr, "%s: --trust: %s\n", prog, err);
		return 2;
	}
	return 0;
}

void
cli_serve_trust_note(struct rlog *log, const struct code_trust *t)
{
	size_t n = code_trust_len(t);
	if (n == 0) {
		rlog_write(log, RLOG_WARN, NULL,
		    "code is not checked for signatures: any code given to "
		    "this process runs (--trust KEY.pub runs only code signed "
		    "by KEY; `ledge function sign --help`)");
	} else {
		rlog_write(log, RLOG_INFO, NULL,
		    "running only code signed by %s%zu trusted key%s",
		    n == 1 ? "" : "one of ", n, n == 1 ? "" : "s");
	}
}

static void
stop_loop(void *arg)
{
	loop_exit(arg);
}

static void
on_orc_metrics(void *arg, struct http_req *req)
{
	char *text = NULL;
	size_t len = 0;
	int rv = orc_metrics(arg, &text, &len);
	http_req_respond_metrics(req, rv, text, len);
}

int
cli_serve_orchestrator(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "data", required_argument, NULL, 'd' },
		{ "http", required_argument, NULL, 'H' },
		{ "node-timeout", required_argument, NULL, 't' },
		{ "tls-cert", required_argument, NULL, O_TLS_CERT },
		{ "tls-key", required_argument, NULL, O_TLS_KEY },
		{ "tls-ca", required_argument, NULL, O_TLS_CA },
		{ "log-level", required_argument, NULL, O_LOG },
		{ "insecure", no_argument, NULL, O_INSECURE },
		{ "trust", required_argument, NULL, O_TRUST },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct orc_opts oo = { 0 };
	char sock_url[4200];
	struct code_trust *trust = NULL;
	bool insecure = false;
	struct msg_tls tls = { 0 };
	const char *data = ARGS_ORC_DATA, *http = NULL;
	struct rlog log;
	struct loop *l = NULL;
	struct store *store = NULL;
	struct orc *o = NULL;
	struct http_server *hs = NULL;
	char err[1024], dir[4200];
	int c, level = RLOG_INFO, rc = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "l:d:H:t:h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			oo.listen = optarg;
			break;
		case 'd':
			data = optarg;
			break;
		case 'H':
			http = optarg;
			break;
		case 't': {
			double s = atof(optarg);
			if (s <= 0 || s > 3600) {
				fprintf(stderr,
				    "ledge orchestrator: --node-timeout "
				    "must be between 0 and 3600 seconds\n");
				return 2;
			}
			oo.node_timeout_ms = (uint32_t)(s * 1000);
			break;
		}
		case O_INSECURE:
			insecure = true;
			break;
		case O_TRUST:
			if (cli_serve_trust_add(
			        "ledge orchestrator", &trust, optarg) != 0) {
				code_trust_free(trust);
				return 2;
			}
			break;
		case O_TLS_CERT:
			tls.cert = optarg;
			break;
		case O_TLS_KEY:
			tls.key = optarg;
			break;
		case O_TLS_CA:
			tls.ca = optarg;
			break;
		case O_LOG:
			if ((level = rlog_level_parse(optarg)) < 0) {
				fprintf(stderr,
				    "ledge orchestrator: unknown log "
				    "level '%s'\n",
				    optarg);
				code_trust_free(trust);
				return 2;
			}
			break;
		case 'h':
			fputs(usage_orc, stdout);
			code_trust_free(trust);
			return 0;
		default:
			fputs(usage_orc, stderr);
			code_trust_free(trust);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr,
		    "ledge orchestrator: unexpected argument '%s'\n\n%s",
		    argv[optind], usage_orc);
		code_trust_free(trust);
		return 2;
	}
	oo.tls = tls.cert ? &tls : NULL;
	oo.trust = trust;
	rlog_init(&log, stderr, level);
	if (oo.listen != NULL &&
	    cli_serve_check_listen(
	        "ledge orchestrator", oo.listen, insecure, &log) != 0) {
		rlog_fini(&log);
		code_trust_free(trust);
		return 2;
	}
	cli_serve_trust_note(&log, trust);
	snprintf(dir, sizeof dir, "%s/store", data);
	if (path_mkdirs(data) != LEDGE_OK) {
		fprintf(stderr, "ledge orchestrator: cannot create %s: %s\n",
		    data, strerror(errno));
		goto out;
	}
	if (oo.listen == NULL) {
		/* No --listen: the control socket in the data folder, for this
		 * user only (nodes of this machine may join there too). */
		if (args_control_url(data, sock_url, sizeof sock_url) != 0) {
			fprintf(stderr,
			    "ledge orchestrator: no control socket in %s: %s; "
			    "give --listen URL\n",
			    data, strerror(errno));
			goto out;
		}
		oo.listen = sock_url;
	}
	if (loop_new(&l) != 0) {
		fprintf(stderr, "ledge orchestrator: out of memory\n");
		goto out;
	}
	struct store_opts so = { 0 };
	mode_t mask = umask(077);
	if (store_open(&store, dir, &so, err, sizeof err) != 0 ||
	    orc_start(&o, l, store, &log, &oo, err, sizeof err) != 0) {
		umask(mask);
		fprintf(stderr, "ledge orchestrator: %s\n", err);
		goto out;
	}
	umask(mask);
	if (oo.listen == sock_url) {
		chmod(sock_url + 6, 0600);
	}
	if (http != NULL) {
		if (http_server_new(l, http, &hs, err, sizeof err) != 0) {
			fprintf(stderr, "ledge orchestrator: %s\n", err);
			goto out;
		}
		http_server_add_path(hs, "/metrics", on_orc_metrics, o);
		rlog_write(&log, RLOG_INFO, "orchestrator",
		    "metrics on http://%s:%d/metrics", http_server_host(hs),
		    http_server_port(hs));
	}
	loop_signal(l, SIGINT, stop_loop, l);
	loop_signal(l, SIGTERM, stop_loop, l);
	rlog_write(&log, RLOG_INFO, NULL, "ready; Ctrl-C stops");
	loop_run(l);
	rlog_write(&log, RLOG_INFO, NULL, "stopped cleanly");
	rc = 0;
out:
	http_server_free(hs);
	orc_free(o);
	if (l != NULL) {
		loop_drain(l);
		loop_free(l);
	}
	store_close(store);
	rlog_fini(&log);
	code_trust_free(trust);
	return rc;
}

int
cli_serve_node(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "orchestrator", required_argument, NULL, 'o' },
		{ "listen", required_argument, NULL, 'l' },
		{ "data", required_argument, NULL, 'd' },
		{ "name", required_argument, NULL, 'n' },
		{ "label", required_argument, NULL, O_LABEL },
		{ "http", required_argument, NULL, 'H' },
		{ "workers", required_argument, NULL, 'w' },
		{ "no-sync", no_argument, NULL, O_NOSYNC },
		{ "replica-timeout", required_argument, NULL,
		    O_REPLICA_TIMEOUT },
		{ "tls-cert", required_argument, NULL, O_TLS_CERT },
		{ "tls-key", required_argument, NULL, O_TLS_KEY },
		{ "tls-ca", required_argument, NULL, O_TLS_CA },
		{ "log-level", required_argument, NULL, O_LOG },
		{ "insecure", no_argument, NULL, O_INSECURE },
		{ "trust", required_argument, NULL, O_TRUST },
		{ "host-user", required_argument, NULL, O_HOST_USER },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct agent_opts ao = { 0 };
	struct code_trust *trust = NULL;
	char node_url[PATH_MAX + 32];
	bool insecure = false;
	struct node_opts no = { .data_dir = "./.ledge-node",
		.host_exe = cli_serve_self_exe() };
	struct msg_tls tls = { 0 };
	const char *lk[64], *lv[64];
	char *labels[64];
	size_t nl = 0;
	struct rlog log;
	struct embed *e = NULL;
	struct embed_opts eo;
	char err[1024];
	int c, level = RLOG_INFO, rc = 1;

	char orc_url[4200];
	ao.orchestrator = getenv("LEDGE_ORCHESTRATOR");
	if (ao.orchestrator == NULL || !*ao.orchestrator) {
		/* An orchestrator of this machine on its control socket. */
		ao.orchestrator =
		    args_find_control(NULL, orc_url, sizeof orc_url);
	}
	optind = 1;
	while (
	    (c = getopt_long(argc, argv, "o:l:d:n:H:w:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			ao.orchestrator = optarg;
			break;
		case 'l':
			ao.listen = optarg;
			break;
		case 'd':
			no.data_dir = optarg;
			break;
		case 'n':
			no.name = optarg;
			break;
		case O_LABEL: {
			char *eq = strchr(optarg, '=');
			if (eq == NULL || eq == optarg || nl == 64) {
				fprintf(stderr,
				    "ledge node: --label wants KEY=VALUE, got "
				    "'%s'\n",
				    optarg);
				goto out_labels;
			}
			labels[nl] = strndup(optarg, (size_t)(eq - optarg));
			lk[nl] = labels[nl];
			lv[nl] = eq + 1;
			nl++;
			break;
		}
		case 'H':
			no.http_addr = optarg;
			ao.http = optarg;
			break;
		case 'w':
			no.workers = atoi(optarg);
			break;
		case O_NOSYNC:
			no.store.nosync = true;
			break;
		case O_INSECURE:
			insecure = true;
			break;
		case O_TRUST:
			if (cli_serve_trust_add("ledge node", &trust, optarg) !=
			    0) {
				rc = 2;
				goto out_labels;
			}
			break;
		case O_HOST_USER:
			no.host_user = optarg;
			break;
		case O_REPLICA_TIMEOUT: {
			char *end;
			unsigned long ms = strtoul(optarg, &end, 10);
			if (*optarg < '0' || *optarg > '9' || *end != '\0' ||
			    ms < 1 || ms > 3600000) {
				fprintf(stderr,
				    "ledge node: --replica-timeout wants a "
				    "number of ms from 1 to 3600000, got "
				    "'%s'\n",
				    optarg);
				rc = 2;
				goto out_labels;
			}
			no.replica_timeout_ms = (uint32_t)ms;
			break;
		}
		case O_TLS_CERT:
			tls.cert = optarg;
			break;
		case O_TLS_KEY:
			tls.key = optarg;
			break;
		case O_TLS_CA:
			tls.ca = optarg;
			break;
		case O_LOG:
			if ((level = rlog_level_parse(optarg)) < 0) {
				fprintf(stderr,
				    "ledge node: unknown log level '%s'\n",
				    optarg);
				goto out_labels;
			}
			break;
		case 'h':
			fputs(usage_node, stdout);
			rc = 0;
			goto out_labels;
		default:
			fputs(usage_node, stderr);
			rc = 2;
			goto out_labels;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "ledge node: unexpected argument '%s'\n\n%s",
		    argv[optind], usage_node);
		rc = 2;
		goto out_labels;
	}
	if (ao.listen == NULL) {
		/* No --listen: a socket in the data folder, which only the
		 * orchestrator and nodes of this machine can reach. */
		if (path_mkdirs(no.data_dir) != LEDGE_OK ||
		    args_socket_url(no.data_dir, "node.sock", node_url,
		        sizeof node_url) != 0) {
			fprintf(stderr,
			    "ledge node: no socket in %s: %s; give --listen "
			    "URL\n",
			    no.data_dir, strerror(errno));
			rc = 2;
			goto out_labels;
		}
		ao.listen = node_url;
	}
	ao.nlabels = nl;
	ao.label_keys = lk;
	ao.label_values = lv;
	ao.tls = tls.cert ? &tls : NULL;
	no.tls = ao.tls;
	no.trust = trust;
	rlog_init(&log, stderr, level);
	if (cli_serve_check_listen("ledge node", ao.listen, insecure, &log) !=
	    0) {
		rc = 2;
		goto out;
	}
	cli_serve_trust_note(&log, trust);
	eo = (struct embed_opts) { .node = no, .join = &ao };
	if (embed_new(&e, &eo, NULL, 0, &log, err, sizeof err) != LEDGE_OK ||
	    embed_start(e, err, sizeof err) != LEDGE_OK) {
		fprintf(stderr, "ledge node: %s\n", err);
		goto out;
	}
	rlog_write(&log, RLOG_INFO, NULL, "ready; Ctrl-C stops");
	rc = embed_run(e);
	rlog_write(&log, RLOG_INFO, NULL, "stopped cleanly");
out:
	embed_free(e);
	rlog_fini(&log);
out_labels:
	for (size_t i = 0; i < nl; i++) {
		free(labels[i]);
	}
	code_trust_free(trust);
	return rc;
}

const char *
cli_serve_usage_orchestrator(void)
{
	return usage_orc;
}

const char *
cli_serve_usage_node(void)
{
	return usage_node;
}

const char *
cli_serve_self_exe(void)
{
	static char path[4096];
	ssize_t n;

	if (path[0] == '\0') {
		n = readlink("/proc/self/exe", path, sizeof path - 1);
		if (n <= 0) {
			return NULL;
		}
		path[n] = '\0';
	}
	return path;
}

static const char usage_host[] =
    "usage: ledge host --connect URL --code FILE.so --name WF/FN "
    "[--parent PID] [--dir DIR] [--user USER] [--sandbox] [--allow WHAT]\n"
    "\n"
    "The host process of a function with `isolation: process`: a node\n"
    "starts it, it loads the function's code and runs its callbacks for\n"
    "the node over URL (ipc://), and it ends when the node does.  Not\n"
    "for use by hand.\n";

int
cli_serve_host(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "connect", required_argument, NULL, 'c' },
		{ "code", required_argument, NULL, 'f' },
		{ "name", required_argument, NULL, 'n' },
		{ "parent", required_argument, NULL, 'p' },
		{ "dir", required_argument, NULL, 'd' },
		{ "user", required_argument, NULL, 'u' },
		{ "sandbox", no_argument, NULL, 's' },
		{ "allow", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *code = NULL, *dir = NULL;
	struct host_args ha = { .name = "?", .user = HOST_DEFAULT_USER };
	char abs_code[PATH_MAX], report[PATH_MAX + 16];
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			ha.url = optarg;
			break;
		case 'f':
			code = optarg;
			break;
		case 'n':
			ha.name = optarg;
			break;
		case 'p':
			ha.parent = atoi(optarg);
			break;
		case 'd':
			dir = optarg;
			break;
		case 'u':
			ha.user = optarg;
			break;
		case 's':
			ha.sandbox = true;
			break;
		case 'a': {
			unsigned bit = host_sandbox_allow_bit(optarg);
			if (bit == 0) {
				fprintf(stderr,
				    "ledge host: --allow: unknown '%s' (%s)\n",
				    optarg, host_sandbox_allow_names());
				return 2;
			}
			ha.allow |= bit;
			break;
		}
		case 'h':
			fputs(usage_host, stdout);
			return 0;
		default:
			fputs(usage_host, stderr);
			return 2;
		}
	}
	if (ha.url == NULL || code == NULL) {
		fputs(usage_host, stderr);
		return 2;
	}
	/* Nothing of the node's but stdout and stderr: its listening
	 * sockets and store files are none of the host's business. */
	close_range(3, ~0u, 0);
	if (ha.parent > 0 && getppid() != ha.parent) {
		return 0; /* the node is gone already */
	}
	/* The code is named from where the node is, before the host works
	 * in its private folder. */
	{
		char why[512];
		if (realpath(code, abs_code) == NULL) {
			fprintf(stderr, "ledge host: %s: %s\n", code,
			    strerror(errno));
			return 1;
		}
		ha.code = abs_code;
		if (host_confine(dir, why, sizeof why) != LEDGE_OK) {
			fprintf(stderr, "ledge host: cannot confine %s: %s\n",
			    ha.name, why);
			return 1;
		}
	}
	if (ha.sandbox && dir != NULL) {
		snprintf(report, sizeof report, "%s/%s", dir, HOST_REPORT_FILE);
		ha.report = report;
	}
	rc = host_proc_main(&ha);
	if (ha.sandbox) {
		/* Nothing more: the C library's and the sanitizers' exit
		 * work (a leak check stops the world with ptrace) is not for
		 * a sandbox, nor are the function's destructors. */
		fflush(NULL);
		_exit(rc);
	}
	msg_fini();
	return rc;
}
