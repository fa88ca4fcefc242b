#include <stdio.h>
#include "commands.h"

int cmd_classify(int argc, char **argv)
{
	fprintf(stderr, "clicksieve classify: not built yet\n");
	return 1;
}
