/* OCSP (keyd/ocsp.c): the stapled response of a server identity, and the
 * peer-ocsp rule for the certificate status a remote server staples. */
#ifndef TLSKEY_KEYD_OCSP_H
#define TLSKEY_KEYD_OCSP_H

#include <stdatomic.h>
#include <stddef.h>
#include <time.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "keyd/conf.h"

/* Largest OCSP response file read (a response is a few KiB). */
#define OCSP_MAX_RESPONSE (64 * 1024)

/* What an identity staples, part of its generation.  Immutable once
 * built, except for the one-time log flag. */
struct keyd_ocsp {
	gnutls_ocsp_data_st data; /* data.response: DER (gnutls_malloc), data.exptime: nextUpdate */
	int have;                 /* a response passed ocsp_resp_check() when loaded */
	int revoked;              /* ... and it says revoked: stapled anyway, logged */
	int must_staple;          /* the certificate has the TLS feature status_request */
	atomic_int expired_logged; /* "no longer stapled" said once per generation */
};

/* Check a DER OCSP response for the certificate leaf issued by issuer at
 * time now: a successful response, about leaf (issuer name and serial),
 * signed by issuer or by a responder issuer delegated (OCSP signing
 * purpose), thisUpdate not in the future, a nextUpdate still ahead, and
 * a status of good or revoked.  On success writes *ret_revoked (0 or 1)
 * and *ret_next (nextUpdate) and returns 0; otherwise a sentence in err
 * and -EINVAL (-EKEYEXPIRED: outdated, -ENOMEM). */
int ocsp_resp_check(const gnutls_datum_t *der, gnutls_x509_crt_t leaf, gnutls_x509_crt_t issuer,
		    time_t now, int *ret_revoked, time_t *ret_next, char *err, size_t len);

/* Does the certificate carry the TLS feature status_request (RFC 7633
 * must-staple)?  1 or 0. */
int ocsp_crt_must_staple(gnutls_x509_crt_t crt);

/* The issuer of leaf: the next certificate of the chain (n > 1), else
 * the trust anchor of cred that issued it.  *ret_issuer is the caller's.
 * Returns 0, or -ENOENT with a sentence in err. */
int ocsp_find_issuer(const gnutls_pcert_st *chain, unsigned n,
		     gnutls_certificate_credentials_t cred, gnutls_x509_crt_t *ret_issuer, char *err,
		     size_t len);

/* Build the staple of identity id (chain: its certificates) into o,
 * which the caller zeroed.  A missing, unreadable or invalid response is
 * not an error of the configuration (a fetch may repair it before the
 * next reload): it is logged as a warning, o->have stays 0, and 0 comes
 * back.  Only -ENOMEM is returned. */
int ocsp_staple_load(const char *conf_path, const struct keyd_identity *id,
		     const gnutls_pcert_st *chain, unsigned n, gnutls_certificate_credentials_t cred,
		     struct keyd_ocsp *o);

/* How many warnings ocsp_staple_load() logged for identity id (a
 * response not stapled, a revoked one, must-staple without one), for the
 * count of tlskeyd -t. */
unsigned ocsp_staple_warnings(const struct keyd_ocsp *o, const struct keyd_identity *id);

/* Release what ocsp_staple_load() built (NULL ok). */
void ocsp_staple_free(struct keyd_ocsp *o);

/* The response to staple now, or NULL: none, or its nextUpdate passed
 * (then logged once, as a warning, naming the identity). */
gnutls_ocsp_data_st *ocsp_staple_current(struct keyd_ocsp *o, const char *name, time_t now);

/* May the server role of the identity run a handshake?  A must-staple
 * certificate without a current response would be refused by every
 * client that honours RFC 7633: refused here instead, with a sentence in
 * why and -EKEYEXPIRED.  0 otherwise. */
int ocsp_server_check(struct keyd_ocsp *o, const char *name, time_t now, char *why, size_t len);

/* The peer-ocsp rule in force for identity id of conf. */
int ocsp_peer_mode(const struct keyd_conf *conf, const struct keyd_identity *id);

/* Prepare a client session for mode: ask for the server's status. */
int ocsp_client_setup(gnutls_session_t s, int mode);

/* Apply mode to the gnutls_certificate_status_t GnuTLS gave for the
 * peer (GnuTLS checked the staple and must-staple itself): require adds
 * GNUTLS_CERT_MISSING_OCSP_STATUS when no valid response came, off drops
 * the complaints about a missing or unverifiable one (a valid response
 * that says revoked is honoured in every mode).  Returns the status. */
unsigned ocsp_peer_status(gnutls_session_t s, int mode, unsigned status);

/* Feed the peer's stapled response (if any) to a validation cache key:
 * the same chain with another response is another validation. */
void ocsp_cache_feed(gnutls_session_t s, gnutls_hash_hd_t h);

/* The audit word for an OCSP reason in status ("revoked", "ocsp-missing",
 * "ocsp-invalid"), or NULL. */
const char *ocsp_status_word(unsigned status);

#endif
