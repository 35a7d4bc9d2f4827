/* ALPN options of tlskey_starttls(): checked here for a clear error (the
 * daemon checks the list again, see common/alpn.c). */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "common/alpn.h"
#include "lib/alpn.h"

_Static_assert(TLSKEY_ALPN_MAX_IDS == TK_ALPN_MAX_IDS, "public and wire ALPN bounds differ");
_Static_assert(TLSKEY_ALPN_ID_MAX == TK_ALPN_ID_MAX, "public and wire ALPN bounds differ");
_Static_assert(sizeof(((struct tlskey_session_info *)0)->alpn) >= TK_ALPN_ID_MAX + 1,
	       "tlskey_session_info.alpn must hold any ALPN id");

int lib_alpn_request(const struct tlskey_options *o, int proto, struct tk_msg *start, char *why,
		     size_t whylen)
{
	uint8_t list[TK_ALPN_LIST_MAX];
	size_t len = 0, bad = 0;
	int r;

	if (o->alpn_selected && o->nonblocking) {
		(void)snprintf(why, whylen, "alpn_selected needs a blocking start (use tlskey_query_session())");
		return -EINVAL;
	}
	if (!o->alpn && o->n_alpn == 0) {
		if (o->alpn_strict) {
			(void)snprintf(why, whylen, "alpn_strict without an ALPN list");
			return -EINVAL;
		}
		return 0;
	}
	if (proto != IPPROTO_TCP) {
		(void)snprintf(why, whylen, "ALPN is for TLS over TCP only");
		return -EINVAL;
	}
	r = tk_alpn_list_encode(o->alpn, o->n_alpn, list, sizeof(list), &bad, &len);
	if (r < 0) {
		if (!o->alpn)
			(void)snprintf(why, whylen, "ALPN list NULL with n_alpn %zu", o->n_alpn);
		else if (o->n_alpn == 0 || o->n_alpn > TK_ALPN_MAX_IDS)
			(void)snprintf(why, whylen, "ALPN list of %zu ids (1 to %u)", o->n_alpn,
				       TK_ALPN_MAX_IDS);
		else
			(void)snprintf(why, whylen, "ALPN id %zu is %s (1 to %u bytes)", bad,
				       o->alpn[bad] ? "empty or too long" : "NULL", TK_ALPN_ID_MAX);
		return -EINVAL;
	}
	(void)tk_msg_set_alpn(start, list, len);
	start->alpn_strict = o->alpn_strict ? 1 : 0;
	start->present |= 1u << TK_TAG_ALPN_STRICT;
	return 0;
}

int lib_alpn_result(const struct tk_msg *m, char *buf, size_t len, char *why, size_t whylen)
{
	const char *id = TK_HAS(m, TK_TAG_ALPN_SELECTED) ? m->alpn_selected : "";
	size_t n = strlen(id);

	if (!buf)
		return 0;
	if (n + 1 > len) {
		(void)snprintf(why, whylen, "ALPN id needs %zu bytes, buffer has %zu", n + 1, len);
		return -ERANGE;
	}
	memcpy(buf, id, n + 1);
	return 0;
}
