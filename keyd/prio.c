/* The TLS priorities the daemon offers.
 *
 * RSA key exchange (TLS_RSA_*, and RSA-PSK) is never offered, whatever
 * the configuration says: the client would encrypt the premaster secret
 * to the token key, so the session has no forward secrecy, and the token
 * would have to decrypt for anyone who connects (a decryption oracle in
 * the Bleichenbacher family).  TLS 1.3 has no such key exchange, and
 * Mozilla's intermediate profile dropped it.  The key wrapper
 * (signer.c) only signs, so before this a client that picked TLS_RSA_*
 * got bad_record_mac after a failed decryption; now the suite is simply
 * not on the list, and a client that offers nothing else gets
 * handshake_failure from GnuTLS during the hello. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "keyd/log.h"
#include "keyd/prio.h"

int keyd_prio_asks_rsa_kx(const char *s)
{
	static const char *const items[] = { "+RSA", "RSA", "+RSA-PSK", "RSA-PSK" };

	while (s && *s) {
		size_t len = strcspn(s, ":");

		for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++) {
			if (len == strlen(items[i]) && !strncasecmp(s, items[i], len))
				return 1;
		}
		s += len;
		if (*s == ':')
			s++;
	}
	return 0;
}

int keyd_prio_init(const char *admin, gnutls_priority_t *ret_prio)
{
	const char *base = admin && *admin ? admin : "NORMAL";
	const char *err = NULL;
	gnutls_priority_t p;
	size_t blen = strlen(base);
	char *s;
	int r;

	/* A trailing ':' would make an empty item before ours. */
	while (blen > 0 && base[blen - 1] == ':')
		blen--;
	s = malloc(blen + sizeof(KEYD_PRIO_REMOVE));
	if (!s)
		return -ENOMEM;
	memcpy(s, base, blen);
	memcpy(s + blen, KEYD_PRIO_REMOVE, sizeof(KEYD_PRIO_REMOVE));
	if (keyd_prio_asks_rsa_kx(base))
		keyd_log(LOG_WARNING,
			 "priority '%s' asks for RSA key exchange: tlskeyd never offers it "
			 "(no forward secrecy, a decryption oracle on the token); using '%s'",
			 base, s);
	r = gnutls_priority_init2(&p, s, &err, 0);
	if (r < 0) {
		keyd_log(LOG_ERR, "priority '%s': %s%s%s", base, gnutls_strerror(r),
			 err ? " at: " : "", err ? err : "");
		free(s);
		return r == GNUTLS_E_MEMORY_ERROR ? -ENOMEM : -EINVAL;
	}
	free(s);
	*ret_prio = p;
	return 0;
}
