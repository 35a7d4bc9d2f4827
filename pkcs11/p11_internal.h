/* Internal glue between the files of pkcs11/: not included outside it.
 * Unlike p11.h this header may use p11-kit types. */
#ifndef TLSKEY_PKCS11_P11_INTERNAL_H
#define TLSKEY_PKCS11_P11_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>

#include <p11-kit/p11-kit.h>
#include <p11-kit/pkcs11.h>
#include <p11-kit/uri.h>

/* Longest PIN we read from a file, in bytes (without the newline). */
#define P11_PIN_MAX 256


/* Split a PKCS#11 URI into the URI without pin-value/pin-source attributes
 * (*ret_uri), the decoded pin-source path or NULL (*ret_pin_source), and
 * whether a pin-value was present (*ret_had_pin_value).  -EINVAL if `uri`
 * is not a pkcs11: URI or a pin attribute is malformed, -ENOMEM. */
int p11_uri_split_pin(const char *uri, char **ret_uri, char **ret_pin_source, int *ret_had_pin_value);

/* The common front half of every entry point that takes a key/cert URI:
 * strip pin attributes (refusing pin-value, registering pin-source), parse
 * the rest.  On success the caller owns *ret_uri (free) and *ret_parsed
 * (p11_kit_uri_free).  Errors are -EINVAL, -ENOMEM, or p11_pin_add's. */
int p11_uri_prepare(const char *uri, char **ret_uri, P11KitUri **ret_parsed, char *err, size_t errlen);

/* Copy the token label of a parsed URI (space padding removed) into
 * out[33]; "?" when the URI does not name one. */
void p11_uri_token_label(P11KitUri *uri, char out[33]);

/* Copy a space-padded PKCS#11 string field into a NUL-terminated buffer
 * of outlen bytes. */
void p11_padded_copy(const unsigned char *field, size_t fieldlen, char *out, size_t outlen);

/* Read the PIN registered for the token described by `ti` into pin[pin_max]
 * (NUL-terminated) and its length into *ret_len.  -ENOENT when no PIN is
 * registered for the token; -EKEYREJECTED when the token rejected this very
 * file before (p11_pin_mark_rejected); the file checks of p11_pin_add
 * otherwise.
 * On failure `pin` holds no secret. */
int p11_pin_read_for_token(const CK_TOKEN_INFO *ti, char *pin, size_t pin_max, size_t *ret_len, char *err,
			   size_t errlen);

/* The PIN this thread read last through p11_pin_read_for_token was
 * rejected (CKR_PIN_INCORRECT): refuse that file until it changes. */
void p11_pin_mark_rejected(void);

/* GnuTLS PIN callback (gnutls_pin_callback_t); records why it refused in
 * per-thread state read back by p11_pin_fail_*. */
int p11_pin_callback(void *userdata, int attempt, const char *token_url, const char *token_label,
		     unsigned int flags, char *pin, size_t pin_max);

/* Per-thread record of the last refusal by p11_pin_callback, so an import
 * failure can say *why* the PIN was missing or wrong.  reset before each
 * GnuTLS call; msg returns NULL if the callback refused nothing since. */
void p11_pin_fail_reset(void);
const char *p11_pin_fail_msg(void);

/* Forget all registered PINs (p11_done). */
void p11_pin_clear(void);

/* Module given to p11_init, or NULL (p11-kit registry); valid until p11_done. */
const char *p11_module_path(void);

/* Map a CK_RV to our negative errno (see p11.h). */
int p11_ckr_to_errno(CK_RV rv);

#endif
