/*
 * Provider feed importers. Every format is reduced to a stream of prefix
 * entries, each with the feed's own service/tag fields; the selected ones
 * become "PREFIX PROVIDER [weak]" lines, which the one list parser then
 * de-duplicates and validates.
 */
#include "ranges_import.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clicksieve_abi.h"

/* The most service/tag fields any format offers for one entry. */
#define MAX_FIELDS 8

static const struct {
	const char *name;
	const char *title;
	const char *provider;
	const char *service_fields;
} formats[] = {
	[CS_FEED_AWS] = { "aws", "AWS ip-ranges.json", "aws", "service, region, network_border_group" },
	[CS_FEED_GCP] = { "gcp", "Google Cloud cloud.json", "gcp", "service, scope" },
	[CS_FEED_GOOG] = { "goog", "Google goog.json", "google", NULL },
	[CS_FEED_AZURE] = { "azure", "Azure Service Tags", "azure",
			    "tag name (e.g. AzureCloud.westeurope), systemService, region" },
	[CS_FEED_M365] = { "m365", "Microsoft 365 endpoints", "microsoft", "id, serviceArea" },
	[CS_FEED_ORACLE] = { "oracle", "Oracle Cloud public_ip_ranges.json", "oracle",
			     "region, tags" },
	[CS_FEED_CSV] = { "csv", "RFC 8805 geofeed", NULL, "country, region" },
	[CS_FEED_PLAIN] = { "plain", "plain prefix list", NULL, NULL },
};

int cs_feed_format_parse(const char *name, enum cs_feed_format *out)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		if (!strcmp(name, formats[i].name)) {
			*out = (enum cs_feed_format)i;
			return 0;
		}
	}
	return -1;
}

const char *cs_feed_format_name(enum cs_feed_format f)
{
	return formats[f].name;
}

const char *cs_feed_format_title(enum cs_feed_format f)
{
	return formats[f].title;
}

const char *cs_feed_default_provider(enum cs_feed_format f)
{
	return formats[f].provider;
}

const char *cs_feed_service_fields(enum cs_feed_format f)
{
	return formats[f].service_fields;
}

bool cs_import_provider_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= CS_PROVIDER_NAME_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
		      name[i] == '_' || name[i] == '-'))
			return false;
	return true;
}

struct importer {
	const struct cs_import_opts *o;
	const char *name;               /* the feed, for errors */
	const char *provider;
	FILE *lines;                    /* list-format lines of the selected entries */
	struct cs_import *imp;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 2, 3)))
