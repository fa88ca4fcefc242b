/* clicksieve ranges: check, look up, load, dump and export range lists. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clicksieve_abi.h"
#include "commands.h"
#include "learned_maps.h"
#include "ranges.h"
#include "ranges_import.h"
#include "ranges_sync.h"

static const char ranges_usage[] =
	"Usage: clicksieve ranges COMMAND [OPTIONS] [ARGS]...\n"
	"\n"
	"Commands:\n"
	"  check FILE...              validate range lists, print counts per family and provider\n"
	"  lookup IP... [--ranges FILE]...\n"
	"                             longest matching range (default list: the shipped one)\n"
	"  load FILE... [--pin-dir DIR]\n"
	"                             make a running instance's pinned maps equal the lists\n"
	"  dump [--pin-dir DIR]       print the pinned maps in list format, sorted\n"
	"  bpftool FILE... [--pin-dir DIR]\n"
	"                             print a `bpftool batch file` that loads the lists\n"
	"  import --format FORMAT FEED [-o FILE]\n"
	"                             convert a provider's range feed into a list\n"
	"  learned [--pin-dir DIR] [--forget ADDR...]\n"
	"                             list (or delete) the scanners `run` has learned\n"
	"\n"
	"List format: one 'PREFIX PROVIDER [weak|allow]' a line, '#' comments.\n"
	"'clicksieve ranges COMMAND --help' describes each command.\n";

static const char check_usage[] =
	"Usage: clicksieve ranges check FILE...\n"
	"\n"
	"Parses the lists as one set (a prefix listed twice with different providers or\n"
	"flags is an error, also across files) and prints counts per family and provider.\n"
	"Exit status: 0 valid, 2 a bad line (reported as FILE:LINE: reason).\n";

static const char lookup_usage[] =
	"Usage: clicksieve ranges lookup [-r|--ranges FILE]... IP...\n"
	"\n"
	"Prints the longest range holding each address, its provider and flags, or\n"
	"'no match'. Without --ranges, uses the shipped default list.\n"
	"Exit status: 0 every address matched, 1 some did not, 2 bad arguments or lists.\n";

static const char load_usage[] =
	"Usage: clicksieve ranges load [--pin-dir DIR] FILE...\n"
	"\n"
	"Makes the maps pinned by a running instance (default " CS_PIN_DIR ") hold\n"
	"exactly the ranges of the lists, by difference: prefixes listed before and\n"
	"after stay matchable throughout. Providers keep their ids. Prints what changed.\n";

static const char dump_usage[] =
	"Usage: clicksieve ranges dump [--pin-dir DIR]\n"
	"\n"
	"Prints the ranges in the pinned maps (default " CS_PIN_DIR ") in list\n"
	"format, sorted by family, address and prefix length.\n";

static const char bpftool_usage[] =
	"Usage: clicksieve ranges bpftool [--pin-dir DIR] FILE...\n"
	"\n"
	"Prints a bpftool batch file that writes the lists' providers and prefixes into\n"
	"the pinned maps (default " CS_PIN_DIR "):\n"
	"    clicksieve ranges bpftool my.txt > load.batch && bpftool batch file load.batch\n"
	"It numbers providers from 1 in order of appearance and only adds or overwrites;\n"
	"for a running instance prefer 'clicksieve ranges load', which keeps provider ids\n"
	"and removes stale prefixes.\n";

static const char import_usage[] =
	"Usage: clicksieve ranges import --format FORMAT [OPTIONS] FEED\n"
	"\n"
	"Converts a provider's published range feed (FEED, or - for stdin) into a range\n"
	"list with a provenance header. Duplicates are merged; a malformed entry is an\n"
	"error naming it, and nothing is written.\n"
	"\n"
	"Formats (default provider name):\n"
	"  aws      AWS ip-ranges.json (aws)\n"
	"  gcp      Google Cloud cloud.json (gcp)\n"
	"  goog     Google goog.json, all Google blocks (google)\n"
	"  azure    Azure Service Tags ServiceTags_Public_*.json (azure)\n"
	"  m365     Microsoft 365 endpoints, endpoints.office.com (microsoft)\n"
	"  oracle   Oracle Cloud public_ip_ranges.json (oracle)\n"
	"  csv      RFC 8805 geofeed: prefix,country,region,city,postal (needs --provider)\n"
	"  plain    one prefix or address a line, '#' comments (needs --provider)\n"
	"\n"
	"Options:\n"
	"  -f, --format FORMAT     feed format (required)\n"
	"  -P, --provider NAME     provider name in the list ([a-z0-9_-], at most 31)\n"
	"  -s, --service NAME      keep only entries whose own service/tag fields equal\n"
	"                          NAME, ignoring case (repeatable): aws service or region\n"
	"                          (EC2, eu-west-1), gcp service or scope, azure tag name,\n"
	"                          systemService or region (AzureCloud.westeurope), m365\n"
	"                          id or serviceArea (10, Exchange), oracle region or tag,\n"
	"                          csv country or region (US, US-CA)\n"
	"      --weak              flag every range weak (weak evidence only)\n"
	"  -x, --exclude LIST      leave out prefixes that LIST names for another provider\n"
	"                          or with other flags, so both load together (repeatable)\n"
	"      --mask-host-bits    accept entries with host bits set (10.0.0.1/8), masked\n"
	"                          with a warning; without it they are errors\n"
	"      --source TEXT       the feed's name in the header, e.g. its URL\n"
	"                          (default: FEED's file name)\n"
	"  -o, --output FILE       write FILE atomically (temporary file, then rename)\n"
	"                          instead of stdout\n"
	"Exit status: 0 written, 1 write failed, 2 bad arguments or a malformed feed.\n";

static const char learned_usage[] =
	"Usage: clicksieve ranges learned [--pin-dir DIR] [--forget ADDR...]\n"
	"\n"
	"Lists the learned scanners that `run` keeps in the pinned maps (default\n"
	CS_PIN_DIR "/" CS_MAP_LEARNED_V4 " and " CS_MAP_LEARNED_V6 "): clients that the\n"
	"timing rules (burst, multi_ip) convicted for several distinct recipients,\n"
	"whose clicks are machine (learned_range) until they expire. One line each,\n"
	"sorted by address: client prefix, evidence (distinct recipients convicted),\n"
	"first and latest conviction, expiry (RFC 3339, UTC). Expired entries are\n"
	"left out.\n"
	"\n"
	"  --forget ADDR...   delete the entries holding each address instead; a\n"
	"                     running instance follows within seconds\n"
	"Exit status: 0 ok, 1 maps not pinned or an address not learned, 2 bad arguments.\n";

/* --ranges is -r too, as in classify, replay and run. */
enum { OPT_RANGES = 'r', OPT_PIN_DIR = 256, OPT_WEAK, OPT_MASK, OPT_SOURCE, OPT_FORGET };

