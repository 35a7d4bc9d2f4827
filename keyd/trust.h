/* Trust (keyd/trust.c). */
#ifndef TLSKEY_KEYD_TRUST_H
#define TLSKEY_KEYD_TRUST_H

#include "keyd/worker.h"

/* Set up w->cred: trust anchors (ca-file, ca-dir or the system store),
 * the key callback (keys.c) and peer validation with pins and the
 * validation cache (result in the conn: peer, cache_hit, pinned,
 * verify_status).  Returns 0 or a negative errno (logged). */
int trust_creds_init(struct worker *w);

#endif
