/* Admission (keyd/admission.c): from accept() to a worker. */
#ifndef TLSKEY_KEYD_ADMISSION_H
#define TLSKEY_KEYD_ADMISSION_H

#include "keyd/appsock.h"
#include "keyd/control.h"

/* A control connection that has not sent its request yet. */
struct client {
	struct client *prev, *next;
	int fd;
	int watched; /* registered with epoll: its request had not arrived */
	int counted; /* holds one of its uid's max-pending-per-uid slots */
	unsigned long long deadline_ms;
	struct caller who;
	int pidfd; /* of the process that connected (caller_identify), or -1 */
};

struct ctlconn;

/* An admitted request waiting for a handshake slot. */
struct pending {
	struct pending *next;
	struct keyd_request req;
	int netfd, ctlfd;
	int counted; /* holds a max-pending-per-uid slot, as struct client */
	struct ctlconn *cc; /* who connected, for keeping ctlfd after delivery (no descriptor of its own), or NULL */
};

/* What a worker that accepted a client hands to the accept loop
 * (admission_worker.c): a client whose request has not arrived, a request
 * for the accept loop (anything but START), or an admitted START that
 * must wait for a slot behind the queue. */
enum handoff_kind { HANDOFF_CLIENT, HANDOFF_CALL, HANDOFF_QUEUE };
struct handoff {
	struct handoff *next;
	enum handoff_kind kind;
	int ctlfd;
	int fd;            /* CALL: the descriptor the request carried, or -1; QUEUE: the network socket */
	int counted;       /* holds a max-pending-per-uid slot */
	struct caller who; /* CLIENT, CALL */
	int pidfd;         /* CLIENT: of the process that connected, or -1 */
	struct tk_msg *m;  /* CALL */
	struct keyd_request req; /* QUEUE */
	struct ctlconn *cc; /* QUEUE: who connected (no descriptor of its own), or NULL */
};

/* The accept side's state. */
struct admission {
	struct keyd *k;
	int epfd;          /* where clients waiting for their request are watched */
	int listen_fd;
	void *listen_tag;  /* the listener's epoll data pointer */
	struct client *clients;
	size_t n_clients;
	struct pending *head, *tail;
	size_t n_pending;
	unsigned next_worker;
	int listen_paused; /* out of descriptors: the workers do not accept for now */
	int stopping;      /* shutting down: nothing is dispatched, hand-offs are refused */
	unsigned fd_base; /* descriptors open besides clients and sessions */
	unsigned long long fd_max; /* RLIMIT_NOFILE, read again every tick */
	unsigned long long fd_warned_ms;
};

/* Accept up to 64 clients from a->listen_fd: identify each, take its
 * pending share, and admit its request if it is already there.  Pauses
 * the listener when the descriptor budget is spent. */
void admission_accept(struct admission *a);

/* c's request may have arrived: admit it (queue it for a slot), refuse
 * it, or watch c until it does.  c may be freed. */
void admission_readable(struct admission *a, struct client *c);

/* Hand queued requests to workers while slots and shares allow; the
 * first request that fits its shares goes, not necessarily the head. */
void admission_dispatch(struct admission *a);

/* Refuse clients whose request did not come within request-timeout. */
void admission_expire(struct admission *a);

/* Milliseconds until the next client deadline, -1 if none. */
int admission_next_timeout(const struct admission *a);

/* Learn how many descriptors are open besides those accounted for. */
void admission_fd_calibrate(struct admission *a);

/* Once a second: re-read the limit, recalibrate near it, resume a paused
 * listener if there is room again. */
void admission_tick(struct admission *a);

/* Refuse (ESHUTDOWN, audited) every client and queued request. */
void admission_shutdown(struct admission *a);

/* The accept loop, each turn: take what workers handed over (clients to
 * watch, requests to dispatch, requests to queue), and pause the
 * listener if a worker ran out of descriptors. */
void admission_take_handoffs(struct admission *a);

/* Descriptors kept free for transient use (admission.c). */
#define ADMISSION_FD_RESERVE(n_workers) (8u + 3u * (n_workers))

/* What each thing admission counts holds (admission.c: fds_accounted):
 * shared by the accept loop's count and the workers' (admission_fds_used). */
#define ADM_FDS_CLIENT 2u    /* accepted, its request not read: connection, pidfd */
#define ADM_FDS_QUEUED 3u    /* connection, pidfd, the peer's socket */
#define ADM_FDS_HANDOFF 3u   /* from a worker to the accept loop: at most that */
#define ADM_FDS_SESSION 2u   /* the peer's socket, our end of the protected descriptor */
#define ADM_FDS_HANDSHAKE 3u /* more: connection, pidfd, the caller's end until delivered */
#define ADM_FDS_PARKED 2u    /* a kept control connection: it and its pidfd */
#define ADM_FDS_PAIR 2u      /* a protected pair made ahead */

/* The workers' listener (admission_worker.c).  listen_sync: each loop
 * turn, watch or stop watching the worker's duplicate as k->listen_on
 * says (closing it once that is -1).  accept: the listener is readable:
 * accept one client, identify it, read its request and admit a START on
 * this worker when a slot is free and nobody queues; everything else goes
 * to the accept loop. */
struct worker;
struct ctlconn;
extern struct ev admission_listen_tag;
void admission_worker_listen_sync(struct worker *w);
void admission_worker_accept(struct worker *w);
/* cc (a client identified on this worker, its pending share held) is
 * readable: read its request and act on it as admission_worker_accept
 * says.  Consumes cc and the share. */
void admission_worker_request(struct worker *w, struct ctlconn *cc);
/* Take cc's uid's max-pending-per-uid share for its request: 0, or a
 * negative errno after refusing the caller (EAGAIN, logged) and freeing
 * cc. */
int admission_worker_share(struct worker *w, struct ctlconn *cc);
/* Is there room for extra more descriptors than the budget counts now
 * (a batch of protected pairs)? */
int admission_fd_room_for(const struct keyd *k, unsigned extra);

/* The descriptors that budget counts as in use now (without the reserve):
 * what STATUS reports next to k->fd_max. */
unsigned long long admission_fds_used(const struct keyd *k);

/* The accept loop: tell every worker to look at k->listen_on again. */
void admission_workers_wake(struct keyd *k);

#endif
