/* Post-handshake authorization (keyd/authz.c). */
#ifndef TLSKEY_KEYD_AUTHZ_H
#define TLSKEY_KEYD_AUTHZ_H

#include <stddef.h>

#include "keyd/conn.h"

/* Decide on peer (the peer's identity, "" when it sent no certificate)
 * for request q: the ACL's peers= restriction, map-user, and the
 * no-remote-user-id / no-remote-domain-id / skip-authorization flags.
 * Returns 0 and writes to ret_user the local account the peer maps to
 * ("" without map-user; the caller checks that it exists), or -EACCES
 * with the reason in why (ret_user untouched).  Pure: no I/O, no log. */
int authz_peer(const struct keyd_request *q, const char *peer, char *ret_user, size_t user_len,
	       char *why, size_t len);

#endif
