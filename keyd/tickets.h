/* TLS 1.3 session resumption for the server role (keyd/tickets.c). */
#ifndef TLSKEY_KEYD_TICKETS_H
#define TLSKEY_KEYD_TICKETS_H

#include <stddef.h>
#include <gnutls/gnutls.h>

#include "keyd/conf.h"

struct conn;
struct keyd_request;

/* The session ticket keys of one configuration generation: one master
 * key per identity, made in the daemon (never read from or written to a
 * file), in locked memory left out of core dumps, replaced every
 * ticket-rotation seconds and wiped when replaced or freed.  Workers
 * share them; a mutex is held only to rotate and to copy a key into a
 * session.  Each generation has its own (a reload makes new keys, so no
 * ticket issued before a reload is accepted after it). */
struct tickets;

/* Resumption setting of identity id under conf: its own `resumption`,
 * else the global one (default off).  1 on, 0 off. */
int tickets_enabled(const struct keyd_conf *conf, const struct keyd_identity *id);

/* New keys for conf's identities (NULL into *ret_t, and 0, when no
 * identity has resumption on).  Returns 0 or -ENOMEM. */
int tickets_new(const struct keyd_conf *conf, struct tickets **ret_t);

/* Wipe and free t; NULL ok. */
void tickets_free(struct tickets *t);

/* The gnutls_init() flags about tickets for request q: GNUTLS_NO_TICKETS
 * unless q is a TLS server request with resumption on for its identity,
 * and never TLS 1.2 tickets (only TLS 1.3 resumes). */
unsigned tickets_init_flags(const struct keyd_request *q);

/* After gnutls_init() with tickets_init_flags(): give session s the
 * current key of q's identity (rotating first if it is due) and the
 * ticket lifetime.  No-op (0) when q does not resume.  Returns 0 or a
 * negative errno. */
int tickets_session_setup(struct tickets *t, const struct keyd_request *q, gnutls_session_t s);

/* c's handshake has just completed by resumption: validate the peer's
 * certificate chain (kept in the ticket) again against the trust in
 * force now, as a full handshake would (trust.c).  The caller then
 * derives and authorizes the peer identity as after a full handshake.
 * Returns 0, or a negative errno with the reason in why. */
int tickets_check_resumed(struct conn *c, char *why, size_t len);

#endif
