/*
 * code_test.c - loading function code (runtime/code/code.h) with
 * the real fixture shared objects of tests/fixtures/: every bad one is
 * refused with its own reason, good ones load from a content-addressed
 * private copy, equal bytes share one node_code, and the last release
 * unloads.
 */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <elf.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/sha256.h"
#include "code/code.h"
#include "proc.h"

static char *dir;
static char cache_dir[4200];
static struct code_cache *cache;

static void
setup(void)
{
	char err[512] = "";

	dir = tmpdir_make("loader");
	cr_assert_not_null(dir);
	snprintf(cache_dir, sizeof cache_dir, "%s/code", dir);
	cr_assert_eq(code_cache_open(&cache, cache_dir, err, sizeof err),
	    LEDGE_OK, "code_cache_open: %s", err);
}

static void
teardown(void)
{
	code_cache_close(cache);
	cache = NULL;
	tmpdir_remove(dir);
	free(dir);
}

TestSuite(code, .init = setup, .fini = teardown, .timeout = 60);

/* The path of a fixture built by meson (LEDGE_FIXTURES). */
static const char *
fixture(const char *name)
{
	static char buf[8][4200];
	static int next;
	char *p = buf[next++ % 8];

	snprintf(p, sizeof buf[0], "%s/%s",
	    test_path("LEDGE_FIXTURES", "build/tests/fixtures"), name);
	cr_assert_eq(
	    access(p, R_OK), 0, "fixture %s missing (LEDGE_FIXTURES)", p);
	return p;
}

/* A path in this test's folder. */
static const char *
tmp_path(const char *name)
{
	static char buf[4][4300];
	static int next;
	char *p = buf[next++ % 4];

	snprintf(p, sizeof buf[0], "%s/%s", dir, name);
	return p;
}

static unsigned char *
slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	unsigned char *buf;
	long n;

	cr_assert_not_null(fp, "open %s", path);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

static void
spill(const char *path, const void *data, size_t len)
{
	FILE *fp = fopen(path, "wb");
	cr_assert_not_null(fp, "create %s", path);
	cr_assert_eq(fwrite(data, 1, len, fp), len);
	cr_assert_eq(fclose(fp), 0);
}

/* Load `path`, expecting failure with `code` and `reason` in the text. */
static void
expect_refused(const char *path, int code, const char *reason)
{
	struct node_code *out = NULL;
	char err[1024] = "";
	int rv = code_load(cache, path, &out, err, sizeof err);

	cr_expect_eq(rv, code, "%s: got %s (%s), want %s", path,
	    ledge_strerror(rv), err, ledge_strerror(code));
	cr_expect_null(out, "no code handed out on failure");
	cr_expect(strstr(err, reason) != NULL,
	    "%s: reason '%s' does not contain '%s'", path, err, reason);
	if (rv == LEDGE_OK && out != NULL) {
		code_release(out);
	}
}

static struct node_code *
load_ok(const char *path)
{
	struct node_code *out = NULL;
	char err[1024] = "";
	int rv = code_load(cache, path, &out, err, sizeof err);

	cr_assert_eq(
	    rv, LEDGE_OK, "%s: %s (%s)", path, ledge_strerror(rv), err);
	cr_assert_not_null(out);
	return out;
}

/* --- a minimal host, to run a loaded handler ----------------------- */

static char replied[256];

static int
h_reply(ledge_ctx *ctx, const void *data, size_t len)
{
	(void)ctx;
	snprintf(replied, sizeof replied, "%.*s", (int)len, (const char *)data);
	return LEDGE_OK;
}

static const char *
h_null_str(ledge_ctx *ctx)
{
	(void)ctx;
	return NULL;
}

static const char *
h_header(ledge_ctx *ctx, const char *name)
{
	(void)ctx;
	(void)name;
	return NULL;
}

static int
h_state_get(ledge_ctx *ctx, const void *key, size_t klen, ledge_bytes *v)
{
	(void)ctx;
	(void)key;
	(void)klen;
	(void)v;
	return LEDGE_ENOENT;
}