static int fail(struct importer *im, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(im->err, im->errlen, "%s: ", im->name);

	if (n >= 0 && (size_t)n < im->errlen) {
		va_start(ap, fmt);
		vsnprintf(im->err + n, im->errlen - n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

__attribute__((format(printf, 2, 3)))
static void warn(struct importer *im, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int n;

	if (!im->o->warn)
		return;
	n = snprintf(msg, sizeof(msg), "%s: ", im->name);
	if (n >= 0 && (size_t)n < sizeof(msg)) {
		va_start(ap, fmt);
		vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
		va_end(ap);
	}
	im->o->warn(im->o->warn_ctx, msg);
}

/*
 * Parses "ADDR/LEN" (or a bare address when bare_ok, as a host route).
 * Returns 0, 1 when host bits were set (prefix masked), -1 when malformed.
 */
static int parse_prefix(const char *text, bool bare_ok, struct cs_addr *prefix, unsigned *plen)
{
	const char *slash = strchr(text, '/');
	struct cs_addr masked;
	unsigned long len;
	char *end;

	if (!slash) {
		if (!bare_ok || !cs_addr_parse(text, prefix))
			return -1;
		*plen = prefix->family == 4 ? 32 : 128;
		return 0;
	}
	if (!cs_addr_parse_n(text, slash - text, prefix))
		return -1;
	if (slash[1] < '0' || slash[1] > '9')
		return -1;
	errno = 0;
	len = strtoul(slash + 1, &end, 10);
	if (*end || errno || len > (prefix->family == 4 ? 32u : 128u))
		return -1;
	*plen = (unsigned)len;
	masked = *prefix;
	cs_addr_mask(&masked, *plen);
	if (cs_addr_equal(&masked, prefix))
		return 0;
	*prefix = masked;
	return 1;
}

/* Orders like cs_ranges_at(): family, address, prefix length. */
static int range_cmp(const struct cs_addr *a, unsigned alen, const struct cs_range *b)
{
	int c;

	if (a->family != b->prefix.family)
		return a->family < b->prefix.family ? -1 : 1;
	c = memcmp(a->bytes, b->prefix.bytes, sizeof(a->bytes));
	if (c)
		return c;
	return alen < b->plen ? -1 : alen > b->plen;
}

/* True when the exclude set lists this exact prefix for another provider or flags. */
static bool excluded(struct importer *im, const struct cs_addr *prefix, unsigned plen)
{
	const struct cs_ranges *ex = im->o->exclude;
	size_t lo = 0, hi = ex ? cs_ranges_count(ex, 0) : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct cs_range *rg = cs_ranges_at(ex, mid);
		int c = range_cmp(prefix, plen, rg);

		if (c == 0) {
			uint16_t flags = im->o->weak ? CS_RANGE_WEAK : 0;

			return rg->flags != flags ||
			       strcmp(cs_ranges_provider_name(ex, rg->provider_id), im->provider);
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return false;
}

static bool selected(struct importer *im, const char *const *fields, size_t n)
{
	if (!im->o->service_count)
		return true;
	for (size_t i = 0; i < im->o->service_count; i++)
		for (size_t j = 0; j < n; j++)
			if (fields[j] && !strcasecmp(im->o->services[i], fields[j]))
				return true;
	return false;
}

/*
 * One feed entry: validates its prefix (malformed entries are errors even
 * when not selected: the feed itself is broken) and adds it when selected.
 * where names the entry in errors.
 */
static int add_entry(struct importer *im, const char *text, bool bare_ok, bool keep,
		     const char *where)
{
	struct cs_addr prefix;
	unsigned plen;
	char buf[CS_ADDR_STRLEN];
	int r = parse_prefix(text, bare_ok, &prefix, &plen);

	if (r < 0)
		return fail(im, "%s: '%s' is not an IP prefix (ADDRESS/LENGTH)", where, text);
	if (r > 0 && !im->o->mask_host_bits)
		return fail(im, "%s: host bits set in '%s' (%s/%u masked; --mask-host-bits accepts it)",
			    where, text, cs_addr_format(&prefix, buf), plen);
	if (!keep)
		return 0;
	im->imp->entries++;
	if (r > 0) {
		im->imp->masked++;
		warn(im, "%s: host bits set in '%s', imported as %s/%u", where, text,
		     cs_addr_format(&prefix, buf), plen);
	}
	if (excluded(im, &prefix, plen)) {
		im->imp->excluded++;
		return 0;
	}
	if (fprintf(im->lines, "%s/%u %s%s\n", cs_addr_format(&prefix, buf), plen, im->provider,
		    im->o->weak ? " weak" : "") < 0)
		return fail(im, "out of memory");
	return 0;
}

/* ---- JSON feeds ---- */

/* A member that must be an array; "where" names its parent in errors. */
static json_t *want_array(struct importer *im, json_t *obj, const char *key, const char *where)
{
	json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

	if (!json_is_array(v)) {
		fail(im, "%s%s'%s' is missing or not an array (wrong --format? want %s)", where,
		     *where ? ": " : "", key, formats[im->o->format].title);
		return NULL;
	}
	return v;
}

/* A string member, or NULL. */
static const char *str_member(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* Appends "key value" of a scalar top-level member to the version stamps. */
static void add_stamp(struct importer *im, json_t *root, const char *key)
{
	json_t *v = json_object_get(root, key);
	char *ver = im->imp->version;
	size_t used = strlen(ver);
	char text[128];

	if (json_is_string(v))
		snprintf(text, sizeof(text), "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(text, sizeof(text), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else
		return;
	snprintf(ver + used, sizeof(im->imp->version) - used, "%s%s %s", used ? ", " : "", key,
		 text);
}

static int entry_prefix(struct importer *im, json_t *entry, const char *key, const char *where,
			const char *const *fields, size_t n)
{
	const char *p = str_member(entry, key);
	char at[160];

	snprintf(at, sizeof(at), "%s.%s", where, key);
	if (!p)
		return fail(im, "%s: not a string", at);
	return add_entry(im, p, false, selected(im, fields, n), at);
}

static int import_aws(struct importer *im, json_t *root)
{
	static const char *const lists[][2] = {
		{ "prefixes", "ip_prefix" },
		{ "ipv6_prefixes", "ipv6_prefix" },
	};

	add_stamp(im, root, "syncToken");
	add_stamp(im, root, "createDate");
	for (size_t l = 0; l < 2; l++) {
		json_t *arr = want_array(im, root, lists[l][0], ""), *e;
		size_t i;

		if (!arr)
			return -1;
		json_array_foreach(arr, i, e) {
			const char *fields[] = { str_member(e, "service"), str_member(e, "region"),
						 str_member(e, "network_border_group") };
			char where[64];

			snprintf(where, sizeof(where), "%s[%zu]", lists[l][0], i);
			if (entry_prefix(im, e, lists[l][1], where, fields, 3))
				return -1;
		}
	}
	return 0;
}

/* cloud.json and goog.json: one of ipv4Prefix / ipv6Prefix per entry. */
static int import_google(struct importer *im, json_t *root)
{
	json_t *arr, *e;
	size_t i;

	add_stamp(im, root, "syncToken");
	add_stamp(im, root, "creationTime");
	arr = want_array(im, root, "prefixes", "");
	if (!arr)
		return -1;
	json_array_foreach(arr, i, e) {
		const char *fields[] = { str_member(e, "service"), str_member(e, "scope") };
		bool v4 = json_object_get(e, "ipv4Prefix"), v6 = json_object_get(e, "ipv6Prefix");
		char where[64];

		snprintf(where, sizeof(where), "prefixes[%zu]", i);
		if (v4 == v6)
			return fail(im, "%s: want exactly one of ipv4Prefix, ipv6Prefix", where);
		if (entry_prefix(im, e, v4 ? "ipv4Prefix" : "ipv6Prefix", where, fields, 2))
			return -1;
	}
	return 0;
}

static int import_azure(struct importer *im, json_t *root)
{
	json_t *values, *tag;
	size_t i;

	add_stamp(im, root, "changeNumber");
	add_stamp(im, root, "cloud");
	values = want_array(im, root, "values", "");
	if (!values)
		return -1;
	json_array_foreach(values, i, tag) {
		json_t *props = json_object_get(tag, "properties"), *arr, *p;
		const char *name = str_member(tag, "name");
		const char *fields[] = { name, str_member(tag, "id"),
					 str_member(props, "systemService"),
					 str_member(props, "region") };
		bool keep = selected(im, fields, 4);
		char where[160];
		size_t j;

		snprintf(where, sizeof(where), "values[%zu] (%s)", i, name ? name : "unnamed");
		if (!json_is_object(props))
			return fail(im, "%s: 'properties' is missing or not an object", where);
		arr = want_array(im, props, "addressPrefixes", where);
		if (!arr)
			return -1;
		json_array_foreach(arr, j, p) {
			char at[200];

			snprintf(at, sizeof(at), "%s.addressPrefixes[%zu]", where, j);
			if (!json_is_string(p))
				return fail(im, "%s: not a string", at);
			if (add_entry(im, json_string_value(p), false, keep, at))
				return -1;
		}
	}
	return 0;
}

/* An array of endpoint sets; sets with only URLs carry no "ips". */
static int import_m365(struct importer *im, json_t *root)
{
	json_t *set, *p;
	size_t i, j;

	if (!json_is_array(root))
		return fail(im, "not a JSON array of endpoint sets (wrong --format? want %s)",
			    formats[im->o->format].title);
	json_array_foreach(root, i, set) {
		json_t *id = json_object_get(set, "id"), *ips = json_object_get(set, "ips");
		char idtext[32], where[64];
		const char *fields[2];

		if (!json_is_integer(id))
			return fail(im, "[%zu]: 'id' is missing or not an integer", i);
		snprintf(idtext, sizeof(idtext), "%" JSON_INTEGER_FORMAT, json_integer_value(id));
		fields[0] = idtext;
		fields[1] = str_member(set, "serviceArea");
		snprintf(where, sizeof(where), "[%zu] (id %s)", i, idtext);
		if (!ips)
			continue;
		if (!json_is_array(ips))
			return fail(im, "%s: 'ips' is not an array", where);
		json_array_foreach(ips, j, p) {
			char at[96];

			snprintf(at, sizeof(at), "%s.ips[%zu]", where, j);
			if (!json_is_string(p))
				return fail(im, "%s: not a string", at);
			if (add_entry(im, json_string_value(p), false, selected(im, fields, 2), at))
				return -1;
		}
	}
	return 0;
}

static int import_oracle(struct importer *im, json_t *root)
{
	json_t *regions, *region, *cidr;
	size_t i, j;

	add_stamp(im, root, "last_updated_timestamp");
	regions = want_array(im, root, "regions", "");
	if (!regions)
		return -1;
	json_array_foreach(regions, i, region) {
		const char *name = str_member(region, "region");
		char where[128];
		json_t *cidrs;

		snprintf(where, sizeof(where), "regions[%zu] (%s)", i, name ? name : "unnamed");
		cidrs = want_array(im, region, "cidrs", where);
		if (!cidrs)
			return -1;
		json_array_foreach(cidrs, j, cidr) {
			json_t *tags = json_object_get(cidr, "tags");
			const char *fields[MAX_FIELDS] = { name };
			size_t n = 1;
			char at[160];

			snprintf(at, sizeof(at), "%s.cidrs[%zu]", where, j);
			if (tags && !json_is_array(tags))
				return fail(im, "%s.tags: not an array", at);
			for (size_t t = 0; t < json_array_size(tags) && n < MAX_FIELDS; t++)
				fields[n++] = json_string_value(json_array_get(tags, t));
			if (entry_prefix(im, cidr, "cidr", at, fields, n))
				return -1;
		}
	}
	return 0;
}

static int import_json(struct importer *im, const char *text, size_t len)
{
	json_error_t jerr;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	int ret;

	if (!root)
		return fail(im, "line %d, column %d: bad JSON: %s", jerr.line, jerr.column,
			    jerr.text);
	switch (im->o->format) {
	case CS_FEED_AWS:
		ret = import_aws(im, root);
		break;
	case CS_FEED_GCP:
	case CS_FEED_GOOG:
		ret = import_google(im, root);
		break;
	case CS_FEED_AZURE:
		ret = import_azure(im, root);
		break;
	case CS_FEED_M365:
		ret = import_m365(im, root);
		break;
	default:
		ret = import_oracle(im, root);
		break;
	}
	json_decref(root);
	return ret;
}

/* ---- line-based feeds ---- */

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

/* Geofeed: "prefix,country,region,city,postal"; plain: "prefix # comment". */
static int import_lines(struct importer *im, const char *text, size_t len)
{
	bool csv = im->o->format == CS_FEED_CSV;
	unsigned long lineno = 0;
	char *line = NULL;
	int ret = 0;

	for (size_t pos = 0; pos < len && !ret; lineno++) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = (nl ? (size_t)(nl - text) : len) - pos;
		const char *fields[2] = { NULL, NULL };
		char where[32], *s, *comma;

		snprintf(where, sizeof(where), "line %lu", lineno + 1);
		if (memchr(text + pos, '\0', n)) {
			ret = fail(im, "%s: NUL byte (not a text file?)", where);
			break;
		}
		free(line);
		line = strndup(text + pos, n);
		pos += n + 1;
		if (!line) {
			ret = fail(im, "out of memory");
			break;
		}
		s = trim(line);
		if (*s == '#' || !*s)
			continue;
		if (csv) {
			/* Cut the prefix, country and region apart before trimming each. */
			char *cut[3] = { s, NULL, NULL };

			for (int i = 0; i < 2 && cut[i]; i++) {
				comma = strchr(cut[i], ',');
				if (comma) {
					*comma = '\0';
					cut[i + 1] = comma + 1;
				}
			}
			comma = cut[2] ? strchr(cut[2], ',') : NULL;
			if (comma)
				*comma = '\0';
			for (int i = 0; i < 2; i++)
				fields[i] = cut[i + 1] ? trim(cut[i + 1]) : NULL;
			s = trim(s);
		} else {
			char *hash = strchr(s, '#');

			if (hash)
				*hash = '\0';
			s = trim(s);
			if (strpbrk(s, " \t")) {
				ret = fail(im, "%s: want one prefix a line, got '%s'", where, s);
				break;
			}
		}
		ret = add_entry(im, s, !csv, selected(im, fields, 2), where);
	}
	free(line);
	return ret;
}

int cs_import_buffer(const struct cs_import_opts *o, const char *name, const char *text,
		     size_t len, struct cs_import *out, char *err, size_t errlen)
{
	struct importer im = { .o = o, .name = name, .imp = out, .err = err, .errlen = errlen };
	char *lines = NULL;
	size_t lines_len = 0;
	char lerr[512];
	int ret = -1;

	memset(out, 0, sizeof(*out));
	im.provider = o->provider ? o->provider : cs_feed_default_provider(o->format);
	if (!im.provider || !cs_import_provider_valid(im.provider)) {
		fail(&im, "bad or missing provider name (want [a-z0-9_-], 1-%d characters)",
		     CS_PROVIDER_NAME_LEN - 1);
		goto out;
	}
	if (o->service_count && !cs_feed_service_fields(o->format)) {
		fail(&im, "%s feeds have no service fields to select by", formats[o->format].name);
		goto out;
	}
	im.lines = open_memstream(&lines, &lines_len);
	out->ranges = cs_ranges_new();
	if (!im.lines || !out->ranges) {
		fail(&im, "out of memory");
		goto out;
	}
	if (o->format == CS_FEED_CSV || o->format == CS_FEED_PLAIN)
		ret = import_lines(&im, text, len);
	else
		ret = import_json(&im, text, len);
	if (fclose(im.lines) && !ret)
		ret = fail(&im, "out of memory");
	im.lines = NULL;
	if (ret)
		goto out;
	ret = -1;
	if (!out->entries) {
		fail(&im, o->service_count ? "no entry matches the selected services (%s)"
					   : "no prefixes found%s",
		     o->service_count ? formats[o->format].service_fields : "");
		goto out;
	}
	if (cs_ranges_load_buffer(out->ranges, name, lines, lines_len, lerr, sizeof(lerr))) {
		fail(&im, "%s", lerr);
		goto out;
	}
	ret = 0;
out:
	if (im.lines)
		fclose(im.lines);
	free(lines);
	if (ret)
		cs_import_release(out);
	return ret;
}

int cs_import_file(const struct cs_import_opts *o, const char *path, struct cs_import *out,
		   char *err, size_t errlen)
{
	bool is_stdin = !strcmp(path, "-");
	const char *name = is_stdin ? "<stdin>" : path;
	FILE *f = is_stdin ? stdin : fopen(path, "rb");
	char *text = NULL;
	size_t len = 0, cap = 0;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	if (!f) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		return -1;
	}
	for (;;) {
		if (len == cap) {
			char *n = realloc(text, cap ? cap * 2 : 1 << 16);

			if (!n) {
				snprintf(err, errlen, "%s: out of memory", name);
				goto out;
			}
			text = n;
			cap = cap ? cap * 2 : 1 << 16;
		}
		size_t got = fread(text + len, 1, cap - len, f);

		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error", name);
		goto out;
	}
	ret = cs_import_buffer(o, name, text, len, out, err, errlen);
out:
	free(text);
	if (!is_stdin)
		fclose(f);
	return ret;
}

void cs_import_release(struct cs_import *imp)
{
	cs_ranges_free(imp->ranges);
	imp->ranges = NULL;
}

int cs_import_write(const struct cs_import_opts *o, const struct cs_import *imp,
		    const char *source, time_t now, FILE *f)
{
	const char *provider = o->provider ? o->provider : cs_feed_default_provider(o->format);
	char when[32];
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(f, "# source: %s (%s)%s%s\n", source, formats[o->format].title,
		*imp->version ? ", " : "", imp->version);
	if (o->service_count) {
		fputs("# selected:", f);
		for (size_t i = 0; i < o->service_count; i++)
			fprintf(f, "%s %s", i ? "," : "", o->services[i]);
		fprintf(f, " (matched against %s)\n", formats[o->format].service_fields);
	}
	fprintf(f, "# imported %s by clicksieve ranges import --format %s: %zu entries, "
		"%zu ranges after merging duplicates (IPv4 %zu, IPv6 %zu)\n", when,
		formats[o->format].name, imp->entries, cs_ranges_count(imp->ranges, 0),
		cs_ranges_count(imp->ranges, 4), cs_ranges_count(imp->ranges, 6));
	if (imp->masked)
		fprintf(f, "# entries with host bits set, masked: %zu\n", imp->masked);
	if (imp->excluded)
		fprintf(f, "# entries left out, listed for another provider by --exclude: %zu\n",
			imp->excluded);
	fprintf(f, "# provider: %s%s\n", provider, o->weak ? " (weak)" : "");
	if (cs_ranges_write(imp->ranges, f) || ferror(f))
		return -1;
	return 0;
}
