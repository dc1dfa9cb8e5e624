/*
 * domain.c - a domain of real processes for tests (see domain.h).
 */
#include "domain.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define READY      "ready; Ctrl-C"
#define READY_MS   15000
#define CLI_MS     30000
#define CLI_ANSWER "8000" /* --timeout of every CLI command */

int64_t
dom_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
dom_nap_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) { }
}

static char *
fmt(const char *f, ...)
{
	va_list ap;
	char *s;
	int n;
	va_start(ap, f);
	n = vsnprintf(NULL, 0, f, ap);
	va_end(ap);
	if (n < 0 || (s = malloc((size_t)n + 1)) == NULL) {
		return NULL;
	}
	va_start(ap, f);
	vsnprintf(s, (size_t)n + 1, f, ap);
	va_end(ap);
	return s;
}

/* ------------------------------------------------------------------ */
/* ports                                                               */

/* Whether a listening socket could be bound to 127.0.0.1:port now. */
static bool
port_free(int port)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;
	if (fd < 0) {
		return false;
	}
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
	close(fd);
	return ok;
}

/*
 * Ports are taken below the kernel's range for outgoing connections, so
 * that no client socket (the CLI runs often) can be holding one when a
 * server binds or binds again after a restart.  Falls back to what
 * bind(0) gives when that range leaves no room below it.
 */
static int
pick_port(int span)
{
	static unsigned seed;
	int lo = 32768;
	FILE *fp = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	if (fp != NULL) {
		if (fscanf(fp, "%d", &lo) != 1) {
			lo = 32768;
		}
		fclose(fp);
	}
	if (seed == 0) {
		seed = (unsigned)getpid() ^ (unsigned)dom_now_ms();
	}
	if (lo - span > 12000) {
		for (int i = 0; i < 200; i++) {
			int p = 10000 +
			    (int)(rand_r(&seed) %
			        (unsigned)(lo - span - 10000));
			bool ok = true;
			for (int k = 0; k < span && ok; k++) {
				ok = port_free(p + k);
			}
			if (ok) {
				return p;
			}
		}
	}
	for (int i = 0; i < 200; i++) {
		struct sockaddr_in a;
		socklen_t len = sizeof a;
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), p;
		bool ok = true;
		if (fd < 0) {
			return -1;
		}
		memset(&a, 0, sizeof a);
		a.sin_family = AF_INET;
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
		    getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
			close(fd);
			return -1;
		}
		close(fd);
		p = ntohs(a.sin_port);
		for (int k = 1; k < span && ok; k++) {
			ok = p + k < 65536 && port_free(p + k);
		}
		if (ok) {
			return p;
		}
	}
	return -1;
}

int
dom_port(void)
{
	return pick_port(1);
}

/* ------------------------------------------------------------------ */
/* child commands                                                      */

/* The whole of fd from its start (malloc'd, NUL-terminated), or NULL. */
static char *
read_all(int fd)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	ssize_t n;
	if (buf == NULL || lseek(fd, 0, SEEK_SET) != 0) {
		free(buf);
		return NULL;
	}
	for (;;) {
		if (cap - len < 2048) {
			char *nb = realloc(buf, cap * 2);
			if (nb == NULL) {
				free(buf);
				return NULL;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			break;
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	return buf;
}

/* An unlinked temporary file for a child's output; -1 on error. */
static int
capture_fd(void)
{
	const char *t = getenv("TMPDIR");
	char *path = fmt("%s/ledge-test-out-XXXXXX", t && *t ? t : "/tmp");
	int fd;
	if (path == NULL) {
		return -1;
	}
	fd = mkostemp(path, O_CLOEXEC);
	if (fd >= 0) {
		unlink(path);
	}
	free(path);
	return fd;
}

int
dom_exec(const char *const argv[], int timeout_ms, char **out, char **err)
{
	int ofd = capture_fd(), efd = capture_fd();
	int nfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int status = -1, st;
	int64_t end = dom_now_ms() + timeout_ms;
	pid_t pid = -1, parent = getpid();

	if (out != NULL) {
		*out = NULL;
	}
	if (err != NULL) {
		*err = NULL;
	}
	if (ofd < 0 || efd < 0 || nfd < 0 || argv == NULL || argv[0] == NULL) {
		goto done;
	}
	if ((pid = fork()) < 0) {
		goto done;
	}
	if (pid == 0) {
		/* Async-signal-safe calls only: the parent may have threads. */
		struct sigaction sa;
		sigset_t none;
		(void)setpgid(0, 0);
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent) {
			_exit(127);
		}
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = SIG_DFL;
		for (int sig = 1; sig < NSIG; sig++) {
			(void)sigaction(sig, &sa, NULL);
		}
		sigemptyset(&none);
		if (sigprocmask(SIG_SETMASK, &none, NULL) != 0 ||
		    dup2(nfd, STDIN_FILENO) < 0 ||
		    dup2(ofd, STDOUT_FILENO) < 0 ||
		    dup2(efd, STDERR_FILENO) < 0) {
			_exit(127);
		}
		(void)close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	(void)setpgid(pid, pid);
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid) {
			status = WIFEXITED(st) ? WEXITSTATUS(st)
			                       : 128 + WTERMSIG(st);
			break;
		}
		if (r < 0 && errno != EINTR) {
			break;
		}
		if (dom_now_ms() >= end) {
			(void)kill(-pid, SIGKILL);
			(void)kill(pid, SIGKILL);
			while (waitpid(pid, &st, 0) < 0 && errno == EINTR) { }
			break;
		}
		dom_nap_ms(2);
	}
	if (out != NULL) {
		*out = read_all(ofd);
	}
	if (err != NULL) {
		*err = read_all(efd);
	}
done:
	if (ofd >= 0) {
		close(ofd);
	}
	if (efd >= 0) {
		close(efd);
	}
	if (nfd >= 0) {
		close(nfd);
	}
	return status;
}

