/*
 * libFuzzer harness for the feed importers. The first input byte picks the
 * format and options, the rest is the feed. Beyond memory safety it checks
 * the contract: a failure leaves an error and no set; a success holds at
 * most as many ranges as selected entries, and what cs_import_write prints
 * reads back as a list with the same ranges.
 */
/*
 * -fno-sanitize=nonnull-attribute: cs_ranges_new() calls qsort(NULL, 0, ...)
 * (user/ranges.c, harmless but undefined); drop it once that is fixed.
 */
/* fuzz-sources: user/ranges_import.c user/ranges.c user/addr.c -ljansson -fno-sanitize=nonnull-attribute */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ranges_import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const services[] = { "EC2", "AzureCloud", "10", "US" };
	struct cs_import_opts o = { 0 };
	struct cs_import imp;
	struct cs_ranges *back;
	char err[512] = "", *text = NULL;
	size_t len = 0;
	FILE *f;

	if (size < 1)
		return 0;
	o.format = (enum cs_feed_format)(data[0] % 8);
	o.provider = (data[0] & 0x08) ? "fuzz" : NULL;
	o.weak = data[0] & 0x10;
	o.mask_host_bits = data[0] & 0x20;
	if ((data[0] & 0x40) && cs_feed_service_fields(o.format)) {
		o.services = services;
		o.service_count = 4;
	}
	if (!cs_feed_default_provider(o.format))
		o.provider = "fuzz";
	if (cs_import_buffer(&o, "fuzz", (const char *)data + 1, size - 1, &imp, err, sizeof(err))) {
		if (!err[0] || imp.ranges)
			abort();
		return 0;
	}
	if (cs_ranges_count(imp.ranges, 0) + imp.excluded > imp.entries)
		abort();
	f = open_memstream(&text, &len);
	back = cs_ranges_new();
	if (!f || !back || cs_import_write(&o, &imp, "fuzz", 0, f) || fclose(f))
		abort();
	if (cs_ranges_load_buffer(back, "back", text, len, err, sizeof(err)) ||
	    cs_ranges_count(back, 0) != cs_ranges_count(imp.ranges, 0))
		abort();
	cs_ranges_free(back);
	free(text);
	cs_import_release(&imp);
	return 0;
}
