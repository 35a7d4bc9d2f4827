/* ALPN for one handshake.  GnuTLS 3.7.9 with GNUTLS_ALPN_MANDATORY fails
 * (GNUTLS_E_NO_APPLICATION_PROTOCOL, alert 120 from handshake_step()) only
 * when the peer sent ALPN and nothing matched: a server when the client's
 * ids and ours are disjoint, a client when the server picked an id we did
 * not offer.  A peer that sends no ALPN at all passes; strict mode closes
 * that gap here: a server in the ClientHello hook, a client after the
 * handshake. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>

#include "common/alpn.h"
#include "keyd/alpn.h"

int alpn_check_request(const struct tk_msg *m, char *why, size_t len)
{
	if (m->alpn_strict && !TK_HAS(m, TK_TAG_ALPN)) {
		(void)snprintf(why, len, "strict ALPN without an ALPN list");
		return -EINVAL;
	}
	if (TK_HAS(m, TK_TAG_ALPN) && m->proto != IPPROTO_TCP) {
		(void)snprintf(why, len, "ALPN is for TLS over TCP only");
		return -EINVAL;
	}
	return 0;
}

/* Server, strict: the ClientHello has been parsed (and with it the ALPN
 * extension): refuse a client that offered nothing we take. */
static int strict_client_hello(gnutls_session_t s, unsigned htype, unsigned when, unsigned incoming,
			       const gnutls_datum_t *msg)
{
	gnutls_datum_t sel = { NULL, 0 };

	(void)htype, (void)when, (void)incoming, (void)msg;
	if (gnutls_alpn_get_selected_protocol(s, &sel) < 0 || sel.size == 0)
		return GNUTLS_E_NO_APPLICATION_PROTOCOL;
	return 0;
}

int alpn_session_setup(struct conn *c, char *why, size_t len)
{
	const struct keyd_start *m = &c->req.msg;
	gnutls_datum_t ids[TK_ALPN_MAX_IDS];
	const uint8_t *id;
	unsigned n = 0, flags = 0;
	size_t off = 0, idlen;
	int r;

	c->alpn[0] = '\0';
	if (!TK_HAS(m, TK_TAG_ALPN))
		return 0;
	while (n < TK_ALPN_MAX_IDS && (idlen = tk_alpn_list_next(m->alpn, m->alpn_len, &off, &id)) > 0) {
		ids[n].data = (unsigned char *)(uintptr_t)id;
		ids[n].size = (unsigned)idlen;
		n++;
	}
	if (m->alpn_strict)
		flags |= GNUTLS_ALPN_MANDATORY;
	if (m->role == TK_ROLE_SERVER)
		flags |= GNUTLS_ALPN_SERVER_PRECEDENCE;
	r = gnutls_alpn_set_protocols(c->tls, ids, n, flags);
	if (r < 0) {
		(void)snprintf(why, len, "ALPN list refused: %s", gnutls_strerror(r));
		return -EINVAL;
	}
	if (m->alpn_strict && m->role == TK_ROLE_SERVER)
		gnutls_handshake_set_hook_function(c->tls, GNUTLS_HANDSHAKE_CLIENT_HELLO, GNUTLS_HOOK_POST,
						   strict_client_hello);
	return 0;
}

int alpn_session_check(struct conn *c, char *why, size_t len)
{
	gnutls_datum_t sel = { NULL, 0 };

	c->alpn[0] = '\0';
	if (!TK_HAS(&c->req.msg, TK_TAG_ALPN))
		return 0;
	/* The id is one of ours (GnuTLS matches it against our list). */
	if (gnutls_alpn_get_selected_protocol(c->tls, &sel) == 0 && sel.size > 0 &&
	    sel.size <= TK_ALPN_ID_MAX && !memchr(sel.data, '\0', sel.size)) {
		memcpy(c->alpn, sel.data, sel.size);
		c->alpn[sel.size] = '\0';
		return 0;
	}
	if (!c->req.msg.alpn_strict)
		return 0;
	(void)gnutls_alert_send(c->tls, GNUTLS_AL_FATAL, GNUTLS_A_NO_APPLICATION_PROTOCOL);
	(void)snprintf(why, len, "no ALPN protocol agreed with the peer (strict ALPN)");
	return -ENOPROTOOPT;
}
