/*
 * cmd_help.c - the help of the domain commands by topic (see
 * cmd_help.h).
 */
#include <string.h>

#include "cmd_function.h"
#include "cmd_help.h"
#include "cmd_invoke.h"
#include "cmd_logs.h"
#include "cmd_node.h"
#include "cmd_state.h"
#include "cmd_workflow.h"

int
cmd_help(const char *topic, FILE *fp)
{
	static const struct {
		const char *topic;
		void (*help)(FILE *fp);
	} topics[] = {
		{ "workflow", cmd_workflow_help },
		{ "node", cmd_node_help },
		{ "function", cmd_function_help },
		{ "invoke", cmd_invoke_help },
		{ "state", cmd_state_help },
		{ "logs", cmd_logs_help },
	};
	for (size_t i = 0; i < sizeof topics / sizeof topics[0]; i++) {
		if (strcmp(topic, topics[i].topic) == 0) {
			topics[i].help(fp);
			return 0;
		}
	}
	return -1;
}