struct sub_opts {
	bool forget;
	const char *pin_dir;
	const char **ranges;
	size_t ranges_count;
};

/*
 * Parses the options of one sub-subcommand; accepts only those in allowed.
 * Returns -1 to go on, else the exit code (0 after --help, 2 on error).
 */
static int parse_opts(int argc, char **argv, const char *usage, const struct option *allowed,
		      struct sub_opts *o)
{
	const char *shortopts = ":h";
	int c;

	for (const struct option *opt = allowed; opt->name; opt++)
		if (opt->val == OPT_RANGES)
			shortopts = ":hr:";
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, allowed, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(usage, stdout);
			return 0;
		case OPT_PIN_DIR:
			o->pin_dir = optarg;
			break;
		case OPT_FORGET:
			o->forget = true;
			break;
		case OPT_RANGES: {
			const char **r = realloc(o->ranges, (o->ranges_count + 1) * sizeof(*r));

			if (!r) {
				fprintf(stderr, "clicksieve ranges: out of memory\n");
				return 2;
			}
			o->ranges = r;
			o->ranges[o->ranges_count++] = optarg;
			break;
		}
		case ':':
			fprintf(stderr, "clicksieve ranges %s: option '%s' needs a value\n",
				argv[0], argv[optind - 1]);
			fputs(usage, stderr);
			return 2;
		default:
			fprintf(stderr, "clicksieve ranges %s: unknown option '%s'\n",
				argv[0], argv[optind - 1]);
			fputs(usage, stderr);
			return 2;
		}
	}
	return -1;
}

