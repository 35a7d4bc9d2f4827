/* Certificate revocation lists (keyd/crl.c). */
#ifndef TLSKEY_KEYD_CRL_H
#define TLSKEY_KEYD_CRL_H

#include <stddef.h>
#include <time.h>
#include <gnutls/gnutls.h>

/* What a trust domain's CRLs say about themselves: each one's issuer and
 * nextUpdate, for the expiry check at validation time (GnuTLS 3.7.9 uses
 * a CRL past its nextUpdate without a word). */
struct crl_set;

/* Load the CRLs of crl-file (a regular file) and crl-dir (every regular
 * file in it not starting with '.'), PEM or DER, into cred's trust list
 * (after its anchors).  Each must be signed by one of those anchors, and
 * each file must hold at least one CRL.  Files must pass tk_file_trusted().
 * Returns 0 and *ret_set (NULL when neither is set; crl_set_free), or a
 * negative errno with one line in err. */
int crl_load(gnutls_certificate_credentials_t cred, const char *file, const char *dir,
	     struct crl_set **ret_set, char *err, size_t errlen);

/* 1 if a CRL of s issued by the issuer of one of certs[0..n) is past its
 * nextUpdate at now, else 0.  NULL s: 0. */
int crl_set_expired_for(const struct crl_set *s, const gnutls_datum_t *certs, unsigned n, time_t now);

/* How many CRLs s holds; the earliest nextUpdate (or -1) in *ret_next. */
size_t crl_set_count(const struct crl_set *s, time_t *ret_next);

void crl_set_free(struct crl_set *s);

#endif
