#include <stdio.h>
#include "commands.h"

int cmd_replay(int argc, char **argv)
{
	fprintf(stderr, "clicksieve replay: not built yet\n");
	return 1;
}
