/* Peer identity forms beyond domain and user@domain (common/peerid.c):
 * SPIFFE IDs from a URI SAN and IP addresses from an IP SAN, as text.
 * One classifier, shared by the daemon (identities from certificates)
 * and policy/ (peers= and map patterns), so that both agree on what an
 * identity string is (doc/identities.md). */
#ifndef TLSKEY_COMMON_PEERID_H
#define TLSKEY_COMMON_PEERID_H

#include <stddef.h>

enum tk_peer_kind {
	TK_PEER_INVALID = 0,
	TK_PEER_NAME,  /* a domain or user@domain (tk_name_validate) */
	TK_PEER_URI,   /* a SPIFFE ID: spiffe://trust-domain[/path] */
	TK_PEER_IP,    /* an IPv4 or IPv6 address in the form inet_ntop writes */
};

/* Longest SPIFFE ID we accept (bytes): an identity is at most 255. */
#define TK_SPIFFE_MAX 255u

/* 0 if s (len bytes, no NUL needed) is a SPIFFE ID: "spiffe://", a trust
 * domain of [a-z0-9._-] (1 to 255 bytes, lower case only), then zero or
 * more path segments "/" [A-Za-z0-9._-]+, none "." or "..", no trailing
 * "/", no query, fragment, port or user info; at most TK_SPIFFE_MAX
 * bytes in all.  -EINVAL otherwise. */
int tk_spiffe_validate(const char *s, size_t len);

/* Parse an IPv4 or IPv6 address (len bytes) into ret (4 or 16 bytes
 * used) and *ret_family (AF_INET, AF_INET6).  canonical: accept only the
 * form inet_ntop writes (one spelling per address).  Returns 0 or
 * -EINVAL (ret untouched). */
int tk_ip_parse(const char *s, size_t len, int canonical, unsigned char ret[16], int *ret_family);

/* What kind of identity s (NUL-terminated) is; TK_PEER_INVALID if none.
 * An address comes before a name: "192.0.2.1" is TK_PEER_IP. */
enum tk_peer_kind tk_peer_kind(const char *s);

#endif
