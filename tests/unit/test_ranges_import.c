/* Provider feed importers: every format, selection, merging, errors, header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "clicksieve_abi.h"
#include "ranges_import.h"

static char err[512];

/* Imports text; asserts success or failure as wanted. */
static int run(const struct cs_import_opts *o, const char *text, struct cs_import *imp)
{
	err[0] = '\0';
	return cs_import_buffer(o, "feed", text, strlen(text), imp, err, sizeof(err));
}

/* The imported set in list format, for exact comparisons. */
static char *listing(const struct cs_import *imp)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(cs_ranges_write(imp->ranges, f), 0);
	assert_int_equal(fclose(f), 0);
	/* Collapse the column padding: "PREFIX PROVIDER [flags]". */
	char *w = buf;
	for (char *r = buf; *r; r++)
		if (*r != ' ' || (w > buf && w[-1] != ' '))
			*w++ = *r;
	*w = '\0';
	return buf;
}

static void assert_listing(const struct cs_import *imp, const char *want)
{
	char *got = listing(imp);

	assert_string_equal(got, want);
	free(got);
}

static void assert_fails(const struct cs_import_opts *o, const char *text, const char *msg)
{
	struct cs_import imp;

	assert_int_equal(run(o, text, &imp), -1);
	assert_null(imp.ranges);
	if (!strstr(err, msg))
		fail_msg("error '%s' lacks '%s'", err, msg);
}

static const char aws_feed[] =
	"{\"syncToken\": \"1753388594\", \"createDate\": \"2025-07-24-20-23-14\",\n"
	" \"prefixes\": [\n"
	"  {\"ip_prefix\": \"3.5.140.0/22\", \"region\": \"ap-northeast-2\", \"service\": \"AMAZON\"},\n"
	"  {\"ip_prefix\": \"3.5.140.0/22\", \"region\": \"ap-northeast-2\", \"service\": \"EC2\"},\n"
	"  {\"ip_prefix\": \"15.230.15.29/32\", \"region\": \"eu-west-1\", \"service\": \"AMAZON\"}],\n"
	" \"ipv6_prefixes\": [\n"
	"  {\"ipv6_prefix\": \"2600:1f14::/35\", \"region\": \"us-west-2\", \"service\": \"EC2\"}]}\n";

static void test_formats(void **state)
{
	enum cs_feed_format f;

	assert_int_equal(cs_feed_format_parse("azure", &f), 0);
	assert_int_equal(f, CS_FEED_AZURE);
	assert_string_equal(cs_feed_format_name(f), "azure");
	assert_int_equal(cs_feed_format_parse("AWS", &f), -1);
	assert_int_equal(cs_feed_format_parse("json", &f), -1);
	assert_string_equal(cs_feed_default_provider(CS_FEED_AWS), "aws");
	assert_string_equal(cs_feed_default_provider(CS_FEED_GCP), "gcp");
	assert_string_equal(cs_feed_default_provider(CS_FEED_GOOG), "google");
	assert_string_equal(cs_feed_default_provider(CS_FEED_AZURE), "azure");
	assert_string_equal(cs_feed_default_provider(CS_FEED_M365), "microsoft");
	assert_string_equal(cs_feed_default_provider(CS_FEED_ORACLE), "oracle");
	assert_null(cs_feed_default_provider(CS_FEED_CSV));
	assert_null(cs_feed_default_provider(CS_FEED_PLAIN));
	assert_null(cs_feed_service_fields(CS_FEED_GOOG));
	assert_true(cs_import_provider_valid("digital-ocean_2"));
	assert_false(cs_import_provider_valid("DigitalOcean"));
	assert_false(cs_import_provider_valid(""));
	assert_false(cs_import_provider_valid("a-name-that-is-longer-than-31-chars"));
}

static void test_aws_merges_duplicates(void **state)
{
	struct cs_import_opts o = { .format = CS_FEED_AWS };
	struct cs_import imp;

	assert_int_equal(run(&o, aws_feed, &imp), 0);
	assert_int_equal(imp.entries, 4);
	assert_int_equal(cs_ranges_count(imp.ranges, 4), 2);
	assert_int_equal(cs_ranges_count(imp.ranges, 6), 1);
	assert_string_equal(imp.version, "syncToken 1753388594, createDate 2025-07-24-20-23-14");
	assert_listing(&imp, "3.5.140.0/22 aws\n15.230.15.29/32 aws\n2600:1f14::/35 aws\n");
	cs_import_release(&imp);
}

