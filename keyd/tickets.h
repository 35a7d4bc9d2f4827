/* TLS 1.3 session resumption (keyd/tickets.c): tickets the daemon issues
 * in the server role, and servers' tickets it keeps in the client role. */
#ifndef TLSKEY_KEYD_TICKETS_H
#define TLSKEY_KEYD_TICKETS_H

#include <stddef.h>
#include <gnutls/gnutls.h>

#include "keyd/conf.h"

struct conn;
struct keyd_request;
struct scache;

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

/* The same for `client-resumption` (the client role). */
int tickets_client_enabled(const struct keyd_conf *conf, const struct keyd_identity *id);

/* The client role's session cache for conf (scache.h), or NULL into
 * *ret_s (and 0) when no identity has client-resumption on.  Returns 0 or
 * -ENOMEM. */
int tickets_scache_new(const struct keyd_conf *conf, struct scache **ret_s);

/* New keys for conf's identities (NULL into *ret_t, and 0, when no
 * identity has resumption on).  Returns 0 or -ENOMEM. */
int tickets_new(const struct keyd_conf *conf, struct tickets **ret_t);

/* Wipe and free t; NULL ok. */
void tickets_free(struct tickets *t);

/* The gnutls_init() flags about tickets for request q: GNUTLS_NO_TICKETS
 * unless q is a TLS request whose identity has resumption (server role)
 * or client-resumption (client role) on, and never TLS 1.2 tickets (only
 * TLS 1.3 resumes).  TLSKEY_FLAG_NO_CACHE_READ (a full check) turns it
 * off in the server role; in the client role it only keeps a cached
 * session from being offered, as NO_CACHE_WRITE keeps the new one out. */
unsigned tickets_init_flags(const struct keyd_request *q);

/* After gnutls_init() with tickets_init_flags(), on c->tls.  Server
 * role: the current key of the identity (rotating first if it is due)
 * and the ticket lifetime.  Client role: the session cached for this
 * caller uid, identity, flags, server name and server address, if any,
 * is taken out of the cache and offered.  No-op (0) when c does not
 * resume.  Returns 0 or a negative errno. */
int tickets_session_setup(struct conn *c);

/* Client role, after each record c received: once the server's first
 * NewSessionTicket is in, keep the session in the generation's cache
 * (under the key tickets_session_setup() made).  Cheap when there is
 * nothing to do. */
void tickets_client_note(struct conn *c);

/* c's handshake has just completed by resumption: validate the peer's
 * certificate chain (kept in the ticket) again against the trust in
 * force now, as a full handshake would (trust.c).  The caller then
 * derives and authorizes the peer identity as after a full handshake.
 * Returns 0, or a negative errno with the reason in why. */
int tickets_check_resumed(struct conn *c, char *why, size_t len);

#endif
