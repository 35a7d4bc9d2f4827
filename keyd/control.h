/* Admission of requests on the daemon's UNIX socket. */
#ifndef TLSKEY_KEYD_CONTROL_H
#define TLSKEY_KEYD_CONTROL_H

#include "keyd/conn.h"
#include "keyd/caller.h"

/* Read one START request from ctlfd and decide on it: wire format, the
 * passed descriptor, the ACL (before any key is touched), the identity.
 * On success fills *ret_req (holding an ACL reference) and *ret_netfd.
 * On failure the caller has been sent an error result and a negative
 * errno is returned; -EAGAIN means nothing complete arrived yet.  Returns
 * 1 when the message was another request that has been answered (a
 * session query): the connection is done. */
int control_admit(struct keyd *k, int ctlfd, const struct caller *who, struct keyd_request *ret_req,
		  int *ret_netfd);

/* Turn a client away: audit record ("refused", cred or, if NULL, the
 * socket's SO_PEERCRED), a failure result with err and why, and a close
 * that lets the client read that result (no reset from unread input;
 * descriptors it passed are shut down and closed).  Consumes ctlfd. */
void control_refuse(int ctlfd, const struct ucred *cred, const char *unit, int err, const char *why);

/* Send a failure result with errno `err` and a message (best effort). */
void control_reply_error(int ctlfd, int err, const char *message);

#endif
