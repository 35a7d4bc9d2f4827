/* Post-handshake authorization (keyd/authz.c). */
#ifndef TLSKEY_KEYD_AUTHZ_H
#define TLSKEY_KEYD_AUTHZ_H

#include <stddef.h>

#include "keyd/conn.h"
#include "keyd/identity.h"

/* Decide on peer (the peer's identity, "" when it sent no certificate)
 * for request q: the ACL's peers= restriction, map-user, and the
 * no-remote-user-id / no-remote-domain-id / skip-authorization flags.
 * Returns 0 and writes to ret_user the local account the peer maps to
 * ("" without map-user; the caller checks that it exists), or -EACCES
 * with the reason in why (ret_user untouched).  Pure: no I/O, no log. */
int authz_peer(const struct keyd_request *q, const char *peer, char *ret_user, size_t user_len,
	       char *why, size_t len);

/* A certificate proving several identities (keyd_identity_list order):
 * the peer is the first of ids->id[] that authz_peer() admits, so that
 * peers= and map-user may name any form the certificate carries.  Returns
 * 0 with its index in *ret_index and the mapped account in ret_user, or
 * the refusal authz_peer() gives for the first identity (why).  Pure. */
int authz_peer_pick(const struct keyd_request *q, const struct keyd_peer_ids *ids,
		    size_t *ret_index, char *ret_user, size_t user_len, char *why, size_t len);

#endif
