/* Control connections kept open between requests: see ctlconn.h.
 *
 * The library keeps its control connection after a start that succeeded
 * when the RESULT says the daemon keeps it (TK_TAG_KEEP), and sends its
 * next START on it: no connect, no accept and no caller identification
 * per start.  Between requests the connection is parked on the worker
 * that served it, watched for the next request, for ever at most
 * CTLCONN_IDLE_MS.  Who the caller is was settled when it connected
 * (credentials, groups, unit and executable, as SO_PEERCRED gives them
 * then); each request is taken only while the process that connected
 * still runs (its pidfd), so a socket passed on after that process has
 * gone speaks for nobody.  The ACL is asked afresh for every request. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "common/util.h"
#include "keyd/admission.h"
#include "keyd/control.h"
#include "keyd/ctlconn.h"
#include "keyd/log.h"
#include "keyd/passclose.h"
#include "keyd/quota.h"
#include "keyd/stats.h"
#include "keyd/worker.h"

struct ctlconn *ctlconn_new(int fd, int pidfd, const struct caller *who)
{
	struct ctlconn *cc = calloc(1, sizeof(*cc));

	if (!cc)
		return NULL;
	cc->ev = (struct ev){ .kind = EV_IDLE, .fd = fd };
	cc->pidfd = pidfd;
	cc->born_ms = tk_now_ms();
	cc->who = *who;
	return cc;
}

void ctlconn_free(struct ctlconn *cc)
{
	if (!cc)
		return;
	(void)passclose_ctl(cc->ev.fd); /* out of epoll first: ctlconn_drop() */
	(void)tk_close(cc->pidfd);
	caller_done(&cc->who);
	free(cc);
}

void ctlconn_grave(struct worker *w, struct ctlconn *cc)
{
	if (!cc)
		return;
	cc->owner = NULL;
	cc->dead = 1;
	cc->next = w->cc_grave;
	w->cc_grave = cc;
}

/* Free a cc this worker may still watch: out of the epoll set first (a
 * close alone does not remove it while an upgrade's child, between fork
 * and exec, holds a duplicate). */
void ctlconn_drop(struct worker *w, struct ctlconn *cc)
{
	if (cc->ev.mask)
		(void)epoll_ctl(w->epfd, EPOLL_CTL_DEL, cc->ev.fd, NULL);
	cc->ev.mask = 0;
	ctlconn_free(cc);
}

static void unpark(struct worker *w, struct ctlconn *cc)
{
	if (!cc->parked)
		return;
	if (cc->prev)
		cc->prev->next = cc->next;
	else
		w->parked_head = cc->next;
	if (cc->next)
		cc->next->prev = cc->prev;
	else
		w->parked_tail = cc->prev;
	cc->next = cc->prev = NULL;
	cc->parked = 0;
	w->n_parked--;
	(void)atomic_fetch_sub(&w->k->n_parked, 1);
}

int ctlconn_release_fd(struct worker *w, struct ctlconn *cc)
{
	int fd = cc->ev.fd;

	if (cc->ev.mask)
		(void)epoll_ctl(w->epfd, EPOLL_CTL_DEL, fd, NULL);
	cc->ev.mask = 0;
	cc->ev.fd = -1;
	return fd;
}

int ctlconn_keepable(const struct conn *c)
{
	/* Without a pidfd a later request could not be tied to the process
	 * that connected: no keeping then. */
	return c->cc && c->cc->pidfd >= 0 && atomic_load(&c->w->k->listen_on) >= 0 &&
	       tk_now_ms() - c->cc->born_ms < CTLCONN_MAX_AGE_MS;
}

