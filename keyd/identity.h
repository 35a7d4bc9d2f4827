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

/* 1 if the identity is a user (contains '@'), 0 if a domain. */
int keyd_identity_is_user(const char *id);

#endif