static void test_aws_service_and_region(void **state)
{
	const char *ec2[] = { "ec2" }, *region[] = { "eu-west-1", "us-west-2" };
	struct cs_import_opts o = { .format = CS_FEED_AWS, .services = ec2, .service_count = 1 };
	struct cs_import imp;

	assert_int_equal(run(&o, aws_feed, &imp), 0);
	assert_int_equal(imp.entries, 2);
	assert_listing(&imp, "3.5.140.0/22 aws\n2600:1f14::/35 aws\n");
	cs_import_release(&imp);

	o.services = region;
	o.service_count = 2;
	assert_int_equal(run(&o, aws_feed, &imp), 0);
	assert_listing(&imp, "15.230.15.29/32 aws\n2600:1f14::/35 aws\n");
	cs_import_release(&imp);

	const char *none[] = { "S3" };

	o.services = none;
	o.service_count = 1;
	assert_fails(&o, aws_feed, "feed: no entry matches the selected services");
}

static void test_provider_and_weak(void **state)
{
	struct cs_import_opts o = { .format = CS_FEED_AWS, .provider = "amazon", .weak = true };
	struct cs_import imp;

	assert_int_equal(run(&o, aws_feed, &imp), 0);
	for (size_t i = 0; i < cs_ranges_count(imp.ranges, 0); i++) {
		const struct cs_range *rg = cs_ranges_at(imp.ranges, i);

		assert_int_equal(rg->flags, CS_RANGE_WEAK);
		assert_string_equal(cs_ranges_provider_name(imp.ranges, rg->provider_id), "amazon");
	}
	cs_import_release(&imp);

	o.provider = "Amazon";
	assert_fails(&o, aws_feed, "bad or missing provider name");
	struct cs_import_opts csv = { .format = CS_FEED_CSV };

	assert_fails(&csv, "192.0.2.0/24,US,,,\n", "bad or missing provider name");
}

static void test_aws_errors_name_entry(void **state)
{
	struct cs_import_opts o = { .format = CS_FEED_AWS };

	assert_fails(&o,
		     "{\"prefixes\": [{\"ip_prefix\": \"3.5.140.0/22\"}, {\"ip_prefix\": \"3.5.1.0/33\"}],"
		     " \"ipv6_prefixes\": []}",
		     "feed: prefixes[1].ip_prefix: '3.5.1.0/33' is not an IP prefix");
	assert_fails(&o,
		     "{\"prefixes\": [], \"ipv6_prefixes\": [{\"ipv6_prefix\": null}]}",
		     "feed: ipv6_prefixes[0].ipv6_prefix: not a string");
	assert_fails(&o, "{\"prefixes\": [{\"ip_prefix\": \"3.5.140.0/22\"}]}",
		     "'ipv6_prefixes' is missing or not an array (wrong --format?");
	assert_fails(&o, "{\"prefixes\": [{\"ip_prefix\": \"3.5.140.0/2", "feed: line 1, column");
	assert_fails(&o, "{\"prefixes\": [], \"ipv6_prefixes\": []}", "feed: no prefixes found");
	/* Malformed but unselected entries still make the feed bad. */
	const char *ec2[] = { "EC2" };

	o.services = ec2;
	o.service_count = 1;
	assert_fails(&o,
		     "{\"prefixes\": [{\"ip_prefix\": \"3.5.140.0/22\", \"service\": \"EC2\"},"
		     " {\"ip_prefix\": \"bogus\", \"service\": \"S3\"}], \"ipv6_prefixes\": []}",
		     "prefixes[1].ip_prefix: 'bogus'");
	/* Only the address and length: no spaces, signs or bare addresses. */
	o.service_count = 0;
	assert_fails(&o, "{\"prefixes\": [{\"ip_prefix\": \"3.5.140.0/+22\"}], \"ipv6_prefixes\": []}",
		     "'3.5.140.0/+22' is not");
	assert_fails(&o, "{\"prefixes\": [{\"ip_prefix\": \"3.5.140.0\"}], \"ipv6_prefixes\": []}",
		     "'3.5.140.0' is not");
	assert_fails(&o, "{\"prefixes\": [{\"ip_prefix\": \" 3.5.140.0/22\"}], \"ipv6_prefixes\": []}",
		     "' 3.5.140.0/22' is not");
}

