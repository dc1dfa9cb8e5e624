/*
 * host_rules.h - what the host API refuses before it does anything, in
 * one place for both ends of it: the node's in-process host API
 * (exec.c) and a function host process (host_proc.c), which checks
 * the same rules itself so that it can hand a write to the node without
 * waiting for the answer.
 *
 * Each returns LEDGE_OK or the error the SDK documents for the call.
 */
#ifndef LEDGE_ISOLATE_HOST_RULES_H
#define LEDGE_ISOLATE_HOST_RULES_H

#include <stddef.h>
#include <string.h>

#include <ledge.h>

/* Largest state value and cast payload. */
#define HOST_MAX_VALUE (16u << 20)

static inline int
host_check_key(const void *key, size_t klen)
{
	if (klen == 0 || key == NULL) {
		return LEDGE_EINVAL;
	}
	return klen > LEDGE_STATE_MAX_KEY ? LEDGE_ETOOBIG : LEDGE_OK;
}

static inline int
host_check_put(const void *key, size_t klen, const void *val, size_t vlen)
{
	if (klen == 0 || key == NULL || (val == NULL && vlen > 0)) {
		return LEDGE_EINVAL;
	}
	if (klen > LEDGE_STATE_MAX_KEY || vlen > HOST_MAX_VALUE) {
		return LEDGE_ETOOBIG;
	}
	return LEDGE_OK;
}

static inline int
host_has_crlf(const char *s)
{
	return strpbrk(s, "\r\n") != NULL;
}

/* A response header a function may set. */
static inline int
host_check_header(const char *name, const char *value)
{
	if (name == NULL || value == NULL || *name == '\0' ||
	    host_has_crlf(name) || host_has_crlf(value) || strchr(name, ':')) {
		return LEDGE_EINVAL;
	}
	return LEDGE_OK;
}

static inline int
host_check_status(int status)
{
	return status < 100 || status > 599 ? LEDGE_EINVAL : LEDGE_OK;
}

#endif
