/* Small helpers shared by the daemon, the library, the CLI and the tests. */
#ifndef TLSKEY_COMMON_UTIL_H
#define TLSKEY_COMMON_UTIL_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TK_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define TK_UNUSED __attribute__((unused))

/* Close an fd if it is valid, preserving errno; returns -1 for "fd = tk_close(fd)". */
static inline int tk_close(int fd)
{
	if (fd >= 0) {
		int saved = errno;
		(void)close(fd);
		errno = saved;
	}
	return -1;
}

static inline void tk_closep(int *fd)
{
	if (fd && *fd >= 0)
		*fd = tk_close(*fd);
}

static inline void tk_freep(void *p)
{
	free(*(void **)p);
}

#define _cleanup_close_ __attribute__((cleanup(tk_closep)))
#define _cleanup_free_ __attribute__((cleanup(tk_freep)))

/* Wipe memory in a way the compiler may not elide (secrets: PINs, keys). */
void tk_wipe(void *p, size_t len);

/* Free a NUL-terminated secret after wiping it.  Accepts NULL. */
void tk_secret_free(char *s);

/* Validate a local identity name ("example.com" or "user@example.com"):
 * 1..255 bytes, DNS-style labels, at most one '@' with a non-empty local part.
 * Returns 0 or -EINVAL. */
int tk_name_validate(const char *name, size_t len);

/* The one case rule for identities (doc/acl.md): domain names compare
 * ASCII case-insensitively, the local part of a user ("alice" in
 * "alice@example.test") byte for byte.  Every comparison of identities --
 * ACL patterns, the configured [identity] and [peer] names -- goes through
 * these two, so that no lookup can disagree with the ACL about who a name
 * is.  Lengths are explicit; no NUL is needed. */
int tk_domain_equal(const char *a, size_t alen, const char *b, size_t blen);

/* 1 if the identities a and b (alen/blen bytes, each a user or a domain)
 * name the same identity under that rule, else 0.  A user never equals a
 * domain. */
int tk_identity_equal(const char *a, size_t alen, const char *b, size_t blen);

/* Canonicalise a valid identity in place: lower-case its domain part
 * (ASCII), keep the local part as written.  Two names tk_identity_equal()
 * calls equal have the same canonical form. */
void tk_identity_canonical(char *name);

/* Replace in place every byte of s outside printable ASCII (0x20..0x7e)
 * with '?': for text a remote party wrote (a resolver's or a responder's
 * words) on its way to a log line or an error message. */
void tk_printable(char *s);

/* Write a printf-style message into err (errlen bytes, NUL-terminated);
 * nothing if err is NULL or errlen is 0.  The error-buffer convention of
 * the pkcs11/, policy/ and keyd/ parsers. */
void tk_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Parse a decimal number from min to max: digits only (no sign, space or
 * 0x), the whole string.  Returns 0 and *ret, or -EINVAL. */
int tk_parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *ret);

/* Monotonic clock in milliseconds. */
unsigned long long tk_now_ms(void);

#endif
