/* The TLS priorities the daemon offers (see prio.c). */
#ifndef KEYD_PRIO_H
#define KEYD_PRIO_H

#include <gnutls/gnutls.h>

/* What the daemon removes from every priority it builds, appended after
 * the administrator's string: RSA key exchange (the client encrypts the
 * premaster secret to the server key; see prio.c for why). */
#define KEYD_PRIO_REMOVE ":-RSA:-RSA-PSK"

/* Build the daemon's priority cache from the administrator's string
 * (NULL: "NORMAL") with KEYD_PRIO_REMOVE appended.  A string that names
 * RSA key exchange explicitly (+RSA, RSA, +RSA-PSK) is accepted, and a
 * warning says that the daemon does not offer it.  Returns 0 and writes
 * *ret_prio, or -EINVAL (logged, with GnuTLS's reason) or -ENOMEM. */
int keyd_prio_init(const char *admin, gnutls_priority_t *ret_prio);

/* Whether the ':'-separated priority string names RSA key exchange as an
 * item of its own (case-insensitive "+RSA", "RSA", "+RSA-PSK", "RSA-PSK").
 * Pure; exported for the unit tests. */
int keyd_prio_asks_rsa_kx(const char *s);

#endif
