/* Admission: clients that have connected but not yet sent their request,
 * the bounded FIFO of admitted requests waiting for a handshake slot, the
 * per-uid and per-identity shares (quota.c) and the descriptor budget.
 * All state is in struct admission, passed explicitly: no statics, so
 * admission can run on whichever thread owns that struct. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"
#include "keyd/admission.h"
#include "keyd/appsock.h"
#include "keyd/ctlconn.h"
#include "keyd/fdcount.h"
#include "keyd/gen.h"
#include "keyd/stats.h"
#include "keyd/log.h"
#include "keyd/quota.h"
#include "keyd/worker.h"
#include "keyd/passclose.h"
#include "keyd/vhost.h"

/* Descriptors kept free for transient use (ADMISSION_FD_RESERVE): on the
 * accept thread the caller's pidfd, /proc files and the descriptor being
 * received; on each worker the same while it admits, the listener of a
 * batch of protected pairs and the files a PKCS#11 module opens while it
 * signs (SoftHSM: two at a time).  The pairs a worker made ahead are
 * counted as they are (STATUS pairs_ready); a batch is only made where
 * the budget has room for it (worker.c). */

/* What the workers read of the accept loop's share of the budget. */
static void held_publish(struct admission *l)
{
	atomic_store(&l->k->adm_fds, (unsigned)(ADM_FDS_CLIENT * l->n_clients + ADM_FDS_QUEUED * l->n_pending));
	atomic_store(&l->k->adm_clients, (unsigned)l->n_clients);
	/* No configuration: start-up failed, the exit path runs. */
	if (l->k->conf)
		atomic_store(&l->k->max_pending, l->k->conf->max_pending);
}

static void client_drop(struct admission *l, struct client *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		l->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	l->n_clients--;
	if (c->watched)
		(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	if (c->counted)
		quota_pending_put(l->k->quota, c->who.cred.uid);
	(void)passclose_ctl(c->fd);
	(void)tk_close(c->pidfd);
	caller_done(&c->who);
	free(c);
}

/* Turn away a client that has not been admitted: see control_refuse(). */
static void client_refuse(struct admission *l, struct client *c, int err, const char *why)
{
	int fd = c->fd;

	if (c->watched)
		(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	c->watched = 0;
	c->fd = -1;
	control_refuse(fd, &c->who.cred, c->who.unit[0] ? c->who.unit : NULL, err, why);
	stats_outcome(l->k->stats, STATS_REFUSED, err, (size_t)-1);
	client_drop(l, c);
}

static void queue_append(struct admission *l, struct pending *p);

static void pending_unlink(struct admission *l, struct pending *prev, struct pending *p)
{
	if (prev)
		prev->next = p->next;
	else
		l->head = p->next;
	if (l->tail == p)
		l->tail = prev;
	p->next = NULL;
	l->n_pending--;
	if (p->counted)
		quota_pending_put(l->k->quota, p->req.cred.uid);
	p->counted = 0;
}

void admission_dispatch(struct admission *l)
{
	struct keyd *k = l->k;

	/* Announce first, then look: a slot freed in between still wakes us. */
	atomic_store(&k->queued, l->head != NULL);
	if (atomic_load(&k->resetting) || l->stopping)
		return; /* requests wait until the module is back */
	/* The first request that fits its uid's and its identity's share
	 * goes, not necessarily the head: one uid over its share (or one
	 * identity flooded by a remote peer) must not hold up the others. */
	for (struct pending *prev = NULL, *p = l->head, *next; p; p = next) {
		struct worker *w;
		struct keyd_gen *g;

		next = p->next;
		if (atomic_load(&k->handshakes) >= k->conf->max_handshakes)
			break;
		if (quota_handshake_take(p->req.gen->quota, p->req.cred.uid, p->req.id_index) < 0) {
			prev = p;
			continue;
		}
		pending_unlink(l, prev, p);
		w = &k->workers[l->next_worker++ % k->n_workers];
		/* netfd, ctlfd and the ACL reference now belong to the worker,
		 * and with them the handshake slot just taken. */
		g = gen_ref(p->req.gen); /* worker_submit() may drop the request's */
		if (worker_submit(w, &p->req, p->netfd, p->ctlfd, p->cc) < 0)
			quota_handshake_put(g->quota, p->req.cred.uid, p->req.id_index);
		gen_unref(g);
		free(p);
	}
	atomic_store(&k->queued, l->head != NULL);
	held_publish(l);
}

void admission_readable(struct admission *l, struct client *c)
{
	struct keyd_request req;
	struct pending *p;
	int netfd = -1, ctlfd = c->fd, r;

	r = control_admit(l->k, ctlfd, &c->who, &req, &netfd);
	if (r == -EAGAIN) {
		struct epoll_event e = { .events = EPOLLIN, .data.ptr = c };

		if (c->watched)
			return;
		if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, ctlfd, &e) < 0) {
			client_drop(l, c);
			return;
		}
		c->watched = 1;
		return;
	}
	if (r == CONTROL_KEPT) {
		/* The handler answers on its copy: ours is not shut. */
		if (c->watched)
			(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, ctlfd, NULL);
		c->watched = 0;
		c->fd = passclose_here(c->fd, PASSCLOSE_AS_IS); /* timed: it may be the last */
	}
	if (r != 0) {
		client_drop(l, c);
		return;
	}
	if (l->n_pending >= l->k->conf->max_pending || !(p = calloc(1, sizeof(*p)))) {
		keyd_log(LOG_WARNING, "uid=%u pid=%d: too many pending handshakes (%zu), refusing",
			 (unsigned)c->who.cred.uid, (int)c->who.cred.pid, l->n_pending);
		acl_unref(req.acl);
		gen_unref(req.gen);
		vhost_free(req.vhost);
		(void)shutdown(netfd, SHUT_RDWR);
		(void)passclose(netfd);
		client_refuse(l, c, EAGAIN, "tlskeyd is overloaded, try again later");
		return;
	}
	/* The control socket moves with the request: detach it from us. */
	if (c->watched)
		(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, ctlfd, NULL);
	c->watched = 0;
	c->fd = -1;
	/* Its max-pending-per-uid slot moves with it, and who connected: the
	 * control connection can be kept after delivery (ctlconn.h). */
	p->counted = c->counted;
	c->counted = 0;
	p->cc = ctlconn_new(-1, c->pidfd, &c->who);
	if (p->cc) {
		c->pidfd = -1;
		memset(&c->who, 0, sizeof(c->who));
	}
	client_drop(l, c);
	p->req = req;
	p->netfd = netfd;
	p->ctlfd = ctlfd;
	queue_append(l, p);
	admission_dispatch(l);
}

