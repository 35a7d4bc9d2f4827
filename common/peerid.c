#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "common/peerid.h"
#include "common/util.h"

#define SPIFFE_SCHEME "spiffe://"

static int td_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

static int seg_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-' || c == '_';
}

int tk_spiffe_validate(const char *s, size_t len)
{
	const size_t sl = sizeof(SPIFFE_SCHEME) - 1;
	size_t i, seg = 0, seg_start;

	if (!s || len <= sl || len > TK_SPIFFE_MAX || memcmp(s, SPIFFE_SCHEME, sl) != 0)
		return -EINVAL;
	for (i = sl; i < len && s[i] != '/'; i++)
		if (!td_char((unsigned char)s[i]))
			return -EINVAL;
	if (i == sl)
		return -EINVAL;
	/* Path: every segment non-empty, not "." or "..", of the safe set. */
	while (i < len) {
		i++; /* the '/' */
		seg_start = i;
		for (seg = 0; i < len && s[i] != '/'; i++, seg++)
			if (!seg_char((unsigned char)s[i]))
				return -EINVAL;
		if (seg == 0 || (seg == 1 && s[seg_start] == '.') ||
		    (seg == 2 && s[seg_start] == '.' && s[seg_start + 1] == '.'))
			return -EINVAL;
	}
	return 0;
}

int tk_ip_parse(const char *s, size_t len, int canonical, unsigned char ret[16], int *ret_family)
{
	char buf[INET6_ADDRSTRLEN + 1], back[INET6_ADDRSTRLEN];
	unsigned char a[16];
	int fam;

	if (!s || len == 0 || len >= sizeof(buf) || memchr(s, '\0', len))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	fam = memchr(buf, ':', len) ? AF_INET6 : AF_INET;
	if (inet_pton(fam, buf, a) != 1)
		return -EINVAL;
	if (canonical && (!inet_ntop(fam, a, back, sizeof(back)) || strcmp(back, buf) != 0))
		return -EINVAL;
	memcpy(ret, a, fam == AF_INET ? 4 : 16);
	*ret_family = fam;
	return 0;
}

enum tk_peer_kind tk_peer_kind(const char *s)
{
	unsigned char a[16];
	size_t len;
	int fam;

	if (!s)
		return TK_PEER_INVALID;
	len = strnlen(s, 256);
	if (len == 0 || len > 255)
		return TK_PEER_INVALID;
	if (tk_ip_parse(s, len, 1, a, &fam) == 0)
		return TK_PEER_IP;
	if (tk_spiffe_validate(s, len) == 0)
		return TK_PEER_URI;
	return tk_name_validate(s, len) == 0 ? TK_PEER_NAME : TK_PEER_INVALID;
}