char *
dom_which(const char *name)
{
	const char *path = getenv("PATH");
	char *copy, *save = NULL, *found = NULL;
	if (path == NULL || *path == '\0') {
		path = "/usr/local/bin:/usr/bin:/bin";
	}
	if ((copy = strdup(path)) == NULL) {
		return NULL;
	}
	for (char *dir = strtok_r(copy, ":", &save); dir != NULL;
	     dir = strtok_r(NULL, ":", &save)) {
		char *p = fmt("%s/%s", *dir ? dir : ".", name);
		if (p != NULL && access(p, X_OK) == 0) {
			found = p;
			break;
		}
		free(p);
	}
	free(copy);
	return found;
}

/* ------------------------------------------------------------------ */
/* JSON                                                                */

struct jp {
	const char *s;
	size_t pos;
	char *err;
	size_t errlen;
	int depth;
};

static void
jp_fail(struct jp *p, const char *what)
{
	if (p->err != NULL && p->err[0] == '\0') {
		snprintf(p->err, p->errlen, "at byte %zu: %s", p->pos, what);
	}
}

static void
jp_ws(struct jp *p)
{
	while (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
	    p->s[p->pos] == '\n' || p->s[p->pos] == '\r') {
		p->pos++;
	}
}

static struct dj *jp_value(struct jp *p);

static int
hex4(const char *s, unsigned *out)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		char c = s[i];
		v <<= 4;
		if (c >= '0' && c <= '9') {
			v |= (unsigned)(c - '0');
		} else if (c >= 'a' && c <= 'f') {
			v |= (unsigned)(c - 'a' + 10);
		} else if (c >= 'A' && c <= 'F') {
			v |= (unsigned)(c - 'A' + 10);
		} else {
			return -1;
		}
	}
	*out = v;
	return 0;
}

static size_t
put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* A string at p->pos (the opening quote); malloc'd, its length in *len. */
static char *
jp_string(struct jp *p, size_t *len)
{
	const char *s = p->s;
	size_t i = p->pos + 1, n = 0, k;
	char *out;

	/* Escapes never make a string longer than its source. */
	for (k = i; s[k] != '"'; k++) {
		if (s[k] == '\0') {
			jp_fail(p, "unterminated string");
			return NULL;
		}
		if (s[k] == '\\' && s[k + 1] != '\0') {
			k++;
		}
	}
	if ((out = malloc(k - i + 1)) == NULL) {
		jp_fail(p, "out of memory");
		return NULL;
	}
	while (s[i] != '"') {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20) {
			p->pos = i;
			jp_fail(p, "control character in a string");
			free(out);
			return NULL;
		}
		if (c != '\\') {
			out[n++] = (char)c;
			i++;
			continue;
		}
		i++;
		switch (s[i]) {
		case '"':
		case '\\':
		case '/':
			out[n++] = s[i++];
			break;
		case 'b':
			out[n++] = '\b';
			i++;
			break;
		case 'f':
			out[n++] = '\f';
			i++;
			break;
		case 'n':
			out[n++] = '\n';
			i++;
			break;
		case 'r':
			out[n++] = '\r';
			i++;
			break;
		case 't':
			out[n++] = '\t';
			i++;
			break;
		case 'u': {
			unsigned cp, lo;
			if (hex4(s + i + 1, &cp) != 0) {
				p->pos = i;
				jp_fail(p, "bad \\u escape");
				free(out);
				return NULL;
			}
			i += 5;
			if (cp >= 0xd800 && cp < 0xdc00 && s[i] == '\\' &&
			    s[i + 1] == 'u' && hex4(s + i + 2, &lo) == 0 &&
			    lo >= 0xdc00 && lo < 0xe000) {
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				    (lo - 0xdc00);
				i += 6;
			}
			n += put_utf8(out + n, cp);
			break;
		}
		default:
			p->pos = i;
			jp_fail(p, "bad escape");
			free(out);
			return NULL;
		}
	}
	out[n] = '\0';
	p->pos = i + 1;
	*len = n;
	return out;
}

