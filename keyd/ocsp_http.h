/* The HTTP OCSP client (keyd/ocsp_http.c), used by tlskeyctl ocsp-fetch and
 * by the daemon's fetch thread (keyd/ocsp_fetch.c), never by a worker. */
#ifndef TLSKEY_KEYD_OCSP_HTTP_H
#define TLSKEY_KEYD_OCSP_HTTP_H

#include <stddef.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

/* Longest responder URL taken from a certificate. */
#define OCSP_URL_MAX 512

/* POST the DER request req to url (http://host[:port][/path] only) and
 * put the body of a 200 answer into *ret (gnutls_malloc, the caller's).
 * Every step ends at deadline (tk_now_ms() time); the answer is at most
 * OCSP_MAX_RESPONSE bytes plus its head.  Returns 0, or a negative errno
 * (-ETIMEDOUT, -EFBIG, -EPROTO, -EPROTONOSUPPORT ...) with a sentence in
 * err. */
int ocsp_http_post(const char *url, const gnutls_datum_t *req, unsigned long long deadline,
		   gnutls_datum_t *ret, char *err, size_t len);

/* The first http:// OCSP URI of crt's Authority Information Access (else
 * the first usable one, of another scheme, for the caller to refuse) into
 * url: printable ASCII without spaces, shorter than len.  Returns 0 or
 * -ENOENT. */
int ocsp_aia_url(gnutls_x509_crt_t crt, char *url, size_t len);

#endif
