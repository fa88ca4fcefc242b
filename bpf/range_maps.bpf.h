/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The range tries, defined once: the XDP program and the benchmark's
 * parse + LPM baseline must look up in identical maps for the baseline to
 * be fair.
 */
#ifndef CS_RANGE_MAPS_BPF_H
#define CS_RANGE_MAPS_BPF_H

#include "clicksieve_abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, CS_MAX_RANGES_V4);
	__type(key, struct cs_lpm_v4);
	__type(value, struct cs_range_value);
} ranges_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, CS_MAX_RANGES_V6);
	__type(key, struct cs_lpm_v6);
	__type(value, struct cs_range_value);
} ranges_v6 SEC(".maps");

#endif
