/* Subcommands of the one clicksieve binary. Each returns the exit code:
 * 0 success, 1 runtime failure, 2 bad arguments or bad input. */
#ifndef CS_COMMANDS_H
#define CS_COMMANDS_H

int cmd_run(int argc, char **argv);
int cmd_classify(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_ranges(int argc, char **argv);

#endif