/* Run the descriptor's call handler with `msg`; returns the reply. */
static const char *
run_call(const struct node_code *code, const char *msg)
{
	static ledge_host_api api;
	ledge_ctx ctx = { &api };
	ledge_bytes m = { msg, strlen(msg) };

	memset(&api, 0, sizeof api);
	api.size = sizeof api;
	api.abi = LEDGE_ABI_VERSION;
	api.reply = h_reply;
	api.http_method = h_null_str;
	api.http_header = h_header;
	api.state_get = h_state_get;
	replied[0] = '\0';
	cr_assert_not_null(code->fn->call);
	cr_assert_eq(code->fn->call(&ctx, m), LEDGE_OK);
	return replied;
}

/* Whether the dynamic linker still has `path` loaded. */
static bool
is_mapped(const char *path)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
	if (h != NULL) {
		dlclose(h);
		return true;
	}
	return false;
}

/* --- refused files ---------------------------------------------------- */

Test(code, refuses_a_text_file)
{
	expect_refused(fixture("not_a_so.so"), LEDGE_EINVAL,
	    "not a shared object (no ELF header)");
}

Test(code, refuses_an_executable)
{
	expect_refused(
	    fixture("not_shared.so"), LEDGE_EINVAL, "is an executable");
}

Test(code, refuses_a_missing_descriptor)
{
	expect_refused(fixture("no_descriptor.so"), LEDGE_EINVAL,
	    "no 'ledge_descriptor' symbol");
}

Test(code, refuses_a_bad_magic)
{
	expect_refused(
	    fixture("bad_magic.so"), LEDGE_EINVAL, "bad descriptor magic");
}

Test(code, refuses_an_old_abi)
{
	expect_refused(
	    fixture("old_abi.so"), LEDGE_EINVAL, "built for ledge ABI 0");
}

Test(code, refuses_a_descriptor_without_handlers)
{
	expect_refused(fixture("no_handlers.so"), LEDGE_EINVAL,
	    "neither a cast nor a call");
}

Test(code, refuses_a_missing_file)
{
	char hash[65];
	char err[512] = "";

	expect_refused(
	    tmp_path("nothing-here.so"), LEDGE_ENOENT, "cannot read");
	cr_expect_eq(
	    code_hash_file(tmp_path("nothing-here.so"), hash, err, sizeof err),
	    LEDGE_ENOENT);
	cr_expect(strstr(err, "cannot read") != NULL, "%s", err);
}

Test(code, refuses_a_folder)
{
	expect_refused(dir, LEDGE_EINVAL, "not a regular file");
}

Test(code, refuses_an_empty_file)
{
	spill(tmp_path("empty.so"), "", 0);
	expect_refused(tmp_path("empty.so"), LEDGE_EINVAL,
	    "not a shared object (no ELF header)");
}

/* Bytes of the file that PT_LOAD segments map (debug info and section
 * headers follow them). */
static size_t
loaded_size(const unsigned char *so, size_t len)
{
	Elf64_Ehdr eh;
	size_t end = 0;

	cr_assert_geq(len, sizeof eh);
	memcpy(&eh, so, sizeof eh);
	for (size_t i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		size_t at = (size_t)eh.e_phoff + i * eh.e_phentsize;
		cr_assert_leq(at + sizeof ph, len);
		memcpy(&ph, so + at, sizeof ph);
		if (ph.p_type == PT_LOAD && ph.p_offset + ph.p_filesz > end) {
			end = (size_t)(ph.p_offset + ph.p_filesz);
		}
	}
	cr_assert_gt(end, 0);
	return end;
}

struct load_result {
	int rv;
	bool handed_out;
	char err[1024];
};