static int warnings;
static char last_warning[512];

static void count_warning(void *ctx, const char *msg)
{
	warnings++;
	snprintf(last_warning, sizeof(last_warning), "%s", msg);
}

static void test_host_bits(void **state)
{
	const char feed[] = "{\"prefixes\": [{\"ip_prefix\": \"192.0.2.77/24\"}], \"ipv6_prefixes\": "
			    "[{\"ipv6_prefix\": \"2001:db8::1/32\"}, {\"ipv6_prefix\": \"2001:db8::/32\"}]}";
	struct cs_import_opts o = { .format = CS_FEED_AWS, .warn = count_warning };
	struct cs_import imp;

	warnings = 0;
	assert_fails(&o, feed,
		     "prefixes[0].ip_prefix: host bits set in '192.0.2.77/24' (192.0.2.0/24 masked;");
	assert_int_equal(warnings, 0);
	o.mask_host_bits = true;
	assert_int_equal(run(&o, feed, &imp), 0);
	assert_int_equal(imp.masked, 2);
	assert_int_equal(warnings, 2);
	assert_string_equal(last_warning, "feed: ipv6_prefixes[0].ipv6_prefix: host bits set in "
			    "'2001:db8::1/32', imported as 2001:db8::/32");
	assert_listing(&imp, "192.0.2.0/24 aws\n2001:db8::/32 aws\n");
	cs_import_release(&imp);
}

static void test_google(void **state)
{
	const char cloud[] =
		"{\"syncToken\": \"17\", \"creationTime\": \"2025-07-24T19:16:28\", \"prefixes\": [\n"
		" {\"ipv4Prefix\": \"34.35.0.0/16\", \"service\": \"Google Cloud\", \"scope\": \"africa-south1\"},\n"
		" {\"ipv6Prefix\": \"2600:1900:8000::/44\", \"service\": \"Google Cloud\", \"scope\": \"africa-south1\"},\n"
		" {\"ipv4Prefix\": \"34.80.0.0/15\", \"service\": \"Google Cloud\", \"scope\": \"asia-east1\"}]}";
	const char *scope[] = { "ASIA-EAST1" };
	struct cs_import_opts o = { .format = CS_FEED_GCP };
	struct cs_import imp;

	assert_int_equal(run(&o, cloud, &imp), 0);
	assert_string_equal(imp.version, "syncToken 17, creationTime 2025-07-24T19:16:28");
	assert_listing(&imp, "34.35.0.0/16 gcp\n34.80.0.0/15 gcp\n2600:1900:8000::/44 gcp\n");
	cs_import_release(&imp);
	o.services = scope;
	o.service_count = 1;
	assert_int_equal(run(&o, cloud, &imp), 0);
	assert_listing(&imp, "34.80.0.0/15 gcp\n");
	cs_import_release(&imp);

	struct cs_import_opts goog = { .format = CS_FEED_GOOG };

	assert_int_equal(run(&goog, "{\"prefixes\": [{\"ipv4Prefix\": \"8.8.8.0/24\"}]}", &imp), 0);
	assert_listing(&imp, "8.8.8.0/24 google\n");
	cs_import_release(&imp);
	assert_fails(&goog, "{\"prefixes\": [{\"ipv4Prefix\": \"8.8.8.0/24\", "
			    "\"ipv6Prefix\": \"2001:4860::/32\"}]}",
		     "prefixes[0]: want exactly one of ipv4Prefix, ipv6Prefix");
	assert_fails(&goog, "{\"prefixes\": [{}]}", "prefixes[0]: want exactly one");
	goog.services = scope;
	goog.service_count = 1;
	assert_fails(&goog, "{\"prefixes\": [{\"ipv4Prefix\": \"8.8.8.0/24\"}]}",
		     "goog feeds have no service fields");
}

