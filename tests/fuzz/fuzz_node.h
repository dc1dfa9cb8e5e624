/*
 * fuzz_node.h - one node inside a fuzz target's process, with an HTTP
 * listener on loopback and the workflow of fuzz_node.c (echo, tally and
 * sdk_http fixtures behind http-ingress routes /echo, /count, /sdk).
 * Started on first use, stopped at exit.  Not thread-safe: one fuzzing
 * thread.
 */
#ifndef LEDGE_FUZZ_NODE_H
#define LEDGE_FUZZ_NODE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Send `len` bytes on a new connection to the node, half-close it (with
 * half_close; else the request must ask for Connection: close) and
 * read the answer (until the server closes, at most timeout_ms) into
 * out (cap bytes, NUL-terminated; what does not fit is read and dropped).
 * Returns the bytes read, or -1 when the node did not close the connection in
 * time.  Aborts if the node cannot be started or reached at all.
 */
long fuzz_node_send(const void *data, size_t len, bool half_close, char *out,
    size_t cap, int timeout_ms);

/*
 * Every `every` calls, make sure the node still answers a plain request
 * (GET /echo, 200 within 5 s); abort() when it does not: a wedged loop
 * is a finding like a crash.
 */
void fuzz_node_check(unsigned every);

#endif
