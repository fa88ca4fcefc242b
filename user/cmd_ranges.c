#include <stdio.h>
#include "commands.h"

int cmd_ranges(int argc, char **argv)
{
	fprintf(stderr, "clicksieve ranges: not built yet\n");
	return 1;
}