static const char azure_feed[] =
	"{\"changeNumber\": 363, \"cloud\": \"Public\", \"values\": [\n"
	" {\"name\": \"AzureCloud.westeurope\", \"id\": \"AzureCloud.westeurope\", \"properties\": {\n"
	"   \"region\": \"westeurope\", \"systemService\": \"\",\n"
	"   \"addressPrefixes\": [\"13.69.0.0/17\", \"2603:1020:200::/46\"]}},\n"
	" {\"name\": \"AzureFrontDoor.Backend\", \"id\": \"AzureFrontDoor.Backend\", \"properties\": {\n"
	"   \"region\": \"\", \"systemService\": \"AzureFrontDoor\",\n"
	"   \"addressPrefixes\": [\"13.73.248.8/29\", \"13.69.0.0/17\"]}}]}";

static void test_azure(void **state)
{
	const char *tag[] = { "azurecloud.westeurope" }, *sys[] = { "AzureFrontDoor" };
	struct cs_import_opts o = { .format = CS_FEED_AZURE };
	struct cs_import imp;

	assert_int_equal(run(&o, azure_feed, &imp), 0);
	assert_int_equal(imp.entries, 4);
	assert_string_equal(imp.version, "changeNumber 363, cloud Public");
	assert_listing(&imp, "13.69.0.0/17 azure\n13.73.248.8/29 azure\n2603:1020:200::/46 azure\n");
	cs_import_release(&imp);
	o.services = tag;
	o.service_count = 1;
	assert_int_equal(run(&o, azure_feed, &imp), 0);
	assert_listing(&imp, "13.69.0.0/17 azure\n2603:1020:200::/46 azure\n");
	cs_import_release(&imp);
	o.services = sys;
	assert_int_equal(run(&o, azure_feed, &imp), 0);
	assert_listing(&imp, "13.69.0.0/17 azure\n13.73.248.8/29 azure\n");
	cs_import_release(&imp);
	o.service_count = 0;
	assert_fails(&o, "{\"values\": [{\"name\": \"X\", \"properties\": {\"addressPrefixes\": "
			 "[\"1.2.3.0/24\", \"1.2.3.0/ 24\"]}}]}",
		     "values[0] (X).addressPrefixes[1]: '1.2.3.0/ 24' is not an IP prefix");
	assert_fails(&o, "{\"values\": [{\"name\": \"X\"}]}",
		     "values[0] (X): 'properties' is missing");
	/* An AWS feed is not a Service Tags file. */
	assert_fails(&o, aws_feed, "'values' is missing or not an array (wrong --format? want Azure");
}

static void test_m365(void **state)
{
	const char feed[] =
		"[{\"id\": 1, \"serviceArea\": \"Exchange\", \"ips\": [\"13.107.6.152/31\"]},\n"
		" {\"id\": 46, \"serviceArea\": \"Common\", \"urls\": [\"*.office.com\"]},\n"
		" {\"id\": 10, \"serviceArea\": \"Exchange\", \"ips\": [\"40.92.0.0/15\", "
		"\"2a01:111:f403::/48\"]}]";
	const char *id10[] = { "10" }, *area[] = { "exchange" };
	struct cs_import_opts o = { .format = CS_FEED_M365, .services = id10, .service_count = 1 };
	struct cs_import imp;

	assert_int_equal(run(&o, feed, &imp), 0);
	assert_int_equal(imp.version[0], '\0');
	assert_listing(&imp, "40.92.0.0/15 microsoft\n2a01:111:f403::/48 microsoft\n");
	cs_import_release(&imp);
	o.services = area;
	assert_int_equal(run(&o, feed, &imp), 0);
	assert_int_equal(imp.entries, 3);
	cs_import_release(&imp);
	o.service_count = 0;
	assert_fails(&o, "[{\"id\": 1, \"ips\": [\"13.107.6.152/31\"]}, {\"ips\": []}]",
		     "feed: [1]: 'id' is missing or not an integer");
	assert_fails(&o, "[{\"id\": 7, \"ips\": [\"13.107.6.152/31\", 5]}]",
		     "feed: [0] (id 7).ips[1]: not a string");
	assert_fails(&o, "{\"id\": 7}", "not a JSON array of endpoint sets");
}

