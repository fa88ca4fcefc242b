/*
 * HTTP/1.x request heads, request bodies and the PROXY protocol (v1 and
 * v2), parsed from contiguous bytes that the flow stage (flows.h) has
 * reassembled. Nothing here allocates or keeps state between calls except
 * the chunked-body skipper, whose state the caller owns.
 */
#ifndef CS_REQUESTS_H
#define CS_REQUESTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

/* Largest request head (request line through the empty line) ever parsed. */
#define CS_HTTP_HEAD_MAX 65536
/* Longest method token ("GET", "OPTIONS", ...), without the NUL. */
#define CS_HTTP_METHOD_MAX 15

struct cs_http_limits {
	size_t max_line;                /* request line or one header line, bytes; default 8192 */
	size_t max_headers;             /* header lines per request; default 100 */
};

enum cs_http_status {
	CS_HTTP_OK = 0,
	CS_HTTP_BAD_REQUEST_LINE,       /* not "METHOD SP target SP HTTP/1.x" */
	CS_HTTP_BAD_HEADER,             /* no colon, bad name, NUL, obs-fold */
	CS_HTTP_LINE_TOO_LONG,
	CS_HTTP_TOO_MANY_HEADERS,
	CS_HTTP_BAD_LENGTH,             /* invalid or conflicting Content-Length */
	CS_HTTP_BAD_ENCODING,           /* Transfer-Encoding not ending in chunked */
	CS_HTTP_TOO_BIG,                /* head longer than CS_HTTP_HEAD_MAX */
};

enum cs_http_body {
	CS_BODY_NONE = 0,
	CS_BODY_LENGTH,                 /* content_length bytes follow the head */
	CS_BODY_CHUNKED,
};

/*
 * A parsed request head. Every string is NUL-terminated, lives in storage
 * and is "" when the header is absent. Repeated X-Forwarded-For and
 * Forwarded headers are joined with ", " (RFC 9110 list semantics); for
 * Host and User-Agent the first one counts.
 */
struct cs_http_head {
	const char *method;
	const char *target;
	size_t target_len;
	uint8_t version_minor;          /* HTTP/1.<minor> */
	const char *host;
	const char *user_agent;
	const char *xff;
	const char *forwarded;
	enum cs_http_body body;
	uint64_t content_length;
	char storage[CS_HTTP_HEAD_MAX + 8];
};

void cs_http_limits_defaults(struct cs_http_limits *lim);

/*
 * Parses one request head: buf holds the request line, the header lines
 * and the terminating empty line (CRLF or bare LF line ends).
 */
enum cs_http_status cs_http_parse_head(const uint8_t *buf, size_t len,
				       const struct cs_http_limits *lim,
				       struct cs_http_head *out);
const char *cs_http_status_name(enum cs_http_status s);

/* True when line (without its line end) is a valid HTTP/1.x request line. */
bool cs_http_is_request_line(const uint8_t *line, size_t len);
/*
 * True while the first len bytes of a line can still begin a request line
 * (a method token, then a space): lets resynchronisation give up early on
 * binary data or body bytes.
 */
bool cs_http_may_start_request(const uint8_t *p, size_t len);

/* Skips a chunked request body incrementally. Zero-initialise to start. */
struct cs_chunked {
	uint8_t state;
	uint8_t digits;
	uint16_t line_len;
	uint64_t remaining;
};

enum cs_chunked_result {
	CS_CHUNKED_MORE = 0,            /* every byte consumed, body not over */
	CS_CHUNKED_DONE,                /* body over; *used bytes were body */
	CS_CHUNKED_ERROR,               /* malformed: *used bytes came before the bad one */
};

enum cs_chunked_result cs_chunked_skip(struct cs_chunked *c, const uint8_t *p, size_t len,
				       size_t *used);

/*
 * One request as the flow stage hands it on. ts_us is the capture time of
 * the segment that carried the first byte of the request line (what a
 * server logs as the request start). Strings are borrowed for the duration
 * of the callback and are "" when the header is absent.
 */
struct cs_request {
	uint64_t ts_us;
	struct cs_addr client;          /* PROXY header's source, else the TCP peer */
	struct cs_addr peer;            /* TCP source address */
	struct cs_addr server;          /* TCP destination address */
	uint16_t peer_port, server_port;
	bool proxied;                   /* client came from a PROXY header */
	const char *method;
	const char *target;
	size_t target_len;
	const char *host;
	const char *user_agent;
	const char *xff;
	const char *forwarded;
};

typedef void (*cs_request_fn)(void *ctx, const struct cs_request *req);

/* PROXY protocol header at the start of a connection. */
#define CS_PROXY_V1_MAX 107             /* longest v1 line, CRLF included */
#define CS_PROXY_V2_HDR 16

enum cs_proxy_status {
	CS_PROXY_NONE = 0,              /* not a PROXY header */
	CS_PROXY_NEED_MORE,             /* a prefix of one: feed more bytes */
	CS_PROXY_OK,
	CS_PROXY_INVALID,               /* a PROXY signature, then garbage */
};

struct cs_proxy_info {
	uint8_t version;                /* 1 or 2 */
	bool has_addr;                  /* false for LOCAL, UNKNOWN, UNSPEC, UNIX */
	struct cs_addr src, dst;
	uint16_t sport, dport;
	size_t header_len;              /* whole header, v2 TLVs included */
};

/*
 * Decides whether buf starts with a PROXY header. CS_PROXY_OK as soon as the
 * addresses are readable: header_len may exceed len when v2 TLVs follow,
 * the caller skips the rest.
 */
enum cs_proxy_status cs_proxy_parse(const uint8_t *buf, size_t len, struct cs_proxy_info *out);

#endif
