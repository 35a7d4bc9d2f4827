/* Admission (keyd/admission.c): from accept() to a worker. */
#ifndef TLSKEY_KEYD_ADMISSION_H
#define TLSKEY_KEYD_ADMISSION_H

#include "keyd/control.h"

/* A control connection that has not sent its request yet. */
struct client {
	struct client *prev, *next;
	int fd;
	int watched; /* registered with epoll: its request had not arrived */
	int counted; /* holds one of its uid's max-pending-per-uid slots */
	unsigned long long deadline_ms;
	struct caller who;
};

/* An admitted request waiting for a handshake slot. */
struct pending {
	struct pending *next;
	struct keyd_request req;
	int netfd, ctlfd;
	int counted; /* holds a max-pending-per-uid slot, as struct client */
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
	int listen_paused; /* out of descriptors: not accepting for now */
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

#endif
