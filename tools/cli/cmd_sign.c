/*
 * cmd_sign.c - `ledge function keygen|sign` (cmd_sign.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ledge.h>

#include "base/path.h"
#include "cmd_sign.h"
#include "code/code.h"
#include "code/code_sign.h"

const char usage_fn_keygen[] =
    "usage: ledge function keygen NAME\n"
    "\n"
    "Make a key pair for signing code: NAME.key (secret, readable by you\n"
    "only) and NAME.pub (give it to `ledge run`, `ledge orchestrator` and\n"
    "`ledge node` as --trust NAME.pub).  Existing files are never\n"
    "overwritten.  Prints the key's short name.\n";

const char usage_fn_sign[] =
    "usage: ledge function sign --key NAME.key FILE.so...\n"
    "\n"
    "Sign each code file with the secret key NAME.key (Ed25519, over the\n"
    "file's SHA-256): the signature goes to FILE.so.sig beside it, which\n"
    "`ledge workflow start` and `ledge function reload` send with the code.\n"
    "Sign again after every build: a signature is for the exact bytes.\n"
    "\n"
    "options:\n"
    "  -k, --key NAME.key      the secret key (from `ledge function keygen`)\n";

static int
keygen(int argc, char **argv)
{
	char keyid[17], err[512];
	if (argc == 2 &&
	    (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		fputs(usage_fn_keygen, stdout);
		return 0;
	}
	if (argc != 2 || argv[1][0] == '-' || argv[1][0] == '\0') {
		fprintf(stderr, "ledge function keygen: %s\n\n%s",
		    argc < 2 ? "missing NAME" : "give one NAME",
		    usage_fn_keygen);
		return 2;
	}
	if (code_key_generate(argv[1], keyid, err, sizeof err) != LEDGE_OK) {
		fprintf(stderr, "ledge function keygen: %s\n", err);
		return 1;
	}
	printf("key %s: secret in %s.key (keep it so), public in %s.pub\n",
	    keyid, argv[1], argv[1]);
	return 0;
}

/* Write the signature next to file, replacing an older one at once. */
static int
write_sig(const char *file, const char *sig, char *err, size_t errlen)
{
	char path[4200];
	snprintf(path, sizeof path, "%s" CODE_SIG_SUFFIX, file);
	if (path_write(path, sig, strlen(sig), 0644) != LEDGE_OK) {
		snprintf(
		    err, errlen, "cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int
sign(int argc, char **argv)
{
	const char *key = NULL;
	int i = 1, rc = 0;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			fputs(usage_fn_sign, stdout);
			return 0;
		}
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if ((strcmp(argv[i], "-k") == 0 ||
		        strcmp(argv[i], "--key") == 0) &&
		    i + 1 < argc) {
			key = argv[++i];
		} else if (strncmp(argv[i], "--key=", 6) == 0) {
			key = argv[i] + 6;
		} else {
			fprintf(stderr, "ledge function sign: %s '%s'\n\n%s",
			    strcmp(argv[i], "-k") == 0 ||
			            strcmp(argv[i], "--key") == 0
			        ? "missing the value of"
			        : "unknown option",
			    argv[i], usage_fn_sign);
			return 2;
		}
	}
	if (key == NULL || i == argc) {
		fprintf(stderr, "ledge function sign: missing %s\n\n%s",
		    key == NULL ? "--key NAME.key" : "FILE.so", usage_fn_sign);
		return 2;
	}
	for (; i < argc; i++) {
		char hash[65], sig[CODE_SIG_MAX], err[4608], keyid[17];
		if (code_hash_file(argv[i], hash, err, sizeof err) !=
		        LEDGE_OK ||
		    code_sign(key, hash, sig, sizeof sig, err, sizeof err) !=
		        LEDGE_OK ||
		    code_sig_valid(sig, strlen(sig), hash, keyid, err,
		        sizeof err) != LEDGE_OK ||
		    write_sig(argv[i], sig, err, sizeof err) != 0) {
			fprintf(stderr, "ledge function sign: %s: %s\n",
			    argv[i], err);
			rc = 1;
			if (strstr(err, key) != NULL) {
				break; /* the key is the trouble: stop here */
			}
			continue;
		}
		printf("%s" CODE_SIG_SUFFIX ": code %.12s signed by key %s\n",
		    argv[i], hash, keyid);
	}
	return rc;
}

int
cmd_sign_main(int argc, char **argv)
{
	if (argc >= 1 && strcmp(argv[0], "keygen") == 0) {
		return keygen(argc, argv);
	}
	return sign(argc, argv);
}
