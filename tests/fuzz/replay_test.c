/*
 * replay_test.c - every fuzz target run on every file of its corpus
 * (tests/fuzz/corpus/NAME/: the seeds, and each input that once crashed
 * it), in the ordinary build: what the fuzzer found stays found.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#ifndef FUZZ_CORPUS
#error "FUZZ_CORPUS: the folder tests/fuzz/corpus"
#endif

/* Feed each file of corpus/<name>/ to fn; returns how many. */
static size_t
replay(const char *name, int (*fn)(const uint8_t *, size_t))
{
	char dir[4096], path[8192];
	struct dirent *e;
	size_t n = 0;
	DIR *d;

	snprintf(dir, sizeof dir, "%s/%s", FUZZ_CORPUS, name);
	d = opendir(dir);
	cr_assert_not_null(d, "no corpus folder %s", dir);
	while ((e = readdir(d)) != NULL) {
		FILE *fp;
		uint8_t *buf;
		long len;
		if (e->d_name[0] == '.') {
			continue;
		}
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		fp = fopen(path, "rb");
		cr_assert_not_null(fp, "cannot open %s", path);
		fseek(fp, 0, SEEK_END);
		len = ftell(fp);
		rewind(fp);
		buf = malloc(len > 0 ? (size_t)len : 1);
		cr_assert_not_null(buf);
		cr_assert_eq(fread(buf, 1, (size_t)len, fp), (size_t)len);
		fclose(fp);
		fn(buf, (size_t)len);
		free(buf);
		n++;
	}
	closedir(d);
	return n;
}

TestSuite(fuzz_replay, .timeout = 120);

Test(fuzz_replay, yaml)
{
	cr_expect_geq(replay("yaml", fuzz_yaml), 5);
}

Test(fuzz_replay, wire)
{
	cr_expect_geq(replay("wire", fuzz_wire), 5);
}

Test(fuzz_replay, http)
{
	cr_expect_geq(replay("http", fuzz_http), 5);
}

Test(fuzz_replay, sdk_http)
{
	cr_expect_geq(replay("sdk_http", fuzz_sdk_http), 5);
}