void ctlconn_park(struct conn *c)
{
	struct worker *w = c->w;
	struct ctlconn *cc = c->cc;
	struct epoll_event e;

	c->cc = NULL;
	if (!cc || !c->keep_ctl) {
		(void)conn_ev_update(c, &c->ctl, 0);
		c->ctl.fd = passclose_ctl(c->ctl.fd);
		if (cc)
			cc->ev.fd = -1; /* closed just now */
		ctlconn_grave(w, cc); /* the registration may have named it */
		return;
	}
	e = (struct epoll_event){ .events = EPOLLIN | EPOLLRDHUP, .data.ptr = &cc->ev };
	/* Registered as cc all along (worker_adopt): no call at all; else
	 * the same registration, now pointing at cc: one system call. */
	if (!(cc->owner == c && c->ctl.mask == e.events) &&
	    epoll_ctl(w->epfd, c->ctl.mask ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->ctl.fd, &e) < 0) {
		(void)conn_ev_update(c, &c->ctl, 0);
		c->ctl.fd = passclose_ctl(c->ctl.fd);
		cc->ev.fd = -1;
		ctlconn_grave(w, cc);
		return;
	}
	cc->owner = NULL;
	cc->ev.fd = c->ctl.fd;
	cc->ev.mask = e.events;
	c->ctl.fd = -1;
	c->ctl.mask = 0;
	/* Past the cap the oldest goes: one caller cannot hold them all
	 * for long, and a busy worker keeps its most recent callers. */
	if (w->n_parked >= CTLCONN_PARKED_MAX) {
		struct ctlconn *old = w->parked_head;

		/* An event for it may sit later in this batch: closed now,
		 * freed after the batch. */
		unpark(w, old);
		if (old->ev.mask)
			(void)epoll_ctl(w->epfd, EPOLL_CTL_DEL, old->ev.fd, NULL);
		old->ev.mask = 0;
		old->ev.fd = passclose_ctl(old->ev.fd);
		ctlconn_grave(w, old);
	}
	cc->parked = 1;
	cc->parked_ms = tk_now_ms();
	cc->prev = w->parked_tail;
	cc->next = NULL;
	if (w->parked_tail)
		w->parked_tail->next = cc;
	else
		w->parked_head = cc;
	w->parked_tail = cc;
	w->n_parked++;
	(void)atomic_fetch_add(&w->k->n_parked, 1);
}

void ctlconn_refuse(struct worker *w, struct ctlconn *cc, int err, const char *why)
{
	control_refuse(ctlconn_release_fd(w, cc), &cc->who.cred, cc->who.unit[0] ? cc->who.unit : NULL,
		       err, why);
	stats_outcome(w->k->stats, STATS_REFUSED, err, (size_t)-1);
	ctlconn_free(cc);
}

void ctlconn_event(struct worker *w, struct ctlconn *cc, uint32_t events)
{
	struct keyd *k = w->k;

	unpark(w, cc);
	/* Closed by the caller (or it exited): a request sent just before
	 * would have no one to answer to. */
	if (!(events & EPOLLIN) || (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
		ctlconn_drop(w, cc);
		return;
	}
	/* The identity is the connecting process's: not one that was
	 * handed the socket after it exited. */
	if (caller_still_there(cc->pidfd) == 0) {
		keyd_log(LOG_INFO, "uid=%u pid=%d: a request on a control connection whose process "
			 "has exited: refused", (unsigned)cc->who.cred.uid, (int)cc->who.cred.pid);
		ctlconn_refuse(w, cc, ESRCH, "the process that opened this connection to tlskeyd has "
			       "exited: connect again");
		return;
	}
	if (admission_worker_share(w, cc) < 0)
		return;
	if (k->stats)
		(void)atomic_fetch_add(&k->stats->ctl_reused, 1);
	admission_worker_request(w, cc);
}

void ctlconn_expire(struct worker *w, unsigned long long now)
{
	while (w->parked_head && now - w->parked_head->parked_ms >= CTLCONN_IDLE_MS) {
		struct ctlconn *cc = w->parked_head;

		unpark(w, cc);
		ctlconn_drop(w, cc);
	}
}

int ctlconn_next_timeout(const struct worker *w, unsigned long long now)
{
	unsigned long long due;

	if (!w->parked_head)
		return -1;
	due = w->parked_head->parked_ms + CTLCONN_IDLE_MS;
	return due <= now ? 0 : (int)(due - now);
}

void ctlconn_close_all(struct worker *w)
{
	while (w->parked_head) {
		struct ctlconn *cc = w->parked_head;

		unpark(w, cc);
		ctlconn_drop(w, cc);
	}
}

void ctlconn_bury(struct worker *w)
{
	while (w->cc_grave) {
		struct ctlconn *cc = w->cc_grave;

		w->cc_grave = cc->next;
		ctlconn_free(cc);
	}
}