/* Descriptor budget.  Every client and session costs a known number of
 * descriptors: an accepted client 2 (its connection and its pidfd; the
 * socket it passes is counted once received), a queued request 3 (the
 * control connection, the caller's pidfd and the peer's socket), one
 * handed from a worker to the accept loop 3 at most, a session 2 (the
 * peer's socket and the daemon's end of the protected descriptor), a
 * handshake 3 more (the control connection, the caller's pidfd and the
 * caller's end of the protected descriptor, made once our first flight is
 * out and held until it is delivered), a control connection parked
 * between requests 2 (it and the pidfd), a protected pair made ahead 2
 * (ADM_FDS_*; checked against /proc/self/fd during bursts with and
 * without a queue).  Admission stops while that estimate plus a reserve
 * would exceed the limit, so requests that were accepted can also be served:
 * accepting greedily until EMFILE would leave accepted clients whose
 * descriptors cannot be received. */
static unsigned fds_accounted(const struct admission *l)
{
	const struct keyd *k = l->k;

	return (unsigned)(ADM_FDS_CLIENT * l->n_clients + ADM_FDS_QUEUED * l->n_pending) +
	       ADM_FDS_HANDOFF * atomic_load(&k->n_handoffs) + ADM_FDS_PARKED * atomic_load(&k->n_parked) +
	       (k->stats ? ADM_FDS_PAIR * (unsigned)atomic_load(&k->stats->pairs_ready) : 0) +
	       ADM_FDS_SESSION * atomic_load(&k->sessions) + ADM_FDS_HANDSHAKE * atomic_load(&k->handshakes);
}

/* Learn what is open besides what fds_accounted() counts: at start, and
 * when the estimate proved wrong or the limit is near. */
void admission_fd_calibrate(struct admission *l)
{
	int n = fds_open();
	unsigned open = n > 0 ? (unsigned)n : 0, acc = fds_accounted(l);

	l->fd_max = fds_limit();
	if (open)
		l->fd_base = open > acc ? open - acc : 0;
	atomic_store(&l->k->fd_base, l->fd_base);
	atomic_store(&l->k->fd_max, l->fd_max);
	held_publish(l);
}

static unsigned fd_reserve(const struct admission *l)
{
	return ADMISSION_FD_RESERVE(l->k->n_workers);
}

static int fd_room(const struct admission *l)
{
	return (unsigned long long)l->fd_base + fds_accounted(l) + fd_reserve(l) < l->fd_max;
}

