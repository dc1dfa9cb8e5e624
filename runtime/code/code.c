/*
 * code.c - dlopen of content-addressed private copies, with checks.
 */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "base/sha256.h"
#include "code/code.h"
#include "code/code_sign.h"

/* Largest code file accepted. */
#define CODE_MAX (256u << 20)

struct code_entry {
	struct code_entry *next;
	struct node_code *code;
};

/* What a path held when it was last hashed, so that an unchanged file is
 * not read and hashed again (a rename or any write changes the inode,
 * size or modification time). */
struct seen_file {
	struct seen_file *next;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	char hash[65];
	char path[];
};

struct code_cache {
	pthread_mutex_t mu;
	char *dir;
	struct code_entry *loaded;
	struct seen_file *seen;
	const struct code_trust *trust; /* borrowed; NULL: any code */
};

int
code_cache_open(
    struct code_cache **cp, const char *dir, char *err, size_t errlen)
{
	struct code_cache *c;
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create code folder '%s': %s", dir,
		    strerror(errno));
		return LEDGE_EINVAL;
	}
	if ((c = calloc(1, sizeof *c)) == NULL ||
	    (c->dir = strdup(dir)) == NULL) {
		free(c);
		snprintf(err, errlen, "out of memory");
		return LEDGE_ENOMEM;
	}
	pthread_mutex_init(&c->mu, NULL);
	*cp = c;
	return LEDGE_OK;
}

void
code_cache_trust(struct code_cache *c, const struct code_trust *t)
{
	c->trust = code_trust_len(t) > 0 ? t : NULL;
}

bool
code_cache_checks(const struct code_cache *c)
{
	return c->trust != NULL;
}

/* With a trust set: whether path's signature (path.sig) is a trusted one
 * of the bytes hashed to `hash`.  LEDGE_OK, or LEDGE_EINVAL (reason). */
static int
check_signed(const struct code_cache *c, const char *path, const char *hash,
    char *err, size_t errlen)
{
	char sigp[4200], why[256];
	char *sig = NULL;
	size_t n = 0;
	int rv;

	if (c->trust == NULL) {
		return LEDGE_OK;
	}
	snprintf(sigp, sizeof sigp, "%s" CODE_SIG_SUFFIX, path);
	rv = code_sig_read(sigp, &sig, &n, why, sizeof why);
	if (rv == LEDGE_ENOENT) {
		snprintf(err, errlen,
		    "not signed by a trusted key: there is no signature (%s)",
		    sigp);
		return LEDGE_EINVAL;
	}
	if (rv == LEDGE_OK) {
		rv = code_sig_trusted(c->trust, sig, n, hash, why, sizeof why);
		free(sig);
	}
	if (rv != LEDGE_OK) {
		snprintf(err, errlen, "not signed by a trusted key: %s", why);
		return LEDGE_EINVAL;
	}
	return LEDGE_OK;
}

void
code_cache_close(struct code_cache *c)
{
	if (c == NULL) {
		return;
	}
	while (c->seen != NULL) {
		struct seen_file *f = c->seen;
		c->seen = f->next;
		free(f);
	}
	pthread_mutex_destroy(&c->mu);
	free(c->dir);
	free(c);
}

int
code_read_file(const char *path, unsigned char **data, size_t *len, char *err,
    size_t errlen)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	unsigned char *buf;
	size_t got = 0;

	if (fd < 0) {
		snprintf(err, errlen, "cannot read: %s", strerror(errno));
		return LEDGE_ENOENT;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "not a regular file");
		close(fd);
		return LEDGE_EINVAL;
	}
	if ((uint64_t)st.st_size > CODE_MAX) {
		snprintf(err, errlen, "too large (%lld bytes, limit %u MiB)",
		    (long long)st.st_size, CODE_MAX >> 20);
		close(fd);
		return LEDGE_EINVAL;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return LEDGE_ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			snprintf(err, errlen, "cannot read: %s",
			    n < 0 ? strerror(errno) : "file shrank");
			free(buf);
			close(fd);
			return LEDGE_ENOENT;
		}
		got += (size_t)n;
	}
	close(fd);
	*data = buf;
	*len = got;
	return LEDGE_OK;
}

