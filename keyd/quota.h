/* Fairness between callers: per-uid and per-identity shares of the
 * daemon's global limits (max-pending, max-handshakes), so that one local
 * user, or one remote peer hammering one public service, cannot take every
 * slot.  Pure bookkeeping and decisions, no I/O; the caller logs, answers
 * and audits.  Thread-safe: handshakes end on worker threads. */
#ifndef TLSKEY_KEYD_QUOTA_H
#define TLSKEY_KEYD_QUOTA_H

#include <stddef.h>
#include <sys/types.h>

struct quota_limits {
	unsigned pending_per_uid;    /* waiting clients + queued requests of one uid */
	unsigned handshakes_per_uid; /* handshakes in flight of one uid */
	unsigned handshakes_per_id;  /* handshakes in flight with one local identity */
	size_t n_ids;                /* identities, indexed 0..n_ids-1 */
};

struct quota;

/* A new, empty account.  Returns 0 and *ret_q, or -ENOMEM / -EINVAL (a
 * zero limit). */
int quota_new(const struct quota_limits *lim, struct quota **ret_q);
/* Accepts NULL.  Outstanding counts are forgotten. */
void quota_free(struct quota *q);

/* A reload changed max-pending-per-uid: counts stay, the new limit
 * applies to the next quota_pending_take(). */
void quota_set_pending_per_uid(struct quota *q, unsigned n);

/* A client of uid starts waiting (accepted, or admitted and queued).
 * Returns 0 (counted: give it back with quota_pending_put) or -EAGAIN,
 * with the reason in why, when uid already has pending_per_uid; -ENOMEM. */
int quota_pending_take(struct quota *q, uid_t uid, char *why, size_t len);
void quota_pending_put(struct quota *q, uid_t uid);

/* May a handshake of uid with identity id start now?  If so the slot is
 * taken and 0 returned (give it back with quota_handshake_put);
 * -EAGAIN if uid or id has its share in flight (the request keeps
 * waiting), -ENOMEM, -EINVAL for an id out of range. */
int quota_handshake_take(struct quota *q, uid_t uid, size_t id);
void quota_handshake_put(struct quota *q, uid_t uid, size_t id);

/* Counts, for status lines and tests. */
unsigned quota_uid_pending(struct quota *q, uid_t uid);
unsigned quota_uid_handshakes(struct quota *q, uid_t uid);
unsigned quota_id_handshakes(struct quota *q, size_t id);

#endif
