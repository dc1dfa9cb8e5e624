/*
 * path_test.c - folders and files (runtime/base/path.h): making a nested
 * path in a temporary folder, one that exists already, a trailing slash,
 * and the failures (an empty or too long path, a file in the way);
 * reading a file whole, up to its limit, and one that is not there.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
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

/* Write n bytes of 'x' to root/name; the path goes to p. */
static void
write_file(char *p, size_t plen, const char *name, size_t n)
{
	FILE *fp;

	snprintf(p, plen, "%s/%s", root, name);
	cr_assert_not_null(fp = fopen(p, "w"));
	for (size_t i = 0; i < n; i++) {
		fputc('x', fp);
	}
	cr_assert_eq(fclose(fp), 0);
}

Test(path, read_a_file_whole)
{
	char p[256], *data;
	size_t n;

	write_file(p, sizeof p, "f", 10000);
	cr_assert_eq(path_read(p, 10000, &data, &n), LEDGE_OK);
	cr_expect_eq(n, 10000);
	cr_expect_eq(data[0], 'x');
	cr_expect_eq(data[9999], 'x');
	free(data);
	write_file(p, sizeof p, "empty", 0);
	cr_assert_eq(path_read(p, 16, &data, &n), LEDGE_OK);
	cr_expect_eq(n, 0);
	free(data);
}

Test(path, read_over_the_limit)
{
	char p[256], *data = (char *)1;
	size_t n;

	write_file(p, sizeof p, "big", 10001);
	errno = 0;
	cr_expect_eq(path_read(p, 10000, &data, &n), LEDGE_ETOOBIG);
	cr_expect_eq(errno, EFBIG);
	cr_expect_null(data);
	write_file(p, sizeof p, "small", 100);
	cr_expect_eq(path_read(p, 99, &data, &n), LEDGE_ETOOBIG);
	cr_expect_null(data);
}

Test(path, read_what_is_not_there)
{
	char p[256], *data = (char *)1;
	size_t n;

	snprintf(p, sizeof p, "%s/none", root);
	errno = 0;
	cr_expect_eq(path_read(p, 100, &data, &n), LEDGE_ENOENT);
	cr_expect_eq(errno, ENOENT);
	cr_expect_null(data);
}

Test(path, read_a_stream)
{
	char p[256], *data;
	size_t n;
	FILE *fp;

	write_file(p, sizeof p, "s", 5000);
	cr_assert_not_null(fp = fopen(p, "rb"));
	cr_assert_eq(fseek(fp, 1000, SEEK_SET), 0);
	cr_assert_eq(path_read_stream(fp, 4000, &data, &n), LEDGE_OK);
	cr_expect_eq(n, 4000);
	free(data);
	fclose(fp);
}

Test(path, write_replaces_a_file_whole_and_leaves_no_part)
{
	char p[256], part[300];
	char *got = NULL;
	size_t n = 0;
	struct stat st;

	snprintf(p, sizeof p, "%s/f", root);
	cr_assert_eq(path_write(p, "first", 5, 0600), LEDGE_OK);
	cr_assert_eq(path_write(p, "second!", 7, 0600), LEDGE_OK);
	cr_assert_eq(path_read(p, 100, &got, &n), LEDGE_OK);
	cr_expect_eq(n, 7);
	cr_expect(memcmp(got, "second!", 7) == 0);
	free(got);
	cr_assert_eq(stat(p, &st), 0);
	cr_expect_eq(st.st_mode & 077, 0, "mode %o", st.st_mode & 0777);
	snprintf(part, sizeof part, "%s.%d.part", p, (int)getpid());
	cr_expect_neq(access(part, F_OK), 0, "%s left behind", part);
	/* A folder that is not there: an error, nothing made. */
	snprintf(p, sizeof p, "%s/none/f", root);
	cr_expect_eq(path_write(p, "x", 1, 0600), LEDGE_ESTORE);
	cr_expect_eq(errno, ENOENT);
}
