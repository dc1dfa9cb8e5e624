/*
 * msg_addr.h - what a listening address exposes: whether anyone beyond
 * this host can reach it without TLS.
 *
 * The rule of the control listeners (`ledge orchestrator`, `ledge node`,
 * `ledge run`): a plain listener is allowed on this host only - ipc://,
 * inproc://, and tcp:// on a loopback address (127.0.0.0/8, ::1,
 * localhost) - while anything reachable from the network must be
 * tls+tcp://, unless the operator says --insecure.
 *
 * Threads: pure functions, any thread.
 */
#ifndef LEDGE_NET_MSG_ADDR_H
#define LEDGE_NET_MSG_ADDR_H

#include <stdbool.h>

/*
 * Whether a listener on `url` (an nng address) could be reached by other
 * hosts with no TLS: true for tcp://, tcp4://, tcp6:// and ws:// on an
 * address that is not loopback (0.0.0.0, *, a host name other than
 * localhost, an empty host), and for a scheme it does not know; false for
 * tls+tcp://, wss://, ipc://, inproc://, abstract:// and loopback tcp.
 */
bool msg_addr_exposed(const char *url);

#endif
