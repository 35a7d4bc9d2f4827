/* Online OCSP for one connection (keyd/ocsp_online.c): after the peer's
 * chain validated and no valid staple came, ask the responder its
 * certificate names (AIA), through the fetch thread (ocsp_fetch.c), before
 * the protected descriptor is delivered.  No I/O here. */
#ifndef TLSKEY_KEYD_OCSP_ONLINE_H
#define TLSKEY_KEYD_OCSP_ONLINE_H

#include <stddef.h>

#include "keyd/conn.h"

struct ocsp_job;

/* Begin the check of c's peer (its handshake finished, detail is what
 * its "established" record will say).  Returns 0: deliver now, with a
 * note for the record in note (maybe ""); 1: c waits for the fetch
 * thread (detail kept in c, the network side quiet, the caller watched);
 * or a negative errno with the reason in note and c->reason set
 * ("revoked", "ocsp-unavailable"). */
int ocsp_online_start(struct conn *c, const char *detail, char *note, size_t len);

/* What j's answer means for c, which waited for it: 0 (deliver; note as
 * above) or a negative errno with the reason in note, c->reason set. */
int ocsp_online_answer(struct conn *c, const struct ocsp_job *j, char *note, size_t len);

/* c's handshake timer passed while it waited: as a failed fetch. */
int ocsp_online_late(struct conn *c, char *note, size_t len);

/* Does the cache now say c's peer is revoked?  For reeval.c: 1 or 0. */
int ocsp_online_revoked(const struct conn *c);

/* c is closing: free what it kept, release its cache entry.  Idempotent. */
void ocsp_online_release(struct conn *c);

#endif
