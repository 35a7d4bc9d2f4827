/* Outcome of a request (keyd/outcome.c). */
#ifndef TLSKEY_KEYD_OUTCOME_H
#define TLSKEY_KEYD_OUTCOME_H

#include "keyd/conn.h"

/* "server" or "client": c's role, for logs and audit records. */
const char *outcome_role_name(const struct conn *c);

/* Send c's caller a result: err (0 = success, then with state, info
 * flags, peer and mapped user) and message; passfd (>= 0) goes with it,
 * still owned by the caller of this function.  Best effort: a failure is
 * logged.  No-op once the control socket is closed. */
void outcome_send_result(struct conn *c, int err, const char *message, int passfd);

/* One audit record for c: event, err (positive errno or 0), detail; and
 * the matching counter (established, cleartext, handshake-failed,
 * closed-before-hello).  prio 0: keyd_audit's default. */
void outcome_audit(const struct conn *c, const char *event, int err, const char *detail);
void outcome_audit_prio(const struct conn *c, const char *event, int err, int prio,
			const char *detail);

/* The session-end record of an established session (end=, bytes each
 * way, duration) and its counters; why is conn_close()'s. */
void outcome_session_end(const struct conn *c, const char *why);

/* The peer address of socket fd as "192.0.2.1:443" or "[2001:db8::1]:443"
 * into buf ("" if it has none).  Returns buf. */
char *outcome_remote(int fd, char *buf, size_t len);
/* The same for an address already known (start_check_fd() gives it). */
char *outcome_remote_of(const struct sockaddr_storage *ss, char *buf, size_t len);

/* A new registry record describing c's session (NULL: out of memory);
 * owned by the caller until registry_add(). */
struct session_info *outcome_describe(struct conn *c);

/* One "reevaluate" audit record about established session c (reeval.c):
 * err 0 (still allowed) or the errno it would end with, reason the word
 * ("revoked", "acl", ...), detail the sentence.  Not counted in STATUS. */
void outcome_audit_reeval(const struct conn *c, int err, const char *reason, const char *detail);

#endif