/* Loads every list into a new set; NULL (message printed) on a bad one. */
static struct cs_ranges *load_lists(const char *const *paths, size_t n)
{
	struct cs_ranges *r = cs_ranges_new();
	char err[512];

	if (!r) {
		fprintf(stderr, "clicksieve ranges: out of memory\n");
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if (cs_ranges_load_file(r, paths[i], err, sizeof(err))) {
			fprintf(stderr, "%s\n", err);
			cs_ranges_free(r);
			return NULL;
		}
	}
	return r;
}

static int need_files(int argc, char **argv, const char *usage)
{
	if (optind < argc)
		return 0;
	fprintf(stderr, "clicksieve ranges %s: no list file given\n", argv[0]);
	fputs(usage, stderr);
	return 2;
}

static int do_check(int argc, char **argv)
{
	static const struct option opts[] = { { "help", no_argument, NULL, 'h' }, { 0 } };
	struct sub_opts o = { 0 };
	struct cs_ranges *r;
	int ret = parse_opts(argc, argv, check_usage, opts, &o);

	if (ret >= 0)
		return ret;
	if (need_files(argc, argv, check_usage))
		return 2;
	r = load_lists((const char *const *)argv + optind, argc - optind);
	if (!r)
		return 2;

	unsigned nprov = cs_ranges_provider_count(r);
	size_t per[CS_MAX_PROVIDERS][2] = { { 0 } };
	uint16_t flags[CS_MAX_PROVIDERS] = { 0 };

	for (size_t i = 0; i < cs_ranges_count(r, 0); i++) {
		const struct cs_range *rg = cs_ranges_at(r, i);

		per[rg->provider_id][rg->prefix.family == 6]++;
		flags[rg->provider_id] |= rg->flags;
	}
	printf("%zu ranges (IPv4 %zu, IPv6 %zu), %u providers\n", cs_ranges_count(r, 0),
	       cs_ranges_count(r, 4), cs_ranges_count(r, 6), nprov);
	printf("%-32s %8s %8s  %s\n", "provider", "IPv4", "IPv6", "flags");
	for (unsigned id = 1; id <= nprov; id++) {
		const char *ft = cs_ranges_flags_text(flags[id]);

		printf("%-32s %8zu %8zu%s%s\n", cs_ranges_provider_name(r, (uint16_t)id),
		       per[id][0], per[id][1], *ft ? "  " : "", *ft ? ft + 1 : "");
	}
	cs_ranges_free(r);
	return 0;
}

static int do_lookup(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "ranges", required_argument, NULL, OPT_RANGES },
		{ 0 }
	};
	struct sub_opts o = { 0 };
	struct cs_ranges *r = NULL;
	int ret = parse_opts(argc, argv, lookup_usage, opts, &o);

	if (ret >= 0)
		goto out;
	ret = 2;
	if (optind == argc) {
		fprintf(stderr, "clicksieve ranges lookup: no address given\n");
		fputs(lookup_usage, stderr);
		goto out;
	}
	for (int i = optind; i < argc; i++) {
		struct cs_addr a;

		if (!cs_addr_parse(argv[i], &a)) {
			fprintf(stderr, "clicksieve ranges lookup: '%s' is not an IP address\n", argv[i]);
			goto out;
		}
	}
	if (o.ranges_count) {
		r = load_lists(o.ranges, o.ranges_count);
	} else {
		const char *def = cs_ranges_default_path();

		r = load_lists(&def, 1);
	}
	if (!r)
		goto out;
	ret = 0;
	for (int i = optind; i < argc; i++) {
		struct cs_addr a;
		char buf[CS_ADDR_STRLEN];
		const struct cs_range *rg;

		cs_addr_parse(argv[i], &a);
		/* as the classifier does: ::ffff:a.b.c.d matches IPv4 ranges */
		cs_addr_unmap(&a);
		rg = cs_ranges_lookup(r, &a);

		if (!rg) {
			printf("%s: no match\n", argv[i]);
			ret = 1;
			continue;
		}
		printf("%s: %s/%u %s%s\n", argv[i], cs_addr_format(&rg->prefix, buf), rg->plen,
		       cs_ranges_provider_name(r, rg->provider_id), cs_ranges_flags_text(rg->flags));
	}
