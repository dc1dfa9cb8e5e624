/* msg_addr_test.c - which listening addresses other hosts could reach
 * without TLS. */
#include <criterion/criterion.h>

#include "net/msg_addr.h"

Test(msg_addr, this_host_only_is_not_exposed)
{
	static const char *const local[] = { "tcp://127.0.0.1:7600",
		"tcp://127.10.0.3:1", "tcp://localhost:7600",
		"tcp://LOCALHOST:7600", "tcp://[::1]:7600",
		"tcp4://127.0.0.1:9", "tls+tcp://0.0.0.0:7600",
		"tls+tcp://10.0.0.1:7600", "wss://0.0.0.0:443",
		"ipc:///tmp/ledge.sock", "inproc://x", "abstract://ledge" };
	for (size_t i = 0; i < sizeof local / sizeof local[0]; i++) {
		cr_expect(!msg_addr_exposed(local[i]), "%s", local[i]);
	}
}

Test(msg_addr, the_network_without_tls_is_exposed)
{
	static const char *const open[] = { "tcp://0.0.0.0:7600",
		"tcp://*:7600", "tcp://:7600", "tcp://10.0.0.1:7600",
		"tcp://192.168.1.5:7600", "tcp://[::]:7600",
		"tcp://[fe80::1]:1", "tcp://edge1.example:7600",
		"tcp://127.0.0.1.example:7600", "tcp://localhost.example:1",
		"ws://127.0.0.2x:80", "ws://0.0.0.0:80", "tcp6://[::]:1",
		"udp://127.0.0.1:1", "tcp://[::1:7600", "nonsense", "" };
	for (size_t i = 0; i < sizeof open / sizeof open[0]; i++) {
		cr_expect(msg_addr_exposed(open[i]), "%s", open[i]);
	}
	cr_expect(msg_addr_exposed(NULL));
}