static struct dj *
jp_new(struct jp *p, enum dj_type t)
{
	struct dj *v = calloc(1, sizeof *v);
	if (v == NULL) {
		jp_fail(p, "out of memory");
		return NULL;
	}
	v->type = t;
	return v;
}

static int
jp_push(struct jp *p, struct dj *c, struct dj *item, char *key)
{
	struct dj **items = realloc(c->items, (c->n + 1) * sizeof *items);
	if (items == NULL) {
		jp_fail(p, "out of memory");
		return -1;
	}
	c->items = items;
	if (c->type == DJ_OBJ) {
		char **keys = realloc(c->keys, (c->n + 1) * sizeof *keys);
		if (keys == NULL) {
			jp_fail(p, "out of memory");
			return -1;
		}
		c->keys = keys;
		c->keys[c->n] = key;
	}
	c->items[c->n++] = item;
	return 0;
}

/* An array or object at p->pos (its opening bracket). */
static struct dj *
jp_container(struct jp *p, bool obj)
{
	struct dj *c = jp_new(p, obj ? DJ_OBJ : DJ_ARR);
	char close = obj ? '}' : ']';
	if (c == NULL) {
		return NULL;
	}
	if (++p->depth > 64) {
		jp_fail(p, "nested too deeply");
		goto fail;
	}
	p->pos++;
	jp_ws(p);
	if (p->s[p->pos] == close) {
		p->pos++;
		p->depth--;
		return c;
	}
	for (;;) {
		char *key = NULL;
		struct dj *item;
		size_t klen;
		jp_ws(p);
		if (obj) {
			if (p->s[p->pos] != '"') {
				jp_fail(p, "expected a key");
				goto fail;
			}
			if ((key = jp_string(p, &klen)) == NULL) {
				goto fail;
			}
			jp_ws(p);
			if (p->s[p->pos] != ':') {
				free(key);
				jp_fail(p, "expected ':'");
				goto fail;
			}
			p->pos++;
		}
		if ((item = jp_value(p)) == NULL) {
			free(key);
			goto fail;
		}
		if (jp_push(p, c, item, key) != 0) {
			free(key);
			dj_free(item);
			goto fail;
		}
		jp_ws(p);
		if (p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->s[p->pos] == close) {
			p->pos++;
			break;
		}
		jp_fail(p, obj ? "expected ',' or '}'" : "expected ',' or ']'");
		goto fail;
	}
	p->depth--;
	return c;
fail:
	dj_free(c);
	return NULL;
}

static struct dj *
jp_number(struct jp *p)
{
	const char *s = p->s + p->pos;
	size_t k = 0;
	bool frac = false;
	struct dj *v;
	char *end;

	if (s[k] == '-') {
		k++;
	}
	if (s[k] < '0' || s[k] > '9') {
		jp_fail(p, "unexpected character");
		return NULL;
	}
	if (s[k] == '0' && s[k + 1] >= '0' && s[k + 1] <= '9') {
		jp_fail(p, "leading zero");
		return NULL;
	}
	while (s[k] >= '0' && s[k] <= '9') {
		k++;
	}
	if (s[k] == '.') {
		frac = true;
		k++;
		if (s[k] < '0' || s[k] > '9') {
			jp_fail(p, "bad number");
			return NULL;
		}
		while (s[k] >= '0' && s[k] <= '9') {
			k++;
		}
	}
	if (s[k] == 'e' || s[k] == 'E') {
		frac = true;
		k++;
		if (s[k] == '+' || s[k] == '-') {
			k++;
		}
		if (s[k] < '0' || s[k] > '9') {
			jp_fail(p, "bad number");
			return NULL;
		}
		while (s[k] >= '0' && s[k] <= '9') {
			k++;
		}
	}
	if ((v = jp_new(p, DJ_NUM)) == NULL) {
		return NULL;
	}
	v->num = strtod(s, NULL);
	if (!frac) {
		errno = 0;
		v->i = strtoll(s, &end, 10);
		v->is_int = errno == 0 && end == s + k;
	}
	p->pos += k;
	return v;
}

