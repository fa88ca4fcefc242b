/* fuzz-sources: user/logformat.c user/proxy.c user/addr.c */
/*
 * libFuzzer harness for the log line parsers and the X-Forwarded-For walk.
 * Input: one line, parsed by every built-in format and a custom one; an
 * input starting with "FMT:" is compiled as a log_format string instead.
 * combined and common lines also go through the general parser alone,
 * which must give the same verdict, error, record and line bytes as the
 * fast path in front of it.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "logformat.h"
#include "proxy.h"

static struct cs_logformat *formats[4];
static struct cs_proxies *proxies;

static void setup(void)
{
	static const char *const specs[] = {
		"combined", "json", "common",
		"${time_iso8601} $remote_addr xff=\"$http_x_forwarded_for\" fwd=\"$http_forwarded\" "
		"\"$request_method $request_uri\" $status $msec \"$http_user_agent\"",
	};
	char err[256];

	for (size_t i = 0; i < 4; i++)
		if (!(formats[i] = cs_logformat_compile(specs[i], NULL, NULL, 0, err, sizeof(err))))
			abort();
	proxies = cs_proxies_new();
	if (!proxies || cs_proxies_add(proxies, "0.0.0.0/0", err, sizeof(err)) ||
	    cs_proxies_add(proxies, "::/1", err, sizeof(err)))
		abort();
}

/* Offset of a record string in its line; -1 for the empty string, wherever it lives. */
static long text_at(const char *text, const char *line)
{
	return *text ? text - line : -1;
}

static void compare_with_general(struct cs_logformat *f, const uint8_t *data, size_t size,
				 const char *line, bool ok, const struct cs_log_record *rec,
				 const struct cs_log_error *e)
{
	char *general_line = malloc(size + 1);
	struct cs_log_record g;
	struct cs_log_error ge;
	bool general_ok;

	if (!general_line)
		return;
	memcpy(general_line, data, size);
	general_ok = cs_logformat_parse_general(f, general_line, size, &g, &ge);
	if (general_ok != ok)
		abort();
	if (!ok && (strcmp(ge.reason, e->reason) || ge.column != e->column))
		abort();
	if (ok && (memcmp(general_line, line, size + 1) || g.ts_us != rec->ts_us ||
		   !cs_addr_equal(&g.remote, &rec->remote) || g.status != rec->status ||
		   g.target_len != rec->target_len || g.user_agent_len != rec->user_agent_len ||
		   g.xff_len != rec->xff_len || g.forwarded_len != rec->forwarded_len ||
		   text_at(g.method, general_line) != text_at(rec->method, line) ||
		   text_at(g.target, general_line) != text_at(rec->target, line) ||
		   text_at(g.user_agent, general_line) != text_at(rec->user_agent, line) ||
		   text_at(g.referer, general_line) != text_at(rec->referer, line) ||
		   text_at(g.xff, general_line) != text_at(rec->xff, line) ||
		   text_at(g.forwarded, general_line) != text_at(rec->forwarded, line)))
		abort();
	free(general_line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = malloc(size + 1);
	struct cs_log_record rec;
	struct cs_log_error e;
	char err[256];

	if (!formats[0])
		setup();
	if (!line)
		return 0;
	if (size > 4 && !memcmp(data, "FMT:", 4)) {
		struct cs_logformat *f;

		memcpy(line, data + 4, size - 4);
		line[size - 4] = '\0';
		f = cs_logformat_compile(line, NULL, NULL, 0, err, sizeof(err));
		if (f) {
			char sample[] = "192.0.2.1 - - [03/Mar/2019:22:06:33 -0100] \"GET / HTTP/1.1\" 200 1 \"-\" \"a\"";

			cs_logformat_parse(f, sample, sizeof(sample) - 1, &rec, &e);
			cs_logformat_free(f);
		}
		free(line);
		return 0;
	}
	for (size_t i = 0; i < 4; i++) {
		struct cs_addr client;
		bool ok;

		/* Parsing writes into the line: start from the input each time. */
		memcpy(line, data, size);
		ok = cs_logformat_parse(formats[i], line, size, &rec, &e);
		if (i == 0 || i == 2)
			compare_with_general(formats[i], data, size, line, ok, &rec, &e);
		if (!ok)
			continue;
		if (strlen(rec.target) != rec.target_len || strlen(rec.xff) != rec.xff_len ||
		    strlen(rec.user_agent) != rec.user_agent_len ||
		    strlen(rec.forwarded) != rec.forwarded_len)
			abort();
		cs_proxy_client(proxies, &rec.remote, rec.xff, rec.xff_len, rec.forwarded,
				rec.forwarded_len, &client);
	}
	free(line);
	return 0;
}
