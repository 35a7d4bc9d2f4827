/* Re-evaluation of established sessions (keyd/reeval.c). */
#ifndef TLSKEY_KEYD_REEVAL_H
#define TLSKEY_KEYD_REEVAL_H

#include <stddef.h>

#include "keyd/keyd.h"

struct conn;
struct worker;

/* Ask every worker to check its established sessions against the
 * generation and ACL in force now (k->gen, the ACL store): the peer's
 * chain (trust.c: new anchors, CRLs), the caller's ACL decision (its
 * subject as recorded at admission) and the peer authorization (authz.c).
 * A session that fails is ended (reevaluate = end), or only audited
 * (log); with reevaluate = off nothing happens.  why ("reload", "crl",
 * "ocsp") goes into the audit records.  Accept thread only (it reads
 * k->gen); another thread that learns of a revocation (an OCSP fetch)
 * must hand it to the accept thread first.  Never fails: a worker that
 * cannot be asked is logged. */
void reeval_request(struct keyd *k, const char *why);

/* Worker w's part: if a re-evaluation is pending, check each of its
 * established sessions once.  Worker thread of w only, between event
 * batches. */
void reeval_worker_run(struct worker *w);

/* A handshake that began under an older generation or ACL than the
 * last re-evaluation of its worker checked (it was not established
 * then, so that run skipped it): judge it as that run would have, before
 * anything is delivered.  0 to go on; a negative errno with why filled
 * when reevaluate = end refuses it (audited as reevaluate, either way).
 * Worker thread of c only. */
int reeval_late_check(struct conn *c, char *why, size_t len);

/* Drop a pending request of w and the last one run (worker_stop). */
void reeval_worker_clear(struct worker *w);

#endif