/* Out of descriptors: the pending connection stays in the backlog and
 * would wake the workers forever, so they stop watching the listener.
 * tick() resumes it once sessions have ended. */
static void listen_pause(struct admission *l, int err)
{
	unsigned long long now = tk_now_ms();

	if (l->listen_paused)
		return;
	if (l->k->stats)
		(void)atomic_fetch_add(&l->k->stats->fd_pauses, 1);
	/* One line per episode, not one per second while it lasts. */
	if (!l->fd_warned_ms || now - l->fd_warned_ms >= 60000) {
		keyd_log(LOG_ERR, "cannot accept more clients: %s (%u sessions, %zu waiting, "
			 "about %u of %llu descriptors in use); new requests wait until sessions end",
			 err ? strerror(err) : "open file limit reached", atomic_load(&l->k->sessions),
			 l->n_pending + l->n_clients, l->fd_base + fds_accounted(l), l->fd_max);
		l->fd_warned_ms = now;
	}
	l->listen_paused = 1;
	if (atomic_load(&l->k->listen_on) > 0) {
		atomic_store(&l->k->listen_on, 0);
		admission_workers_wake(l->k);
	}
}

static void listen_resume(struct admission *l)
{
	if (!l->listen_paused)
		return;
	/* tick() has just calibrated: a paused listener means the limit is near. */
	if (!fd_room(l))
		return;
	l->listen_paused = 0;
	l->fd_warned_ms = 0;
	atomic_store(&l->k->listen_full, 0);
	if (atomic_load(&l->k->listen_on) == 0) {
		atomic_store(&l->k->listen_on, 1);
		admission_workers_wake(l->k);
	}
	keyd_log(LOG_NOTICE, "accepting clients again (%u sessions)", atomic_load(&l->k->sessions));
}

/* A client a worker accepted but whose request had not arrived: watched
 * here from now on, as if accepted here. */
static void take_client(struct admission *l, struct handoff *h)
{
	struct client *c;

	if (l->n_clients >= l->k->conf->max_pending || !(c = calloc(1, sizeof(*c)))) {
		keyd_log(LOG_WARNING, "too many waiting clients (%zu): refusing one", l->n_clients);
		control_refuse(h->ctlfd, &h->who.cred, h->who.unit[0] ? h->who.unit : NULL, EAGAIN,
			       "tlskeyd has too many waiting clients");
		stats_outcome(l->k->stats, STATS_REFUSED, EAGAIN, (size_t)-1);
		quota_pending_put(l->k->quota, h->who.cred.uid);
		caller_done(&h->who);
		(void)tk_close(h->pidfd);
		return;
	}
	c->who = h->who; /* its group list now c's */
	c->pidfd = h->pidfd;
	c->counted = h->counted;
	c->fd = h->ctlfd;
	c->deadline_ms = tk_now_ms() + l->k->conf->request_timeout_ms;
	c->next = l->clients;
	if (c->next)
		c->next->prev = c;
	l->clients = c;
	l->n_clients++;
	admission_readable(l, c);
}

/* A request other than START that a worker read: answered here. */
static void take_call(struct admission *l, struct handoff *h)
{
	struct control_call x = { .k = l->k, .ctlfd = h->ctlfd, .who = &h->who, .m = h->m, .fd = h->fd };

	if (l->stopping) {
		if (x.fd >= 0) {
			(void)shutdown(x.fd, SHUT_RDWR);
			(void)passclose(x.fd);
		}
		control_refuse(h->ctlfd, &h->who.cred, h->who.unit[0] ? h->who.unit : NULL, ESHUTDOWN,
			       "tlskeyd is shutting down");
	} else {
		int r = control_dispatch(&x);

		(void)passclose(x.fd); /* a handler that kept it set -1 */
		if (r == CONTROL_KEPT)
			/* No shutdown, no drain: the handler answers on its
			 * copy.  Timed all the same: if the handler was done
			 * first, this close is the last one. */
			(void)passclose_here(h->ctlfd, PASSCLOSE_AS_IS);
		else
			(void)passclose_ctl(h->ctlfd);
	}
	free(h->m);
	if (h->counted)
		quota_pending_put(l->k->quota, h->who.cred.uid);
	caller_done(&h->who);
}

static void queue_append(struct admission *l, struct pending *p)
{
	if (l->tail)
		l->tail->next = p;
	else
		l->head = p;
	l->tail = p;
	l->n_pending++;
}

