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

/* One audit record for c: event, err (positive errno or 0), detail. */
void outcome_audit(const struct conn *c, const char *event, int err, const char *detail);

/* A new registry record describing c's session (NULL: out of memory);
 * owned by the caller until registry_add(). */
struct session_info *outcome_describe(struct conn *c);

#endif
