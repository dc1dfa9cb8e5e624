/*
 * cmd_certs.c - `ledge certs init|issue` (cmd_certs.h).
 *
 * The X.509 work is the openssl command's: it is on every Debian system
 * that has ca-certificates, and writing certificates with a library
 * would be code of ours doing what it already does well.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "cmd_certs.h"
#include "code/code_sign.h"
#include "net/msg_token.h"

static const char usage[] =
    "usage: ledge certs init DIR\n"
    "       ledge certs issue --dir DIR (--role ROLE [--host H]... "
    "NAME[@H,...]...)...\n"
    "\n"
    "The certificates of a TLS domain (tls+tcp:// addresses), made with\n"
    "the openssl command.  `init` makes the domain's CA in DIR (ca.key\n"
    "and ca.sign.key, readable by you only; ca.crt and ca.sign.pub, for\n"
    "every box).  `issue` makes NAME.key, NAME.crt and NAME.token in DIR\n"
    "for each NAME, signed by that CA, for the ROLE given before it -\n"
    "orchestrator, node, admin or viewer (a process whose --tls-ca folder\n"
    "has ca.sign.pub serves each request only for the roles that may make\n"
    "it) - and usable as a client and as a server on the hosts\n"
    "after its '@' (IP addresses or DNS names, separated by commas), else\n"
    "on each --host H given before it, else on 127.0.0.1 and localhost.\n"
    "One command can issue a whole domain:\n"
    "  ledge certs issue -d pki -r orchestrator orc@10.0.0.1 \\\n"
    "      -r node edge-1@10.0.0.5 edge-2@10.0.0.6 -r admin me\n"
    "Give each process --tls-cert NAME.crt --tls-key NAME.key --tls-ca\n"
    "ca.crt.  Every NAME is checked before any is made; existing files\n"
    "are never overwritten.\n"
    "\n"
    "options:\n"
    "  -d, --dir DIR           where the CA is and the files go\n"
    "  -r, --role ROLE         orchestrator, node, admin or viewer\n"
    "  -H, --host H            a name or address it serves on (repeatable)\n"
    "  -h, --help              this text\n";

static const char *const roles[] = { "orchestrator", "node", "admin",
	"viewer" };

/* Run openssl with args (NULL-terminated, without argv[0]); 0 if it
 * succeeded, else 1 with what it said on stderr. */
