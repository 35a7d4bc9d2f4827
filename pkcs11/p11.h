/* Token access: the only code in tlskeyd that talks to PKCS#11.
 *
 * Keys are used through GnuTLS's PKCS#11 layer (which loads modules with
 * p11-kit); pin handling, diagnostics and probing (CKR_ names) are ours.
 * This layer knows nothing about TLS sessions.
 *
 * Errors: functions return 0 or a negative errno and, when `err` is not
 * NULL, write a one-line explanation naming the token, the URI and the
 * PKCS#11 return code (CKR_*) where one is known.  Error mapping:
 *   -ENODEV       module or token not found / not present
 *   -EKEYREJECTED PIN incorrect, locked or missing
 *   -ENOKEY       no private key / certificate object matches the URI
 *   -EINVAL       malformed URI or PIN file
 *   -EIO          any other token failure */
#ifndef TLSKEY_PKCS11_P11_H
#define TLSKEY_PKCS11_P11_H

#include <stddef.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

/* Set up PKCS#11 for this process.  Call once, before threads start.
 * module_path: load exactly this module (e.g. a SoftHSM or HSM vendor .so);
 * NULL: the modules registered with p11-kit. */
int p11_init(const char *module_path, char *err, size_t errlen);

/* Finalize and initialise the module(s) again, keeping the PIN registry.
 * The caller must have released every key object first (they belong to
 * the old module session).  Returns 0 or -ENODEV. */
int p11_reinit(char *err, size_t errlen);

/* Undo p11_init (unloads modules).  Safe to call when not initialised. */
void p11_done(void);

/* Register where the PIN for a token comes from.  `uri` is any PKCS#11 URI
 * naming the token (a key URI is fine: only token attributes are used).
 * `pin_file` is a file holding the PIN (trailing newline ignored), read at
 * login time, never cached; it must not be group/world accessible.
 * A `pin-source=file:...` or `pin-source=/path` attribute inside the key URI
 * is honoured the same way (see p11_uri_strip_pin). */
int p11_pin_add(const char *uri, const char *pin_file, char *err, size_t errlen);

/* Return a copy of `uri` without pin-value/pin-source attributes, and the
 * pin-source path (or NULL) in *ret_pin_source; both malloc'd. */
int p11_uri_strip_pin(const char *uri, char **ret_uri, char **ret_pin_source);
/* The same, and *ret_had_pin_value (if not NULL) says whether a pin-value
 * attribute was there.  -EINVAL for a URI with whitespace or a control
 * character (p11-kit skips whitespace, so an attribute could hide from
 * this split), a malformed pin-source, or no pkcs11: scheme. */
int p11_uri_split_pin(const char *uri, char **ret_uri, char **ret_pin_source, int *ret_had_pin_value);

/* Is `uri` (pin attributes may be present) a PKCS#11 URI whose every
 * attribute p11-kit understands?  A misspelt attribute ("typ=private")
 * makes p11-kit match no object at all.  Returns 0, or -EINVAL with a
 * message naming the attribute (never the URI, which may hold a PIN:
 * the caller says where it was written), -ENOMEM.  No module needs to be
 * loaded. */
int p11_uri_check(const char *uri, char *err, size_t errlen);

/* Import a private key from the token, logging in if needed.  Each call
 * returns an independent key object with its own token session, so that
 * several threads, each holding one, can sign concurrently.  The caller
 * owns *ret_key (gnutls_privkey_deinit). */
int p11_key_import(const char *key_uri, gnutls_privkey_t *ret_key, char *err, size_t errlen);

/* Load a certificate chain from a PEM file, or the certificate object named
 * by a PKCS#11 URI (then the chain is that single certificate).  The caller
 * owns the array and each element (gnutls_pcert_deinit + free). */
int p11_chain_load(const char *src, gnutls_pcert_st **ret_chain, unsigned *ret_n, char *err,
		   size_t errlen);

struct p11_key_status {
	int present;      /* token present and key object found */
	int usable;       /* logged in and a test signature succeeded */
	int extractable;  /* CKA_EXTRACTABLE (should be 0) */
	int sensitive;    /* CKA_SENSITIVE (should be 1) */
	char token[33];   /* token label */
	char key_type[16]; /* "RSA", "EC", ... */
};

/* Check a key right now without keeping anything open: token present, PIN
 * accepted, private key found, attributes, and one test signature. */
int p11_key_probe(const char *key_uri, struct p11_key_status *ret, char *err, size_t errlen);

/* Symbolic name of a PKCS#11 return value ("CKR_PIN_INCORRECT"), or
 * "CKR_0x..." for unknown values (in a static buffer per thread). */
const char *p11_ckr_name(unsigned long rv);

#endif
