/* Virtual hosting (keyd/vhost.c): a server-role request whose myname is a
 * list of host names and "*.domain" patterns (common/namelist.h).  The
 * accept thread resolves the list to configured identities and decides
 * the ACL for each (vhost_admit); the worker picks one by the
 * ClientHello's server name before any key is touched (vhost_pick). */
#ifndef TLSKEY_KEYD_VHOST_H
#define TLSKEY_KEYD_VHOST_H

#include <stddef.h>

#include "common/wire.h"
#include "keyd/conf.h"
#include "policy/acl.h"

/* At most this many configured identities behind one list: the ACL
 * decision of each is kept with the request until the pick. */
#define KEYD_VHOST_MAX 32u

struct conn;

struct vhost_cand {
	size_t id_index;               /* into the generation's conf->ids */
	struct acl_decision decision;  /* for this identity, refers into the request's ACL */
};

/* The candidates of one request, owned by its struct keyd_request. */
struct vhost_set {
	size_t n;
	size_t dflt;    /* candidate used without a server name; n if none */
	int picked;     /* vhost_pick ran */
	int err;        /* its refusal, a positive errno; 0 none */
	int alert;      /* the TLS alert that goes with err */
	unsigned long long signs0; /* the picked key's counters at the pick, */
	long long sign_us0;        /* for the handshake's sign time */
	char why[TK_MESSAGE_MAX];
	struct vhost_cand cand[KEYD_VHOST_MAX];
};

/* Resolve spec (a valid list) against conf and decide the ACL for each
 * identity it names, with areq's subject, role and flags (its myname is
 * overwritten).  Candidates: every exact entry (a configured identity,
 * under tk_identity_equal) and every configured host identity below a
 * pattern, each once, in list order (a pattern's in configuration
 * order).  The default is the first exact entry.  Pure (no I/O).
 * Returns 0 and *ret_set (owned by the caller: vhost_free), with
 * *ret_index (an index into conf->ids) and *ret_decision the identity
 * that holds the request's shares until the pick (the default if the
 * ACL allows it, else the first allowed); or with why set: -ENOKEY (an
 * exact entry has no key, or nothing matched), -E2BIG (more than
 * KEYD_VHOST_MAX identities), -EACCES (the ACL allows none of them;
 * *ret_index and *ret_decision then give the first candidate and its
 * refusal, for the audit record), -ENOMEM. */
int vhost_admit(const struct keyd_conf *conf, const struct acl *acl, struct acl_request *areq,
		const char *spec, struct vhost_set **ret_set, size_t *ret_index,
		struct acl_decision *ret_decision, char *why, size_t len);

/* Pick c's identity by the server name sni ("" when the ClientHello
 * carried none or one that is not a host name): the candidate of that
 * name (same case rule), else the default without sni.  For the pick,
 * c->req's id, id_index, decision and myname are set to it, so that
 * what follows (audit, peer checks, result, query) speaks of it; then
 * the ACL decision is applied, its identity's handshake share taken
 * (the first candidate's given back) and the worker's key made ready.
 * Runs once; on the worker thread.  Returns 0, or with the set's err,
 * alert and why: -EHOSTUNREACH (no candidate for sni, alert
 * unrecognized_name), -EACCES (the ACL denies it, alert access_denied),
 * -EAGAIN (its share is full), -KEYS_ERRNO (its key is unusable). */
int vhost_pick(struct conn *c, const char *sni);

/* Free a set; NULL ok. */
void vhost_free(struct vhost_set *set);

#endif
