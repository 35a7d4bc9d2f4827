/* Trust (keyd/trust.c). */
#ifndef TLSKEY_KEYD_TRUST_H
#define TLSKEY_KEYD_TRUST_H

#include "keyd/worker.h"

/* New credentials for conf: trust anchors (ca-file, ca-dir or the system
 * store), the key callback (keys.c) and peer validation with pins and the
 * validation cache of the connection's generation (result in the conn:
 * peer, cache_hit, pinned, verify_status).  Read-only once returned, so
 * every worker shares them.  Returns 0 and *ret_cred (the caller frees
 * it), or a negative errno with the reason in err. */
int trust_creds_new(const struct keyd_conf *conf, gnutls_certificate_credentials_t *ret_cred,
		    char *err, size_t len);

/* Load the configured trust anchors into cred: ca-file (a regular file),
 * ca-dir, or the system store when neither is set or ca-file is
 * "system".  Files and directories must pass tk_file_trusted().  Each
 * configured source must yield at least one certificate.  Returns the
 * number loaded, or a negative errno with one line in err (the source and
 * why).  Used by trust_creds_new() and by the configuration check (check.c). */
int trust_anchors_load(const struct keyd_conf *conf, gnutls_certificate_credentials_t cred, char *err,
		       size_t errlen);

/* Validate the peer certificate chain of c's TLS session (the credentials'
 * verify callback, and again for a resumed session, which GnuTLS does not
 * validate): the validation cache of c's generation, the trust anchors,
 * the purpose, the host name of a client request, pins.  Sets c->peer and
 * c->mapped_user on a cache hit, c->pinned, c->verify_status on failure.
 * Returns 0 (also when the peer sent no certificate: finish() applies the
 * request flags) or GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR. */
int trust_peer_verify(struct conn *c);

#endif