static const char *
machine_name(unsigned m)
{
	switch (m) {
	case EM_386:
		return "i386";
	case EM_X86_64:
		return "x86_64";
	case EM_ARM:
		return "arm";
	case EM_AARCH64:
		return "aarch64";
	case EM_RISCV:
		return "riscv";
	case EM_PPC64:
		return "ppc64";
	case EM_S390:
		return "s390x";
	case EM_MIPS:
		return "mips";
	default:
		return "an unknown machine";
	}
}

/* The machine this host was built for, as an ELF e_machine. */
static unsigned
host_machine(void)
{
#if defined(__x86_64__)
	return EM_X86_64;
#elif defined(__i386__)
	return EM_386;
#elif defined(__aarch64__)
	return EM_AARCH64;
#elif defined(__arm__)
	return EM_ARM;
#elif defined(__riscv)
	return EM_RISCV;
#elif defined(__powerpc64__)
	return EM_PPC64;
#elif defined(__s390x__)
	return EM_S390;
#else
	return EM_NONE;
#endif
}

/*
 * Check the program headers: an interpreter means an executable (also a
 * position-independent one, which carries the shared-object type), and a
 * loadable segment reaching past the end of the file (a truncated copy)
 * would make dlopen fault while mapping it.
 */
#define CHECK_PHDRS(Ehdr, Phdr)                                                \
	do {                                                                   \
		const Ehdr *h = (const void *)d;                               \
		if (h->e_phentsize != sizeof(Phdr) || h->e_phoff > len ||      \
		    (uint64_t)h->e_phnum * sizeof(Phdr) > len - h->e_phoff) {  \
			snprintf(err, errlen,                                  \
			    "truncated or corrupt ELF file (program "          \
			    "headers)");                                       \
			return LEDGE_EINVAL;                                   \
		}                                                              \
		for (unsigned i = 0; i < h->e_phnum; i++) {                    \
			Phdr ph;                                               \
			memcpy(                                                \
			    &ph, d + h->e_phoff + i * sizeof ph, sizeof ph);   \
			if (ph.p_type == PT_INTERP) {                          \
				snprintf(err, errlen, "%s", exe_msg);          \
				return LEDGE_EINVAL;                           \
			}                                                      \
			if (ph.p_type == PT_LOAD &&                            \
			    (ph.p_offset > len ||                              \
			        ph.p_filesz > len - ph.p_offset)) {            \
				snprintf(err, errlen,                          \
				    "truncated: a segment ends past the "      \
				    "end of the file (%zu bytes); was it "     \
				    "still being written?",                    \
				    len);                                      \
				return LEDGE_EINVAL;                           \
			}                                                      \
		}                                                              \
	} while (0)

static const char exe_msg[] = "is an executable, not a shared object (build "
                              "it with `ledge function build`)";

/* Check the ELF headers, so that wrong files get a reason a person can
 * use, and dlopen never sees a file it could crash on. */
