/* clicksieve: tells machine clicks from human clicks on tracked links. */
#include <stdio.h>
#include <string.h>

#include "commands.h"

#ifndef CS_VERSION
#define CS_VERSION "dev"
#endif

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{ "run", cmd_run, "attach XDP to an interface and classify clicks live" },
	{ "classify", cmd_classify, "classify clicks in access logs" },
	{ "replay", cmd_replay, "classify clicks in pcap files" },
	{ "ranges", cmd_ranges, "check, look up, load and dump scanner range lists" },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: clicksieve COMMAND [OPTIONS]...\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'clicksieve COMMAND --help' describes each command.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("clicksieve %s\n", CS_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "clicksieve: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
