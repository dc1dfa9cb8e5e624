/*
 * resources.c - the table of the resource types this build has
 * (resources.h).  A new type is one file here and one line below.
 */
#include "resources/resources.h"

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
