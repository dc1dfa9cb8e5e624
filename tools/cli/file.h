/*
 * file.h - reading a local file (a workflow, a code file, DATA on stdin)
 * whole, with a limit.  Any thread.
 */
#ifndef LEDGE_CLI_FILE_H
#define LEDGE_CLI_FILE_H

#include <stddef.h>
#include <stdio.h>

/*
 * Read the file at `path` (at most max bytes) into a malloc'd buffer, not
 * NUL-terminated, that the caller frees.  0, or -1 with errno set (EFBIG
 * when it is larger than max; *out is then NULL).
 */
int file_read(const char *path, size_t max, char **out, size_t *len);

/* The same for what is left of an open stream (fp is not closed). */
int file_read_stream(FILE *fp, size_t max, char **out, size_t *len);

#endif
