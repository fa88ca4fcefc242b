/*
 * HTTP/1.x request heads, chunked bodies and PROXY protocol headers.
 * Untrusted input throughout: every index is bounds-checked against len,
 * and the output strings are copied into the caller's head storage.
 */
#include "requests.h"
#include "bytes.h"

#include <arpa/inet.h>
#include <string.h>

void cs_http_limits_defaults(struct cs_http_limits *lim)
{
	lim->max_line = 8192;
	lim->max_headers = 100;
}

const char *cs_http_status_name(enum cs_http_status s)
{
	switch (s) {
	case CS_HTTP_OK: return "ok";
	case CS_HTTP_BAD_REQUEST_LINE: return "bad request line";
	case CS_HTTP_BAD_HEADER: return "bad header line";
	case CS_HTTP_LINE_TOO_LONG: return "line too long";
	case CS_HTTP_TOO_MANY_HEADERS: return "too many headers";
	case CS_HTTP_BAD_LENGTH: return "bad Content-Length";
	case CS_HTTP_BAD_ENCODING: return "unsupported Transfer-Encoding";
	case CS_HTTP_TOO_BIG: return "head too big";
	}
	return "unknown";
}

/* nginx's method alphabet: uppercase letters, '_' and '-'. */
static bool is_method_char(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || c == '_' || c == '-';
}

/* RFC 9110 tchar. */
static bool is_token_char(uint8_t c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c);
}

static bool is_target_char(uint8_t c)
{
	return c > 0x20 && c != 0x7f;
}

/* Field values: anything but NUL, CR and LF (obs-text allowed). */
static bool is_value_char(uint8_t c)
{
	return c != 0 && c != '\r' && c != '\n';
}

static bool is_ows(uint8_t c)
{
	return c == ' ' || c == '\t';
}

bool cs_http_may_start_request(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i] == ' ')
			return i > 0;
		if (i >= CS_HTTP_METHOD_MAX || !is_method_char(p[i]))
			return false;
	}
	return true;
}

/* Splits a request line into its three parts; false when malformed. */
static bool split_request_line(const uint8_t *line, size_t len, size_t *method_len,
			       size_t *target_off, size_t *target_len, uint8_t *minor)
{
	size_t i = 0, m, t0, t1;

	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	while (i < len && is_method_char(line[i]))
		i++;
	m = i;
	if (m == 0 || m > CS_HTTP_METHOD_MAX || i >= len || line[i] != ' ')
		return false;
	while (i < len && line[i] == ' ')
		i++;
	t0 = i;
	while (i < len && is_target_char(line[i]))
		i++;
	t1 = i;
	if (t1 == t0 || i >= len || line[i] != ' ')
		return false;
	while (i < len && line[i] == ' ')
		i++;
	if (len - i != 8 || memcmp(line + i, "HTTP/1.", 7) || line[i + 7] < '0' || line[i + 7] > '9')
		return false;
	*method_len = m;
	*target_off = t0;
	*target_len = t1 - t0;
	*minor = (uint8_t)(line[i + 7] - '0');
	return true;
}

bool cs_http_is_request_line(const uint8_t *line, size_t len)
{
	size_t m, toff, tlen;
	uint8_t minor;

	return split_request_line(line, len, &m, &toff, &tlen, &minor);
}

/* Output strings, appended into head->storage. */
struct out_buf {
	char *p;
	size_t len, cap;
};

static const char *out_put(struct out_buf *o, const uint8_t *s, size_t n)
{
	char *start = o->p + o->len;

	if (o->len + n + 1 > o->cap)
		return NULL;
	memcpy(start, s, n);
	o->len += n;
	o->p[o->len++] = '\0';
	return start;
}

/*
 * Appends ", value" to the list value that ends the output buffer: joins
 * repeated list headers. The list must be the most recent string written.
 */