static int
check_elf(const unsigned char *d, size_t len, char *err, size_t errlen)
{
	unsigned want_class = sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32;
	unsigned type, machine;
	const unsigned one = 1;
	unsigned want_data =
	    *(const unsigned char *)&one ? ELFDATA2LSB : ELFDATA2MSB;

	if (len < EI_NIDENT || memcmp(d, ELFMAG, SELFMAG) != 0) {
		snprintf(err, errlen, "not a shared object (no ELF header)");
		return LEDGE_EINVAL;
	}
	if (d[EI_CLASS] != want_class) {
		snprintf(err, errlen, "built for %d-bit, this node is %d-bit",
		    d[EI_CLASS] == ELFCLASS64 ? 64 : 32,
		    want_class == ELFCLASS64 ? 64 : 32);
		return LEDGE_EINVAL;
	}
	if (d[EI_DATA] != want_data) {
		snprintf(err, errlen, "built for a %s-endian machine",
		    d[EI_DATA] == ELFDATA2MSB ? "big" : "little");
		return LEDGE_EINVAL;
	}
	if (len < (want_class == ELFCLASS64 ? sizeof(Elf64_Ehdr)
	                                    : sizeof(Elf32_Ehdr))) {
		snprintf(err, errlen, "truncated ELF header");
		return LEDGE_EINVAL;
	}
	/* e_type and e_machine sit at the same offsets in both classes. */
	if (want_class == ELFCLASS64) {
		const Elf64_Ehdr *h = (const void *)d;
		type = h->e_type;
		machine = h->e_machine;
	} else {
		const Elf32_Ehdr *h = (const void *)d;
		type = h->e_type;
		machine = h->e_machine;
	}
	if (machine != host_machine()) {
		snprintf(err, errlen, "built for %s, this node is %s",
		    machine_name(machine), machine_name(host_machine()));
		return LEDGE_EINVAL;
	}
	if (type == ET_EXEC) {
		snprintf(err, errlen, "%s", exe_msg);
		return LEDGE_EINVAL;
	}
	if (type != ET_DYN) {
		snprintf(err, errlen,
		    "is an ELF object file, not a shared object (link it "
		    "with -shared, or use `ledge function build`)");
		return LEDGE_EINVAL;
	}
	if (want_class == ELFCLASS64) {
		CHECK_PHDRS(Elf64_Ehdr, Elf64_Phdr);
	} else {
		CHECK_PHDRS(Elf32_Ehdr, Elf32_Phdr);
	}
	return LEDGE_OK;
}

int
code_hash_file(const char *path, char hash[65], char *err, size_t errlen)
{
	unsigned char *data;
	size_t len;
	int rv = code_read_file(path, &data, &len, err, errlen);
	if (rv != LEDGE_OK) {
		return rv;
	}
	sha256_hex(data, len, hash);
	free(data);
	return LEDGE_OK;
}

/* Write the private copy (temp file + rename, so it is never partial). */
static int
write_copy(const char *dst, const unsigned char *data, size_t len, char *err,
    size_t errlen)
{
	char tmp[4200];
	struct stat st;
	int fd;
	size_t done = 0;

	/* The copy is a cache, rebuilt from the source at every load; no
	 * fsync.  A copy cut short by a crash has the wrong size and is
	 * written again. */
	if (stat(dst, &st) == 0 && (size_t)st.st_size == len) {
		return LEDGE_OK;
	}
	snprintf(tmp, sizeof tmp, "%s.%ld.tmp", dst, (long)getpid());
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755)) <
	    0) {
		snprintf(err, errlen, "cannot write code copy '%s': %s", tmp,
		    strerror(errno));
		return LEDGE_EINVAL;
	}
	while (done < len) {
		ssize_t n = write(fd, data + done, len - done);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			snprintf(err, errlen, "cannot write code copy: %s",
			    strerror(errno));
			close(fd);
			unlink(tmp);
			return LEDGE_EINVAL;
		}
		done += (size_t)n;
	}
	if (close(fd) != 0 || rename(tmp, dst) != 0) {
		snprintf(
		    err, errlen, "cannot write code copy: %s", strerror(errno));
		unlink(tmp);
		return LEDGE_EINVAL;
	}
	return LEDGE_OK;
}

