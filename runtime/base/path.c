/*
 * path.c - folders on the local file system (path.h).
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "base/path.h"

int
path_mkdirs(const char *path)
{
	char buf[PATH_MKDIRS_MAX + 1];
	size_t n = strlen(path);

	if (n == 0 || n > PATH_MKDIRS_MAX) {
		errno = n == 0 ? ENOENT : ENAMETOOLONG;
		return LEDGE_EINVAL;
	}
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
				return LEDGE_ESTORE;
			}
			*p = '/';
		}
	}
	if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
		return LEDGE_ESTORE;
	}
	return LEDGE_OK;
}
