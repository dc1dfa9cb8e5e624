/*
 * msg_addr.c - what a listening address exposes (msg_addr.h).
 */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "net/msg_addr.h"

static bool
has_prefix(const char *s, const char *p)
{
	return strncasecmp(s, p, strlen(p)) == 0;
}

/* Whether host (n bytes, IPv6 without its brackets) is loopback. */
static bool
loopback(const char *host, size_t n)
{
	if (n == 9 && strncasecmp(host, "localhost", 9) == 0) {
		return true;
	}
	if (n == 3 && memcmp(host, "::1", 3) == 0) {
		return true;
	}
	if (n < 4 || memcmp(host, "127.", 4) != 0) {
		return false;
	}
	/* 127.a.b.c: digits and dots only. */
	for (size_t i = 4; i < n; i++) {
		if ((host[i] < '0' || host[i] > '9') && host[i] != '.') {
			return false;
		}
	}
	return true;
}

bool
msg_addr_exposed(const char *url)
{
	static const char *const local[] = { "tls+tcp://", "tls+tcp4://",
		"tls+tcp6://", "wss://", "wss4://", "wss6://", "ipc://",
		"inproc://", "abstract://" };
	static const char *const plain[] = { "tcp://", "tcp4://", "tcp6://",
		"ws://", "ws4://", "ws6://" };
	const char *host = NULL, *end;

	if (url == NULL) {
		return true;
	}
	for (size_t i = 0; i < sizeof local / sizeof local[0]; i++) {
		if (has_prefix(url, local[i])) {
			return false;
		}
	}
	for (size_t i = 0; i < sizeof plain / sizeof plain[0] && !host; i++) {
		if (has_prefix(url, plain[i])) {
			host = url + strlen(plain[i]);
		}
	}
	if (host == NULL) {
		return true; /* a scheme this rule does not know */
	}
	if (*host == '[') {
		host++;
		if ((end = strchr(host, ']')) == NULL) {
			return true;
		}
	} else {
		end = strchr(host, ':');
		end = end ? end : host + strcspn(host, "/");
	}
	return !loopback(host, (size_t)(end - host));
}