static int
check_descriptor(const ledge_function *fn, char *err, size_t errlen)
{
	if (fn == NULL) {
		snprintf(
		    err, errlen, "%s() returned NULL", LEDGE_DESCRIPTOR_SYMBOL);
		return LEDGE_EINVAL;
	}
	if (fn->magic != LEDGE_MAGIC) {
		snprintf(err, errlen,
		    "bad descriptor magic 0x%08x (want 0x%08x): not a ledge "
		    "function, or a corrupt one",
		    fn->magic, LEDGE_MAGIC);
		return LEDGE_EINVAL;
	}
	if (fn->abi != LEDGE_ABI_VERSION) {
		snprintf(err, errlen,
		    "built for ledge ABI %u, this host speaks ABI %u; rebuild "
		    "it with `ledge function build`",
		    fn->abi, LEDGE_ABI_VERSION);
		return LEDGE_EINVAL;
	}
	if (fn->size < offsetof(ledge_function, stop) + sizeof fn->stop) {
		snprintf(
		    err, errlen, "descriptor too small (%u bytes)", fn->size);
		return LEDGE_EINVAL;
	}
	if (fn->cast == NULL && fn->call == NULL) {
		snprintf(err, errlen,
		    "descriptor '%s' has neither a cast nor a call handler",
		    fn->name ? fn->name : "?");
		return LEDGE_EINVAL;
	}
	return LEDGE_OK;
}

static const char *
base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

