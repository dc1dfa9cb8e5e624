/*
 * file.c - reading a local file whole (see file.h).
 */
#include <errno.h>
#include <stdlib.h>

#include "file.h"

int
file_read_stream(FILE *fp, size_t max, char **out, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *b = malloc(cap);

	*out = NULL;
	*len = 0;
	if (b == NULL) {
		errno = ENOMEM;
		return -1;
	}
	for (;;) {
		size_t got;
		if (n == cap) {
			char *nb;
			if (cap > max) {
				free(b);
				errno = EFBIG;
				return -1;
			}
			if ((nb = realloc(b, cap * 2)) == NULL) {
				free(b);
				errno = ENOMEM;
				return -1;
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
		return -1;
	}
	*out = b;
	*len = n;
	return 0;
}

int
file_read(const char *path, size_t max, char **out, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	int rc, e;
	if (fp == NULL) {
		*out = NULL;
		return -1;
	}
	rc = file_read_stream(fp, max, out, len);
	e = errno;
	fclose(fp);
	errno = e;
	return rc;
}
