#include "proxy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cs_proxy_cidr {
	struct cs_addr prefix;
	uint8_t plen;
};

struct cs_proxies {
	size_t n;
	struct cs_proxy_cidr cidrs[CS_PROXY_MAX];
};

struct cs_proxies *cs_proxies_new(void)
{
	return calloc(1, sizeof(struct cs_proxies));
}

void cs_proxies_free(struct cs_proxies *p)
{
	free(p);
}

int cs_proxies_add(struct cs_proxies *p, const char *cidr, char *err, size_t errlen)
{
	struct cs_proxy_cidr c = { 0 };
	const char *slash = strchr(cidr, '/');
	size_t addr_len = slash ? (size_t)(slash - cidr) : strlen(cidr);
	unsigned max;

	if (!cs_addr_parse_n(cidr, addr_len, &c.prefix)) {
		snprintf(err, errlen, "'%s': not an IPv4 or IPv6 address", cidr);
		return -1;
	}
	max = c.prefix.family == 4 ? 32 : 128;
	c.plen = max;
	if (slash) {
		char *end;
		unsigned long plen;

		if (slash[1] < '0' || slash[1] > '9') {
			snprintf(err, errlen, "'%s': bad prefix length", cidr);
			return -1;
		}
		plen = strtoul(slash + 1, &end, 10);
		if (*end || plen > max) {
			snprintf(err, errlen, "'%s': bad prefix length", cidr);
			return -1;
		}
		c.plen = (uint8_t)plen;
	}
	{
		struct cs_addr masked = c.prefix;

		cs_addr_mask(&masked, c.plen);
		if (!cs_addr_equal(&masked, &c.prefix)) {
			snprintf(err, errlen, "'%s': host bits set", cidr);
			return -1;
		}
	}
	if (p->n == CS_PROXY_MAX) {
		snprintf(err, errlen, "'%s': more than %d trusted proxies", cidr, CS_PROXY_MAX);
		return -1;
	}
	p->cidrs[p->n++] = c;
	return 0;
}

size_t cs_proxies_count(const struct cs_proxies *p)
{
	return p ? p->n : 0;
}

bool cs_proxies_trusted(const struct cs_proxies *p, const struct cs_addr *a)
{
	if (!p || a->family == 0)
		return false;
	for (size_t i = 0; i < p->n; i++)
		if (p->cidrs[i].prefix.family == a->family &&
		    cs_addr_same_prefix(&p->cidrs[i].prefix, a, p->cidrs[i].plen))
			return true;
	return false;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

bool cs_proxy_parse_node(const char *s, size_t len, struct cs_addr *out)
{
	const char *end = s + len;

	while (s < end && is_blank(*s))
		s++;
	while (end > s && is_blank(end[-1]))
		end--;
	if (end - s >= 2 && *s == '"' && end[-1] == '"') {
		s++;
		end--;
	}
	if (s == end)
		return false;
	if (*s == '[') {
		/* [v6] or [v6]:port */
		const char *close = memchr(s, ']', (size_t)(end - s));

		if (!close || (close + 1 != end && close[1] != ':'))
			return false;
		return cs_addr_parse_n(s + 1, (size_t)(close - s - 1), out) && out->family == 6;
	}
	{
		/* A single colon means IPv4:port; more colons is a bare IPv6 address. */
		const char *colon = memchr(s, ':', (size_t)(end - s));

		if (colon && !memchr(colon + 1, ':', (size_t)(end - colon - 1))) {
			if (!cs_addr_parse_n(s, (size_t)(colon - s), out) || out->family != 4)
				return false;
			for (const char *q = colon + 1; q < end; q++)
				if (*q < '0' || *q > '9')
					return false;
			return colon + 1 < end;
		}
	}
	return cs_addr_parse_n(s, (size_t)(end - s), out);
}

/* Finds the for= value of one Forwarded element (";"-separated pairs). */
static bool forwarded_for(const char *s, const char *end, const char **val, size_t *val_len)
{
	while (s < end) {
		const char *semi = memchr(s, ';', (size_t)(end - s));
		const char *pair_end = semi ? semi : end;

		while (s < pair_end && is_blank(*s))
			s++;
		if (pair_end - s > 4 && strncasecmp(s, "for=", 4) == 0) {
			*val = s + 4;
			*val_len = (size_t)(pair_end - s - 4);
			return true;
		}
		s = semi ? semi + 1 : end;
	}
	return false;
}

bool cs_proxy_client(const struct cs_proxies *p, const struct cs_addr *peer,
		     const char *xff, size_t xff_len,
		     const char *forwarded, size_t forwarded_len,
		     struct cs_addr *client)
{
	bool use_forwarded = forwarded && forwarded_len > 0;
	const char *list = use_forwarded ? forwarded : xff;
	size_t list_len = use_forwarded ? forwarded_len : (xff ? xff_len : 0);
	const char *end = list + list_len;

	*client = *peer;
	if (!cs_proxies_trusted(p, peer) || list_len == 0)
		return false;
	/* Walk elements right to left; client always holds the last trusted hop. */
	while (end > list) {
		const char *start = end;
		const char *val;
		size_t val_len;
		struct cs_addr a;

		while (start > list && start[-1] != ',')
			start--;
		if (use_forwarded) {
			if (!forwarded_for(start, end, &val, &val_len))
				break;
		} else {
			val = start;
			val_len = (size_t)(end - start);
		}
		if (!cs_proxy_parse_node(val, val_len, &a))
			break;
		*client = a;
		if (!cs_proxies_trusted(p, &a))
			break;
		end = start > list ? start - 1 : list;
	}
	return !cs_addr_equal(client, peer);
}