int
code_dlopen(const char *path, void **dlp, const ledge_function **fnp, char *err,
    size_t errlen)
{
	const ledge_function *(*get)(void);
	const ledge_function *fn;
	void *dl;
	int rv;

	dlerror();
	if ((dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		const char *e = dlerror();
		/* dlerror names the private copy; name the user's file. */
		const char *colon = e ? strstr(e, ".so: ") : NULL;
		snprintf(err, errlen, "cannot load: %s",
		    colon ? colon + 5 : (e ? e : "unknown dlopen error"));
		return LEDGE_EINVAL;
	}
	*(void **)&get = dlsym(dl, LEDGE_DESCRIPTOR_SYMBOL);
	if (get == NULL) {
		snprintf(err, errlen,
		    "no '%s' symbol: not a ledge function (define one with "
		    "LEDGE_FUNCTION in the source)",
		    LEDGE_DESCRIPTOR_SYMBOL);
		dlclose(dl);
		return LEDGE_EINVAL;
	}
	fn = get();
	if ((rv = check_descriptor(fn, err, errlen)) != LEDGE_OK) {
		dlclose(dl);
		return rv;
	}
	*dlp = dl;
	*fnp = fn;
	return LEDGE_OK;
}

static int
open_copy(struct code_cache *c, const char *source, const char *copy,
    const char hash[65], struct node_code **out, char *err, size_t errlen)
{
	const ledge_function *fn;
	struct node_code *code;
	void *dl;
	int rv;

	if ((rv = code_dlopen(copy, &dl, &fn, err, errlen)) != LEDGE_OK) {
		return rv;
	}
	if ((code = calloc(1, sizeof *code)) == NULL ||
	    (code->path = strdup(copy)) == NULL ||
	    (code->name = strdup(fn->name ? fn->name : base_name(source))) ==
	        NULL) {
		if (code != NULL) {
			free(code->path);
		}
		free(code);
		dlclose(dl);
		snprintf(err, errlen, "out of memory");
		return LEDGE_ENOMEM;
	}
	atomic_init(&code->refs, 1);
	memcpy(code->hash, hash, 65);
	code->dl = dl;
	code->fn = fn;
	code->cache = c;
	*out = code;
	return LEDGE_OK;
}

/* A new reference to loaded code with this hash, or NULL; mu held. */
static struct node_code *
find_loaded(struct code_cache *c, const char *hash)
{
	for (struct code_entry *e = c->loaded; e != NULL; e = e->next) {
		/* An entry whose count already fell to 0 is being unloaded:
		 * never revive it, load a fresh one beside it. */
		int n = atomic_load(&e->code->refs);
		if (strcmp(e->code->hash, hash) != 0) {
			continue;
		}
		while (n > 0 &&
		    !atomic_compare_exchange_weak(&e->code->refs, &n, n + 1)) {
		}
		if (n > 0) {
			return e->code;
		}
	}
	return NULL;
}

static bool
same_file(const struct seen_file *f, const struct stat *st)
{
	return f->dev == st->st_dev && f->ino == st->st_ino &&
	    f->size == st->st_size && f->mtime.tv_sec == st->st_mtim.tv_sec &&
	    f->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* Remember what `path` held when hashed; mu held.  Best effort. */
static void
remember(struct code_cache *c, const char *path, const struct stat *st,
    const char *hash)
{
	struct seen_file *f;
	for (f = c->seen; f != NULL; f = f->next) {
		if (strcmp(f->path, path) == 0) {
			break;
		}
	}
	if (f == NULL) {
		size_t n = strlen(path);
		if ((f = malloc(sizeof *f + n + 1)) == NULL) {
			return;
		}
		memcpy(f->path, path, n + 1);
		f->next = c->seen;
		c->seen = f;
	}
	f->dev = st->st_dev;
	f->ino = st->st_ino;
	f->size = st->st_size;
	f->mtime = st->st_mtim;
	memcpy(f->hash, hash, 65);
}

int
code_load(struct code_cache *c, const char *path, struct node_code **out,
    char *err, size_t errlen)
{
	unsigned char *data;
	size_t len;
	char hash[65];
	char copy[4096];
	struct stat st;
	bool have_st = stat(path, &st) == 0;
	int rv;

	/* Unchanged since it was hashed, and loaded: no need to read it. */
	if (have_st) {
		pthread_mutex_lock(&c->mu);
		for (struct seen_file *f = c->seen; f != NULL; f = f->next) {
			if (strcmp(f->path, path) == 0 && same_file(f, &st) &&
			    (*out = find_loaded(c, f->hash)) != NULL) {
				pthread_mutex_unlock(&c->mu);
				return LEDGE_OK;
			}
		}
		pthread_mutex_unlock(&c->mu);
	}
	if ((rv = code_read_file(path, &data, &len, err, errlen)) != LEDGE_OK) {
		return rv;
	}
	if ((rv = check_elf(data, len, err, errlen)) != LEDGE_OK) {
		free(data);
		return rv;
	}
	sha256_hex(data, len, hash);
	/* The signature is checked against the bytes read, which are the
	 * ones copied and loaded. */
	if ((rv = check_signed(c, path, hash, err, errlen)) != LEDGE_OK) {
		free(data);
		return rv;
	}

	pthread_mutex_lock(&c->mu);
	/* The file may change between stat and read; remember only what
	 * was read, with its identity as stat saw it before, if the size
	 * agrees (a later write changes mtime and is noticed then). */
	if (have_st && (size_t)st.st_size == len) {
		remember(c, path, &st, hash);
	}
	if ((*out = find_loaded(c, hash)) != NULL) {
		pthread_mutex_unlock(&c->mu);
		free(data);
		return LEDGE_OK;
	}
	snprintf(copy, sizeof copy, "%s/%s.so", c->dir, hash);
	rv = write_copy(copy, data, len, err, errlen);
	free(data);
	if (rv == LEDGE_OK) {
		rv = open_copy(c, path, copy, hash, out, err, errlen);
	}
	if (rv == LEDGE_OK) {
		struct code_entry *e = malloc(sizeof *e);
		if (e == NULL) {
			pthread_mutex_unlock(&c->mu);
			code_release(*out);
			snprintf(err, errlen, "out of memory");
			return LEDGE_ENOMEM;
		}
		e->code = *out;
		e->next = c->loaded;
		c->loaded = e;
	}
	pthread_mutex_unlock(&c->mu);
	return rv;
}

struct node_code *
code_ref(struct node_code *code)
{
	atomic_fetch_add(&code->refs, 1);
	return code;
}

void
code_release(struct node_code *code)
{
	struct code_cache *c;
	if (code == NULL || atomic_fetch_sub(&code->refs, 1) != 1) {
		return;
	}
	c = code->cache;
	pthread_mutex_lock(&c->mu);
	for (struct code_entry **pe = &c->loaded; *pe; pe = &(*pe)->next) {
		if ((*pe)->code == code) {
			struct code_entry *e = *pe;
			*pe = e->next;
			free(e);
			break;
		}
	}
	pthread_mutex_unlock(&c->mu);
	dlclose(code->dl);
	free(code->path);
	free(code->name);
	free(code);
}