out:
	cs_ranges_free(r);
	free(o.ranges);
	return ret;
}

static int do_load(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "pin-dir", required_argument, NULL, OPT_PIN_DIR },
		{ 0 }
	};
	struct sub_opts o = { .pin_dir = CS_PIN_DIR };
	struct cs_sync_stats st;
	struct cs_ranges *r;
	char err[512];
	int ret = parse_opts(argc, argv, load_usage, opts, &o);

	if (ret >= 0)
		return ret;
	if (need_files(argc, argv, load_usage))
		return 2;
	r = load_lists((const char *const *)argv + optind, argc - optind);
	if (!r)
		return 2;
	ret = 0;
	if (cs_ranges_sync_pinned(r, o.pin_dir, &st, err, sizeof(err))) {
		fprintf(stderr, "clicksieve ranges load: %s\n", err);
		ret = 1;
	} else {
		printf("%s: added %zu, changed %zu, removed %zu, unchanged %zu; "
		       "%zu new provider names\n", o.pin_dir, st.added, st.changed, st.removed,
		       st.unchanged, st.providers_added);
	}
	cs_ranges_free(r);
	return ret;
}

static int do_dump(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "pin-dir", required_argument, NULL, OPT_PIN_DIR },
		{ 0 }
	};
	struct sub_opts o = { .pin_dir = CS_PIN_DIR };
	struct cs_ranges *r = NULL;
	int fds[3] = { -1, -1, -1 };
	char err[512];
	int ret = parse_opts(argc, argv, dump_usage, opts, &o);

	if (ret >= 0)
		return ret;
	if (optind < argc) {
		fprintf(stderr, "clicksieve ranges dump: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	ret = 1;
	r = cs_ranges_new();
	if (!r) {
		fprintf(stderr, "clicksieve ranges dump: out of memory\n");
		goto out;
	}
	if (cs_ranges_open_pinned(o.pin_dir, fds, err, sizeof(err)) ||
	    cs_ranges_read_kernel(r, fds[0], fds[1], fds[2], o.pin_dir, err, sizeof(err))) {
		fprintf(stderr, "clicksieve ranges dump: %s\n", err);
		goto out;
	}
	if (cs_ranges_write(r, stdout) || fflush(stdout)) {
		perror("clicksieve ranges dump: stdout");
		goto out;
	}
	ret = 0;
out:
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	cs_ranges_free(r);
	return ret;
}

static void print_hex(const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		printf(" %02x", b[i]);
}

static int do_bpftool(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "pin-dir", required_argument, NULL, OPT_PIN_DIR },
		{ 0 }
	};
	struct sub_opts o = { .pin_dir = CS_PIN_DIR };
	struct cs_ranges *r;
	int ret = parse_opts(argc, argv, bpftool_usage, opts, &o);

	if (ret >= 0)
		return ret;
	if (need_files(argc, argv, bpftool_usage))
		return 2;
	r = load_lists((const char *const *)argv + optind, argc - optind);
	if (!r)
		return 2;

	printf("# clicksieve ranges: %zu IPv4 and %zu IPv6 prefixes, %u providers\n",
	       cs_ranges_count(r, 4), cs_ranges_count(r, 6), cs_ranges_provider_count(r));
	/* Names first: a prefix never points at an unnamed provider. */
	for (__u32 id = 1; id <= cs_ranges_provider_count(r); id++) {
		struct cs_provider_name name = { 0 };

		snprintf(name.name, sizeof(name.name), "%s", cs_ranges_provider_name(r, (uint16_t)id));
		printf("map update pinned %s/%s key hex", o.pin_dir, CS_MAP_PROVIDERS);
		print_hex(&id, sizeof(id));
		printf(" value hex");
		print_hex(&name, sizeof(name));
		printf("\n");
	}
	for (size_t i = 0; i < cs_ranges_count(r, 0); i++) {
		const struct cs_range *rg = cs_ranges_at(r, i);
		struct cs_range_value v = { .provider_id = rg->provider_id, .flags = rg->flags };

		printf("map update pinned %s/%s key hex", o.pin_dir,
		       rg->prefix.family == 4 ? CS_MAP_RANGES_V4 : CS_MAP_RANGES_V6);
		if (rg->prefix.family == 4) {
			struct cs_lpm_v4 k = { .prefixlen = rg->plen };

			memcpy(k.addr, rg->prefix.bytes, sizeof(k.addr));
			print_hex(&k, sizeof(k));
		} else {
			struct cs_lpm_v6 k = { .prefixlen = rg->plen };

			memcpy(k.addr, rg->prefix.bytes, sizeof(k.addr));
			print_hex(&k, sizeof(k));
		}
		printf(" value hex");
		print_hex(&v, sizeof(v));
		printf("\n");
	}
	cs_ranges_free(r);
	if (fflush(stdout)) {
		perror("clicksieve ranges bpftool: stdout");
		return 1;
	}
	return 0;
}