static bool out_join(struct out_buf *o, const uint8_t *s, size_t n)
{
	if (o->len + n + 2 > o->cap)
		return false;
	o->len--;                       /* overwrite the NUL */
	memcpy(o->p + o->len, ", ", 2);
	o->len += 2;
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len++] = '\0';
	return true;
}

static bool name_is(const uint8_t *name, size_t len, const char *want)
{
	return strlen(want) == len && !strncasecmp((const char *)name, want, len);
}

static bool parse_decimal(const uint8_t *s, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > max)
			return false;
	}
	*out = v;
	return true;
}

/* True when the last comma-separated coding is "chunked". */
static bool ends_in_chunked(const uint8_t *v, size_t n)
{
	size_t end = n, start;

	while (end > 0 && (is_ows(v[end - 1]) || v[end - 1] == ','))
		end--;
	start = end;
	while (start > 0 && v[start - 1] != ',' && !is_ows(v[start - 1]))
		start--;
	return end - start == 7 && !strncasecmp((const char *)v + start, "chunked", 7);
}

/* One header line, located and validated. */
struct header_line {
	const uint8_t *name, *value;
	size_t name_len, value_len;
};

/*
 * Reads the line at *pos. Returns CS_HTTP_OK with h->name_len == 0 at the
 * empty line that ends the head.
 */
static enum cs_http_status next_line(const uint8_t *buf, size_t len, size_t *pos,
				     const struct cs_http_limits *lim, bool request_line,
				     const uint8_t **line_out, size_t *line_len_out)
{
	const uint8_t *line = buf + *pos, *nl;
	size_t line_len;

	nl = memchr(line, '\n', len - *pos);
	if (!nl)
		return request_line ? CS_HTTP_BAD_REQUEST_LINE : CS_HTTP_BAD_HEADER;
	line_len = (size_t)(nl - line);
	*pos = (size_t)(nl - buf) + 1;
	if (line_len > 0 && line[line_len - 1] == '\r')
		line_len--;
	if (line_len > lim->max_line)
		return CS_HTTP_LINE_TOO_LONG;
	*line_out = line;
	*line_len_out = line_len;
	return CS_HTTP_OK;
}

static enum cs_http_status split_header(const uint8_t *line, size_t line_len, struct header_line *h)
{
	size_t name_len = 0, v0, v1;

	while (name_len < line_len && is_token_char(line[name_len]))
		name_len++;
	if (name_len == 0 || name_len >= line_len || line[name_len] != ':')
		return CS_HTTP_BAD_HEADER;
	v0 = name_len + 1;
	while (v0 < line_len && is_ows(line[v0]))
		v0++;
	v1 = line_len;
	while (v1 > v0 && is_ows(line[v1 - 1]))
		v1--;
	for (size_t i = v0; i < v1; i++)
		if (!is_value_char(line[i]))
			return CS_HTTP_BAD_HEADER;
	h->name = line;
	h->name_len = name_len;
	h->value = line + v0;
	h->value_len = v1 - v0;
	return CS_HTTP_OK;
}

/*
 * Joins every value of one list header (X-Forwarded-For, Forwarded) with
 * ", ", in header order: the head was validated by the first pass.
 */
static const char *join_list(const uint8_t *buf, size_t len, size_t headers_off,
			     const struct cs_http_limits *lim, const char *name, struct out_buf *o)
{
	size_t pos = headers_off, start = o->len;
	const uint8_t *line;
	size_t line_len;
	bool any = false;

	while (next_line(buf, len, &pos, lim, false, &line, &line_len) == CS_HTTP_OK && line_len) {
		struct header_line h;

		if (split_header(line, line_len, &h) != CS_HTTP_OK || !name_is(h.name, h.name_len, name))
			continue;
		if (any ? !out_join(o, h.value, h.value_len) : !out_put(o, h.value, h.value_len))
			return NULL;
		any = true;
	}
	return any ? o->p + start : "";
}

