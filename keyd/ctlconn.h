/* Control connections kept open between requests (keyd/ctlconn.c). */
#ifndef TLSKEY_KEYD_CTLCONN_H
#define TLSKEY_KEYD_CTLCONN_H

#include <stdint.h>

#include "keyd/caller.h"
#include "keyd/conn.h"

/* How long a parked control connection may stay idle, and how many one
 * worker keeps: past either, the oldest is closed (the library opens a new
 * one for its next start). */
#define CTLCONN_IDLE_MS 30000
#define CTLCONN_PARKED_MAX 256
/* A connection older than this is not kept again: the caller connects,
 * and is identified, afresh at least every ten minutes. */
#define CTLCONN_MAX_AGE_MS 600000

/* A client's control connection with who connected it: made when the
 * connection is accepted, it lives with the conn of each START it
 * carries and is parked on the worker between them.  The caller is
 * identified once, at connect (as SO_PEERCRED is); each later request is
 * taken only while the process that connected is still running. */
struct ctlconn {
	struct ev ev;              /* EV_IDLE while parked; ev.fd: the control socket */
	struct ctlconn *next, *prev; /* the worker's parked list, oldest first */
	int pidfd;                 /* the process that connected, -1 if the kernel has none */
	int parked;
	unsigned long long born_ms; /* when the caller connected */
	int dead;                  /* closed while events for it may sit in the batch: freed by ctlconn_bury() */
	unsigned long long parked_ms;
	struct caller who;
	/* While a conn uses the socket (c->cc == cc) its epoll registration
	 * may still point at ev, as it did while parked: then owner is that
	 * conn, and events on ev are the conn's (worker.c dispatch).  Saves
	 * an epoll MOD at adoption and another at parking. */
	struct conn *owner;
};

/* A ctlconn for fd, taking over pidfd and *who (its memory).  NULL: out of
 * memory, nothing taken. */
struct ctlconn *ctlconn_new(int fd, int pidfd, const struct caller *who);

/* Free cc: its socket (unless handed on: ev.fd = -1), pidfd, caller.
 * One this worker may watch goes with ctlconn_drop(), which takes it out
 * of the epoll set first. */
void ctlconn_free(struct ctlconn *cc);
/* Free cc once the current epoll batch is done (events naming it may
 * still sit there): its socket must already be out of the epoll set. */
void ctlconn_grave(struct worker *w, struct ctlconn *cc);
void ctlconn_drop(struct worker *w, struct ctlconn *cc);

/* Hand cc's socket on to another thread or a conn: out of this worker's
 * epoll set if it is in it; cc keeps no descriptor of it. */
int ctlconn_release_fd(struct worker *w, struct ctlconn *cc);

/* Turn the caller on cc away (control_refuse: audited, answered with err
 * and why), count it, and free cc. */
void ctlconn_refuse(struct worker *w, struct ctlconn *cc, int err, const char *why);

/* Will c's control connection be parked after delivery?  Then the RESULT
 * says so (TK_TAG_KEEP). */
int ctlconn_keepable(const struct conn *c);

/* After delivery: park c's control connection (c->cc), watched for its
 * next request, or close it.  c keeps neither. */
void ctlconn_park(struct conn *c);

/* A parked connection's event: its next request, or its end. */
void ctlconn_event(struct worker *w, struct ctlconn *cc, uint32_t events);

/* Close parked connections idle past CTLCONN_IDLE_MS; milliseconds until
 * the next one is due, -1 if none is parked. */
void ctlconn_expire(struct worker *w, unsigned long long now);
int ctlconn_next_timeout(const struct worker *w, unsigned long long now);

/* Close every parked connection (upgrade handed over, shutdown). */
void ctlconn_close_all(struct worker *w);

/* After the event batch: free the parked connections closed during it. */
void ctlconn_bury(struct worker *w);

#endif
