/*
 * command.h - running a domain command from a table: its words, what it
 * accepts (args.h), and the function that does it.
 *
 * The cmd_*.c files each hold a table of their commands and call
 * command_run or command_group with it; the run function of a command
 * gets the parsed arguments.  Exit codes: 0 success, 1 the operation
 * failed (reported on stderr), 2 a usage error.  Meant for the CLI's
 * main thread.
 */
#ifndef LEDGE_CLI_COMMAND_H
#define LEDGE_CLI_COMMAND_H

#include <stddef.h>

#include "args.h"
#include "print.h"
#include "view.h"

struct command;

/* Do the command with the arguments a; returns the exit code. */
typedef int (*command_fn)(const struct command *c, const struct args *a);

/* One command.  Static data. */
struct command {
	const char *name;      /* the subcommand of a group, or NULL */
	struct args_spec spec; /* its words and what it accepts */
	command_fn run;
};

/*
 * Parse argc/argv (the words after the command) for c, check that the
 * --tls-* files of a tls+tcp:// address are readable, and run c.  Returns
 * the exit code (0 after printing --help).
 */
int command_run(const struct command *c, int argc, char **argv);

/*
 * A group of n commands (`ledge workflow start|stop|...`): argv[0] names
 * one of cmds, which runs with the words after it.  No word, or one that
 * names none of them, is a usage error (prog and the group's usage on
 * stderr, 2); help prints the usage to stdout (0).
 */
int command_group(const char *prog, const char *usage,
    const struct command *cmds, size_t n, int argc, char **argv);

/* The view of a command: its name for messages, --json, the address,
 * --call; the names it was given are the caller's to fill in. */
struct view command_view(const struct command *c, const struct args *a);

/*
 * A command made of one request {t, name} (name: the first argument, if
 * there is one) or {t}, and its reply of `kind`.  Returns the exit code.
 */
int command_named(const struct command *c, const struct args *a, const char *t,
    enum print_kind kind);

#endif
