/*
 * link_entry.c - the encoding of an outbox entry (link_entry.h).
 */
#include <stdlib.h>
#include <string.h>

#include "node/link_entry.h"
#include "node/node_event.h"

size_t
link_entry_size(const char *target, const struct node_event *ev)
{
	return 2 + strlen(target) + node_event_encoded_size(ev);
}

void
link_entry_encode(
    unsigned char *out, const char *target, const struct node_event *ev)
{
	size_t n = strlen(target);
	out[0] = (unsigned char)(n >> 8);
	out[1] = (unsigned char)n;
	memcpy(out + 2, target, n);
	node_event_encode(ev, out + 2 + n);
}

int
link_entry_decode(
    const void *data, size_t len, char **target, struct node_event **ev)
{
	const unsigned char *p = data;
	size_t n;
	if (len < 2) {
		return LEDGE_EPROTO;
	}
	n = (size_t)p[0] << 8 | p[1];
	if (n == 0 || n > len - 2 || memchr(p + 2, '\0', n) != NULL) {
		return LEDGE_EPROTO;
	}
	if ((*ev = node_event_decode(p + 2 + n, len - 2 - n)) == NULL) {
		return LEDGE_EPROTO;
	}
	if ((*target = malloc(n + 1)) == NULL) {
		node_event_free(*ev);
		return LEDGE_ENOMEM;
	}
	memcpy(*target, p + 2, n);
	(*target)[n] = '\0';
	return LEDGE_OK;
}
