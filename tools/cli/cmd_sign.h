/*
 * cmd_sign.h - `ledge function keygen|sign`: keys for signed code and
 * the detached signatures of code files (runtime/code/code_sign.h).
 *
 * Local commands: they talk to no orchestrator.  Meant for the CLI's
 * main thread.
 */
#ifndef LEDGE_CLI_CMD_SIGN_H
#define LEDGE_CLI_CMD_SIGN_H

/*
 * `ledge function keygen NAME`: argv is {"keygen", "NAME"}.
 * `ledge function sign --key KEY FILE.so...`: argv is {"sign", ...}.
 * argv is not modified.  Returns the exit code: 0 done; 1 failed (the
 * reason is on stderr; files signed before the failure stay signed); 2 a
 * usage error.
 */
int cmd_sign_main(int argc, char **argv);

/* The usage texts, for `ledge function`'s own help. */
extern const char usage_fn_keygen[];
extern const char usage_fn_sign[];

#endif
