/*
 * orc_adopt.c - the workflows `ledge run` runs itself: recorded, with
 * their code, as placed on its node, never placed elsewhere (orc.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ledge.h>

#include "base/diag.h"
#include "base/sha256.h"
#include "code/code.h"
#include "net/wire.h"
#include "orc/orc.h"
#include "orc/orc_model.h"
#include "orc/orc_store.h"
#include "workflow/workflow.h"

/* Keep the code file at `path` (hex gets its SHA-256).  LEDGE_OK, or
 * code_read_file's or the store's error with a reason in err. */
static int
store_code_file(
    struct orc *o, const char *path, char hex[65], char *err, size_t errlen)
{
	unsigned char *buf;
	size_t len;
	char why[256];
	int rv;
	if ((rv = code_read_file(path, &buf, &len, why, sizeof why)) !=
	    LEDGE_OK) {
		snprintf(err, errlen, "%s: %s", path, why);
		return rv;
	}
	sha256_hex(buf, len, hex);
	rv = orc_store_put_code(o, hex, buf, len);
	free(buf);
	if (rv != LEDGE_OK) {
		snprintf(err, errlen, "cannot write the store");
		return rv;
	}
	return LEDGE_OK;
}

int
orc_adopt(struct orc *o, const char *file, const char *yaml, size_t ylen,
    size_t nfn, const char *const *fn_names, const char *const *code_paths,
    const char *node, char *err, size_t errlen)
{
	struct wire_w m;
	struct wire_r r;
	struct diag d;
	struct owf *w, *old;
	const void *data;
	size_t len;
	char hex[65], key[512];
	int rv;

	if (wire_w_init(&m) != 0) {
		snprintf(err, errlen, "out of memory");
		return LEDGE_ENOMEM;
	}
	/* Each function's own code, by hash (`@fn:NAME`, as after a
	 * reload): no paths as written are needed. */
	wire_map(&m, nfn);
	for (size_t i = 0; i < nfn; i++) {
		/* Functions sharing a file (often all of them) read and
		 * hash it once. */
		if ((i == 0 || strcmp(code_paths[i], code_paths[i - 1]) != 0) &&
		    (rv = store_code_file(
		         o, code_paths[i], hex, err, errlen)) != LEDGE_OK) {
			wire_w_fini(&m);
			return rv;
		}
		snprintf(key, sizeof key, "@fn:%s", fn_names[i]);
		wire_str(&m, key);
		wire_str(&m, hex);
	}
	if ((data = wire_data(&m, &len)) == NULL ||
	    wire_parse(&r, data, len) != 0) {
		wire_w_fini(&m);
		snprintf(err, errlen, "out of memory");
		return LEDGE_ENOMEM;
	}
	diag_init(&d);
	w = orc_make_owf("", file, yaml, ylen, wire_root(&r), &d);
	wire_r_fini(&r);
	wire_w_fini(&m);
	if (w == NULL) {
		/* No reason: memory ran out. */
		rv = d.count > 0 ? LEDGE_EINVAL : LEDGE_ENOMEM;
		snprintf(err, errlen, "%s",
		    d.count > 0 && d.cap > 0 ? d.items[0].text
		                             : "invalid workflow");
		diag_fini(&d);
		return rv;
	}
	diag_fini(&d);
	free(w->name);
	w->name = strdup(w->wf->name);
	if ((old = orc_find_wf(o, w->wf->name)) != NULL) {
		orc_unlink_wf(o, old);
		orc_free_owf(old);
	}
	w->adopted = true;
	for (size_t i = 0; i < w->nparts; i++) {
		w->place[i].node = strdup(node);
		w->place[i].epoch = o->next_epoch++;
	}
	w->deployed_on = calloc(2, sizeof *w->deployed_on);
	if (w->deployed_on != NULL &&
	    (w->deployed_on[0] = strdup(node)) != NULL) {
		w->ndeployed = 1;
	}
	w->next = o->wfs;
	o->wfs = w;
	orc_store_save_wf(o, w);
	return LEDGE_OK;
}

void
orc_drop_adopted(struct orc *o)
{
	struct owf **pp = &o->wfs;
	while (*pp != NULL) {
		struct owf *w = *pp;
		if (!w->adopted) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		orc_store_forget_wf(o, w->name);
		orc_free_owf(w);
	}
}
