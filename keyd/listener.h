/* The accept thread's state (keyd/main.c) and its listening socket
 * (keyd/listener.c): bound at the configured path or passed by systemd,
 * removed at exit only if the path still names the socket we bound. */
#ifndef TLSKEY_KEYD_LISTENER_H
#define TLSKEY_KEYD_LISTENER_H

#include <sys/types.h>

#include "keyd/admission.h"
#include "keyd/keyd.h"
#include "keyd/upgrade.h"

enum { TAG_LISTEN = 1, TAG_SIGNAL, TAG_DONE, TAG_UPGRADE, TAG_WATCH };

struct loop {
	struct keyd *k;
	int epfd, listen_fd, sig_fd;
	int own_socket; /* we bound it, so we unlink it (if still ours) */
	dev_t sock_dev; /* the inode we bound, see close_listener() */
	ino_t sock_ino;
	const char *socket_path;
	struct admission adm;
	int stop;
	int activated; /* socket passed by systemd */
	unsigned long long watchdog_ms, next_watchdog_ms, next_tick_ms, idle_since_ms;
	struct upgrade up;
	int up_watched;                   /* up.sock is in the epoll set */
	int up_own;                       /* upgraded: the old process bound the socket */
	unsigned long long drain_until_ms; /* handed over: draining until then, 0 not */
	struct watch *watch;              /* the CRL files (watch.c), NULL if inotify failed */
};

/* Take the socket systemd passed (exactly one listening SOCK_SEQPACKET
 * UNIX socket), or bind path (creating its directory, replacing a stale
 * socket but never a live daemon's).  Sets l->listen_fd, l->activated or
 * l->own_socket.  Returns 0 or a negative errno (logged). */
int listener_open(struct loop *l, const char *path);

/* At exit: remove our socket, but only if the path still names the one we
 * bound (a second daemon may have replaced a socket it found stale).  The
 * listener itself is closed by the process's exit (listener.c). */
void listener_close(struct loop *l);

/* An upgraded process, once the old one handed over: the old process's
 * socket path is ours to remove at exit (if it is still a socket). */
void listener_took_over(struct loop *l);

#endif
