/* ALPN (RFC 7301) for a handshake: the caller's list handed to GnuTLS, the
 * strict check, and the negotiated id kept in the conn. */
#ifndef TLSKEY_KEYD_ALPN_H
#define TLSKEY_KEYD_ALPN_H

#include <stddef.h>

#include "common/wire.h"
#include "keyd/conn.h"

/* Judge the ALPN items of a START (the list itself was checked by the
 * decoder): strict needs a list, DTLS takes none.  Returns 0 or -EINVAL
 * with the reason in why.  Pure. */
int alpn_check_request(const struct tk_msg *m, char *why, size_t len);

/* Give c's session (c->tls, just initialised) the caller's ALPN list, if it
 * sent one.  Returns 0 or a negative errno with the reason in why. */
int alpn_session_setup(struct conn *c, char *why, size_t len);

/* After a completed handshake: store the negotiated id in c->alpn ("" for
 * none).  Returns 0, or -ENOPROTOOPT with the reason in why when the caller
 * asked for strict ALPN and none was agreed (the peer has then been sent
 * a no_application_protocol alert). */
int alpn_session_check(struct conn *c, char *why, size_t len);

#endif
