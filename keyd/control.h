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
 * session query): the connection is done; CONTROL_KEPT when the handler
 * kept a copy of the connection to answer on later (a session control,
 * an upgrade): the caller's copy is then closed under the timer
 * (passclose_linger(fd, PASSCLOSE_AS_IS): it is the last if the handler was
 * quicker), never shut down or drained (that would end the socket under
 * the copy). */
#define CONTROL_KEPT 2
int control_admit(struct keyd *k, int ctlfd, const struct caller *who, struct keyd_request *ret_req,
		  int *ret_netfd);

/* Read one request from ctlfd into m (and the descriptor it carries, or
 * -1).  Returns 0; -EAGAIN if nothing complete arrived yet; another
 * negative errno when the request was unreadable, after logging and
 * answering the caller (not when it reset the connection). */
int control_recv(int ctlfd, const struct caller *who, struct tk_msg *m, int *ret_fd);

/* Turn a client away: audit record ("refused", cred or, if NULL, the
 * socket's SO_PEERCRED), a failure result with err and why, and a close
 * that lets the client read that result (no reset from unread input;
 * descriptors it passed are shut down and closed).  Consumes ctlfd. */
void control_refuse(int ctlfd, const struct ucred *cred, const char *unit, int err, const char *why);

/* What descriptor a request type carries, and who may send it. */
enum control_fd_rule { CONTROL_FD_NONE, CONTROL_FD_OPTIONAL, CONTROL_FD_REQUIRED };
enum control_who {
	CONTROL_ANYONE,
	CONTROL_ADMIN,    /* root or the daemon's own uid */
	CONTROL_OPERATOR, /* those, or a member of admin-group (control_in_admin_group) */
};

/* One received request being dispatched.  fd: the passed descriptor or
 * -1, owned by the call (handlers close it or hand it on and set -1). */
struct control_call {
	struct keyd *k;
	int ctlfd;
	const struct caller *who;
	const struct tk_msg *m;
	int fd;
	struct keyd_request *ret_req; /* START: the admitted request */
	int *ret_netfd;
};

/* One row of the dispatch table: the type, its rules, and its handlers.
 * check (optional) judges the message before the descriptor rule;
 * refuse answers the caller in the type's own reply format with a
 * positive errno and a reason, audits, and disposes of x->fd. */
struct control_entry {
	unsigned type;
	const char *name;
	enum control_fd_rule fd_rule;
	enum control_who who;
	int (*check)(struct control_call *x, char *why, size_t len);
	int (*handle)(struct control_call *x);
	int (*refuse)(struct control_call *x, int err, const char *why);
};

/* The table row for a message type, NULL if the daemon accepts no such
 * request. */
const struct control_entry *control_entry_find(unsigned type);

/* 1 if the caller with cred may send requests of row e, else 0.  For
 * CONTROL_OPERATOR this is the uid part only; see control_in_admin_group. */
int control_may_send(const struct control_entry *e, const struct ucred *cred);

/* 1 if the caller belongs to the configured admin-group (its gid or one
 * of its supplementary groups, read in full), else 0. */
int control_in_admin_group(const struct caller *who, const struct keyd_conf *conf);

/* Dispatch one decoded request by the table: unknown types get EBADMSG,
 * then who may send it, e->check, the descriptor rule (a descriptor on a
 * type that takes none is closed unread; a missing required one is
 * EBADF), then the handler.  Returns what control_admit() documents. */
int control_dispatch(struct control_call *x);

/* The rows of the other requests (control_info.c).  STATUS: render the
 * counters in the requested format and answer with a sealed memfd; CHECK:
 * the identity lookup and ACL decision of START for the caller itself,
 * nothing touched or audited; KEYS: one KEY_INFO per identity in force,
 * then a RESULT; UPGRADE: upgrade.c answers once the new process took
 * over or failed.  control_refuse_audited answers a refusal of STATUS,
 * KEYS or UPGRADE, audited (event refused) and counted;
 * control_refuse_plain, of CHECK, with just the RESULT (no audit: nothing
 * was asked of a key).  All return 1. */
int control_handle_status(struct control_call *x);
int control_refuse_audited(struct control_call *x, int err, const char *why);
int control_handle_check(struct control_call *x);
int control_handle_keys(struct control_call *x);
int control_handle_upgrade(struct control_call *x);
int control_refuse_plain(struct control_call *x, int err, const char *why);

#endif