static int
openssl(const char *const *args)
{
	const char *argv[32];
	size_t n = 0;
	pid_t pid;
	int status;

	argv[n++] = "openssl";
	for (size_t i = 0; args[i] != NULL && n < 31; i++) {
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	fflush(stdout);
	fflush(stderr);
	/* What it says goes to `said`, shown only if it fails. */
	FILE *said = tmpfile();
	if ((pid = fork()) < 0) {
		perror("ledge certs: fork");
		if (said != NULL) {
			fclose(said);
		}
		return 1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0) {
			dup2(null, 1);
		}
		if (said != NULL) {
			dup2(fileno(said), 2);
		}
		execvp(argv[0], (char *const *)argv);
		fprintf(stderr,
		    "ledge certs: cannot run openssl: %s (Debian package "
		    "openssl)\n",
		    strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR) { }
	bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	if (!ok && said != NULL) {
		char line[512];
		rewind(said);
		while (fgets(line, sizeof line, said) != NULL) {
			fputs(line, stderr);
		}
	}
	if (!ok && (!WIFEXITED(status) || WEXITSTATUS(status) != 127)) {
		fprintf(stderr, "ledge certs: openssl %s failed\n", args[0]);
	}
	if (said != NULL) {
		fclose(said);
	}
	return ok ? 0 : 1;
}

static char *
join(const char *dir, const char *name, const char *ext)
{
	size_t n = strlen(dir) + strlen(name) + strlen(ext) + 2;
	char *p = malloc(n);
	if (p != NULL) {
		snprintf(p, n, "%s/%s%s", dir, name, ext);
	}
	return p;
}

/* Whether each path is free to write; else a message and false. */
static bool
all_free(const char *const *paths)
{
	for (size_t i = 0; paths[i] != NULL; i++) {
		if (access(paths[i], F_OK) == 0) {
			fprintf(stderr,
			    "ledge certs: %s exists already; not overwritten\n",
			    paths[i]);
			return false;
		}
	}
	return true;
}

/* The domain's signing key, for role tokens: DIR/ca.sign.key (0600) and
 * ca.sign.pub, made if missing (a CA made before roles had none). */
static int
signing_key(const char *dir)
{
	char *key = join(dir, "ca.sign", ".key");
	char *prefix = join(dir, "ca.sign", "");
	char id[17], err[512];
	int rc = 0;
	if (key == NULL || prefix == NULL) {
		fprintf(stderr, "ledge certs: out of memory\n");
		rc = 1;
	} else if (access(key, F_OK) != 0 &&
	    code_key_generate(prefix, id, err, sizeof err) != LEDGE_OK) {
		fprintf(stderr, "ledge certs: %s\n", err);
		rc = 1;
	}
	free(key);
	free(prefix);
	return rc;
}

/* NAME.token: its role, signed with the domain's key. */
static int
write_token(const char *dir, const char *role, const char *name)
{
	char *key = join(dir, "ca.sign", ".key"),
	     *path = join(dir, name, ".token");
	char tok[MSG_TOKEN_MAX], err[512];
	/* As long as the certificate (825 days). */
	uint64_t expiry = (uint64_t)time(NULL) + 825ull * 86400;
	int rc = 1, fd;
	if (key == NULL || path == NULL) {
		fprintf(stderr, "ledge certs: out of memory\n");
	} else if (msg_token_make(key, msg_role_bit(role), name, expiry, tok,
	               sizeof tok, err, sizeof err) != 0) {
		fprintf(stderr, "ledge certs: %s\n", err);
	} else if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	                0600)) < 0) {
		fprintf(stderr, "ledge certs: %s: %s\n", path, strerror(errno));
	} else {
		size_t n = strlen(tok);
		rc = write(fd, tok, n) == (ssize_t)n ? 0 : 1;
		if (close(fd) != 0 || rc != 0) {
			fprintf(stderr, "ledge certs: %s: %s\n", path,
			    strerror(errno));
			rc = 1;
		}
	}
	free(key);
	free(path);
	return rc;
}

static int
certs_init(const char *dir)
{
	char *key = join(dir, "ca", ".key"), *crt = join(dir, "ca", ".crt");
	int rc = 1;

	if (key == NULL || crt == NULL) {
		fprintf(stderr, "ledge certs: out of memory\n");
	} else if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "ledge certs: cannot create %s: %s\n", dir,
		    strerror(errno));
	} else if (all_free((const char *const[]) { key, crt, NULL })) {
		mode_t old = umask(077);
		rc = openssl((const char *const[]) { "req", "-x509", "-newkey",
		    "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
		    "-keyout", key, "-out", crt, "-days", "3650", "-subj",
		    "/O=ledge/CN=ledge domain CA", "-addext",
		    "basicConstraints=critical,CA:TRUE", "-addext",
		    "keyUsage=critical,keyCertSign,cRLSign", NULL });
		umask(old);
		if (rc == 0) {
			rc = signing_key(dir);
		}
		if (rc == 0) {
			chmod(crt, 0644);
			printf("CA made: %s and %s/ca.sign.key (keep them "
			       "secret), %s and %s/ca.sign.pub\n",
			    key, dir, crt, dir);
		}
	}
	free(key);
	free(crt);
	return rc;
}

/* The extensions file of a certificate for `hosts`. */
static int
write_ext(const char *path, const char *const *hosts, size_t nhosts)
{
	FILE *fp = fopen(path, "w");
	unsigned char buf[16];
	if (fp == NULL) {
		fprintf(stderr, "ledge certs: %s: %s\n", path, strerror(errno));
		return 1;
	}
	fputs("subjectAltName=", fp);
	for (size_t i = 0; i < nhosts; i++) {
		bool ip = inet_pton(AF_INET, hosts[i], buf) == 1 ||
		    inet_pton(AF_INET6, hosts[i], buf) == 1;
		fprintf(
		    fp, "%s%s:%s", i ? "," : "", ip ? "IP" : "DNS", hosts[i]);
	}
	fputs("\nbasicConstraints=CA:FALSE\n"
	      "keyUsage=digitalSignature,keyEncipherment\n"
	      "extendedKeyUsage=serverAuth,clientAuth\n",
	    fp);
	if (fclose(fp) != 0) {
		fprintf(stderr, "ledge certs: %s: %s\n", path, strerror(errno));
		return 1;
	}
	return 0;
}

