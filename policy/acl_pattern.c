/* Identity patterns: the small language shared by myname patterns, peers=
 * lists and map lines (doc/acl.md, "Identity patterns").  Wildcards are
 * only allowed in a few fixed shapes so that a pattern's meaning is obvious
 * from reading it: no globbing inside labels, no "*" that silently crosses
 * the user/domain boundary except the lone "*".  Also the check for the
 * local user names that map lines may produce. */
#include "config.h"

#include <string.h>
#include <sys/socket.h>

#include "common/peerid.h"
#include "common/util.h"
#include "policy/acl_internal.h"

/* Domain names compare case-insensitively, ASCII only: the comparison
 * shared with the daemon's identity lookup (common/util.h). */
static int domain_equal(const char *a, size_t alen, const char *b, size_t blen)
{
	return tk_domain_equal(a, alen, b, blen);
}

/* 1 if dom is strictly below base: at least one whole label in front of
 * ".base".  The dot check is what keeps "evil-example.test" out of
 * "*.example.test". */
static int domain_below(const char *dom, const char *base)
{
	size_t dl = strlen(dom), bl = strlen(base);

	if (dl < bl + 2)
		return 0;
	return dom[dl - bl - 1] == '.' && domain_equal(dom + dl - bl, bl, base, bl);
}

/* A bare domain: a valid identity without '@'. */
static int domain_validate(const char *s, size_t len)
{
	if (memchr(s, '@', len))
		return -EINVAL;
	return tk_name_validate(s, len);
}

/* Digits and dots, maybe a "/N": meant as an IPv4 address or prefix
 * (a domain name is never all digits in its last label anyway). */
static int looks_ipv4(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '/'))
			return 0;
	return 1;
}

/* "spiffe://td/path", or the same ending in "/" and "*": the IDs below. */
static int uri_parse(const char *s, size_t len, struct acl_pattern *p, const char **reason)
{
	size_t n = len;

	p->kind = ACL_PATTERN_URI;
	if (len > 2 && s[len - 1] == '*' && s[len - 2] == '/') {
		p->kind = ACL_PATTERN_URI_BELOW;
		n = len - 2;
	}
	if (tk_spiffe_validate(s, n) < 0) {
		*reason = p->kind == ACL_PATTERN_URI_BELOW
				  ? "not a valid SPIFFE ID before '/*'"
				  : "not a valid SPIFFE ID (spiffe://TRUST-DOMAIN/PATH, or .../* for "
				    "the IDs below it)";
		return -EINVAL;
	}
	return 0;
}

/* "ADDRESS" or "ADDRESS/BITS" (host bits must be zero). */
static int ip_parse(const char *s, size_t len, struct acl_pattern *p, const char **reason)
{
	const char *slash = memchr(s, '/', len);
	size_t alen = slash ? (size_t)(slash - s) : len;
	unsigned long bits;
	unsigned max;
	char num[4];

	p->kind = ACL_PATTERN_IP;
	if (tk_ip_parse(s, alen, 0, p->ip, &p->family) < 0) {
		*reason = "not a valid IPv4 or IPv6 address (or ADDRESS/BITS)";
		return -EINVAL;
	}
	max = p->family == AF_INET ? 32 : 128;
	p->prefix_bits = max;
	if (!slash)
		return 0;
	if (len - alen - 1 == 0 || len - alen - 1 > 3) {
		*reason = "prefix length must be 0 to 32 (IPv4) or 128 (IPv6)";
		return -EINVAL;
	}
	memcpy(num, slash + 1, len - alen - 1);
	num[len - alen - 1] = '\0';
	if (tk_parse_ulong(num, 0, max, &bits) < 0) {
		*reason = "prefix length must be 0 to 32 (IPv4) or 128 (IPv6)";
		return -EINVAL;
	}
	p->prefix_bits = (unsigned)bits;
	for (unsigned b = p->prefix_bits; b < max; b++)
		if (p->ip[b / 8] & (0x80u >> (b % 8))) {
			*reason = "address has bits set beyond the prefix length";
			return -EINVAL;
		}
	return 0;
}

static int ip_match(const struct acl_pattern *p, const char *id)
{
	unsigned char a[16];
	int fam;
	unsigned b = p->prefix_bits;

	if (tk_ip_parse(id, strlen(id), 1, a, &fam) < 0 || fam != p->family)
		return 0;
	if (memcmp(a, p->ip, b / 8) != 0)
		return 0;
	return b % 8 == 0 || ((a[b / 8] ^ p->ip[b / 8]) & (0xffu << (8 - b % 8)) & 0xffu) == 0;
}

