#include "addr.h"

#include <arpa/inet.h>
#include <string.h>

bool cs_addr_parse_n(const char *text, size_t len, struct cs_addr *out)
{
	char buf[CS_ADDR_STRLEN];

	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, text, len);
	buf[len] = '\0';
	memset(out, 0, sizeof(*out));
	if (memchr(buf, ':', len)) {
		if (inet_pton(AF_INET6, buf, out->bytes) != 1)
			return false;
		out->family = 6;
		return true;
	}
	if (inet_pton(AF_INET, buf, out->bytes) != 1)
		return false;
	out->family = 4;
	return true;
}

bool cs_addr_parse(const char *text, struct cs_addr *out)
{
	return cs_addr_parse_n(text, strlen(text), out);
}

const char *cs_addr_format(const struct cs_addr *a, char *buf)
{
	if (a->family == 0 ||
	    !inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->bytes, buf, CS_ADDR_STRLEN))
		strcpy(buf, "-");
	return buf;
}

bool cs_addr_equal(const struct cs_addr *a, const struct cs_addr *b)
{
	return a->family == b->family && memcmp(a->bytes, b->bytes, 16) == 0;
}

void cs_addr_mask(struct cs_addr *a, unsigned plen)
{
	unsigned max = a->family == 4 ? 32 : 128;

	if (plen >= max)
		return;
	a->bytes[plen / 8] &= (uint8_t)(0xff00 >> (plen % 8));
	memset(a->bytes + plen / 8 + 1, 0, 15 - plen / 8);
	if (plen % 8 == 0)
		a->bytes[plen / 8] = 0;
}

bool cs_addr_same_prefix(const struct cs_addr *a, const struct cs_addr *b, unsigned plen)
{
	struct cs_addr x = *a, y = *b;

	if (a->family != b->family)
		return false;
	cs_addr_mask(&x, plen);
	cs_addr_mask(&y, plen);
	return memcmp(x.bytes, y.bytes, 16) == 0;
}
