/* DTLS server: the HelloVerifyRequest cookie exchange (RFC 6347 4.2.1)
 * before any work for a ClientHello (keyd/dtls_cookie.c). */
#ifndef TLSKEY_KEYD_DTLS_COOKIE_H
#define TLSKEY_KEYD_DTLS_COOKIE_H

#include "keyd/conn.h"

/* Look at what waits on c's socket: 1 when it is a ClientHello that
 * returns our cookie (c->tls then continues from it: call
 * gnutls_handshake()), 0 when there is nothing more to look at yet (a
 * ClientHello without a valid cookie got a HelloVerifyRequest, counted in
 * c->cookies_sent; anything else was dropped), or a negative errno.
 * *ret_hello: a ClientHello was seen.  Costs no signature and sends
 * nothing larger than what arrived. */
int dtls_cookie_step(struct conn *c, int *ret_hello);

#endif
