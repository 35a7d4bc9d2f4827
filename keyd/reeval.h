/* Re-evaluation of established sessions (keyd/reeval.c). */
#ifndef TLSKEY_KEYD_REEVAL_H
#define TLSKEY_KEYD_REEVAL_H

#include "keyd/keyd.h"

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

/* Drop a pending request of w (worker_stop). */
void reeval_worker_clear(struct worker *w);

#endif
