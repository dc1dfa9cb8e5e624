/*
 * path_test.c - making folders (runtime/base/path.h): a nested path in a
 * temporary folder, one that exists already, a trailing slash, and the
 * failures: an empty or too long path, a file in the way.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/path.h"

static char root[] = "/tmp/ledge-path-test-XXXXXX";

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(p) : unlink(p);
}

static void
setup(void)
{
	cr_assert_not_null(mkdtemp(root));
}

static void
teardown(void)
{
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(path, .init = setup, .fini = teardown, .timeout = 30);

static bool
is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

Test(path, makes_every_missing_folder)
{
	char p[256];

	snprintf(p, sizeof p, "%s/a/b/c", root);
	cr_assert_eq(path_mkdirs(p), LEDGE_OK);
	cr_expect(is_dir(p));
	snprintf(p, sizeof p, "%s/a/b", root);
	cr_expect(is_dir(p));
}

Test(path, an_existing_folder_is_fine)
{
	char p[256];

	snprintf(p, sizeof p, "%s/x", root);
	cr_assert_eq(path_mkdirs(p), LEDGE_OK);
	cr_expect_eq(path_mkdirs(p), LEDGE_OK);
	cr_expect_eq(path_mkdirs(root), LEDGE_OK);
	snprintf(p, sizeof p, "%s/y/z/", root);
	cr_expect_eq(path_mkdirs(p), LEDGE_OK);
	snprintf(p, sizeof p, "%s/y/z", root);
	cr_expect(is_dir(p));
}

Test(path, relative_paths)
{
	char p[256];

	cr_assert_eq(chdir(root), 0);
	cr_expect_eq(path_mkdirs("rel/one"), LEDGE_OK);
	snprintf(p, sizeof p, "%s/rel/one", root);
	cr_expect(is_dir(p));
}

Test(path, empty_or_too_long)
{
	char p[PATH_MKDIRS_MAX + 2];

	errno = 0;
	cr_expect_eq(path_mkdirs(""), LEDGE_EINVAL);
	cr_expect_eq(errno, ENOENT);
	memset(p, 'a', sizeof p - 1);
	p[sizeof p - 1] = '\0';
	errno = 0;
	cr_expect_eq(path_mkdirs(p), LEDGE_EINVAL);
	cr_expect_eq(errno, ENAMETOOLONG);
}

Test(path, a_file_in_the_way)
{
	char f[256], p[300];
	FILE *fp;

	snprintf(f, sizeof f, "%s/file", root);
	cr_assert_not_null(fp = fopen(f, "w"));
	fclose(fp);
	snprintf(p, sizeof p, "%s/below", f);
	errno = 0;
	cr_expect_eq(path_mkdirs(p), LEDGE_ESTORE);
	cr_expect_eq(errno, ENOTDIR);
	cr_expect(!is_dir(p));
}
