/*
 * cmd_node.c - `ledge node list|drain` (see cmd_node.h).
 */
#include "cmd_node.h"
#include "command.h"
#include "usage.h"

static int
run_node_list(const struct command *c, const struct args *o)
{
	return command_named(c, o, "node.list", PRINT_NODE_LIST);
}

static int
run_node_drain(const struct command *c, const struct args *o)
{
	return command_named(c, o, "node.drain", PRINT_NODE_DRAIN);
}

static const struct command node_cmds[] = {
	{ "list",
	    { "ledge node list", usage_node_list, 0, 0, 0, { NULL }, 10000 },
	    run_node_list },
	{ "drain",
	    { "ledge node drain", usage_node_drain, 0, 1, 1, { "NAME" },
	        60000 },
	    run_node_drain },
};

int
cmd_node_main(int argc, char **argv)
{
	return command_group("ledge node", usage_node, node_cmds,
	    sizeof node_cmds / sizeof node_cmds[0], argc, argv);
}

void
cmd_node_help(FILE *fp)
{
	usage_print(usage_node, 0, fp);
}