Test(code, refuses_a_truncated_copy)
{
	size_t len;
	unsigned char *so = slurp(fixture("echo.so"), &len);
	struct load_result res = { 0 };
	int fds[2], status = 0;
	ssize_t got;
	pid_t child;

	/* Cut inside the ELF header. */
	spill(tmp_path("head.so"), so, 40);
	expect_refused(
	    tmp_path("head.so"), LEDGE_EINVAL, "truncated ELF header");

	/* Cut in the middle of what is mapped: the header is fine, code
	 * and data are missing.  Loaded in a child process, so that a crash
	 * is reported as such (and this test's folder still goes away). */
	spill(tmp_path("half.so"), so, loaded_size(so, len) / 2);
	free(so);
	cr_assert_eq(pipe(fds), 0);
	fflush(NULL);
	child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		struct node_code *out = NULL;
		struct load_result res = { 0 };
		close(fds[0]);
		res.rv = code_load(
		    cache, tmp_path("half.so"), &out, res.err, sizeof res.err);
		res.handed_out = out != NULL;
		if (write(fds[1], &res, sizeof res) != (ssize_t)sizeof res) {
			_exit(2);
		}
		_exit(0);
	}
	close(fds[1]);
	got = read(fds[0], &res, sizeof res);
	close(fds[0]);
	cr_assert_eq(waitpid(child, &status, 0), child);
	cr_assert(got == (ssize_t)sizeof res && WIFEXITED(status) &&
	        WEXITSTATUS(status) == 0,
	    "code_load of a truncated shared object crashed the process "
	    "(%s)",
	    WIFSIGNALED(status) ? strsignal(WTERMSIG(status))
	                        : "exited without a result");
	cr_expect_eq(
	    res.rv, LEDGE_EINVAL, "%s (%s)", ledge_strerror(res.rv), res.err);
	cr_expect_not(res.handed_out);
	cr_expect_neq(res.err[0], '\0', "a reason is given");
	cr_expect(strstr(res.err, cache_dir) == NULL,
	    "the reason names the private copy, not the user's file: %s",
	    res.err);
}

/* A copy of echo.so with a patched ELF header field. */
static const char *
patched_echo(const char *name, size_t off, const void *bytes, size_t n)
{
	size_t len;
	unsigned char *so = slurp(fixture("echo.so"), &len);
	const char *p = tmp_path(name);

	cr_assert_gt(len, off + n);
	memcpy(so + off, bytes, n);
	spill(p, so, len);
	free(so);
	return p;
}

Test(code, refuses_another_architecture)
{
	const Elf64_Ehdr *h = NULL;
	size_t off = (size_t)((const char *)&h->e_machine - (const char *)h);
#if defined(__aarch64__)
	uint16_t m = EM_386;
	const char *want = "built for i386, this node is aarch64";
#else
	uint16_t m = EM_AARCH64;
	const char *want = "built for aarch64, this node is x86_64";
#endif
	/* e_machine in the file's (here: the host's) byte order. */
	expect_refused(
	    patched_echo("arch.so", off, &m, sizeof m), LEDGE_EINVAL, want);
}

Test(code, refuses_another_word_size)
{
	unsigned char cls = sizeof(void *) == 8 ? ELFCLASS32 : ELFCLASS64;
	const char *want = sizeof(void *) == 8
	    ? "built for 32-bit, this node is 64-bit"
	    : "built for 64-bit, this node is 32-bit";

	expect_refused(
	    patched_echo("class.so", EI_CLASS, &cls, 1), LEDGE_EINVAL, want);
}

Test(code, refuses_an_object_file)
{
	const Elf64_Ehdr *h = NULL;
	size_t off = (size_t)((const char *)&h->e_type - (const char *)h);
	uint16_t t = ET_REL;

	expect_refused(patched_echo("obj.so", off, &t, sizeof t), LEDGE_EINVAL,
	    "is an ELF object file");
}

/* --- good files ------------------------------------------------------- */

