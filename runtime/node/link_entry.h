/*
 * link_entry.h - the encoding of one outbox entry: an event for a part
 * that runs on another node, as the node writes it into a commit record
 * (commit_rec_outbox) and the links (node/links.h) carry it.
 *
 * The entry is the u16 big-endian length of the target's name
 * ("workflow/part"), the name, then the event's durable encoding
 * (node_event.h).  A replication entry (node/replica.h) has the same
 * frame with a name that starts with REPL_MARK.
 *
 * Threads: any.
 */
#ifndef LEDGE_NODE_LINK_ENTRY_H
#define LEDGE_NODE_LINK_ENTRY_H

#include <stddef.h>

struct node_event;

/* Bytes of the entry of `ev` for target `target`. */
size_t link_entry_size(const char *target, const struct node_event *ev);

/* Write it at out (link_entry_size bytes). */
void link_entry_encode(
    unsigned char *out, const char *target, const struct node_event *ev);

/* Decode; on success (LEDGE_OK) *target (malloc'd) and *ev are the
 * caller's.  LEDGE_EPROTO if malformed, LEDGE_ENOMEM. */
int link_entry_decode(
    const void *data, size_t len, char **target, struct node_event **ev);

#endif
