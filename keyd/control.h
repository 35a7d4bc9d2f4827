/* Admission of requests on the daemon's UNIX socket. */
#ifndef TLSKEY_KEYD_CONTROL_H
#define TLSKEY_KEYD_CONTROL_H

#include "keyd/keyd.h"

/* What we know about the process at the other end of a control socket. */
struct caller {
	struct ucred cred;
	gid_t *groups;       /* all supplementary groups; owned (control_caller_done) */
	size_t n_groups;
	int groups_complete; /* 0: the list could not be read in full; refuse */
	int verified;        /* 1: unit and exe were read from the very process
			      * that connected (pidfd); 0: PID reuse cannot be
			      * excluded, so they must not vouch for it */
	char unit[256];      /* "" if unknown */
	char exe[512];       /* "" if unknown or unreadable */
};

/* Fill in the caller's credentials and attributes from its socket.
 * Returns 0 and fills *ret (which then owns memory: control_caller_done()),
 * -ESRCH if the process went away while it was read, another negative
 * errno if the socket gives no credentials; *ret untouched on failure. */
int control_caller_identify(int ctlfd, struct caller *ret);

/* Free what a caller owns; idempotent, NULL ok. */
void control_caller_done(struct caller *c);

/* Find out once, at start-up, whether this kernel lets the daemon tie a
 * caller's /proc attributes to the process that connected (SO_PEERPIDFD
 * and pidfd_send_signal).  If not, logs a warning that caller
 * identification is racy and that unit:/exe: subjects no longer admit
 * anyone.  Returns 1 if usable, 0 if not. */
int control_identify_init(void);

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