Test(code, loads_echo_from_a_private_copy)
{
	struct node_code *code = load_ok(fixture("echo.so"));
	char hash[65], copy_hash[65], want_path[4400];
	char err[512] = "";
	struct stat st;

	cr_expect_str_eq(code->name, "echo");
	cr_assert_not_null(code->fn);
	cr_expect_eq(code->fn->magic, LEDGE_MAGIC);
	cr_expect_eq(code->fn->abi, LEDGE_ABI_VERSION);
	cr_expect_str_eq(code->fn->name, "echo");
	cr_expect_not_null(code->fn->cast);
	cr_expect_eq(atomic_load(&code->refs), 1);

	cr_assert_eq(code_hash_file(fixture("echo.so"), hash, err, sizeof err),
	    LEDGE_OK, "%s", err);
	cr_expect_eq(strlen(hash), 64);
	cr_expect_str_eq(code->hash, hash, "named by the SHA-256 of the file");
	snprintf(want_path, sizeof want_path, "%s/%s.so", cache_dir, hash);
	cr_expect_str_eq(code->path, want_path);
	cr_assert_eq(stat(code->path, &st), 0, "the private copy exists");
	cr_assert_eq(
	    code_hash_file(code->path, copy_hash, err, sizeof err), LEDGE_OK);
	cr_expect_str_eq(copy_hash, hash, "the copy has the same bytes");
	cr_expect(is_mapped(code->path), "the copy is what was dlopen'd");

	cr_expect_str_eq(run_call(code, "ping"), "ping");
	code_release(code);
}

Test(code, hash_matches_sha256_of_the_bytes)
{
	size_t len;
	unsigned char *so = slurp(fixture("relay.so"), &len);
	char want[65], got[65], err[512] = "";

	sha256_hex(so, len, want);
	cr_assert_eq(code_hash_file(fixture("relay.so"), got, err, sizeof err),
	    LEDGE_OK);
	cr_expect_str_eq(got, want);
	free(so);
}

Test(code, same_bytes_share_one_code)
{
	struct node_code *a = load_ok(fixture("echo.so"));
	struct node_code *b = load_ok(fixture("echo.so"));
	struct node_code *c;

	cr_expect_eq(a, b, "the same file twice: one node_code");
	cr_expect_eq(atomic_load(&a->refs), 2);

	/* The same bytes under another name. */
	cr_assert_eq(copy_file(fixture("echo.so"), tmp_path("other.so")), 0);
	c = load_ok(tmp_path("other.so"));
	cr_expect_eq(c, a, "equal bytes at another path share too");
	cr_expect_eq(atomic_load(&a->refs), 3);

	code_release(c);
	code_release(b);
	cr_expect_eq(atomic_load(&a->refs), 1);
	cr_expect(is_mapped(a->path), "still loaded while referenced");
	cr_expect_str_eq(run_call(a, "still here"), "still here");
	cr_expect_eq(code_ref(a), a);
	cr_expect_eq(atomic_load(&a->refs), 2);
	code_release(a);
	code_release(a);
}

Test(code, different_files_give_different_codes)
{
	struct node_code *a = load_ok(fixture("echo.so"));
	struct node_code *b = load_ok(fixture("relay.so"));

	cr_expect_neq(a, b);
	cr_expect_str_neq(a->hash, b->hash);
	cr_expect_str_neq(a->path, b->path);
	cr_expect_str_eq(a->name, "echo");
	cr_expect_str_eq(b->name, "relay");
	cr_expect_str_eq(run_call(b, ""), "n=0\n");
	cr_expect_str_eq(run_call(a, "a"), "a");
	code_release(a);
	code_release(b);
}

