/* Post-handshake authorization: may this peer identity talk to the caller
 * under the rule that admitted it?  Pure: no I/O, no logging; the caller
 * logs and audits the reason once. */
#include "config.h"

#include <errno.h>
#include <stdio.h>

#include "keyd/authz.h"
#include "keyd/identity.h"
#include "tlskey/starttls.h"

int authz_peer(const struct keyd_request *q, const char *peer, char *ret_user, size_t user_len,
	       char *why, size_t len)
{
	char user[TK_SHORT_MAX + 1] = "";
	int skip = !!(q->msg.flags & TLSKEY_FLAG_SKIP_AUTHORIZATION);

	if (!peer[0] && !skip && acl_decision_restricts_peers(&q->decision)) {
		/* The caller may choose not to require a certificate, but not
		 * to lift the ACL's restriction on who the peer may be: with
		 * no identity there is nothing peers=/map-user could admit. */
		(void)snprintf(why, len, "peer sent no certificate, but %s admits only certain peers "
			       "(peers= or map-user)", q->decision.where);
		return -EACCES;
	}
	if (peer[0]) {
		int is_user = keyd_identity_is_user(peer);
		char detail[TK_MESSAGE_MAX] = "";

		if (is_user && (q->msg.flags & TLSKEY_FLAG_NO_REMOTE_USER_ID)) {
			(void)snprintf(why, len, "peer %s is a user identity, refused by flags", peer);
			return -EACCES;
		}
		if (!is_user && (q->msg.flags & TLSKEY_FLAG_NO_REMOTE_DOMAIN_ID)) {
			(void)snprintf(why, len, "peer %s is a domain identity, refused by flags", peer);
			return -EACCES;
		}
		if (!skip && acl_check_peer(q->acl, &q->decision, peer, detail, sizeof(detail)) < 0) {
			(void)snprintf(why, len, "peer %s not authorized for %s: %s", peer, q->msg.myname,
				       detail);
			return -EACCES;
		}
	}
	if (q->decision.map_user && acl_map_user(q->acl, peer, user, sizeof(user)) < 0) {
		(void)snprintf(why, len, "peer %s maps to no local user", peer);
		return -EACCES;
	}
	if (user_len)
		(void)snprintf(ret_user, user_len, "%s", user);
	return 0;
}

int authz_peer_pick(const struct keyd_request *q, const struct keyd_peer_ids *ids,
		    size_t *ret_index, char *ret_user, size_t user_len, char *why, size_t len)
{
	for (size_t i = 0; i < ids->n; i++) {
		char other[TK_MESSAGE_MAX];

		/* Only the first identity's refusal is reported. */
		if (authz_peer(q, ids->id[i], ret_user, user_len, i ? other : why,
			       i ? sizeof(other) : len) == 0) {
			*ret_index = i;
			return 0;
		}
	}
	return -EACCES;
}
