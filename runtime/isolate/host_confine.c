/*
 * host_confine.c - what a function host gives up (host_confine.h).
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <ledge.h>

#include "isolate/host_confine.h"

int
host_confine(const char *dir, char *why, size_t n)
{
	struct rlimit none = { 0, 0 }, files;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		snprintf(why, n, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		return LEDGE_EFAIL;
	}
	if (setrlimit(RLIMIT_CORE, &none) != 0) {
		snprintf(why, n, "RLIMIT_CORE: %s", strerror(errno));
		return LEDGE_EFAIL;
	}
	if (getrlimit(RLIMIT_NOFILE, &files) != 0) {
		snprintf(why, n, "RLIMIT_NOFILE: %s", strerror(errno));
		return LEDGE_EFAIL;
	}
	if (files.rlim_max == RLIM_INFINITY ||
	    files.rlim_max > HOST_MAX_FILES) {
		files.rlim_max = HOST_MAX_FILES;
	}
	if (files.rlim_cur == RLIM_INFINITY ||
	    files.rlim_cur > files.rlim_max) {
		files.rlim_cur = files.rlim_max;
	}
	if (setrlimit(RLIMIT_NOFILE, &files) != 0) {
		snprintf(why, n, "RLIMIT_NOFILE: %s", strerror(errno));
		return LEDGE_EFAIL;
	}
	if (dir != NULL && chdir(dir) != 0) {
		snprintf(why, n, "cannot work in %s: %s", dir, strerror(errno));
		return LEDGE_EFAIL;
	}
	return LEDGE_OK;
}

int
host_confine_user(const char *user, char *why, size_t n)
{
	struct rlimit tasks = { HOST_MAX_TASKS, HOST_MAX_TASKS };
	struct passwd *pw;

	if (geteuid() != 0 && getuid() != 0) {
		return LEDGE_OK;
	}
	if (user == NULL || (pw = getpwnam(user)) == NULL) {
		snprintf(why, n,
		    "no user '%s' to run as (the node runs as "
		    "root; --host-user names another)",
		    user ? user : "");
		return LEDGE_EFAIL;
	}
	if (pw->pw_uid == 0) {
		snprintf(why, n, "user '%s' is root: a host never runs as root",
		    user);
		return LEDGE_EFAIL;
	}
	if (setrlimit(RLIMIT_NPROC, &tasks) != 0) {
		snprintf(why, n, "RLIMIT_NPROC: %s", strerror(errno));
		return LEDGE_EFAIL;
	}
	if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 ||
	    setuid(pw->pw_uid) != 0) {
		snprintf(why, n, "cannot become user '%s': %s", user,
		    strerror(errno));
		return LEDGE_EFAIL;
	}
	/* Root is not coming back (setuid as root changes all three ids). */
	if (setuid(0) == 0 || geteuid() == 0) {
		snprintf(why, n, "still root after becoming '%s'", user);
		return LEDGE_EFAIL;
	}
	return LEDGE_OK;
}

bool
host_confine_env_allowed(const char *kv)
{
	static const char *const names[] = { "LD_LIBRARY_PATH", "ASAN_OPTIONS",
		"UBSAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		size_t len = strlen(names[i]);
		if (strncmp(kv, names[i], len) == 0 && kv[len] == '=') {
			return true;
		}
	}
	return false;
}