static bool
name_ok(const char *s)
{
	if (*s == '\0' || strlen(s) > 64) {
		return false;
	}
	for (; *s; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		        (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
		        *s == '.')) {
			return false;
		}
	}
	return true;
}

static int
certs_issue(const char *dir, const char *role, const char *name,
    const char *const *hosts, size_t nhosts)
{
	char *cak = join(dir, "ca", ".key"), *cac = join(dir, "ca", ".crt");
	char *key = join(dir, name, ".key"), *crt = join(dir, name, ".crt");
	char *csr = join(dir, name, ".csr"), *ext = join(dir, name, ".ext");
	char *tok = join(dir, name, ".token");
	char *srl = join(dir, "ca", ".srl");
	char subj[200];
	int rc = 1;

	snprintf(subj, sizeof subj, "/O=ledge/OU=ledge-%s/CN=%s", role, name);
	if (!cak || !cac || !key || !crt || !csr || !ext || !srl || !tok) {
		fprintf(stderr, "ledge certs: out of memory\n");
	} else if (access(cak, R_OK) != 0 || access(cac, R_OK) != 0) {
		fprintf(stderr,
		    "ledge certs: no CA in %s (%s and ca.crt): make one with "
		    "`ledge certs init %s`\n",
		    dir, cak, dir);
	} else if (all_free((const char *const[]) { key, crt, tok, NULL }) &&
	    signing_key(dir) == 0 && write_ext(ext, hosts, nhosts) == 0) {
		mode_t old = umask(077);
		rc = openssl((const char *const[]) { "req", "-new", "-newkey",
		    "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
		    "-keyout", key, "-out", csr, "-subj", subj, NULL });
		umask(old);
		rc = rc != 0
		    ? rc
		    : openssl((const char *const[]) { "x509", "-req", "-in",
		          csr, "-CA", cac, "-CAkey", cak, "-CAserial", srl,
		          "-CAcreateserial", "-out", crt, "-days", "825",
		          "-extfile", ext, NULL });
		rc = rc != 0 ? rc : write_token(dir, role, name);
		if (rc == 0) {
			chmod(crt, 0644);
			printf("issued %s (role %s), %s and %s\n", crt, role,
			    key, tok);
		} else {
			unlink(key);
			unlink(crt);
		}
		unlink(csr);
		unlink(ext);
	}
	free(cak);
	free(cac);
	free(key);
	free(crt);
	free(csr);
	free(ext);
	free(srl);
	free(tok);
	return rc;
}

/* One certificate to issue: NAME or NAME@HOST[,HOST...], with the role
 * and the --host list given before it. */
#define MAX_ITEMS 32
struct item {
	const char *role, *arg;
	const char *const *hosts; /* --host so far (a copy: below) */
	size_t nhosts;
	char name[72];
	char hbuf[1024];
	const char *h[32]; /* from @HOST,... (nh of them) or the defaults */
	size_t nh;
};

static bool
host_ok(const char *h)
{
	return name_ok(h) || (strchr(h, ':') != NULL && strlen(h) < 64);
}

/* Split NAME@HOST,... and check every part; 0, or -1 after saying why. */
static int
parse_item(struct item *it)
{
	const char *at = strchr(it->arg, '@');
	size_t nl = at ? (size_t)(at - it->arg) : strlen(it->arg);

	snprintf(it->name, sizeof it->name, "%.*s", (int)nl, it->arg);
	if (nl >= sizeof it->name || !name_ok(it->name) ||
	    strcmp(it->name, "ca") == 0) {
		fprintf(stderr,
		    "ledge certs issue: NAME '%.*s' must be 1 to 64 letters, "
		    "digits, '-', '_' or '.', and not 'ca'\n",
		    (int)nl, it->arg);
		return -1;
	}
	if (at != NULL) {
		char *save = NULL;
		snprintf(it->hbuf, sizeof it->hbuf, "%s", at + 1);
		for (char *t = strtok_r(it->hbuf, ",", &save);
		     t != NULL && it->nh < 32; t = strtok_r(NULL, ",", &save)) {
			it->h[it->nh++] = t;
		}
		if (it->nh == 0) {
			fprintf(stderr,
			    "ledge certs issue: '%s' names no host after "
			    "'@'\n",
			    it->arg);
			return -1;
		}
	}
	for (size_t i = 0; i < it->nh; i++) {
		if (!host_ok(it->h[i])) {
			fprintf(stderr,
			    "ledge certs issue: '%s' is not a name or an "
			    "address\n",
			    it->h[i]);
			return -1;
		}
	}
	for (size_t i = 0; i < it->nhosts; i++) {
		if (!host_ok(it->hosts[i])) {
			fprintf(stderr,
			    "ledge certs issue: --host '%s' is not a name or "
			    "an address\n",
			    it->hosts[i]);
			return -1;
		}
	}
	if (it->nh == 0 && it->nhosts == 0) {
		it->h[it->nh++] = "127.0.0.1";
		it->h[it->nh++] = "localhost";
	}
	return 0;
}