static void print_warning(void *ctx, const char *msg)
{
	fprintf(stderr, "clicksieve ranges import: warning: %s\n", msg);
}

/* Writes path through a temporary file beside it, so readers see old or new. */
static int write_atomically(const char *path, const struct cs_import_opts *io,
			    const struct cs_import *imp, const char *source)
{
	size_t n = strlen(path);
	char *tmp = malloc(n + 8);
	FILE *f = NULL;
	int fd = -1, ret = -1;

	if (!tmp) {
		fprintf(stderr, "clicksieve ranges import: out of memory\n");
		return -1;
	}
	memcpy(tmp, path, n);
	memcpy(tmp + n, ".XXXXXX", 8);
	fd = mkstemp(tmp);
	if (fd < 0) {
		fprintf(stderr, "clicksieve ranges import: %s: %m\n", tmp);
		goto out;
	}
	f = fdopen(fd, "w");
	if (!f) {
		fprintf(stderr, "clicksieve ranges import: %s: %m\n", tmp);
		close(fd);
		goto out_unlink;
	}
	if (cs_import_write(io, imp, source, time(NULL), f) || fflush(f) || fsync(fileno(f)) ||
	    fchmod(fileno(f), 0644)) {
		fprintf(stderr, "clicksieve ranges import: %s: %m\n", tmp);
		fclose(f);
		goto out_unlink;
	}
	if (fclose(f)) {
		fprintf(stderr, "clicksieve ranges import: %s: %m\n", tmp);
		goto out_unlink;
	}
	if (rename(tmp, path)) {
		fprintf(stderr, "clicksieve ranges import: %s: %m\n", path);
		goto out_unlink;
	}
	ret = 0;
	goto out;
out_unlink:
	unlink(tmp);
out:
	free(tmp);
	return ret;
}

