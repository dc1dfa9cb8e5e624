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
#include <unistd.h>

#include <arpa/inet.h>

#include "cmd_certs.h"

static const char usage[] =
    "usage: ledge certs init DIR\n"
    "       ledge certs issue --dir DIR --role ROLE [--host H]... NAME\n"
    "\n"
    "The certificates of a TLS domain (tls+tcp:// addresses), made with\n"
    "the openssl command.  `init` makes the domain's CA in DIR (ca.key,\n"
    "readable by you only, and ca.crt).  `issue` makes NAME.key and\n"
    "NAME.crt in DIR, signed by that CA, for ROLE - orchestrator, node,\n"
    "admin or viewer (written in the certificate; not yet enforced: any\n"
    "certificate of the CA may do anything) - and usable as a client and\n"
    "as a server on each --host H (an IP address or a DNS name; default\n"
    "127.0.0.1 and localhost).  Give each process --tls-cert NAME.crt\n"
    "--tls-key NAME.key --tls-ca ca.crt.  Existing files are never\n"
    "overwritten.\n"
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
			chmod(crt, 0644);
			printf(
			    "CA made: %s (keep it secret) and %s\n", key, crt);
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
	char *srl = join(dir, "ca", ".srl");
	char subj[200];
	int rc = 1;

	snprintf(subj, sizeof subj, "/O=ledge/OU=ledge-%s/CN=%s", role, name);
	if (!cak || !cac || !key || !crt || !csr || !ext || !srl) {
		fprintf(stderr, "ledge certs: out of memory\n");
	} else if (access(cak, R_OK) != 0 || access(cac, R_OK) != 0) {
		fprintf(stderr,
		    "ledge certs: no CA in %s (%s and ca.crt): make one with "
		    "`ledge certs init %s`\n",
		    dir, cak, dir);
	} else if (all_free((const char *const[]) { key, crt, NULL }) &&
	    write_ext(ext, hosts, nhosts) == 0) {
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
		if (rc == 0) {
			chmod(crt, 0644);
			printf("issued %s (role %s) and %s\n", crt, role, key);
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
	return rc;
}

int
cmd_certs_main(int argc, char **argv)
{
	const char *dir = NULL, *role = NULL, *name = NULL, *hosts[32];
	size_t nhosts = 0;
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
		} else if ((strcmp(a, "-H") == 0 || strcmp(a, "--host") == 0) &&
		    more && nhosts < 32) {
			hosts[nhosts++] = argv[++i];
		} else if (a[0] != '-' && name == NULL) {
			name = a;
		} else {
			fprintf(stderr,
			    "ledge certs issue: unexpected '%s'\n\n%s", a,
			    usage);
			return 2;
		}
	}
	for (size_t i = 0; role != NULL && i < 4; i++) {
		role_ok = role_ok || strcmp(role, roles[i]) == 0;
	}
	if (dir == NULL || name == NULL || !role_ok) {
		fprintf(stderr, "ledge certs issue: %s\n\n%s",
		    dir == NULL ? "--dir DIR is required"
		        : !role_ok
		        ? "--role must be orchestrator, node, admin or "
		          "viewer"
		        : "NAME is required",
		    usage);
		return 2;
	}
	if (!name_ok(name) || strcmp(name, "ca") == 0) {
		fprintf(stderr,
		    "ledge certs issue: NAME '%s' must be 1 to 64 letters, "
		    "digits, '-', '_' or '.', and not 'ca'\n",
		    name);
		return 2;
	}
	for (size_t i = 0; i < nhosts; i++) {
		if (!name_ok(hosts[i]) && strchr(hosts[i], ':') == NULL) {
			fprintf(stderr,
			    "ledge certs issue: --host '%s' is not a name or "
			    "an address\n",
			    hosts[i]);
			return 2;
		}
	}
	if (nhosts == 0) {
		hosts[nhosts++] = "127.0.0.1";
		hosts[nhosts++] = "localhost";
	}
	return certs_issue(dir, role, name, hosts, nhosts);
}

void
cmd_certs_help(FILE *fp)
{
	fputs(usage, fp);
}
