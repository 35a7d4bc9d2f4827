/* Is the listener at the other end of a connection to the daemon's socket
 * tlskeyd's?  (common/daemonpeer.c says why it matters.) */
#ifndef TLSKEY_COMMON_DAEMONPEER_H
#define TLSKEY_COMMON_DAEMONPEER_H

#include <stddef.h>

/* The account the shipped units run tlskeyd as (systemd/tlskeyd.sysusers). */
#define TK_DAEMON_USER "tlskeyd"

/* fd: a connected socket to the daemon's path.  0 if its listener's uid
 * (SO_PEERCRED) is 0, TK_DAEMON_USER's, geteuid() or that of the user
 * TLSKEYD_SOCKET_USER names (a name or a number; secure_getenv); else
 * -EPERM (or the getsockopt error) with why (of len bytes) saying so. */
int tk_daemon_peer_check(int fd, const char *path, char *why, size_t len);

#endif