static struct dj *
jp_value(struct jp *p)
{
	const char *s;
	struct dj *v;
	jp_ws(p);
	s = p->s + p->pos;
	switch (*s) {
	case '{':
		return jp_container(p, true);
	case '[':
		return jp_container(p, false);
	case '"':
		if ((v = jp_new(p, DJ_STR)) != NULL &&
		    (v->str = jp_string(p, &v->len)) == NULL) {
			dj_free(v);
			v = NULL;
		}
		return v;
	case 't':
	case 'f':
	case 'n': {
		static const char *const words[] = { "true", "false", "null" };
		for (int i = 0; i < 3; i++) {
			size_t n = strlen(words[i]);
			if (strncmp(s, words[i], n) == 0) {
				if ((v = jp_new(p,
				         i == 2 ? DJ_NULL : DJ_BOOL)) != NULL) {
					v->b = i == 0;
					p->pos += n;
				}
				return v;
			}
		}
		jp_fail(p, "unexpected word");
		return NULL;
	}
	case '\0':
		jp_fail(p, "unexpected end");
		return NULL;
	default:
		return jp_number(p);
	}
}

struct dj *
dj_parse(const char *text, char *err, size_t errlen)
{
	struct jp p = { text, 0, err, errlen, 0 };
	struct dj *v;
	if (err != NULL && errlen > 0) {
		err[0] = '\0';
	}
	if (text == NULL) {
		if (err != NULL) {
			snprintf(err, errlen, "no text");
		}
		return NULL;
	}
	if ((v = jp_value(&p)) == NULL) {
		return NULL;
	}
	jp_ws(&p);
	if (text[p.pos] != '\0') {
		jp_fail(&p, "text after the document");
		dj_free(v);
		return NULL;
	}
	return v;
}

void
dj_free(struct dj *v)
{
	if (v == NULL) {
		return;
	}
	for (size_t i = 0; i < v->n; i++) {
		dj_free(v->items[i]);
		if (v->keys != NULL) {
			free(v->keys[i]);
		}
	}
	free(v->items);
	free(v->keys);
	free(v->str);
	free(v);
}

const struct dj *
dj_get(const struct dj *v, const char *key)
{
	if (v == NULL || v->type != DJ_OBJ) {
		return NULL;
	}
	for (size_t i = 0; i < v->n; i++) {
		if (strcmp(v->keys[i], key) == 0) {
			return v->items[i];
		}
	}
	return NULL;
}

const struct dj *
dj_at(const struct dj *v, size_t i)
{
	if (v == NULL || v->type != DJ_ARR || i >= v->n) {
		return NULL;
	}
	return v->items[i];
}

size_t
dj_len(const struct dj *v)
{
	return v != NULL && (v->type == DJ_ARR || v->type == DJ_OBJ) ? v->n : 0;
}

const struct dj *
dj_find(const struct dj *arr, const char *key, const char *value)
{
	for (size_t i = 0; i < dj_len(arr) && arr->type == DJ_ARR; i++) {
		const char *s = dj_gets(arr->items[i], key);
		if (s != NULL && strcmp(s, value) == 0) {
			return arr->items[i];
		}
	}
	return NULL;
}

const char *
dj_str(const struct dj *v)
{
	return v != NULL && v->type == DJ_STR ? v->str : NULL;
}

const char *
dj_gets(const struct dj *v, const char *key)
{
	return dj_str(dj_get(v, key));
}

int64_t
dj_int(const struct dj *v, int64_t dflt)
{
	return v != NULL && v->type == DJ_NUM && v->is_int ? v->i : dflt;
}

bool
dj_true(const struct dj *v)
{
	return v != NULL && v->type == DJ_BOOL && v->b;
}

