/*
 * path.h - folders and whole files on the local file system.
 *
 * No state: any thread (two threads making the same folder at once both
 * succeed).
 */
#ifndef LEDGE_BASE_PATH_H
#define LEDGE_BASE_PATH_H

#include <stddef.h>
#include <stdio.h>

#include <ledge.h>

/* The longest path path_mkdirs takes, in bytes without the NUL. */
#define PATH_MKDIRS_MAX 4095

/*
 * Make the folder `path` and every missing folder above it (mode 0755,
 * less the umask), as `mkdir -p` does.  Something that already exists at
 * a component is taken as it is (it is not checked to be a folder).
 *
 * Returns LEDGE_OK; LEDGE_EINVAL if path is empty (errno ENOENT) or
 * longer than PATH_MKDIRS_MAX (errno ENAMETOOLONG); LEDGE_ESTORE if a
 * folder could not be made (errno from mkdir(2): EACCES, ENOTDIR, ...).
 * Folders made before a failure stay.  `path` is only read.
 */
int path_mkdirs(const char *path);

/*
 * Read the file at `path` whole (at most max bytes) into a malloc'd
 * buffer, not NUL-terminated, that the caller frees; its length goes to
 * *len.  Returns LEDGE_OK; LEDGE_ENOENT if it cannot be opened,
 * LEDGE_ETOOBIG if it is larger than max (errno EFBIG), LEDGE_ENOMEM
 * (errno ENOMEM), LEDGE_ESTORE on a read error (errno EIO).  errno says
 * why for a message; *out is NULL after a failure.
 */
int path_read(const char *path, size_t max, char **out, size_t *len);

/*
 * Replace the file at `path` by data[0..len), whole or not at all: it is
 * written (mode `mode`, less the umask) to PATH.PID.part, synced, and
 * renamed over path.  Returns LEDGE_OK, or LEDGE_ESTORE with errno from
 * the step that failed (the partial file is removed).
 */
int path_write(const char *path, const void *data, size_t len, unsigned mode);

/* The same for what is left of an open stream (fp is not closed). */
int path_read_stream(FILE *fp, size_t max, char **out, size_t *len);

#endif