/* An admitted START that had to wait: queued behind the others. */
static void take_queued(struct admission *l, struct handoff *h)
{
	struct pending *p = calloc(1, sizeof(*p));

	if (!p || l->n_pending >= l->k->conf->max_pending) {
		free(p);
		keyd_log(LOG_WARNING, "uid=%u pid=%d: too many pending handshakes (%zu), refusing",
			 (unsigned)h->req.cred.uid, (int)h->req.cred.pid, l->n_pending);
		acl_unref(h->req.acl);
		gen_unref(h->req.gen);
		vhost_free(h->req.vhost);
		(void)shutdown(h->fd, SHUT_RDWR);
		(void)passclose(h->fd);
		control_refuse(h->ctlfd, &h->req.cred, h->req.unit[0] ? h->req.unit : NULL, EAGAIN,
			       "tlskeyd is overloaded, try again later");
		stats_outcome(l->k->stats, STATS_REFUSED, EAGAIN, (size_t)-1);
		if (h->counted)
			quota_pending_put(l->k->quota, h->req.cred.uid);
		ctlconn_free(h->cc);
		return;
	}
	p->req = h->req;
	p->netfd = h->fd;
	p->ctlfd = h->ctlfd;
	p->counted = h->counted;
	p->cc = h->cc;
	queue_append(l, p);
}

void admission_take_handoffs(struct admission *l)
{
	struct keyd *k = l->k;
	struct handoff *list, *rev = NULL;
	int full = atomic_load(&k->listen_full);

	if (full) {
		admission_fd_calibrate(l); /* the estimate was low */
		listen_pause(l, full - 1);
	}
	pthread_mutex_lock(&k->handoff_lock);
	list = k->handoffs;
	k->handoffs = NULL;
	pthread_mutex_unlock(&k->handoff_lock);
	/* Oldest first: the queue keeps the order they were admitted in. */
	while (list) {
		struct handoff *h = list;

		list = h->next;
		h->next = rev;
		rev = h;
	}
	while (rev) {
		struct handoff *h = rev;

		rev = h->next;
		(void)atomic_fetch_sub(&k->n_handoffs, 1);
		if (h->kind == HANDOFF_CLIENT)
			take_client(l, h);
		else if (h->kind == HANDOFF_CALL)
			take_call(l, h);
		else
			take_queued(l, h);
		free(h);
	}
	held_publish(l);
}

void admission_expire(struct admission *l)
{
	unsigned long long now = tk_now_ms();
	struct client *c, *next;

	for (c = l->clients; c; c = next) {
		next = c->next;
		if (c->deadline_ms <= now) {
			keyd_log(LOG_INFO, "uid=%u pid=%d: no request within %u ms, closing",
				 (unsigned)c->who.cred.uid, (int)c->who.cred.pid,
				 l->k->conf->request_timeout_ms);
			client_refuse(l, c, ETIMEDOUT, "no request received in time");
		}
	}
	held_publish(l);
}


/* Once a second (tick): the limit can be changed from outside (prlimit);
 * near it the estimate must be exact.  Then resume a paused listener. */
void admission_tick(struct admission *l)
{
	l->fd_max = fds_limit();
	/* The workers' budget (admission_fd_room_for) and STATUS read it
	 * too: a limit raised from outside counts at once. */
	atomic_store(&l->k->fd_max, l->fd_max);
	if ((unsigned long long)l->fd_base + fds_accounted(l) + 8 * fd_reserve(l) >= l->fd_max)
		admission_fd_calibrate(l);
	listen_resume(l);
}

int admission_next_timeout(const struct admission *l)
{
	unsigned long long now = tk_now_ms(), best = 0;

	for (const struct client *c = l->clients; c; c = c->next)
		if (!best || c->deadline_ms < best)
			best = c->deadline_ms;
	if (!best)
		return -1;
	return best <= now ? 0 : (int)(best - now);
}

void admission_shutdown(struct admission *l)
{
	/* Everyone still waiting hears why, and each refusal is audited. */
	while (l->clients)
		client_refuse(l, l->clients, ESHUTDOWN, "tlskeyd is shutting down");
	while (l->head) {
		struct pending *p = l->head;

		pending_unlink(l, NULL, p);
		(void)shutdown(p->netfd, SHUT_RDWR);
		(void)passclose(p->netfd);
		control_refuse(p->ctlfd, &p->req.cred, p->req.unit[0] ? p->req.unit : NULL, ESHUTDOWN,
			       "tlskeyd is shutting down");
		acl_unref(p->req.acl);
		gen_unref(p->req.gen);
		vhost_free(p->req.vhost);
		ctlconn_free(p->cc);
		free(p);
	}
}