int
cmd_certs_main(int argc, char **argv)
{
	const char *dir = NULL, *role = NULL, *hosts[32];
	struct item items[MAX_ITEMS] = { 0 };
	size_t nhosts = 0, nitems = 0;
	bool role_ok = false;

	if (argc < 1 || strcmp(argv[0], "-h") == 0 ||
	    strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "help") == 0) {
		fputs(usage, argc < 1 ? stderr : stdout);
		return argc < 1 ? 2 : 0;
	}
	if (strcmp(argv[0], "init") == 0) {
		if (argc == 2 &&
		    (strcmp(argv[1], "-h") == 0 ||
		        strcmp(argv[1], "--help") == 0)) {
			fputs(usage, stdout);
			return 0;
		}
		if (argc != 2 || argv[1][0] == '-') {
			fprintf(stderr, "ledge certs init: want one DIR\n\n%s",
			    usage);
			return 2;
		}
		return certs_init(argv[1]);
	}
	if (strcmp(argv[0], "issue") != 0) {
		fprintf(stderr, "ledge certs: unknown command '%s'\n\n%s",
		    argv[0], usage);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool more = i + 1 < argc;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage, stdout);
			return 0;
		} else if ((strcmp(a, "-d") == 0 || strcmp(a, "--dir") == 0) &&
		    more) {
			dir = argv[++i];
		} else if ((strcmp(a, "-r") == 0 || strcmp(a, "--role") == 0) &&
		    more) {
			role = argv[++i];
			role_ok = false;
			for (size_t k = 0; k < 4; k++) {
				role_ok =
				    role_ok || strcmp(role, roles[k]) == 0;
			}
			if (!role_ok) {
				fprintf(stderr,
				    "ledge certs issue: --role must be "
				    "orchestrator, node, admin or viewer, not "
				    "'%s'\n\n%s",
				    role, usage);
				return 2;
			}
		} else if ((strcmp(a, "-H") == 0 || strcmp(a, "--host") == 0) &&
		    more && nhosts < 32) {
			hosts[nhosts++] = argv[++i];
		} else if (a[0] != '-' && nitems < MAX_ITEMS) {
			if (role == NULL) {
				fprintf(stderr,
				    "ledge certs issue: give --role before "
				    "'%s'\n\n%s",
				    a, usage);
				return 2;
			}
			items[nitems].role = role;
			items[nitems].arg = a;
			items[nitems].hosts = hosts;
			items[nitems].nhosts = nhosts;
			nitems++;
		} else {
			fprintf(stderr,
			    "ledge certs issue: unexpected '%s'\n\n%s", a,
			    usage);
			return 2;
		}
	}
	if (dir == NULL || nitems == 0) {
		fprintf(stderr, "ledge certs issue: %s\n\n%s",
		    dir == NULL ? "--dir DIR is required" : "NAME is required",
		    usage);
		return 2;
	}
	/* Everything is checked before anything is made. */
	for (size_t i = 0; i < nitems; i++) {
		if (parse_item(&items[i]) != 0) {
			return 2;
		}
	}
	for (size_t i = 0; i < nitems; i++) {
		if (certs_issue(dir, items[i].role, items[i].name,
		        items[i].nh ? items[i].h : items[i].hosts,
		        items[i].nh ? items[i].nh : items[i].nhosts) != 0) {
			return 1;
		}
	}
	return 0;
}

void
cmd_certs_help(FILE *fp)
{
	fputs(usage, fp);
}