static int do_import(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "format", required_argument, NULL, 'f' },
		{ "provider", required_argument, NULL, 'P' },
		{ "service", required_argument, NULL, 's' },
		{ "exclude", required_argument, NULL, 'x' },
		{ "output", required_argument, NULL, 'o' },
		{ "weak", no_argument, NULL, OPT_WEAK },
		{ "mask-host-bits", no_argument, NULL, OPT_MASK },
		{ "source", required_argument, NULL, OPT_SOURCE },
		{ 0 }
	};
	struct cs_import_opts io = { .warn = print_warning };
	struct cs_import imp = { 0 };
	struct cs_ranges *exclude = NULL;
	const char **services = NULL, **excludes = NULL;
	size_t n_excludes = 0;
	const char *format = NULL, *output = NULL, *source = NULL, *feed;
	char err[512];
	int c, ret = 2;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hf:P:s:x:o:", opts, NULL)) != -1) {
		const char ***list = NULL;
		size_t *count = NULL;

		switch (c) {
		case 'h':
			fputs(import_usage, stdout);
			ret = 0;
			goto out;
		case 'f':
			format = optarg;
			break;
		case 'P':
			io.provider = optarg;
			break;
		case 's':
			list = &services;
			count = &io.service_count;
			break;
		case 'x':
			list = &excludes;
			count = &n_excludes;
			break;
		case 'o':
			output = optarg;
			break;
		case OPT_WEAK:
			io.weak = true;
			break;
		case OPT_MASK:
			io.mask_host_bits = true;
			break;
		case OPT_SOURCE:
			source = optarg;
			break;
		case ':':
			fprintf(stderr, "clicksieve ranges import: option '%s' needs a value\n",
				argv[optind - 1]);
			fputs(import_usage, stderr);
			goto out;
		default:
			fprintf(stderr, "clicksieve ranges import: unknown option '%s'\n",
				argv[optind - 1]);
			fputs(import_usage, stderr);
			goto out;
		}
		if (list) {
			const char **grown = realloc(*list, (*count + 1) * sizeof(*grown));

			if (!grown) {
				fprintf(stderr, "clicksieve ranges import: out of memory\n");
				goto out;
			}
			*list = grown;
			grown[(*count)++] = optarg;
		}
	}
	io.services = services;
	if (!format) {
		fprintf(stderr, "clicksieve ranges import: --format is required\n");
		fputs(import_usage, stderr);
		goto out;
	}
	if (cs_feed_format_parse(format, &io.format)) {
		fprintf(stderr, "clicksieve ranges import: unknown format '%s' "
			"(aws, gcp, goog, azure, m365, oracle, csv, plain)\n", format);
		goto out;
	}
	if (!io.provider && !cs_feed_default_provider(io.format)) {
		fprintf(stderr, "clicksieve ranges import: --format %s needs --provider NAME\n",
			format);
		goto out;
	}
	if (io.provider && !cs_import_provider_valid(io.provider)) {
		fprintf(stderr, "clicksieve ranges import: bad provider name '%s' "
			"(want [a-z0-9_-], 1-%d characters)\n", io.provider, CS_PROVIDER_NAME_LEN - 1);
		goto out;
	}
	if (io.service_count && !cs_feed_service_fields(io.format)) {
		fprintf(stderr, "clicksieve ranges import: --service: %s feeds have no service "
			"fields\n", format);
		goto out;
	}
	if (argc - optind != 1) {
		fprintf(stderr, "clicksieve ranges import: want exactly one feed file, got %d\n",
			argc - optind);
		fputs(import_usage, stderr);
		goto out;
	}
	feed = argv[optind];
	if (!source) {
		const char *slash = strrchr(feed, '/');

		source = !strcmp(feed, "-") ? "stdin" : slash ? slash + 1 : feed;
	}
	if (n_excludes) {
		exclude = load_lists(excludes, n_excludes);
		if (!exclude)
			goto out;
		io.exclude = exclude;
	}
	if (cs_import_file(&io, feed, &imp, err, sizeof(err))) {
		fprintf(stderr, "clicksieve ranges import: %s\n", err);
		goto out;
	}
	ret = 1;
	if (output) {
		if (write_atomically(output, &io, &imp, source))
			goto out;
	} else if (cs_import_write(&io, &imp, source, time(NULL), stdout) || fflush(stdout)) {
		perror("clicksieve ranges import: stdout");
		goto out;
	}
	ret = 0;
out:
	cs_import_release(&imp);
	cs_ranges_free(exclude);
	free(services);
	free(excludes);
	return ret;
}

static void format_time(uint64_t us, char buf[32])
{
	time_t secs = (time_t)(us / 1000000);
	struct tm tm;

	if (!gmtime_r(&secs, &tm) || !strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, 32, "-");
}

