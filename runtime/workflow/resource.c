/*
 * resource.c - the table of resource types this build knows.
 */
#include <string.h>

#include "workflow/resource.h"

extern const struct res_type res_http_ingress;
extern const struct res_type res_http_egress;
extern const struct res_type res_file_log;
extern const struct res_type res_timer;

static const struct res_type *const types[] = {
	&res_http_ingress,
	&res_http_egress,
	&res_file_log,
	&res_timer,
	NULL,
};

const struct res_type *const *
res_types(void)
{
	return types;
}

const struct res_type *
res_type_find(const char *name)
{
	for (size_t i = 0; types[i] != NULL; i++) {
		if (strcmp(types[i]->name, name) == 0) {
			return types[i];
		}
	}
	return NULL;
}
