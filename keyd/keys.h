/* Per-worker key lifecycle (keyd/keys.c). */
#ifndef TLSKEY_KEYD_KEYS_H
#define TLSKEY_KEYD_KEYS_H

#include <stddef.h>
#include <gnutls/abstract.h>

#include "keyd/worker.h"

/* The errno a caller gets when the fault is our own key or token (wrong
 * PIN, key not the certificate's, token absent, a signature failed), so
 * that an application can tell it from EKEYREJECTED, which means the
 * *peer's* certificate was refused (starttls_client(3), doc/api.md).
 * ENOTRECOVERABLE: retrying will not help until an operator acts. */
#define KEYS_ERRNO ENOTRECOVERABLE

/* Make sure c's worker holds a usable key object for c's identity:
 * import it (once, checking it against the certificate with a test
 * signature), re-open it after a failed signature.  Returns 0, or
 * -KEYS_ERRNO with the reason for the caller in why (the token's CKR_ code
 * where known; also during the back-off after a failure).  Does not touch c's state. */
int keys_ensure(struct conn *c, char *why, size_t len);

/* GnuTLS certificate retrieve callback (gnutls_certificate_set_retrieve_
 * function3): the identity's chain, its current OCSP response (ocsp.c)
 * and this worker's key, or nothing for no-local-cert and keys not
 * imported.  Nothing is handed over to GnuTLS (flags stay 0). */
int keys_cert_cb(gnutls_session_t s, const struct gnutls_cert_retr_st *info,
		 gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_ocsp_data_st **ocsp,
		 unsigned int *ocsp_length, gnutls_privkey_t *privkey, unsigned int *flags);

/* Give c (a handshake adopted by its worker) this worker's keyset of
 * c->req.gen, made (empty: keys are imported on first use) if this is
 * the worker's first handshake of that generation.  Returns 0 or -ENOMEM.
 * keys_detach() gives it back (idempotent); the handshake's end does. */
int keys_attach(struct conn *c);
void keys_detach(struct conn *c);

/* Free w's keysets of generations no longer in force that no handshake
 * uses any more (their key objects and token sessions with them). */
void keys_prune(struct worker *w);

/* Free every keyset of w (worker shutdown, no conn left). */
void keys_free_all(struct worker *w);

/* Drop every key object of w (module reset, shutdown); forget_failures
 * also clears the back-off, so that keys are tried again at once. */
void keys_drop_all(struct worker *w, int forget_failures);

#endif