static int forget(struct cs_learned_maps *m, const struct cs_learned_entry *list, size_t n,
		  const char *text)
{
	struct cs_addr a;
	char err[256], buf[CS_ADDR_STRLEN];
	int found = 0;

	if (!cs_addr_parse(text, &a)) {
		fprintf(stderr, "clicksieve ranges learned: '%s' is not an address\n", text);
		return 2;
	}
	for (size_t i = 0; i < n; i++) {
		if (list[i].client.family != a.family ||
		    !cs_addr_same_prefix(&a, &list[i].client, list[i].prefixlen))
			continue;
		if (cs_learned_maps_delete(m, &list[i].client, err, sizeof(err)) < 0) {
			fprintf(stderr, "clicksieve ranges learned: %s\n", err);
			return 1;
		}
		printf("forgot %s/%u\n", cs_addr_format(&list[i].client, buf), list[i].prefixlen);
		found = 1;
	}
	if (!found) {
		fprintf(stderr, "clicksieve ranges learned: %s: not learned\n", text);
		return 1;
	}
	return 0;
}

static int do_learned(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "pin-dir", required_argument, NULL, OPT_PIN_DIR },
		{ "forget", no_argument, NULL, OPT_FORGET },
		{ 0 }
	};
	struct sub_opts o = { .pin_dir = CS_PIN_DIR };
	struct cs_learned_maps *m = NULL;
	struct cs_learned_entry *list = NULL;
	struct timespec now;
	uint64_t now_us;
	size_t n = 0;
	char err[512];
	int ret = parse_opts(argc, argv, learned_usage, opts, &o);

	if (ret >= 0)
		return ret;
	if (o.forget != (optind < argc)) {
		fprintf(stderr, o.forget ? "clicksieve ranges learned: --forget needs addresses\n" :
			"clicksieve ranges learned: unexpected argument '%s'\n", argv[optind]);
		fputs(learned_usage, stderr);
		return 2;
	}
	ret = 1;
	m = cs_learned_maps_open(o.pin_dir, false, 0, err, sizeof(err));
	if (!m || cs_learned_maps_read(m, &list, &n, err, sizeof(err))) {
		fprintf(stderr, "clicksieve ranges learned: %s\n", err);
		goto out;
	}
	if (o.forget) {
		ret = 0;
		for (int i = optind; i < argc; i++) {
			int rc = forget(m, list, n, argv[i]);

			if (rc > ret)
				ret = rc;
		}
		goto out;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	now_us = (uint64_t)now.tv_sec * 1000000 + (uint64_t)now.tv_nsec / 1000;
	printf("%-24s %8s  %-20s  %-20s  %-20s\n", "client", "evidence", "first", "last",
	       "expires");
	for (size_t i = 0; i < n; i++) {
		char addr[CS_ADDR_STRLEN], prefix[CS_ADDR_STRLEN + 5], first[32], last[32], exp[32];

		if (list[i].expiry_us <= now_us)
			continue;
		snprintf(prefix, sizeof(prefix), "%s/%u", cs_addr_format(&list[i].client, addr),
			 list[i].prefixlen);
		format_time(list[i].first_us, first);
		format_time(list[i].last_us, last);
		format_time(list[i].expiry_us, exp);
		printf("%-24s %8u  %-20s  %-20s  %-20s\n", prefix, list[i].evidence, first, last,
		       exp);
	}
	ret = 0;
out:
	free(list);
	cs_learned_maps_close(m);
	return ret;
}

int cmd_ranges(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int argc, char **argv);
	} subs[] = {
		{ "check", do_check },
		{ "lookup", do_lookup },
		{ "load", do_load },
		{ "dump", do_dump },
		{ "bpftool", do_bpftool },
		{ "import", do_import },
		{ "learned", do_learned },
	};

	if (argc < 2) {
		fputs(ranges_usage, stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		fputs(ranges_usage, stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (!strcmp(argv[1], subs[i].name))
			return subs[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "clicksieve ranges: unknown command '%s'\n", argv[1]);
	fputs(ranges_usage, stderr);
	return 2;
}