int acl_pattern_parse(const char *s, size_t len, struct acl_pattern *ret_pattern,
		      const char **ret_reason)
{
	struct acl_pattern p = { 0 };
	size_t prefix = 0;
	const char *reason = NULL;
	int r;

	if (!s || !ret_pattern || !ret_reason)
		return -EINVAL;
	if (len == 0) {
		*ret_reason = "empty identity pattern";
		return -EINVAL;
	}
	if (len > 255) {
		*ret_reason = "identity pattern longer than 255 bytes";
		return -EINVAL;
	}
	if (memchr(s, '\0', len)) {
		*ret_reason = "NUL byte in identity pattern";
		return -EINVAL;
	}

	if (len > 9 && !memcmp(s, "spiffe://", 9)) {
		r = uri_parse(s, len, &p, &reason);
		if (r < 0)
			goto fail;
		goto done;
	}
	if (len > 1 && (memchr(s, ':', len) || looks_ipv4(s, len))) {
		r = ip_parse(s, len, &p, &reason);
		if (r < 0)
			goto fail;
		goto done;
	}
	if (len == 1 && s[0] == '*') {
		p.kind = ACL_PATTERN_ANY;
	} else if (len > 4 && !memcmp(s, "*@*.", 4)) {
		p.kind = ACL_PATTERN_USERS_BELOW;
		prefix = 4;
	} else if (len > 3 && !memcmp(s, "@*.", 3)) {
		p.kind = ACL_PATTERN_USERS_BELOW;
		prefix = 3;
	} else if (len > 2 && !memcmp(s, "*@", 2)) {
		p.kind = ACL_PATTERN_USERS_AT;
		prefix = 2;
	} else if (len > 1 && s[0] == '@') {
		p.kind = ACL_PATTERN_USERS_AT;
		prefix = 1;
	} else if (len > 2 && !memcmp(s, "*.", 2)) {
		p.kind = ACL_PATTERN_SUBDOMAINS;
		prefix = 2;
	} else {
		p.kind = ACL_PATTERN_EXACT;
	}

	if (p.kind == ACL_PATTERN_EXACT) {
		const char *at;

		if (memchr(s, '*', len)) {
			reason = "'*' is only allowed as '*', '*.DOMAIN', '@DOMAIN', '*@DOMAIN', "
				 "'@*.DOMAIN' or '*@*.DOMAIN'";
			goto fail;
		}
		if (tk_name_validate(s, len) < 0) {
			reason = "not a valid domain or user@domain";
			goto fail;
		}
		at = memchr(s, '@', len);
		p.local_len = at ? (size_t)(at - s) : 0;
		prefix = at ? p.local_len + 1 : 0;
	} else if (p.kind != ACL_PATTERN_ANY) {
		if (memchr(s + prefix, '*', len - prefix)) {
			reason = "'*' is only allowed as the first label";
			goto fail;
		}
		if (domain_validate(s + prefix, len - prefix) < 0) {
			reason = "not a valid domain after the wildcard";
			goto fail;
		}
	}

done:
	p.text = strndup(s, len);
	if (!p.text)
		return -ENOMEM;
	p.domain = p.text + prefix;
	*ret_pattern = p;
	return 0;

fail:
	*ret_reason = reason;
	return -EINVAL;
}

void acl_pattern_done(struct acl_pattern *p)
{
	if (!p)
		return;
	free(p->text);
	p->text = NULL;
	p->domain = NULL;
}

int acl_pattern_match(const struct acl_pattern *p, const char *id)
{
	const char *at = strchr(id, '@');
	const char *dom = at ? at + 1 : id;
	enum tk_peer_kind kind = tk_peer_kind(id);

	/* Each form has its own patterns: "*.2.1" never covers 192.0.2.1,
	 * nor "*.example.test" spiffe://x.example.test. */
	if (p->kind == ACL_PATTERN_ANY)
		return kind != TK_PEER_INVALID;
	if ((p->kind == ACL_PATTERN_URI || p->kind == ACL_PATTERN_URI_BELOW) != (kind == TK_PEER_URI) ||
	    (p->kind == ACL_PATTERN_IP) != (kind == TK_PEER_IP))
		return 0;
	switch (p->kind) {
	case ACL_PATTERN_ANY:
		return 1;
	case ACL_PATTERN_URI:
		return strcmp(id, p->text) == 0;
	case ACL_PATTERN_URI_BELOW: {
		size_t n = strlen(p->text) - 1; /* up to and with the '/' */

		return strlen(id) > n && strncmp(id, p->text, n) == 0;
	}
	case ACL_PATTERN_IP:
		return ip_match(p, id);
	case ACL_PATTERN_EXACT:
		/* The same rule as the daemon's lookup of configured names: local
		 * part byte for byte, domain case-insensitive. */
		return tk_identity_equal(id, strlen(id), p->text, strlen(p->text));
	case ACL_PATTERN_SUBDOMAINS:
		return !at && domain_below(dom, p->domain);
	case ACL_PATTERN_USERS_AT:
		return at && domain_equal(dom, strlen(dom), p->domain, strlen(p->domain));
	case ACL_PATTERN_USERS_BELOW:
		return at && domain_below(dom, p->domain);
	}
	return 0;
}

int acl_pattern_is_peer_only(const struct acl_pattern *p)
{
	return p->kind == ACL_PATTERN_URI || p->kind == ACL_PATTERN_URI_BELOW ||
	       p->kind == ACL_PATTERN_IP;
}

int acl_pattern_is_user_only(const struct acl_pattern *p)
{
	return p->kind == ACL_PATTERN_USERS_AT || p->kind == ACL_PATTERN_USERS_BELOW ||
	       (p->kind == ACL_PATTERN_EXACT && p->local_len > 0);
}

/* Local user names a map line may produce: the portable set, which also
 * keeps "%u" from turning a certificate's local part into a path, an option
 * or a numeric uid. */
int acl_user_name_valid(const char *s, size_t len)
{
	int digits_only = 1;

	if (len == 0 || len > 32)
		return 0;
	if (s[0] == '-' || s[0] == '.')
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
		if (c < '0' || c > '9')
			digits_only = 0;
	}
	return !digits_only;
}
