/*
 * yaml_fuzz.c - the workflow loader (libyaml + validation) on any text.
 *
 * Oracles: a workflow is returned exactly when no error was reported;
 * every error names the file, and its line (when it has one) is inside
 * the text; a loaded workflow and its functions have names.
 */
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "fuzz.h"
#include "resources/resources.h"
#include "workflow/workflow.h"

/* Every code file "exists": the loader's checks after parsing run too. */
static int
any_code(void *arg, const char *path, char *err, size_t errlen)
{
	(void)arg;
	(void)err;
	(void)errlen;
	return path[0] == '\0';
}

FUZZ_TARGET(yaml)
{
	struct diag d;
	struct workflow *wf;
	size_t lines = 1;

	/* Line breaks as YAML counts them: LF, CR LF, and a lone CR. */
	for (size_t i = 0; i < size; i++) {
		lines += data[i] == '\n' ||
		    (data[i] == '\r' && (i + 1 == size || data[i + 1] != '\n'));
	}
	diag_init(&d);
	wf = wf_load_mem("fuzz.yaml", (const char *)data, size, res_types(),
	    any_code, NULL, &d);
	if ((wf == NULL) != (d.count > 0)) {
		abort();
	}
	for (size_t i = 0; i < d.count && i < d.cap; i++) {
		const char *t = d.items[i].text;
		unsigned long line;
		if (t == NULL || strncmp(t, "fuzz.yaml:", 10) != 0) {
			abort();
		}
		line = strtoul(t + 10, NULL, 10);
		if (line > lines + 1) {
			abort();
		}
	}
	if (wf != NULL) {
		if (wf->name == NULL || wf->name[0] == '\0') {
			abort();
		}
		for (size_t i = 0; i < wf->nfunctions; i++) {
			if (wf->functions[i].name == NULL ||
			    wf->functions[i].name[0] == '\0') {
				abort();
			}
		}
		wf_free(wf);
	}
	diag_fini(&d);
	return 0;
}
