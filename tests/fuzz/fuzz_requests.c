/*
 * libFuzzer harness for the request parser (user/requests.c). Beyond memory
 * safety it checks the contracts the flow stage relies on:
 * - a parsed head's strings are NUL-terminated inside the head's storage;
 * - every prefix of a valid request line passes cs_http_may_start_request()
 *   (else resynchronisation would drop real requests);
 * - the chunked skipper ends the body at the same byte however the input
 *   is split;
 * - a PROXY header never claims fewer bytes than its signature.
 */
/* fuzz-sources: user/requests.c user/addr.c */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "requests.h"

static struct cs_http_head head;

static void check_string(const char *s)
{
	if (s < head.storage || s >= head.storage + sizeof(head.storage) ||
	    !memchr(s, '\0', (size_t)(head.storage + sizeof(head.storage) - s)))
		abort();
}

static void check_head(const uint8_t *data, size_t size)
{
	struct cs_http_limits lim;

	cs_http_limits_defaults(&lim);
	if (cs_http_parse_head(data, size, &lim, &head) != CS_HTTP_OK)
		return;
	check_string(head.method);
	check_string(head.target);
	if (strlen(head.target) != head.target_len || head.target_len == 0 || !*head.method)
		abort();
	if (*head.host)
		check_string(head.host);
	if (*head.user_agent)
		check_string(head.user_agent);
	if (*head.xff)
		check_string(head.xff);
	if (*head.forwarded)
		check_string(head.forwarded);
}

static void check_request_line(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t len = nl ? (size_t)(nl - data) : size;

	if (len && data[len - 1] == '\r')
		len--;
	if (!cs_http_is_request_line(data, len))
		return;
	for (size_t i = 0; i <= len; i++)
		if (!cs_http_may_start_request(data, i))
			abort();
}

static void check_chunked(const uint8_t *data, size_t size, size_t step)
{
	struct cs_chunked whole = { 0 }, split = { 0 };
	enum cs_chunked_result rw, rs = CS_CHUNKED_MORE;
	size_t used_whole = 0, off = 0;

	rw = cs_chunked_skip(&whole, data, size, &used_whole);
	while (off < size) {
		size_t n = size - off < step ? size - off : step, used = 0;

		rs = cs_chunked_skip(&split, data + off, n, &used);
		if (used > n)
			abort();
		if (rs != CS_CHUNKED_MORE) {
			off += used;
			break;
		}
		off += n;
	}
	if (rw != rs || (rw == CS_CHUNKED_DONE && used_whole != off))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cs_proxy_info info;

	if (size == 0)
		return 0;
	check_head(data + 1, size - 1);
	check_request_line(data + 1, size - 1);
	check_chunked(data + 1, size - 1, 1 + data[0] % 16);
	if (cs_proxy_parse(data + 1, size - 1, &info) == CS_PROXY_OK &&
	    info.header_len < (info.version == 1 ? 8 : CS_PROXY_V2_HDR))
		abort();
	return 0;
}
