/* Trust (keyd/trust.c). */
#ifndef TLSKEY_KEYD_TRUST_H
#define TLSKEY_KEYD_TRUST_H

#include "keyd/worker.h"

/* Set up w->cred: trust anchors (ca-file, ca-dir or the system store),
 * the key callback (keys.c) and peer validation with pins and the
 * validation cache (result in the conn: peer, cache_hit, pinned,
 * verify_status).  Returns 0 or a negative errno (logged). */
int trust_creds_init(struct worker *w);

/* Load the configured trust anchors into cred: ca-file (a regular file),
 * ca-dir, or the system store when neither is set or ca-file is
 * "system".  Files and directories must pass tk_file_trusted().  Each
 * configured source must yield at least one certificate.  Returns the
 * number loaded, or a negative errno with one line in err (the source and
 * why).  Used by every worker and by the start-up check (keyd/check.c). */
int trust_anchors_load(const struct keyd_conf *conf, gnutls_certificate_credentials_t cred, char *err,
		       size_t errlen);

#endif