Test(code, file_replaced_on_disk_loads_as_new_code)
{
	const char *f = tmp_path("fn.so");
	struct node_code *old, *new;
	char old_path[4400];

	cr_assert_eq(copy_file(fixture("echo.so"), f), 0);
	old = load_ok(f);
	snprintf(old_path, sizeof old_path, "%s", old->path);

	cr_assert_eq(copy_file(fixture("relay.so"), f), 0);
	new = load_ok(f);
	cr_expect_neq(new, old);
	cr_expect_str_neq(new->hash, old->hash);
	cr_expect_str_eq(new->name, "relay");

	/* The old code is untouched and still runs. */
	cr_expect_str_eq(old->name, "echo");
	cr_expect_str_eq(old->path, old_path);
	cr_expect(access(old_path, R_OK) == 0, "old private copy kept");
	cr_expect_str_eq(run_call(old, "old"), "old");
	cr_expect_str_eq(run_call(new, ""), "n=0\n");

	/* Releasing the old code leaves the new one alone. */
	code_release(old);
	cr_expect(is_mapped(new->path));
	cr_expect_str_eq(run_call(new, ""), "n=0\n");
	code_release(new);
}

Test(code, last_release_unloads_and_reload_works)
{
	struct node_code *code = load_ok(fixture("echo.so"));
	char path[4400], hash[65];
	struct node_code *again;

	snprintf(path, sizeof path, "%s", code->path);
	memcpy(hash, code->hash, sizeof hash);
	cr_assert(is_mapped(path));
	code_release(code);
	cr_expect_not(is_mapped(path), "the last release dlclose'd the code");

	again = load_ok(fixture("echo.so"));
	cr_expect_str_eq(again->hash, hash);
	cr_expect_eq(atomic_load(&again->refs), 1, "a fresh reference");
	cr_expect(is_mapped(again->path));
	cr_expect_str_eq(run_call(again, "back"), "back");
	code_release(again);
}

Test(code, cache_folder_is_created_and_reused)
{
	struct code_cache *c2 = NULL;
	char err[512] = "";
	struct stat st;

	cr_assert_eq(stat(cache_dir, &st), 0);
	cr_expect(S_ISDIR(st.st_mode));
	/* A second cache on the same folder (a restarted node) works. */
	cr_assert_eq(code_cache_open(&c2, cache_dir, err, sizeof err), LEDGE_OK,
	    "%s", err);
	code_cache_close(c2);
	/* A folder that cannot be created: a reason. */
	cr_expect_neq(
	    code_cache_open(&c2, tmp_path("no/such/parent"), err, sizeof err),
	    LEDGE_OK);
	cr_expect(strstr(err, "no/such/parent") != NULL, "%s", err);
}

/* --- threads ---------------------------------------------------------- */

#define LOADERS 8

struct loader_arg {
	const char *path;
	struct node_code *code[20];
	int rv;
};

static void *
load_many(void *p)
{
	struct loader_arg *a = p;
	char err[512];

	for (int i = 0; i < 20; i++) {
		int rv =
		    code_load(cache, a->path, &a->code[i], err, sizeof err);
		if (rv != LEDGE_OK) {
			a->rv = rv;
			a->code[i] = NULL;
		}
	}
	return NULL;
}

Test(code, concurrent_loads_share_one_code)
{
	struct loader_arg args[LOADERS];
	pthread_t th[LOADERS];
	struct node_code *first = NULL;

	for (int t = 0; t < LOADERS; t++) {
		memset(&args[t], 0, sizeof args[t]);
		args[t].path = fixture("echo.so");
		cr_assert_eq(
		    pthread_create(&th[t], NULL, load_many, &args[t]), 0);
	}
	for (int t = 0; t < LOADERS; t++) {
		pthread_join(th[t], NULL);
		cr_expect_eq(args[t].rv, LEDGE_OK);
	}
	first = args[0].code[0];
	cr_assert_not_null(first);
	for (int t = 0; t < LOADERS; t++) {
		for (int i = 0; i < 20; i++) {
			cr_expect_eq(args[t].code[i], first);
		}
	}
	cr_expect_eq(atomic_load(&first->refs), LOADERS * 20);
	for (int t = 0; t < LOADERS; t++) {
		for (int i = 0; i < 20; i++) {
			code_release(args[t].code[i]);
		}
	}
}
