/* libtlskey internals shared by its files (lib/client.c). */
#ifndef TLSKEY_LIB_CLIENT_H
#define TLSKEY_LIB_CLIENT_H

#include <sys/types.h>

/* Set the calling thread's tlskey_last_error() text. */
void lib_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Clear it (every public call starts so). */
void lib_error_clear(void);

/* The bound on one wait for the daemon, in ms (0: none), for a request
 * whose handshake timer is hs_ms (0: the daemon's default); TLSKEYD_TIMEOUT
 * overrides. */
unsigned lib_wait_budget_ms(unsigned hs_ms);

/* Milliseconds left until deadline for poll(): -1 none, 0 passed. */
int lib_wait_left(unsigned long long deadline);

/* The deadline (CLOCK_MONOTONIC ms) budget ms from now, 0 for none. */
unsigned long long lib_wait_deadline(unsigned budget);

/* Wait until sock is readable or the deadline passes.  0, -ETIMEDOUT
 * (the error text says so) or another negative errno. */
int lib_wait_readable(int sock, unsigned long long deadline, unsigned budget);

/* The daemon's socket: TLSKEYD_SOCKET or the default. */
const char *lib_daemon_path(void);

/* Who this process is, as the daemon saw it when a control connection
 * was made (lib/ctlpool.c). */
#define LIB_POOL_GROUPS 64
struct lib_self {
	unsigned forks; /* fork()s this process is a child of */
	uid_t euid;
	gid_t egid;
	int n_groups; /* -1: more than LIB_POOL_GROUPS (then nothing is kept) */
	gid_t groups[LIB_POOL_GROUPS];
	char path[108];
};

/* A control connection to the daemon at path that it kept after an
 * earlier start of this process with its current credentials, or -1;
 * *self is filled in either way, for give: keep fd for the next start of
 * the same identity (or close it). */
int lib_ctlpool_take(const char *path, struct lib_self *self);
/* After a new connection was made: if the process's credentials changed
 * since lib_ctlpool_take() looked (another thread's seteuid()), the daemon
 * knows the connection under the new ones: mark self so that
 * lib_ctlpool_give() does not keep it for the old. */
void lib_ctlpool_recheck(struct lib_self *self);
void lib_ctlpool_give(int fd, const struct lib_self *self);

/* Send m (with fd, or -1) on sock, speaking for self's pid, effective
 * uid and gid (SCM_CREDENTIALS; self NULL: the process's now).  The
 * daemon takes a request only with the uid and gid its connection was
 * made with: a process that dropped privileges cannot go on using a
 * connection it made before (one it did not know was kept, say).
 * Returns tk_msg_send_cred()'s result. */
struct tk_msg;
int lib_send(int sock, const struct tk_msg *m, int fd, const struct lib_self *self);

/* Connect to the daemon's socket (TLSKEYD_SOCKET), with sends bounded by
 * budget ms.  0 and the socket in *ret_sock, or a negative errno. */
int lib_daemon_connect(int *ret_sock, unsigned budget);

#endif