enum cs_http_status cs_http_parse_head(const uint8_t *buf, size_t len,
				       const struct cs_http_limits *lim,
				       struct cs_http_head *out)
{
	struct out_buf o = { .p = out->storage, .len = 0, .cap = sizeof(out->storage) };
	bool have_host = false, have_ua = false, have_length = false, have_lists = false;
	bool chunked = false;
	size_t pos = 0, headers_off, n_headers = 0;
	size_t m, toff, tlen;
	const uint8_t *line;
	size_t line_len;
	enum cs_http_status st;

	if (len > CS_HTTP_HEAD_MAX)
		return CS_HTTP_TOO_BIG;
	out->host = out->user_agent = out->xff = out->forwarded = "";
	out->body = CS_BODY_NONE;
	out->content_length = 0;

	st = next_line(buf, len, &pos, lim, true, &line, &line_len);
	if (st != CS_HTTP_OK)
		return st;
	if (!split_request_line(line, line_len, &m, &toff, &tlen, &out->version_minor))
		return CS_HTTP_BAD_REQUEST_LINE;
	out->method = out_put(&o, line, m);
	out->target = out_put(&o, line + toff, tlen);
	out->target_len = tlen;
	headers_off = pos;

	for (;;) {
		struct header_line h;
		const char **dst = NULL;

		st = next_line(buf, len, &pos, lim, false, &line, &line_len);
		if (st != CS_HTTP_OK)
			return st;
		if (line_len == 0)
			break;
		if (++n_headers > lim->max_headers)
			return CS_HTTP_TOO_MANY_HEADERS;
		st = split_header(line, line_len, &h);
		if (st != CS_HTTP_OK)
			return st;

		if (name_is(h.name, h.name_len, "host")) {
			if (!have_host)
				dst = &out->host;
			have_host = true;
		} else if (name_is(h.name, h.name_len, "user-agent")) {
			if (!have_ua)
				dst = &out->user_agent;
			have_ua = true;
		} else if (name_is(h.name, h.name_len, "x-forwarded-for") ||
			   name_is(h.name, h.name_len, "forwarded")) {
			have_lists = true;
		} else if (name_is(h.name, h.name_len, "content-length")) {
			uint64_t v;

			if (!parse_decimal(h.value, h.value_len, 1ull << 62, &v) ||
			    (have_length && v != out->content_length))
				return CS_HTTP_BAD_LENGTH;
			have_length = true;
			out->content_length = v;
		} else if (name_is(h.name, h.name_len, "transfer-encoding")) {
			if (!ends_in_chunked(h.value, h.value_len))
				return CS_HTTP_BAD_ENCODING;
			chunked = true;
		}
		if (dst && !(*dst = out_put(&o, h.value, h.value_len)))
			return CS_HTTP_TOO_BIG;
	}
	if (have_lists) {
		out->xff = join_list(buf, len, headers_off, lim, "x-forwarded-for", &o);
		out->forwarded = join_list(buf, len, headers_off, lim, "forwarded", &o);
	}
	if (!out->method || !out->target || !out->xff || !out->forwarded)
		return CS_HTTP_TOO_BIG;
	/* Transfer-Encoding overrides Content-Length (RFC 9112 6.3). */
	if (chunked)
		out->body = CS_BODY_CHUNKED;
	else if (have_length && out->content_length > 0)
		out->body = CS_BODY_LENGTH;
	return CS_HTTP_OK;
}

enum {
	CK_SIZE = 0,                    /* hex digits of the chunk size */
	CK_EXT,                         /* extensions up to LF */
	CK_DATA,
	CK_DATA_CR,                     /* CRLF after the chunk data */
	CK_DATA_LF,
	CK_TRAILER_START,               /* a trailer line or the final empty line */
	CK_TRAILER,
	CK_FINAL_LF,
};

#define CK_MAX_LINE 4096
#define CK_MAX_DIGITS 15

