/* Authenticated identities from X.509 certificates (see doc/identities.md). */
#ifndef TLSKEY_KEYD_IDENTITY_H
#define TLSKEY_KEYD_IDENTITY_H

#include <stddef.h>
#include <gnutls/x509.h>

/* Derive the identity a certificate proves: the first subjectAltName
 * rfc822Name ("user@domain"), else the first dNSName ("domain"), else a
 * subject DN made of dc= components ("domain"), with a first uid=
 * component making it "uid@domain".  Nothing is ever truncated or
 * skipped: a name, uid= or dc= value that does not fit, more than 16 dc=
 * components, or an identity over 255 bytes refuse the certificate.
 * Returns 0, -ENOENT if the certificate names no usable identity,
 * -ENAMETOOLONG if a name or component is too long (or too many),
 * -EINVAL if the DN cannot be read or a dc= value holds a dot, -ERANGE if
 * the identity does not fit in len bytes.  *ret only written on success. */
int keyd_identity_from_cert(gnutls_x509_crt_t crt, char *ret, size_t len);

/* Every identity a certificate proves, in the order of doc/identities.md:
 * rfc822Name SANs, dNSName SANs, URI SANs that are SPIFFE IDs, iPAddress
 * SANs (inet_ntop text), each kind in certificate order; without any of
 * those the subject DN identity (as keyd_identity_from_cert); then, only
 * if cn_mode asks (KEYD_PEER_CN_*), the subject CN when it is a host name
 * and there is no dNSName SAN, or an e-mail address and there is no
 * rfc822Name SAN.  Names that are not valid of their kind are skipped,
 * duplicates kept once, at most KEYD_PEER_IDS_MAX kept.  Returns 0 and
 * *ret (n >= 1), -ENOENT if there is none, -ENAMETOOLONG / -EINVAL as
 * keyd_identity_from_cert.  *ret only written on success. */
#define KEYD_PEER_IDS_MAX 8
#define KEYD_PEER_CN_HOSTNAME 1u
#define KEYD_PEER_CN_EMAIL 2u
struct keyd_peer_ids {
	size_t n;
	char id[KEYD_PEER_IDS_MAX][256];
};
int keyd_identity_list(gnutls_x509_crt_t crt, unsigned cn_mode, struct keyd_peer_ids *ret);

/* 1 if the identity is a user (contains '@'), 0 if a domain. */
int keyd_identity_is_user(const char *id);

#endif
