/*
 * path.c - folders and whole files on the local file system (path.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

int
path_read_stream(FILE *fp, size_t max, char **out, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *b = malloc(cap);

	*out = NULL;
	*len = 0;
	if (b == NULL) {
		errno = ENOMEM;
		return LEDGE_ENOMEM;
	}
	for (;;) {
		size_t got;
		if (n == cap) {
			char *nb;
			if (cap > max) {
				free(b);
				errno = EFBIG;
				return LEDGE_ETOOBIG;
			}
			if ((nb = realloc(b, cap * 2)) == NULL) {
				free(b);
				errno = ENOMEM;
				return LEDGE_ENOMEM;
			}
			b = nb;
			cap *= 2;
		}
		got = fread(b + n, 1, cap - n, fp);
		n += got;
		if (got == 0) {
			break;
		}
	}
	if (ferror(fp) || n > max) {
		int e = ferror(fp) ? EIO : EFBIG;
		free(b);
		errno = e;
		return e == EIO ? LEDGE_ESTORE : LEDGE_ETOOBIG;
	}
	*out = b;
	*len = n;
	return LEDGE_OK;
}

int
path_read(const char *path, size_t max, char **out, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	int rc, e;
	if (fp == NULL) {
		*out = NULL;
		return LEDGE_ENOENT;
	}
	rc = path_read_stream(fp, max, out, len);
	e = errno;
	fclose(fp);
	errno = e;
	return rc;
}

int
path_write(const char *path, const void *data, size_t len, unsigned mode)
{
	char tmp[PATH_MKDIRS_MAX + 32];
	size_t done = 0;
	int fd, e;

	if ((size_t)snprintf(tmp, sizeof tmp, "%s.%d.part", path,
	        (int)getpid()) >= sizeof tmp) {
		errno = ENAMETOOLONG;
		return LEDGE_ESTORE;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	         (mode_t)mode)) < 0) {
		return LEDGE_ESTORE;
	}
	while (done < len) {
		ssize_t n = write(fd, (const char *)data + done, len - done);
		if (n <= 0) {
			goto fail;
		}
		done += (size_t)n;
	}
	if (fsync(fd) != 0) {
		goto fail;
	}
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	if (rename(tmp, path) != 0) {
		fd = -1;
		goto fail;
	}
	return LEDGE_OK;
fail:
	e = errno ? errno : EIO;
	if (fd >= 0) {
		close(fd);
	}
	unlink(tmp);
	errno = e;
	return LEDGE_ESTORE;
}
