/*
 * wf_code.c - the caller's check of each code file (wf_code_check),
 * once per distinct path.
 */
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "workflow/wf_int.h"

#define CHECK_ERR_SIZE 512

struct code_ref {
	const char *path;
	size_t fn;
};

static int
cmp_code(const void *a, const void *b)
{
	const struct code_ref *x = a;
	const struct code_ref *y = b;
	int c = strcmp(x->path, y->path);

	return c != 0 ? c : (x->fn < y->fn ? -1 : x->fn > y->fn);
}

/* Run the check once per group of functions sharing a path. */
static void
check_group(
    struct wf_loader *ld, const struct code_ref *g, size_t n, char **reasons)
{
	char err[CHECK_ERR_SIZE] = "";

	if (ld->check(ld->check_arg, g[0].path, err, sizeof err) == 0) {
		return;
	}
	err[sizeof err - 1] = '\0';
	for (size_t i = 0; i < n; i++) {
		reasons[g[i].fn] =
		    wf_dup(ld, err[0] != '\0' ? err : "unusable");
	}
}

/*
 * Ask the caller about each distinct code path once (loading a shared
 * object can be slow), then report in the order of the functions.
 */
void
wf_check_code(struct wf_loader *ld)
{
	const struct workflow *wf = ld->wf;
	size_t n = wf->nfunctions + 1;
	struct code_ref *refs = calloc(n, sizeof *refs);
	char **reasons = calloc(n, sizeof *reasons);
	size_t m = 0;

	if (refs == NULL || reasons == NULL) {
		wf_oom(ld);
		goto out;
	}
	for (size_t i = 0; i < wf->nfunctions; i++) {
		if (wf->functions[i].code_path != NULL) {
			refs[m++] =
			    (struct code_ref) { wf->functions[i].code_path, i };
		}
	}
	qsort(refs, m, sizeof *refs, cmp_code);
	for (size_t i = 0; i < m;) {
		size_t j = i + 1;
		while (j < m && strcmp(refs[j].path, refs[i].path) == 0) {
			j++;
		}
		check_group(ld, &refs[i], j - i, reasons);
		i = j;
	}
	for (size_t i = 0; i < wf->nfunctions; i++) {
		const struct wf_function *f = &wf->functions[i];
		if (reasons[i] != NULL) {
			wf_report(ld, f->code_pos, "code '%s': %s", f->code,
			    reasons[i]);
		}
	}
out:
	for (size_t i = 0; reasons != NULL && i < wf->nfunctions; i++) {
		free(reasons[i]);
	}
	free(reasons);
	free(refs);
}
