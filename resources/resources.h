/*
 * resources.h - the table of the resource types this build has.
 *
 * The table is data the top of the program hands down: to the workflow
 * loader (wf_load), which validates each resource against its type and
 * resolves wf_resource.rtype, and through that to the node.  Nothing
 * below the resources looks the table up by itself.
 */
#ifndef LEDGE_RESOURCES_RESOURCES_H
#define LEDGE_RESOURCES_RESOURCES_H

#include "workflow/resource.h"

/* Every type, NULL-terminated; static, valid for the program's life.
 * Any thread. */
const struct res_type *const *res_types(void);

#endif
