/*
 * path.h - folders on the local file system.
 *
 * No state: any thread (two threads making the same folder at once both
 * succeed).
 */
#ifndef LEDGE_BASE_PATH_H
#define LEDGE_BASE_PATH_H

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

#endif