enum cs_chunked_result cs_chunked_skip(struct cs_chunked *c, const uint8_t *p, size_t len,
				       size_t *used)
{
	size_t i = 0;

	/* Each step either rejects p[i] (leaving i at it) or consumes it. */
	while (i < len) {
		uint8_t ch = p[i];

		switch (c->state) {
		case CK_SIZE: {
			int h = cs_hex_digit(ch);

			if (h < 0) {
				if (c->digits == 0)
					goto error;
				c->state = CK_EXT;
				c->line_len = 0;
				continue;
			}
			if (++c->digits > CK_MAX_DIGITS)
				goto error;
			c->remaining = c->remaining * 16 + (uint64_t)h;
			break;
		}
		case CK_EXT:
			if (ch == '\n') {
				c->digits = 0;
				c->state = c->remaining ? CK_DATA : CK_TRAILER_START;
			} else if (++c->line_len > CK_MAX_LINE || ch == 0) {
				goto error;
			}
			break;
		case CK_DATA: {
			size_t n = len - i;

			if (n > c->remaining)
				n = (size_t)c->remaining;
			c->remaining -= n;
			i += n;
			if (c->remaining == 0)
				c->state = CK_DATA_CR;
			continue;
		}
		case CK_DATA_CR:
			if (ch == '\n')
				c->state = CK_SIZE;
			else if (ch == '\r')
				c->state = CK_DATA_LF;
			else
				goto error;
			break;
		case CK_DATA_LF:
			if (ch != '\n')
				goto error;
			c->state = CK_SIZE;
			break;
		case CK_TRAILER_START:
			if (ch == '\n') {
				*used = i + 1;
				return CS_CHUNKED_DONE;
			}
			c->line_len = 0;
			c->state = ch == '\r' ? CK_FINAL_LF : CK_TRAILER;
			break;
		case CK_FINAL_LF:
			if (ch != '\n')
				goto error;
			*used = i + 1;
			return CS_CHUNKED_DONE;
		case CK_TRAILER:
			if (ch == '\n')
				c->state = CK_TRAILER_START;
			else if (++c->line_len > CK_MAX_LINE || ch == 0)
				goto error;
			break;
		}
		i++;
	}
	*used = len;
	return CS_CHUNKED_MORE;
error:
	*used = i;
	return CS_CHUNKED_ERROR;
}

static const uint8_t proxy_v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
};

/* Port: 0..65535 in decimal without leading zeros (spec 2.1). */
static bool parse_port(const uint8_t *s, size_t n, uint16_t *out)
{
	uint64_t v;

	if (n > 1 && s[0] == '0')
		return false;
	if (!parse_decimal(s, n, 65535, &v))
		return false;
	*out = (uint16_t)v;
	return true;
}

static enum cs_proxy_status parse_v1(const uint8_t *buf, size_t len, struct cs_proxy_info *out)
{
	const uint8_t *end = memchr(buf, '\n', len < CS_PROXY_V1_MAX ? len : CS_PROXY_V1_MAX);
	const uint8_t *field[6];
	size_t field_len[6], n = 0, line_len;
	uint8_t want_family;

	if (!end)
		return len < CS_PROXY_V1_MAX ? CS_PROXY_NEED_MORE : CS_PROXY_INVALID;
	line_len = (size_t)(end - buf);
	if (line_len == 0 || buf[line_len - 1] != '\r')
		return CS_PROXY_INVALID;
	line_len--;
	out->version = 1;
	out->header_len = line_len + 2;

