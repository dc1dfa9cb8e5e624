/*
 * resource.c - looking a resource type up in a table of types
 * (resource.h).  The table of the types a build has is the resources'
 * own (resources/resources.c).
 */
#include <string.h>

#include "workflow/resource.h"

const struct res_type *
res_type_find(const struct res_type *const *types, const char *name)
{
	for (size_t i = 0; types != NULL && types[i] != NULL; i++) {
		if (strcmp(types[i]->name, name) == 0) {
			return types[i];
		}
	}
	return NULL;
}
