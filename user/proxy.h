/*
 * Trusted proxies: a list of CIDRs whose requests carry the real client in
 * X-Forwarded-For or Forwarded. The client is the rightmost address that is
 * not a trusted proxy, walking from the peer leftwards; whatever a client
 * writes to the left of that is ignored, so clients cannot spoof it.
 */
#ifndef CS_PROXY_H
#define CS_PROXY_H

#include <stdbool.h>
#include <stddef.h>

#include "addr.h"

#define CS_PROXY_MAX 256                /* trusted CIDRs per list */

struct cs_proxies;                      /* opaque list of trusted CIDRs */

struct cs_proxies *cs_proxies_new(void);
void cs_proxies_free(struct cs_proxies *p);

/*
 * Adds "ADDR" or "ADDR/PLEN" (IPv4 or IPv6). Host bits must be zero.
 * Returns 0, or -1 with a reason in err.
 */
int cs_proxies_add(struct cs_proxies *p, const char *cidr, char *err, size_t errlen);
size_t cs_proxies_count(const struct cs_proxies *p);
/* True when a is inside one of the trusted CIDRs (false for NULL p). */
bool cs_proxies_trusted(const struct cs_proxies *p, const struct cs_addr *a);

/*
 * Parses one node of an X-Forwarded-For list or one Forwarded "for=" value:
 * "192.0.2.1", "192.0.2.1:8080", "2001:db8::1", "[2001:db8::1]",
 * "[2001:db8::1]:443", optionally in double quotes, surrounding blanks
 * ignored. False for "unknown", obfuscated "_x" identifiers and garbage.
 */
bool cs_proxy_parse_node(const char *text, size_t len, struct cs_addr *out);

/*
 * Picks the client address of a request whose TCP/logged peer is *peer.
 * If the peer is not trusted (or p is NULL/empty), the client is the peer.
 * Otherwise the addresses of the Forwarded header (its for= values, when
 * forwarded is non-empty) or else of X-Forwarded-For are walked right to
 * left; the first one that is not trusted is the client. If every address
 * is trusted, the leftmost is the client. A node that does not parse stops
 * the walk: the client is then the last trusted address seen (the proxy
 * that handed us the garbage). Header values may be NULL or length 0.
 * Returns true when the client differs from the peer.
 */
bool cs_proxy_client(const struct cs_proxies *p, const struct cs_addr *peer,
		     const char *xff, size_t xff_len,
		     const char *forwarded, size_t forwarded_len,
		     struct cs_addr *client);

#endif
