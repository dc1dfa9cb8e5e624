/*
 * args.c - the options and arguments of a domain command (see args.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "args.h"
#include "usage.h"

bool
args_is_help(const char *a)
{
	return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0 ||
	    strcmp(a, "help") == 0;
}

int
args_usage_error(const struct args_spec *s, const char *fmt, ...)
{
	const char *end = strstr(s->usage, "\n\n");
	va_list ap;

	fprintf(stderr, "%s: ", s->prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	/* The synopsis (up to the first blank line), not the whole text. */
	fprintf(stderr, "\n%.*s\n(`%s --help` tells more)\n",
	    (int)(end ? (size_t)(end - s->usage) : strlen(s->usage)), s->usage,
	    s->prog);
	return 2;
}

static bool
url_ok(const char *u)
{
	static const char *const schemes[] = { "tcp://", "tls+tcp://", "ipc://",
		"inproc://", NULL };
	for (size_t i = 0; schemes[i] != NULL; i++) {
		if (strncmp(u, schemes[i], strlen(schemes[i])) == 0 &&
		    u[strlen(schemes[i])] != '\0') {
			return true;
		}
	}
	return false;
}

int
args_socket_url(const char *dir, const char *name, char *buf, size_t n)
{
	char abs[PATH_MAX];
	struct sockaddr_un sa;

	if (realpath(dir, abs) == NULL) {
		return -1;
	}
	if (strlen(abs) + 1 + strlen(name) + 1 > sizeof sa.sun_path ||
	    (size_t)snprintf(buf, n, "ipc://%s/%s", abs, name) >= n) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int
args_control_url(const char *dir, char *buf, size_t n)
{
	return args_socket_url(dir, ARGS_CONTROL_SOCK, buf, n);
}

const char *
args_find_control(const char *dir, char *buf, size_t n)
{
	struct stat st;

	if (dir == NULL && (dir = getenv("LEDGE_DATA")) != NULL && !*dir) {
		dir = NULL;
	}
	/* Given a folder, that one; else `ledge run`'s, then `ledge
	 * orchestrator`'s default. */
	const char *dirs[] = { dir ? dir : ARGS_DEFAULT_DATA,
		dir ? NULL : ARGS_ORC_DATA };
	for (size_t i = 0; i < 2 && dirs[i] != NULL; i++) {
		if (args_control_url(dirs[i], buf, n) == 0 &&
		    stat(buf + 6, &st) == 0 && S_ISSOCK(st.st_mode)) {
			return buf;
		}
	}
	return ARGS_DEFAULT_ORCHESTRATOR;
}

/* The control socket to use, as a URL (in o->sock_url), if one is there;
 * else ARGS_DEFAULT_ORCHESTRATOR. */
static const char *
control_socket(struct args *o)
{
	return args_find_control(o->data, o->sock_url, sizeof o->sock_url);
}

/* Long options with a value, and where the value goes. */
static const char **
valued(struct args *o, unsigned flags, const char *name, const char **tbuf)
{
	if (strcmp(name, "orchestrator") == 0) {
		return &o->url;
	}
	if (strcmp(name, "data") == 0) {
		return &o->data;
	}
	if (strcmp(name, "tls-cert") == 0) {
		return &o->tls.cert;
	}
	if (strcmp(name, "tls-key") == 0) {
		return &o->tls.key;
	}
	if (strcmp(name, "tls-ca") == 0) {
		return &o->tls.ca;
	}
	if (strcmp(name, "timeout") == 0) {
		return tbuf;
	}
	if ((flags & ARGS_KEY) && strcmp(name, "key") == 0) {
		return &o->key;
	}
	if ((flags & ARGS_PAGE) && strcmp(name, "prefix") == 0) {
		return &o->prefix;
	}
	if ((flags & ARGS_PAGE) && strcmp(name, "after") == 0) {
		return &o->after;
	}
	if ((flags & ARGS_PAGE) && strcmp(name, "limit") == 0) {
		return &o->limit;
	}
	return NULL;
}

int
args_parse(const struct args_spec *s, int argc, char **argv, struct args *o)
{
	const char *timeout = NULL, *env;
	bool dashdash = false;

	memset(o, 0, sizeof *o);
	o->timeout_ms = s->timeout_ms;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *val, **slot;
		char name[64];

		if (dashdash || a[0] != '-' || a[1] == '\0') {
			if (o->npos == s->max_pos) {
				return args_usage_error(
				    s, "unexpected argument '%s'", a);
			}
			o->pos[o->npos++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			dashdash = true;
			continue;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage_print(s->usage, s->timeout_ms, stdout);
			return ARGS_HELP;
		}
		if (strcmp(a, "--json") == 0) {
			o->json = true;
			continue;
		}
		if ((s->flags & ARGS_CALL) &&
		    (strcmp(a, "-c") == 0 || strcmp(a, "--call") == 0)) {
			o->call = true;
			continue;
		}
		if ((s->flags & ARGS_FOLLOW) &&
		    (strcmp(a, "-f") == 0 || strcmp(a, "--follow") == 0)) {
			o->follow = true;
			continue;
		}
		if ((s->flags & ARGS_LOSSY) &&
		    strcmp(a, "--accept-loss") == 0) {
			o->accept_loss = true;
			continue;
		}
		/* --name VALUE or --name=VALUE */
		val = a[1] == '-' ? strchr(a, '=') : NULL;
		snprintf(name, sizeof name, "%.*s",
		    (int)(val ? (size_t)(val - a - 2) : strlen(a + 2)),
		    a[1] == '-' ? a + 2 : "");
		slot = a[1] == '-' ? valued(o, s->flags, name, &timeout) : NULL;
		if (slot == NULL) {
			return args_usage_error(s,
			    "unknown option '%s' (an argument that starts "
			    "with '-' goes after --)",
			    a);
		}
		if (val != NULL) {
			val++;
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			return args_usage_error(s, "--%s needs a value", name);
		}
		*slot = val;
	}
	if (o->npos < s->min_pos) {
		return args_usage_error(s, "missing %s", s->pos_names[o->npos]);
	}
	if (timeout != NULL) {
		char *end;
		unsigned long t;
		errno = 0;
		t = strtoul(timeout, &end, 10);
		if (errno != 0 || end == timeout || *end != '\0' || t < 1 ||
		    t > 3600000 || timeout[0] == '-') {
			return args_usage_error(s,
			    "--timeout must be a number of milliseconds "
			    "(1 to 3600000), not '%s'",
			    timeout);
		}
		o->timeout_ms = (uint32_t)t;
	}
	if (o->url == NULL && (env = getenv("LEDGE_ORCHESTRATOR")) != NULL &&
	    *env != '\0') {
		o->url = env;
	}
	if (o->url == NULL) {
		o->url = control_socket(o);
	}
	if (!url_ok(o->url)) {
		return args_usage_error(s,
		    "'%s' is not an orchestrator address (tcp://HOST:PORT, "
		    "tls+tcp://HOST:PORT or ipc:///PATH)",
		    o->url);
	}
	if (strncmp(o->url, "tls+tcp://", 10) == 0 &&
	    (o->tls.cert == NULL || o->tls.key == NULL || o->tls.ca == NULL)) {
		return args_usage_error(
		    s, "%s needs --tls-cert, --tls-key and --tls-ca", o->url);
	}
	return 0;
}
