/* Trust (keyd/trust.c). */
#ifndef TLSKEY_KEYD_TRUST_H
#define TLSKEY_KEYD_TRUST_H

#include "keyd/worker.h"

struct keyd_gen;
struct trust_domain;

/* Build the trust domain of settings t into *ret: credentials with the
 * anchors (trust_anchors_load), the CRLs (crl.c), the key callback
 * (keys.c) and peer validation (pins, the validation cache of the
 * connection's generation, the CRL expiry rule; result in the conn:
 * peer, cache_hit, pinned, verify_status, reason), and the priority.
 * Read-only once returned, so every worker shares it.  index goes into
 * cache keys.  Returns 0, or a negative errno with the reason in err
 * (*ret then holds nothing). */
int trust_domain_build(const struct keyd_trustconf *t, unsigned index, struct trust_domain *ret,
		       char *err, size_t len);

/* Free what d holds (NULL fields ok) and zero it. */
void trust_domain_free(struct trust_domain *d);

/* The domains of g's identities that do not simply use the global
 * settings (g->trust, built before): g->doms, g->id_trust.  Identities
 * with equal settings share one.  Returns 0, or a negative errno with
 * the reason in err and the index of the identity in *ret_bad (-1 if
 * none).  trust_domains_free() releases them and g->trust, in any case. */
int trust_domains_build(struct keyd_gen *g, char *err, size_t len, size_t *ret_bad);
void trust_domains_free(struct keyd_gen *g);

/* Give c's new TLS session the priority and credentials of its
 * identity's trust domain (and, as a server, the CA names it sends).
 * Called once the identity is known: at handshake start; a choice of
 * identity by SNI may call it again from the post-client-hello callback,
 * where GnuTLS still takes a priority.  Returns 0 or a GnuTLS error. */
int trust_apply_identity(struct conn *c);

/* Load the configured trust anchors into cred: ca-file (a regular file),
 * ca-dir, or the system store when neither is set or ca-file is
 * "system".  Files and directories must pass tk_file_trusted().  Each
 * configured source must yield at least one certificate.  Returns the
 * number loaded, or a negative errno with one line in err (the source and
 * why).  Used by trust_domain_build() and by the configuration check (check.c). */
int trust_anchors_load(const struct keyd_trustconf *conf, gnutls_certificate_credentials_t cred,
		       char *err, size_t errlen);

/* Validate the peer chain of established session c again, under the
 * trust domain of identity id_index of g (a newer generation): anchors,
 * CRLs, the CRL expiry rule, purpose and name.  A peer the handshake
 * admitted by a pin passes while g's configuration pins it too (and
 * nothing fatal came up); one without a certificate passes.  Returns 0,
 * or -EKEYREJECTED with the audit reason ("revoked", "crl-expired",
 * "untrusted") in *ret_reason.
 * Worker thread of c only. */
int trust_peer_recheck(const struct keyd_gen *g, size_t id_index, const struct conn *c,
		       const char **ret_reason);

/* The name under which a pin is looked up for the peer certificate crt
 * of request q: the request's sniname in the client role, else
 * keyd_identity_from_cert().  A peer admitted by a pin has that name and
 * no other: the pin vouches for its key under that name, and nothing
 * else the certificate says was vouched for by anyone.  Returns 0 or a
 * negative errno (no name); *ret written on 0. */
int trust_pin_name(const struct keyd_request *q, gnutls_x509_crt_t crt, char *ret, size_t len);

/* Validate the peer certificate chain of c's TLS session (the credentials'
 * verify callback, and again for a resumed session, which GnuTLS does not
 * validate): the validation cache of c's generation, the trust anchors,
 * the purpose, the host name of a client request, pins.  Sets c->peer and
 * c->mapped_user on a cache hit, c->pinned, c->verify_status on failure.
 * Returns 0 (also when the peer sent no certificate: finish() applies the
 * request flags) or GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR. */
int trust_peer_verify(struct conn *c);

#endif