int
dom_b64_decode(const char *s, unsigned char **out, size_t *len)
{
	size_t n = strlen(s), k = 0;
	unsigned acc = 0;
	int bits = 0;
	unsigned char *buf;

	*out = NULL;
	*len = 0;
	while (n > 0 && s[n - 1] == '=') {
		n--;
	}
	if (n % 4 == 1 || strlen(s) - n > 2) {
		return -1;
	}
	if ((buf = malloc(n * 3 / 4 + 1)) == NULL) {
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		unsigned v;
		if (c >= 'A' && c <= 'Z') {
			v = (unsigned)(c - 'A');
		} else if (c >= 'a' && c <= 'z') {
			v = (unsigned)(c - 'a' + 26);
		} else if (c >= '0' && c <= '9') {
			v = (unsigned)(c - '0' + 52);
		} else if (c == '+') {
			v = 62;
		} else if (c == '/') {
			v = 63;
		} else {
			free(buf);
			return -1;
		}
		acc = (acc << 6) | v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[k++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	buf[k] = '\0';
	*out = buf;
	*len = k;
	return 0;
}

/* ------------------------------------------------------------------ */
/* the domain                                                          */

static const char *
bin(void)
{
	return test_ledge_bin();
}

static void
proc_fini(struct dom_proc *p)
{
	if (p == NULL) {
		return;
	}
	proc_free(p->p);
	for (size_t i = 0; i < sizeof p->argv / sizeof p->argv[0]; i++) {
		free(p->argv[i]);
	}
	free(p->name);
	free(p->dir);
	free(p->data);
	free(p->log);
	free(p->url);
	free(p);
}

static struct dom_proc *
proc_new(struct domain *d, const char *name, const char *url)
{
	struct dom_proc *p = calloc(1, sizeof *p);
	if (p == NULL) {
		return NULL;
	}
	p->name = strdup(name);
	p->dir = fmt("%s/%s", d->dir, name);
	p->data = fmt("%s/data", p->dir ? p->dir : "");
	p->log = fmt("%s/log", p->dir ? p->dir : "");
	p->url = strdup(url);
	p->http_port = -1;
	if (!p->name || !p->dir || !p->data || !p->log || !p->url ||
	    (mkdir(p->dir, 0755) != 0 && errno != EEXIST)) {
		proc_fini(p);
		return NULL;
	}
	return p;
}

/* Append a copy of s to p's arguments. */
static int
arg(struct dom_proc *p, const char *s)
{
	size_t n = 0;
	while (n < sizeof p->argv / sizeof p->argv[0] - 1 && p->argv[n]) {
		n++;
	}
	if (n == sizeof p->argv / sizeof p->argv[0] - 1 ||
	    (p->argv[n] = strdup(s)) == NULL) {
		return -1;
	}
	return 0;
}

static int
tls_args(struct dom_proc *p, const char *cert, const char *key, const char *ca)
{
	if (cert == NULL) {
		return 0;
	}
	return arg(p, "--tls-cert") | arg(p, cert) | arg(p, "--tls-key") |
	    arg(p, key) | arg(p, "--tls-ca") | arg(p, ca);
}

struct domain *
dom_new(const char *tag, const struct dom_tls *tls)
{
	struct domain *d = calloc(1, sizeof *d);
	if (d == NULL || (d->dir = tmpdir_make(tag)) == NULL) {
		free(d);
		return NULL;
	}
	if (tls != NULL && tls->cert != NULL) {
		d->tls = true;
		d->tls_files[0] = strdup(tls->cert);
		d->tls_files[1] = strdup(tls->key);
		d->tls_files[2] = strdup(tls->ca);
		if (!d->tls_files[0] || !d->tls_files[1] || !d->tls_files[2]) {
			dom_free(d);
			return NULL;
		}
	}
	return d;
}

static void
print_log(const struct dom_proc *p, const char *why)
{
	char *text = dom_log(p);
	fprintf(stderr, "%s %s; its log (%s):\n%s\n", p->name, why, p->log,
	    text ? text : "(none)");
	free(text);
}

/* Start p (again) and wait for its next "ready". */
static int
launch(struct dom_proc *p)
{
	proc_free(p->p);
	p->p = proc_start((const char *const *)p->argv, p->log);
	if (p->p == NULL) {
		fprintf(
		    stderr, "cannot start %s: %s\n", p->name, strerror(errno));
		return -1;
	}
	p->starts++;
	if (proc_wait_log_count(p->p, READY, p->starts, READY_MS) != 0) {
		print_log(p, "did not become ready");
		return -1;
	}
	return 0;
}

struct dom_proc *
dom_orchestrator(
    struct domain *d, double node_timeout_s, const char *const *extra)
{
	return dom_orchestrator_at(d, node_timeout_s, extra, NULL);
}

struct dom_proc *
dom_orchestrator_at(struct domain *d, double node_timeout_s,
    const char *const *extra, const char *host)
{
	return dom_orchestrator_port(
	    d, node_timeout_s, extra, host, dom_port());
}

struct dom_proc *
dom_orchestrator_port(struct domain *d, double node_timeout_s,
    const char *const *extra, const char *host, int port)
{
	struct dom_proc *p;
	char t[32];
	if (d->orc != NULL || port <= 0) {
		return NULL;
	}
	free(d->url);
	d->url = fmt("%s://%s:%d", d->tls ? "tls+tcp" : "tcp",
	    host ? host : "127.0.0.1", port);
	if (d->url == NULL ||
	    (p = proc_new(d, "orchestrator", d->url)) == NULL) {
		return NULL;
	}
	d->orc = p;
	snprintf(t, sizeof t, "%g", node_timeout_s);
	if (arg(p, bin()) | arg(p, "orchestrator") | arg(p, "-l") |
	    arg(p, p->url) | arg(p, "-d") | arg(p, p->data) |
	    arg(p, "--node-timeout") | arg(p, t) |
	    tls_args(p, d->tls_files[0], d->tls_files[1], d->tls_files[2])) {
		return NULL;
	}
	for (size_t i = 0; extra != NULL && extra[i] != NULL; i++) {
		if (arg(p, extra[i]) != 0) {
			return NULL;
		}
	}
	/* Plain tcp on an address of the test's own namespaces. */
	if (host != NULL && !d->tls && arg(p, "--insecure") != 0) {
		return NULL;
	}
	return launch(p) == 0 ? p : NULL;
}

struct dom_proc *
dom_node(struct domain *d, const char *name, const char *const *labels,
    bool http, const struct dom_tls *tls)
{
	return dom_node_in(d, name, labels, http, tls, NULL, NULL);
}

/* The domain's node_args, to p's command. */
static int
node_args(struct domain *d, struct dom_proc *p)
{
	for (size_t i = 0; d->node_args != NULL && d->node_args[i] != NULL;
	     i++) {
		if (arg(p, d->node_args[i]) != 0) {
			return -1;
		}
	}
	return 0;
}

struct dom_proc *
dom_node_in(struct domain *d, const char *name, const char *const *labels,
    bool http, const struct dom_tls *tls, const char *netns, const char *host)
{
	struct dom_proc *p;
	char *url;
	int port = dom_port();
	if (d->url == NULL || port < 0 ||
	    d->nnodes == sizeof d->nodes / sizeof d->nodes[0]) {
		return NULL;
	}
	url = fmt("%s://%s:%d", d->tls ? "tls+tcp" : "tcp",
	    host ? host : "127.0.0.1", port);
	p = url ? proc_new(d, name, url) : NULL;
	free(url);
	if (p == NULL) {
		return NULL;
	}
	d->nodes[d->nnodes++] = p;
	if (netns != NULL) {
		char *ip = dom_which("ip");
		int bad = ip == NULL ||
		    (arg(p, ip) | arg(p, "netns") | arg(p, "exec") |
		        arg(p, netns));
		free(ip);
		if (bad) {
			return NULL;
		}
	}
	if (arg(p, bin()) | arg(p, "node") | arg(p, "-o") | arg(p, d->url) |
	    arg(p, "-l") | arg(p, p->url) | arg(p, "-d") | arg(p, p->data) |
	    arg(p, "-n") | arg(p, name)) {
		return NULL;
	}
	for (size_t i = 0; labels != NULL && labels[i] != NULL; i++) {
		if (arg(p, "--label") | arg(p, labels[i])) {
			return NULL;
		}
	}
	if (http && (arg(p, "-H") | arg(p, "127.0.0.1:0"))) {
		return NULL;
	}
	if (node_args(d, p) != 0) {
		return NULL;
	}
	/* Plain tcp on an address of the test's own namespaces. */
	if (host != NULL && !d->tls && arg(p, "--insecure") != 0) {
		return NULL;
	}
	if (tls != NULL ? tls_args(p, tls->cert, tls->key, tls->ca)
	                : tls_args(p, d->tls_files[0], d->tls_files[1],
	                      d->tls_files[2])) {
		return NULL;
	}
	if (launch(p) != 0) {
		return NULL;
	}
	if (http && (p->http_port = proc_http_port(p->p, 2000)) <= 0) {
		print_log(p, "did not say its HTTP port");
		return NULL;
	}
	return p;
}

struct dom_proc *
dom_run(struct domain *d, const char *name, const char *const *files, bool http)
{
	struct dom_proc *p;
	int port = dom_port();
	if (d->orc != NULL || d->tls || port < 0) {
		return NULL;
	}
	free(d->url);
	d->url = fmt("tcp://127.0.0.1:%d", port);
	if (d->url == NULL || (p = proc_new(d, name, d->url)) == NULL) {
		return NULL;
	}
	d->orc = p;
	if (arg(p, bin()) | arg(p, "run") | arg(p, "-L") | arg(p, p->url) |
	        arg(p, "-d") | arg(p, p->data) | arg(p, "-n") | arg(p, name) ||
	    (http && (arg(p, "-H") | arg(p, "127.0.0.1:0"))) ||
	    node_args(d, p) != 0) {
		return NULL;
	}
	for (size_t i = 0; files[i] != NULL; i++) {
		if (arg(p, files[i]) != 0) {
			return NULL;
		}
	}
	if (launch(p) != 0) {
		return NULL;
	}
	if (http && (p->http_port = proc_http_port(p->p, 2000)) <= 0) {
		print_log(p, "did not say its HTTP port");
		return NULL;
	}
	return p;
}

int
dom_restart(struct dom_proc *p)
{
	if (p->p != NULL && proc_running(p->p)) {
		return -1;
	}
	if (launch(p) != 0) {
		return -1;
	}
	for (size_t i = 0; p->argv[i] != NULL; i++) {
		if (strcmp(p->argv[i], "-H") == 0) {
			p->http_port = proc_http_port(p->p, 2000);
			return p->http_port > 0 ? 0 : -1;
		}
	}
	return 0;
}

int
dom_stop(struct dom_proc *p, int sig, int timeout_ms)
{
	int status;
	if (p->p == NULL) {
		return -1;
	}
	(void)proc_kill(p->p, sig);
	if (proc_wait(p->p, timeout_ms, &status) != 0) {
		return -1;
	}
	return status;
}

int
dom_cli_tls(struct domain *d, const struct dom_tls *tls,
    const char *const *args, char **out, char **err)
{
	const char *argv[64];
	size_t n = 0;
	argv[n++] = test_cli_bin();
	for (size_t i = 0; args[i] != NULL && n < 52; i++) {
		argv[n++] = args[i];
	}
	argv[n++] = "--orchestrator";
	argv[n++] = d->url ? d->url : "tcp://127.0.0.1:1";
	argv[n++] = "--timeout";
	argv[n++] = CLI_ANSWER;
	if (tls == NULL && d->tls) {
		argv[n++] = "--tls-cert";
		argv[n++] = d->tls_files[0];
		argv[n++] = "--tls-key";
		argv[n++] = d->tls_files[1];
		argv[n++] = "--tls-ca";
		argv[n++] = d->tls_files[2];
	} else if (tls != NULL && tls->cert != NULL) {
		argv[n++] = "--tls-cert";
		argv[n++] = tls->cert;
		argv[n++] = "--tls-key";
		argv[n++] = tls->key;
		argv[n++] = "--tls-ca";
		argv[n++] = tls->ca;
	}
	argv[n] = NULL;
	return dom_exec(argv, CLI_MS, out, err);
}

int
dom_cli(struct domain *d, const char *const *args, char **out, char **err)
{
	return dom_cli_tls(d, NULL, args, out, err);
}

struct dj *
dom_json(struct domain *d, const char *const *args, int *rc, char **err)
{
	const char *a[56];
	size_t n = 0;
	char *out = NULL, why[128];
	struct dj *v;
	for (size_t i = 0; args[i] != NULL && n < 54; i++) {
		a[n++] = args[i];
	}
	a[n++] = "--json";
	a[n] = NULL;
	*rc = dom_cli(d, a, &out, err);
	v = dj_parse(out, why, sizeof why);
	free(out);
	return v;
}

int
dom_wait_health(
    struct domain *d, const char *name, const char *health, int timeout_ms)
{
	int64_t end = dom_now_ms() + timeout_ms;
	for (;;) {
		int rc;
		const char *const args[] = { "node", "list", NULL };
		struct dj *v = dom_json(d, args, &rc, NULL);
		const struct dj *n = dj_find(dj_get(v, "nodes"), "name", name);
		const char *h = n ? dj_gets(n, "health") : NULL;
		bool ok = rc == 0 && h != NULL && strcmp(h, health) == 0;
		dj_free(v);
		if (ok) {
			return 0;
		}
		if (dom_now_ms() > end) {
			dom_dump(d, stderr, 30);
			return -1;
		}
		dom_nap_ms(50);
	}
}

char *
dom_fmt(const char *f, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, f);
	if (vasprintf(&s, f, ap) < 0) {
		s = NULL;
	}
	va_end(ap);
	return s;
}

int
dom_state_u64(struct domain *d, const char *wf, const char *fn, const char *key,
    uint64_t *out)
{
	const char *args[] = { "state", "get", wf, fn, key, NULL };
	int rc, rv = -1;
	struct dj *v = dom_json(d, args, &rc, NULL);
	const struct dj *e = dj_at(dj_get(v, "entries"), 0);
	unsigned char *bytes = NULL;
	size_t len = 0;

	if (v != NULL && rc == 1 && !dj_true(dj_get(v, "ok")) &&
	    dj_gets(v, "code") != NULL &&
	    strcmp(dj_gets(v, "code"), "not-found") == 0 &&
	    strstr(dj_gets(v, "error") ? dj_gets(v, "error") : "", "no key") !=
	        NULL) {
		*out = 0; /* no such key yet */
		rv = 0;
	} else if (v != NULL && dj_true(dj_get(v, "ok"))) {
		if (e == NULL && rc == 1) {
			*out = 0; /* no such key yet */
			rv = 0;
		} else if (rc == 0 && e != NULL && dj_gets(e, "value") &&
		    dom_b64_decode(dj_gets(e, "value"), &bytes, &len) == 0 &&
		    len == sizeof *out) {
			memcpy(out, bytes, sizeof *out);
			rv = 0;
		}
	}
	free(bytes);
	dj_free(v);
	return rv;
}

/* Replace every `from` in s by `to` (malloc'd). */
static char *
replace(const char *s, const char *from, const char *to)
{
	size_t n = 0, fl = strlen(from), tl = strlen(to);
	char *out, *o;
	for (const char *p = s; (p = strstr(p, from)) != NULL; p += fl) {
		n++;
	}
	if ((out = malloc(strlen(s) + n * tl + 1)) == NULL) {
		return NULL;
	}
	for (o = out;;) {
		const char *hit = strstr(s, from);
		size_t k = hit ? (size_t)(hit - s) : strlen(s);
		memcpy(o, s, k);
		o += k;
		if (hit == NULL) {
			break;
		}
		memcpy(o, to, tl);
		o += tl;
		s = hit + fl;
	}
	*o = '\0';
	return out;
}

char *
dom_file(struct domain *d, const char *name, const char *text)
{
	char *fx =
	    fmt("%s/", test_path("LEDGE_FIXTURES", "build/tests/fixtures"));
	char *bd = fmt("%s/", test_path("LEDGE_BUILD", "build"));
	char *a = fx ? replace(text, "@F/", fx) : NULL;
	char *b = a && bd ? replace(a, "@B/", bd) : NULL;
	char *path = fmt("%s/%s", d->dir, name);
	FILE *fp = NULL;
	bool ok = b != NULL && path != NULL &&
	    (fp = fopen(path, "w")) != NULL && fputs(b, fp) >= 0;
	if (fp != NULL && fclose(fp) != 0) {
		ok = false;
	}
	free(fx);
	free(bd);
	free(a);
	free(b);
	if (!ok) {
		free(path);
		return NULL;
	}
	return path;
}

char *
dom_log(const struct dom_proc *p)
{
	int fd = open(p->log, O_RDONLY | O_CLOEXEC);
	char *text;
	if (fd < 0) {
		return strdup("");
	}
	text = read_all(fd);
	close(fd);
	return text;
}

static void
dump_one(const struct dom_proc *p, FILE *fp, int lines)
{
	char *text = dom_log(p);
	const char *start;
	size_t total;
	if (text == NULL) {
		return;
	}
	total = 0;
	for (const char *c = text; *c; c++) {
		total += *c == '\n';
	}
	start = text;
	for (size_t skip = total > (size_t)lines ? total - (size_t)lines : 0;
	     skip > 0; skip--) {
		start = strchr(start, '\n') + 1;
	}
	fprintf(fp, "---- %s (%s), last %d lines ----\n%s", p->name, p->log,
	    lines, start);
	free(text);
}

void
dom_dump(const struct domain *d, FILE *fp, int lines)
{
	if (d == NULL) {
		return;
	}
	if (d->orc != NULL) {
		dump_one(d->orc, fp, lines);
	}
	for (size_t i = 0; i < d->nnodes; i++) {
		dump_one(d->nodes[i], fp, lines);
	}
	fflush(fp);
}

void
dom_free(struct domain *d)
{
	const char *keep = getenv("LEDGE_KEEP_TMP");
	if (d == NULL) {
		return;
	}
	for (size_t i = 0; i < d->nnodes; i++) {
		proc_fini(d->nodes[i]);
	}
	proc_fini(d->orc);
	if (keep != NULL && strcmp(keep, "1") == 0) {
		fprintf(stderr, "kept %s\n", d->dir);
	} else {
		tmpdir_remove(d->dir);
	}
	for (int i = 0; i < 3; i++) {
		free(d->tls_files[i]);
	}
	free(d->url);
	free(d->dir);
	free(d);
}

size_t
dom_log_count(const struct dom_proc *p, const char *needle)
{
	char *text = dom_log(p);
	size_t n = str_count(text, needle);
	free(text);
	return n;
}