static void test_oracle(void **state)
{
	const char feed[] =
		"{\"last_updated_timestamp\": \"2025-07-21T07:13:25\", \"regions\": [\n"
		" {\"region\": \"us-ashburn-1\", \"cidrs\": [\n"
		"   {\"cidr\": \"129.80.0.0/16\", \"tags\": [\"OCI\"]},\n"
		"   {\"cidr\": \"134.70.24.0/21\", \"tags\": [\"OSN\", \"OBJECT_STORAGE\"]}]},\n"
		" {\"region\": \"eu-frankfurt-1\", \"cidrs\": [{\"cidr\": \"130.61.0.0/16\", \"tags\": [\"OCI\"]}]}]}";
	const char *storage[] = { "object_storage" }, *region[] = { "eu-frankfurt-1" };
	struct cs_import_opts o = { .format = CS_FEED_ORACLE, .services = storage, .service_count = 1 };
	struct cs_import imp;

	assert_int_equal(run(&o, feed, &imp), 0);
	assert_string_equal(imp.version, "last_updated_timestamp 2025-07-21T07:13:25");
	assert_listing(&imp, "134.70.24.0/21 oracle\n");
	cs_import_release(&imp);
	o.services = region;
	assert_int_equal(run(&o, feed, &imp), 0);
	assert_listing(&imp, "130.61.0.0/16 oracle\n");
	cs_import_release(&imp);
	o.service_count = 0;
	assert_fails(&o, "{\"regions\": [{\"region\": \"r1\", \"cidrs\": [{\"cidr\": \"1.0.0.0/8\", "
			 "\"tags\": \"OCI\"}]}]}",
		     "regions[0] (r1).cidrs[0].tags: not an array");
}

static void test_geofeed(void **state)
{
	const char feed[] =
		"# This file contains a self-published geofeed\r\n"
		"# ip_prefix, alpha2code, region, city, postal_code\r\n"
		"5.101.96.0/21,NL,NL-NH,Amsterdam,1098 XH\r\n"
		"\r\n"
		"  2600:3c00::/32 , US , US-TX,Richardson,\r\n"
		"24.144.68.0/22,US,US-CA,Santa Clara,95054\r\n"
		"5.101.96.0/21,NL,NL-NH,Amsterdam,1098 XH";
	const char *us[] = { "us" }, *ca[] = { "US-CA" };
	struct cs_import_opts o = { .format = CS_FEED_CSV, .provider = "digitalocean" };
	struct cs_import imp;

	assert_int_equal(run(&o, feed, &imp), 0);
	assert_int_equal(imp.entries, 4);
	assert_listing(&imp, "5.101.96.0/21 digitalocean\n24.144.68.0/22 digitalocean\n"
			     "2600:3c00::/32 digitalocean\n");
	cs_import_release(&imp);
	o.services = us;
	o.service_count = 1;
	assert_int_equal(run(&o, feed, &imp), 0);
	assert_listing(&imp, "24.144.68.0/22 digitalocean\n2600:3c00::/32 digitalocean\n");
	cs_import_release(&imp);
	o.services = ca;
	assert_int_equal(run(&o, feed, &imp), 0);
	assert_listing(&imp, "24.144.68.0/22 digitalocean\n");
	cs_import_release(&imp);
	o.service_count = 0;
	assert_fails(&o, "# c\n5.101.96.0/21,NL\n\nip_prefix,alpha2code\n",
		     "feed: line 4: 'ip_prefix' is not an IP prefix");
	assert_fails(&o, "5.101.96.0/21,NL\n5.101.96.1,NL\n", "feed: line 2: '5.101.96.1' is not");
	const char nul[] = "5.101.96.0/21,NL\n5.101.\0" "96.0/21,NL\n";

	assert_int_equal(cs_import_buffer(&o, "feed", nul, sizeof(nul) - 1, &imp, err, sizeof(err)),
			 -1);
	assert_string_equal(err, "feed: line 2: NUL byte (not a text file?)");
}

