/* Caller identification (accept thread or worker: no shared state but a
 * thread-safe cache). */
#ifndef TLSKEY_KEYD_CALLER_H
#define TLSKEY_KEYD_CALLER_H

#include <sys/socket.h>
#include <sys/types.h>

#include "policy/acl.h"

/* What we know about the process at the other end of a control socket. */
struct caller {
	struct ucred cred;
	gid_t *groups;       /* all supplementary groups; owned (caller_done) */
	size_t n_groups;
	int groups_complete; /* 0: the list could not be read in full; refuse */
	int verified;        /* 1: unit and exe were read from the very process
			      * that connected (pidfd); 0: PID reuse cannot be
			      * excluded, so they must not vouch for it */
	char unit[256];      /* "" if unknown */
	char exe[512];       /* "" if unknown or unreadable */
};

#define KEYD_SUBJECT_GROUPS 64

/* The ACL subject of an admitted caller, kept with its session so that
 * a reload can ask the ACL again (reeval.c) after the caller's process
 * and its /proc entries are long gone. */
struct keyd_subject {
	uid_t uid;
	gid_t gid;
	gid_t groups[KEYD_SUBJECT_GROUPS];
	unsigned n_groups;
	int partial;     /* more groups than fit: the ACL cannot be asked again */
	int has_unit, has_exe;
	char exe[512];   /* unit: in the request (keyd_request.unit) */
};

/* Record the ACL subject of who into *ret. */
void caller_subject_save(const struct caller *who, struct keyd_subject *ret);

/* The ACL's subject from a record (unit: the request's); points into s. */
struct acl_subject caller_subject_view(const struct keyd_subject *s, const char *unit);

/* Fill in the caller's credentials and attributes from its socket.
 * Returns 0 and fills *ret (which then owns memory: caller_done()),
 * -ESRCH if the process went away while it was read, another negative
 * errno if the socket gives no credentials or its pidfd can be told
 * neither alive nor gone (pidfd_send_signal's errno); *ret untouched on
 * failure.
 * With ret_pidfd, the pidfd of the process that connected is kept there
 * (-1 where the kernel has none) for caller_still_there(). */
int caller_identify(int ctlfd, struct caller *ret, int *ret_pidfd);

/* Is the process behind pidfd (caller_identify's) still running?  1 yes,
 * 0 no, -1 cannot be told (no pidfd). */
int caller_still_there(int pidfd);

/* Free what a caller owns; idempotent, NULL ok. */
void caller_done(struct caller *c);

/* The ACL's subject for a caller: unit and exe only vouch for the caller
 * when read from the very process that connected; otherwise they are
 * "unknown", which no allow rule accepts and every deny rule naming them
 * does.  Points into c. */
struct acl_subject caller_acl_subject(const struct caller *c);

/* Find out once, at start-up, whether this kernel lets the daemon tie a
 * caller's /proc attributes to the process that connected (SO_PEERPIDFD
 * and pidfd_send_signal).  If not, logs a warning that caller
 * identification is racy and that unit:/exe: subjects no longer admit
 * anyone.  Returns 1 if usable, 0 if not. */
int caller_identify_init(void);

/* 1 if the caller's gid or one of its supplementary groups is gid and
 * the list was read in full, else 0.  Pure. */
int caller_in_group(const struct caller *c, gid_t gid);

/* The real gid of process pid from /proc/PID/status, or (gid_t)-1 if it
 * cannot be read.  For callers the daemon cannot get from a socket (the
 * sender of a signal); no PID-reuse protection. */
gid_t caller_proc_gid(pid_t pid);

#endif