	/* Exactly single spaces between fields. */
	for (size_t i = 0; i <= line_len && n < 6;) {
		size_t j = i;

		while (j < line_len && buf[j] != ' ')
			j++;
		field[n] = buf + i;
		field_len[n++] = j - i;
		if (j == line_len)
			break;
		i = j + 1;
	}
	if (field_len[0] != 5 || memcmp(field[0], "PROXY", 5) || n < 2)
		return CS_PROXY_INVALID;
	if (field_len[1] == 7 && !memcmp(field[1], "UNKNOWN", 7))
		return CS_PROXY_OK;     /* the rest of the line is ignored (spec) */
	if (field_len[1] != 4 || memcmp(field[1], "TCP", 3) || (field[1][3] != '4' && field[1][3] != '6'))
		return CS_PROXY_INVALID;
	want_family = field[1][3] - '0';
	if (n != 6 || field[5] + field_len[5] != buf + line_len)
		return CS_PROXY_INVALID;
	if (!cs_addr_parse_n((const char *)field[2], field_len[2], &out->src) ||
	    !cs_addr_parse_n((const char *)field[3], field_len[3], &out->dst) ||
	    out->src.family != want_family || out->dst.family != want_family ||
	    !parse_port(field[4], field_len[4], &out->sport) ||
	    !parse_port(field[5], field_len[5], &out->dport))
		return CS_PROXY_INVALID;
	out->has_addr = true;
	return CS_PROXY_OK;
}

static enum cs_proxy_status parse_v2(const uint8_t *buf, size_t len, struct cs_proxy_info *out)
{
	size_t body_len, addr_len;
	uint8_t cmd, fam;

	if (len < CS_PROXY_V2_HDR)
		return CS_PROXY_NEED_MORE;
	if ((buf[12] >> 4) != 2)
		return CS_PROXY_INVALID;
	cmd = buf[12] & 0x0f;
	fam = buf[13];
	body_len = (size_t)buf[14] << 8 | buf[15];
	out->version = 2;
	out->header_len = CS_PROXY_V2_HDR + body_len;
	if (cmd > 1)
		return CS_PROXY_INVALID;

	switch (fam >> 4) {
	case 0: addr_len = 0; break;            /* AF_UNSPEC */
	case 1: addr_len = 12; break;           /* AF_INET */
	case 2: addr_len = 36; break;           /* AF_INET6 */
	case 3: addr_len = 216; break;          /* AF_UNIX */
	default: return CS_PROXY_INVALID;
	}
	if ((fam & 0x0f) > 2 || body_len < addr_len)
		return CS_PROXY_INVALID;
	/* LOCAL: health checks from the proxy itself; the peer is the client. */
	if (cmd == 0 || addr_len == 0 || addr_len == 216 || (fam & 0x0f) == 0)
		return CS_PROXY_OK;
	if (len < CS_PROXY_V2_HDR + addr_len)
		return CS_PROXY_NEED_MORE;

	const uint8_t *a = buf + CS_PROXY_V2_HDR;
	size_t alen = addr_len == 12 ? 4 : 16;

	memset(&out->src, 0, sizeof(out->src));
	memset(&out->dst, 0, sizeof(out->dst));
	out->src.family = out->dst.family = addr_len == 12 ? 4 : 6;
	memcpy(out->src.bytes, a, alen);
	memcpy(out->dst.bytes, a + alen, alen);
	out->sport = (uint16_t)(a[2 * alen] << 8 | a[2 * alen + 1]);
	out->dport = (uint16_t)(a[2 * alen + 2] << 8 | a[2 * alen + 3]);
	out->has_addr = true;
	return CS_PROXY_OK;
}

enum cs_proxy_status cs_proxy_parse(const uint8_t *buf, size_t len, struct cs_proxy_info *out)
{
	size_t n;

	memset(out, 0, sizeof(*out));
	n = len < 6 ? len : 6;
	if (memcmp(buf, "PROXY ", n) == 0)
		return len < 6 ? CS_PROXY_NEED_MORE : parse_v1(buf, len, out);
	n = len < sizeof(proxy_v2_sig) ? len : sizeof(proxy_v2_sig);
	if (memcmp(buf, proxy_v2_sig, n) == 0)
		return len < sizeof(proxy_v2_sig) ? CS_PROXY_NEED_MORE : parse_v2(buf, len, out);
	return CS_PROXY_NONE;
}
