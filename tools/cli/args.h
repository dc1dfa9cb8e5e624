/*
 * args.h - the options and arguments of a domain command.
 *
 * Every command takes the common options (--orchestrator URL, --data
 * DIR, --tls-cert/--tls-key/--tls-ca FILE, --timeout MS, --json,
 * -h/--help),
 * the ones its spec's flags allow (-c/--call, -f/--follow,
 * --accept-loss), and between
 * min_pos and max_pos arguments ('--' ends the options).  The address
 * comes from --orchestrator, else $LEDGE_ORCHESTRATOR, else the control
 * socket of `ledge run` in the data folder if there is one, else
 * ARGS_DEFAULT_ORCHESTRATOR.
 *
 * Usage errors go to stderr; --help goes to stdout.  Reads the
 * environment; meant for the CLI's main thread.
 */
#ifndef LEDGE_CLI_ARGS_H
#define LEDGE_CLI_ARGS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/diag.h"
#include "net/msg.h"

/* The default orchestrator address (when no control socket is found). */
#define ARGS_DEFAULT_ORCHESTRATOR "tcp://127.0.0.1:7600"

/* `ledge run`'s control socket in its data folder (mode 0600), and the
 * data folder it is looked for in when neither --orchestrator nor
 * $LEDGE_ORCHESTRATOR is given: --data DIR, else $LEDGE_DATA, else
 * ARGS_DEFAULT_DATA. */
#define ARGS_CONTROL_SOCK "control.sock"
#define ARGS_DEFAULT_DATA "./.ledge"
/* `ledge orchestrator`'s data folder by default. */
#define ARGS_ORC_DATA "./.ledge-orc"

/*
 * The URL of the control socket in data folder `dir` (an existing
 * folder), "ipc://" and its absolute path, into buf (n bytes).  0, or -1
 * if dir cannot be resolved (errno says why) or the path would not fit a
 * socket address (ENAMETOOLONG).
 */
int args_control_url(const char *dir, char *buf, size_t n);

/* The same for the socket `name` in `dir` (a node's "node.sock"). */
int args_socket_url(const char *dir, const char *name, char *buf, size_t n);

/*
 * The control socket a command talks to when no address is given: the
 * one in `dir`, else in $LEDGE_DATA, else in ./.ledge (`ledge run`) or
 * ./.ledge-orc (`ledge orchestrator`), the first that exists, as a URL
 * in buf (n bytes); else ARGS_DEFAULT_ORCHESTRATOR.  Returns buf or that
 * string.
 */
const char *args_find_control(const char *dir, char *buf, size_t n);

/* Options besides the common ones, for args_spec.flags. */
enum {
	ARGS_CALL = 1 << 0,   /* -c, --call */
	ARGS_FOLLOW = 1 << 1, /* -f, --follow */
	ARGS_LOSSY = 1 << 2,  /* --accept-loss */
	ARGS_KEY = 1 << 3,    /* --key K (a keyed function's instance) */
	ARGS_PAGE = 1 << 4,   /* --prefix P, --limit N, --after K */
};

#define ARGS_MAX_POS 4

/* What args_parse returns after printing the help. */
#define ARGS_HELP (-1)

/* What one command accepts.  Static data: every pointer lives as long as
 * the program. */
struct args_spec {
	const char *prog;  /* "ledge workflow start", for messages */
	const char *usage; /* usage.h text, without the common options */
	unsigned flags;    /* ARGS_* it accepts */
	int min_pos, max_pos;
	const char *pos_names[ARGS_MAX_POS]; /* for "missing NAME" */
	uint32_t timeout_ms;                 /* default --timeout */
};

/* The parsed words.  Strings point into argv, the environment or
 * sock_url. */
struct args {
	const char *url;     /* the orchestrator */
	const char *data;    /* --data, or NULL */
	const char *key;     /* --key (ARGS_KEY), escapes as text.h reads */
	const char *prefix;  /* --prefix (ARGS_PAGE) */
	const char *after;   /* --after (ARGS_PAGE) */
	const char *limit;   /* --limit (ARGS_PAGE), checked by the command */
	char sock_url[4200]; /* url, when it is a control socket found */
	struct msg_tls tls;  /* the --tls-* files (for tls+tcp:// only) */
	bool json, call, follow, accept_loss;
	uint32_t timeout_ms; /* --timeout, else the spec's */
	const char *pos[ARGS_MAX_POS];
	int npos;
};

/*
 * Parse argv (the words after the command) into a.  Returns 0; 2 after
 * printing a usage error (unknown option, missing value or argument, a
 * bad --timeout or address, tls+tcp:// without the three files); or
 * ARGS_HELP after printing the help to stdout.
 */
int args_parse(
    const struct args_spec *s, int argc, char **argv, struct args *a);

/*
 * A usage error: "PROG: message" (printf-style), the synopsis of s->usage
 * and where to read more, on stderr.  Returns 2, the exit code of a usage
 * error.
 */
int args_usage_error(const struct args_spec *s, const char *fmt, ...)
    DIAG_PRINTF(2, 3);

/* Whether a is a request for help: -h, --help or help. */
bool args_is_help(const char *a);

#endif
