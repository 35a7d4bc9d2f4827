/* --alpn LIST: the ALPN protocol ids tlskey-tunnel hands to tlskeyd. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tools/tunnel/tunnel.h"

int tunnel_alpn_parse(struct tunnel_conf *conf, const char *list, char *why, size_t whylen)
{
	const char *p = list;

	conf->n_alpn = 0;
	if (*p == '\0')
		return 0;
	for (;;) {
		size_t n = strcspn(p, ",");

		if (n == 0 || n > TUNNEL_ALPN_ID_MAX) {
			(void)snprintf(why, whylen, "each id must be 1 to %u bytes, in '%s'",
				       TUNNEL_ALPN_ID_MAX, list);
			return -EINVAL;
		}
		if (conf->n_alpn == TUNNEL_ALPN_MAX) {
			(void)snprintf(why, whylen, "at most %u ids", TUNNEL_ALPN_MAX);
			return -EINVAL;
		}
		for (size_t i = 0; i < n; i++) {
			unsigned char ch = (unsigned char)p[i];

			if (ch <= ' ' || ch > '~') {
				(void)snprintf(why, whylen, "'%.*s' has a byte that is not printable ASCII",
					       (int)n, p);
				return -EINVAL;
			}
		}
		memcpy(conf->alpn[conf->n_alpn], p, n);
		conf->alpn[conf->n_alpn][n] = '\0';
		conf->n_alpn++;
		if (p[n] == '\0')
			return 0;
		p += n + 1;
	}
}
