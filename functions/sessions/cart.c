/*
 * cart: a shopping cart per user - a keyed function (one instance per
 * key, the key being the user).
 *   GET    /cart/USER          the cart, one "ITEM QTY" line per item
 *   POST   /cart/USER  ITEM N  adds N (default 1) of ITEM; answers its
 *                              new quantity
 *   DELETE /cart/USER          empties the cart
 * Each user's cart is that user's instance's state: no other user's
 * request waits for it or sees it, and it survives restarts, crashes and
 * the instance being passivated when the user goes quiet.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ledge.h>

#define CART_MAX 4096 /* bytes of "ITEM QTY\n" lines */

static int
init(ledge_ctx *ctx, const ledge_config *config)
{
	ledge_bytes user = ledge_key(ctx), cart;
	(void)config;
	if (ledge_state_get(ctx, "cart", &cart) != LEDGE_OK) {
		cart.len = 0;
	}
	ledge_log(ctx, LEDGE_LOG_DEBUG, "cart of %.*s active (%zu bytes)",
	    (int)user.len, (const char *)user.data, cart.len);
	return LEDGE_OK;
}

/* The quantity of `item` in cart (0 if absent); where its line starts
 * and ends in *at, *end. */
static long
find(const char *cart, size_t len, const char *item, size_t *at, size_t *end)
{
	size_t il = strlen(item);
	for (size_t p = 0; p < len;) {
		const char *nl = memchr(cart + p, '\n', len - p);
		size_t e = nl ? (size_t)(nl - cart) + 1 : len;
		if (e - p > il + 1 && memcmp(cart + p, item, il) == 0 &&
		    cart[p + il] == ' ') {
			*at = p;
			*end = e;
			return strtol(cart + p + il + 1, NULL, 10);
		}
		p = e;
	}
	*at = *end = len;
	return 0;
}

static int
add(ledge_ctx *ctx, ledge_bytes body)
{
	char item[64], out[CART_MAX + 128], line[96];
	long n = 1, have;
	size_t at, end, len = 0;
	ledge_bytes cart;
	int k;

	if (body.len == 0 || body.len >= sizeof line) {
		return ledge_http_respond(
		    ctx, 400, "text/plain", "say ITEM [N]\n", 13);
	}
	memcpy(line, body.data, body.len);
	line[body.len] = '\0';
	if (sscanf(line, "%63s %ld", item, &n) < 1 || n < 1 || n > 1000000) {
		return ledge_http_respond(ctx, 400, "text/plain",
		    "say ITEM [N], N from 1 to 1000000\n", 34);
	}
	if (ledge_state_get(ctx, "cart", &cart) != LEDGE_OK) {
		cart.data = "";
		cart.len = 0;
	}
	have = find(cart.data, cart.len, item, &at, &end);
	/* The cart without the item's line, then the line. */
	memcpy(out, cart.data, at);
	memcpy(out + at, (const char *)cart.data + end, cart.len - end);
	len = cart.len - (end - at);
	k = snprintf(line, sizeof line, "%s %ld\n", item, have + n);
	if (len + (size_t)k > CART_MAX) {
		return ledge_http_respond(
		    ctx, 413, "text/plain", "the cart is full\n", 17);
	}
	memcpy(out + len, line, (size_t)k);
	len += (size_t)k;
	int rv = ledge_state_put(ctx, "cart", out, len);
	if (rv != LEDGE_OK) {
		return rv;
	}
	k = snprintf(line, sizeof line, "%ld\n", have + n);
	return ledge_http_respond(ctx, 200, "text/plain", line, (size_t)k);
}

static int
call(ledge_ctx *ctx, ledge_bytes body)
{
	const char *m = ledge_http_method(ctx);
	ledge_bytes cart;

	if (m != NULL && strcmp(m, "POST") == 0) {
		return add(ctx, body);
	}
	if (m != NULL && strcmp(m, "DELETE") == 0) {
		int rv = ledge_state_del(ctx, "cart");
		return rv != LEDGE_OK ? rv
		                      : ledge_http_respond(ctx, 200,
		                            "text/plain", "emptied\n", 8);
	}
	if (ledge_state_get(ctx, "cart", &cart) != LEDGE_OK) {
		cart.data = "";
		cart.len = 0;
	}
	return ledge_http_respond(ctx, 200, "text/plain", cart.data, cart.len);
}

LEDGE_FUNCTION(.name = "cart", .init = init, .call = call);
