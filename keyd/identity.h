/* Authenticated identities from X.509 certificates (see doc/identities.md). */
#ifndef TLSKEY_KEYD_IDENTITY_H
#define TLSKEY_KEYD_IDENTITY_H

#include <stddef.h>
#include <gnutls/x509.h>

/* Derive the identity a certificate proves: the first subjectAltName
 * rfc822Name ("user@domain"), else the first dNSName ("domain"), else a
 * subject DN made of dc= components ("domain"), with a first uid=
 * component making it "uid@domain".  Returns 0, -ENOENT if the certificate
 * names no usable identity, -ERANGE if it does not fit in len bytes. */
int keyd_identity_from_cert(gnutls_x509_crt_t crt, char *ret, size_t len);

/* 1 if the identity is a user (contains '@'), 0 if a domain. */
int keyd_identity_is_user(const char *id);

#endif