static void test_plain(void **state)
{
	const char feed[] = "# operator egress\n192.0.2.0/24   # office\n\t198.51.100.7\n"
			    "2001:db8::5\n192.0.2.0/24\n";
	struct cs_import_opts o = { .format = CS_FEED_PLAIN, .provider = "corp" };
	struct cs_import imp;

	assert_int_equal(run(&o, feed, &imp), 0);
	assert_listing(&imp, "192.0.2.0/24 corp\n198.51.100.7/32 corp\n2001:db8::5/128 corp\n");
	cs_import_release(&imp);
	assert_fails(&o, "192.0.2.0/24\n\n198.51.100.0/24 corp\n",
		     "feed: line 3: want one prefix a line, got '198.51.100.0/24 corp'");
	assert_fails(&o, "# nothing\n\n", "feed: no prefixes found");
	assert_fails(&o, "192.0.2.0/24\n300.1.1.1\n", "feed: line 2: '300.1.1.1' is not");
}

static void test_exclude(void **state)
{
	struct cs_ranges *ex = cs_ranges_new();
	const char list[] = "3.5.140.0/22 microsoft\n15.230.15.29/32 aws\n2600:1f14::/35 aws weak\n"
			    "15.230.0.0/16 other\n";
	struct cs_import_opts o = { .format = CS_FEED_AWS, .exclude = ex };
	struct cs_import imp;

	assert_non_null(ex);
	assert_int_equal(cs_ranges_load_buffer(ex, "ex", list, strlen(list), err, sizeof(err)), 0);
	assert_int_equal(run(&o, aws_feed, &imp), 0);
	/* Another provider or other flags: left out; the same entry stays. */
	assert_int_equal(imp.excluded, 3);
	assert_listing(&imp, "15.230.15.29/32 aws\n");
	cs_import_release(&imp);
	/* Together the two sets load without conflicts. */
	assert_int_equal(run(&o, aws_feed, &imp), 0);
	char *text = listing(&imp);

	assert_int_equal(cs_ranges_load_buffer(ex, "imported", text, strlen(text), err,
					       sizeof(err)), 0);
	free(text);
	cs_import_release(&imp);
	cs_ranges_free(ex);
}

static void test_write_header(void **state)
{
	const char *ec2[] = { "EC2", "S3" };
	struct cs_import_opts o = { .format = CS_FEED_AWS, .services = ec2, .service_count = 2,
				    .weak = true };
	struct cs_import imp;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	assert_int_equal(run(&o, aws_feed, &imp), 0);
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(cs_import_write(&o, &imp, "ip-ranges.json", 1753388594, f), 0);
	assert_int_equal(fclose(f), 0);
	assert_string_equal(buf,
		"# source: ip-ranges.json (AWS ip-ranges.json), syncToken 1753388594, "
		"createDate 2025-07-24-20-23-14\n"
		"# selected: EC2, S3 (matched against service, region, network_border_group)\n"
		"# imported 2025-07-24T20:23:14Z by clicksieve ranges import --format aws: "
		"2 entries, 2 ranges after merging duplicates (IPv4 1, IPv6 1)\n"
		"# provider: aws (weak)\n"
		"3.5.140.0/22                                aws weak\n"
		"2600:1f14::/35                              aws weak\n");
	/* What it writes reads back as a list with the same ranges. */
	struct cs_ranges *back = cs_ranges_new();

	assert_int_equal(cs_ranges_load_buffer(back, "back", buf, len, err, sizeof(err)), 0);
	assert_int_equal(cs_ranges_count(back, 0), 2);
	cs_ranges_free(back);
	free(buf);
	cs_import_release(&imp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_formats),
		cmocka_unit_test(test_aws_merges_duplicates),
		cmocka_unit_test(test_aws_service_and_region),
		cmocka_unit_test(test_provider_and_weak),
		cmocka_unit_test(test_aws_errors_name_entry),
		cmocka_unit_test(test_host_bits),
		cmocka_unit_test(test_google),
		cmocka_unit_test(test_azure),
		cmocka_unit_test(test_m365),
		cmocka_unit_test(test_oracle),
		cmocka_unit_test(test_geofeed),
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_exclude),
		cmocka_unit_test(test_write_header),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
