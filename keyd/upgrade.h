/* Upgrading or restarting without dropping sessions (keyd/upgrade.c).
 *
 * The old process starts the new binary with the listening socket (as
 * systemd would pass it: fd 3, LISTEN_FDS=1) and a socket pair on fd 4.
 * The new one sets up everything, says "R" on fd 4 and waits for "G";
 * the old one hands systemd the main PID (MAINPID=), says "G", stops
 * accepting and drains: it keeps relaying its established sessions until
 * they end or upgrade-drain passes, then ends the rest as shutdown does
 * (reset, audit record) and exits.  If the new one exits or stays silent
 * (60 s), the old one kills it and keeps serving. */
#ifndef TLSKEY_KEYD_UPGRADE_H
#define TLSKEY_KEYD_UPGRADE_H

#include <sys/socket.h>
#include <sys/types.h>

#include "keyd/keyd.h"

enum upgrade_state { UPGRADE_IDLE = 0, UPGRADE_STARTING, UPGRADE_HANDED_OVER };

struct upgrade {
	char exe[4096];  /* the binary to start: the path this one was started from */
	char **argv;     /* this process's argv (main's) */
	int listen_fd;   /* the listener to pass */
	int activated;   /* passed by systemd: the new one is too */
	int own_socket;  /* we bound it: the new one owns (and removes) it */
	enum upgrade_state state;
	pid_t child;
	int sock;        /* our end of the pair while STARTING, else -1 */
	int replyfd;     /* the RELOAD-style caller waiting for the outcome, or -1 */
	struct ucred who; /* who asked, for the audit record */
	unsigned long long deadline_ms;
};

/* Remember how this process was started (argv[0] resolved now: a package
 * upgrade replaces the file at that path).  Returns 0 or -errno. */
int upgrade_init(struct upgrade *u, char **argv);

/* Start the new binary (tlskeyctl upgrade: replyfd is a duplicate of the
 * caller's control socket, owned by u from now on, -1 for SIGUSR2).  The
 * outcome goes to replyfd and the log.  Returns the descriptor the accept
 * loop must watch (EPOLLIN) or a negative errno (already reported). */
int upgrade_begin(struct upgrade *u, int replyfd, const struct ucred *who);

/* The watched descriptor is readable: returns UPGRADE_HANDED_OVER when
 * the new process took over (the caller stops accepting and drains),
 * UPGRADE_IDLE when it failed (reported; the old process serves on),
 * UPGRADE_STARTING to keep waiting. */
enum upgrade_state upgrade_event(struct upgrade *u);

/* Once a second: a new process that did not say ready in time is killed
 * (reported as a failure). */
void upgrade_tick(struct upgrade *u, unsigned long long now_ms);

/* New process side, first thing in main() (single-threaded): adopt the
 * environment of an upgrade (LISTEN_PID, WATCHDOG_PID are ours).  Returns
 * 1 if this is an upgrade, 0 if not. */
int upgrade_child_env(void);

/* New process side: what the old one said about the listener. */
void upgrade_child_listener(int *activated, int *own_socket);

/* New process side, once ready to serve: "R", then wait (10 s) for the
 * old process's "G".  Returns 0, or -errno (then exit: the old one serves
 * on).  No-op (0) if this is not an upgrade. */
int upgrade_child_ready(void);

#endif
