/* The daemon's counters (keyd/stats.c), read by STATUS (keyd/status.c).
 * Lock-free: every counter is an atomic that one event bumps with a
 * relaxed add; signature latency is a fixed-bucket histogram per worker
 * and identity (one writer each, merged on request).  Nothing here blocks
 * or allocates after stats_new(). */
#ifndef TLSKEY_KEYD_STATS_H
#define TLSKEY_KEYD_STATS_H

#include <stdatomic.h>
#include <stddef.h>

#include "common/wire.h"
#include "keyd/conf.h"

/* Upper bounds of the latency buckets, microseconds; the last bucket
 * (+Inf) is implied.  STATS_LAT_N bounds, STATS_LAT_N + 1 buckets. */
#define STATS_LAT_N 14
extern const unsigned long stats_lat_bounds_us[STATS_LAT_N];

/* Causes are errno values; larger ones share the last slot. */
#define STATS_ERRNO_MAX 140

/* What happened to a request (outcome label of the metrics). */
enum stats_outcome {
	STATS_ESTABLISHED = 0,
	STATS_CLEARTEXT,
	STATS_FAILED,              /* handshake-failed */
	STATS_CLOSED_BEFORE_HELLO, /* the peer closed before its ClientHello */
	STATS_REFUSED,             /* turned away before the handshake */
	STATS_ACL_DENIED,
	STATS_OUTCOME_N
};

/* How an established session ended (end= of the session-end record). */
enum stats_end {
	STATS_END_CLOSE_NOTIFY = 0, /* the peer's close_notify came first */
	STATS_END_APP_CLOSE,        /* the application closed first */
	STATS_END_TRUNCATED,        /* the peer closed TCP without close_notify */
	STATS_END_RESET,            /* the connection was reset (or another receive error) */
	STATS_END_TIMEOUT,          /* close-timeout after the application closed */
	STATS_END_ERROR,            /* a TLS error */
	STATS_END_SHUTDOWN,         /* the daemon stopped */
	STATS_END_REVOKED,          /* re-evaluation: the peer or caller no longer allowed (reeval.c) */
	STATS_END_N
};

/* The name of an outcome or end ("established", "close_notify"). */
const char *stats_outcome_name(enum stats_outcome o);
const char *stats_end_name(enum stats_end e);

/* Last known state of an identity's key (whoever opened it last). */
enum stats_key_state { STATS_KEY_UNKNOWN = 0, STATS_KEY_READY, STATS_KEY_FAILED };

struct stats_sign {
	atomic_ullong n, failed, sum_us;
	atomic_ullong bucket[STATS_LAT_N + 1];
};

struct stats {
	unsigned long long start_ms; /* tk_now_ms() at stats_new() */
	long long start_wall;        /* time(NULL) then */
	unsigned n_workers;
	size_t n_ids;                /* identity slots (see stats_assign) */
	size_t n_named;              /* slots given a name so far */
	char (*names)[TK_NAME_MAX + 1]; /* [slot]: the identity counted there */
	struct stats_sign *sign;     /* [worker * n_ids + id] */
	atomic_int *key_state;       /* [id]: enum stats_key_state */
	atomic_int *key_err;         /* [id]: positive errno of the last failure */
	atomic_ullong *denied_id;    /* [id]: ACL denials naming the identity */
	atomic_ullong outcome[STATS_OUTCOME_N][STATS_ERRNO_MAX];
	atomic_ullong ended[STATS_END_N];
	atomic_ullong bytes_in, bytes_out; /* of ended sessions */
	atomic_ullong resumed;             /* established handshakes that resumed a session */
	atomic_ullong queued, waiting;     /* the accept loop's queue, refreshed each second */
	atomic_ullong pairs_ready;         /* protected pairs made ahead, all workers (appsock.h) */
	atomic_ullong ctl_reused;          /* starts that came on a kept control connection (ctlconn.c) */
	atomic_ullong fd_pauses;           /* times admission paused at the descriptor limit (admission.c) */
};

/* Identity slots beyond those configured at start, for identities that
 * reloads add.  Past them a new identity is served but not counted. */
#define STATS_SPARE_SLOTS 64

/* Counters for n_workers workers and the n_ids identities configured at
 * start (plus STATS_SPARE_SLOTS).  Returns 0 and *ret, or -ENOMEM. */
int stats_new(unsigned n_workers, size_t n_ids, struct stats **ret);
void stats_free(struct stats *s);

/* Give each identity of conf its counter slot (id->stats_slot): the slot
 * of the same name if it had one, so that counters survive reloads, else
 * a new one; (size_t)-1 (not counted) when none is left.  The accept
 * thread, before conf is published. */
void stats_assign(struct stats *s, struct keyd_conf *conf);

/* One signature by worker w with identity id: us it took, ok or not.
 * Only worker w calls it for its slot.  NULL s is a no-op. */
void stats_sign_record(struct stats *s, unsigned w, size_t id, long long us, int ok);

/* The key of identity id was opened (err 0) or could not be (err > 0). */
void stats_key_event(struct stats *s, size_t id, int err);

/* One request outcome; err is the positive errno (0: success). id is
 * the identity index or (size_t)-1 if none. */
void stats_outcome(struct stats *s, enum stats_outcome o, int err, size_t id);

/* An established session ended: how, and its bytes each way. */
/* One more established handshake resumed a session (tickets.c).  NULL ok. */
void stats_resumed(struct stats *s);

void stats_session_end(struct stats *s, enum stats_end e, unsigned long long in,
		       unsigned long long out);

struct stats_sign_total {
	unsigned long long n, failed, sum_us;
	unsigned long long bucket[STATS_LAT_N + 1];
};

/* Merge every worker's histogram of identity id into *ret. */
void stats_sign_merge(const struct stats *s, size_t id, struct stats_sign_total *ret);

/* The q-quantile (0 < q < 1) of a merged histogram, as the upper bound
 * of the bucket it falls in, microseconds; -1 if empty, and the last
 * bound for +Inf. */
long stats_quantile_us(const struct stats_sign_total *t, double q);

#endif
