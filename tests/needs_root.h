/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * For cmocka tests with a kernel half: without root (or BPF) it cannot run
 * and the test is skipped, but in CI (root, CI set) a skip is a failure.
 */
#ifndef CS_TESTS_NEEDS_ROOT_H
#define CS_TESTS_NEEDS_ROOT_H

#include <stdlib.h>
#include <unistd.h>

#define skip_or_fail_in_ci()                                                    \
	do {                                                                    \
		if (getenv("CI"))                                               \
			fail_msg("needs root and BPF, and CI must run it");     \
		skip();                                                         \
	} while (0)

#define skip_unless_root()                                                      \
	do {                                                                    \
		if (geteuid() != 0)                                             \
			skip_or_fail_in_ci();                                   \
	} while (0)

#endif
