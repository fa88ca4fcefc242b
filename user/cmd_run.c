#include <stdio.h>
#include "commands.h"

int cmd_run(int argc, char **argv)
{
	fprintf(stderr, "clicksieve run: not built yet\n");
	return 1;
}
