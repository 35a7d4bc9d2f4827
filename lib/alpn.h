/* ALPN options of tlskey_starttls() on the library side (lib/alpn.c). */
#ifndef TLSKEY_LIB_ALPN_H
#define TLSKEY_LIB_ALPN_H

#include <stddef.h>

#include "common/wire.h"
#include "tlskey/starttls.h"

/* Check the ALPN fields of o for a start over proto and add the
 * ALPN items to start.  Returns 0, or -EINVAL with the reason in why. */
int lib_alpn_request(const struct tlskey_options *o, int proto, struct tk_msg *start, char *why,
		     size_t whylen);

/* Copy the negotiated ALPN id of a successful RESULT m ("" when it has
 * none) into buf (buf NULL: nothing to do).  Returns 0, or -ERANGE with the
 * reason in why when it does not fit in len bytes. */
int lib_alpn_result(const struct tk_msg *m, char *buf, size_t len, char *why, size_t whylen);

#endif
