/* Worker threads: each runs one epoll loop that drives many handshakes and
 * relays without blocking on any single peer.  A worker only blocks while
 * its own token session signs, so workers sign concurrently. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/util.h"
#include "keyd/keyd.h"
#include "keyd/log.h"
#include "keyd/quota.h"
#include "policy/acl.h"

#define MAX_EVENTS 64

static struct ev wake_ev = { .kind = 0 };

void keyd_slot_free(struct keyd *k)
{
	/* Only the accept loop's queue needs to hear about it; waking it for
	 * every handshake would cost a context switch each. */
	if (atomic_load(&k->queued))
		(void)eventfd_write(k->donefd, 1);
}

int worker_ev_update(struct worker *w, struct conn *c, struct ev *ev, uint32_t mask)
{
	struct epoll_event e = { .events = mask, .data.ptr = ev };
	int op;

	(void)c;
	if (ev->fd < 0 || ev->mask == mask)
		return 0;
	if (mask == 0)
		op = EPOLL_CTL_DEL;
	else
		op = ev->mask ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (epoll_ctl(w->epfd, op, ev->fd, &e) < 0)
		return -errno;
	ev->mask = mask;
	return 0;
}

static struct conn *conn_of(struct ev *ev)
{
	switch (ev->kind) {
	case EV_NET:
		return (struct conn *)((char *)ev - offsetof(struct conn, net));
	case EV_APP:
		return (struct conn *)((char *)ev - offsetof(struct conn, app));
	case EV_CTL:
		return (struct conn *)((char *)ev - offsetof(struct conn, ctl));
	default:
		return NULL;
	}
}

/* Before the daemon's last close() of the caller's socket.  The caller
 * set it up and may hold a duplicate through which it can set SO_LINGER
 * with a timeout again after admission: with unsent data that would make
 * close() block the worker until the peer takes it.  l_onoff = 0 makes
 * close() return at once (the kernel finishes in the background), {1, 0}
 * resets, also without blocking.
 * XXX: a caller that sets SO_LINGER through its duplicate and closes that
 * duplicate between this call and our close() still wins; the window is
 * two system calls on this thread. */
static void net_close_prepare(const struct conn *c)
{
	struct linger lg = { .l_onoff = c->net_reset, .l_linger = 0 };

	if (c->net.fd >= 0)
		(void)setsockopt(c->net.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

static void ev_close(struct worker *w, struct ev *ev)
{
	if (ev->fd < 0)
		return;
	/* Remove explicitly: another process may still hold a duplicate of
	 * this socket, which would keep the epoll registration alive. */
	if (ev->mask)
		(void)epoll_ctl(w->epfd, EPOLL_CTL_DEL, ev->fd, NULL);
	ev->mask = 0;
	ev->fd = tk_close(ev->fd);
}

void conn_set_timed(struct conn *c, int on)
{
	struct worker *w = c->w;

	if (on == c->timed)
		return;
	if (on) {
		c->tprev = NULL;
		c->tnext = w->timed;
		if (w->timed)
			w->timed->tprev = c;
		w->timed = c;
	} else {
		if (c->tprev)
			c->tprev->tnext = c->tnext;
		else
			w->timed = c->tnext;
		if (c->tnext)
			c->tnext->tprev = c->tprev;
		c->tnext = c->tprev = NULL;
	}
	c->timed = on;
}

void conn_handshake_done(struct conn *c)
{
	struct worker *w = c->w;

	if (!c->hs_slot)
		return;
	c->hs_slot = 0;
	w->n_handshakes--;
	quota_handshake_put(w->k->quota, c->req.cred.uid, c->req.id_index);
	(void)atomic_fetch_sub(&w->k->handshakes, 1);
	keyd_slot_free(w->k);
}

void conn_free(struct conn *c)
{
	struct worker *w;

	if (!c)
		return;
	w = c->w;
	conn_handshake_done(c);
	conn_set_timed(c, 0);
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	w->n_conns--;
	(void)atomic_fetch_sub(&w->k->sessions, 1);
	if (c->tls)
		gnutls_deinit(c->tls);
	net_close_prepare(c);
	ev_close(w, &c->net);
	ev_close(w, &c->app);
	ev_close(w, &c->ctl);
	c->app_out = tk_close(c->app_out);
	if (c->to_app) {
		tk_wipe(c->to_app, c->to_app_len);
		free(c->to_app);
	}
	if (c->to_net) {
		tk_wipe(c->to_net, c->to_net_len);
		free(c->to_net);
	}
	acl_unref(c->req.acl);
	c->req.acl = NULL;
	if (c->failed)
		registry_fail(c->info);
	else
		registry_remove(c->info);
	c->info = NULL;
	/* Events for c may still sit in the current epoll batch: keep the
	 * memory until the batch is done (see worker_main). */
	c->dead = 1;
	c->next = w->grave;
	w->grave = c;
}

static void bury(struct worker *w)
{
	while (w->grave) {
		struct conn *c = w->grave;
		w->grave = c->next;
		free(c);
	}
}

int worker_submit(struct worker *w, const struct keyd_request *req, int netfd, int ctlfd)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c) {
		(void)tk_close(netfd);
		(void)tk_close(ctlfd);
		acl_unref(req->acl);
		return -ENOMEM;
	}
	c->req = *req; /* acl reference now owned by c */
	c->net = (struct ev){ .kind = EV_NET, .fd = netfd };
	c->app = (struct ev){ .kind = EV_APP, .fd = -1 };
	c->app_out = -1;
	c->ctl = (struct ev){ .kind = EV_CTL, .fd = ctlfd };
	c->w = w;
	c->state = CONN_HANDSHAKE;
	c->hs_slot = 1; /* taken by the caller (dispatch_pending) */
	c->sign_us = -1;
	(void)atomic_fetch_add(&w->k->handshakes, 1);
	(void)atomic_fetch_add(&w->k->sessions, 1);
	pthread_mutex_lock(&w->lock);
	c->next = w->inbox;
	w->inbox = c;
	pthread_mutex_unlock(&w->lock);
	(void)eventfd_write(w->wakefd, 1);
	return 0;
}

static void adopt_inbox(struct worker *w)
{
	struct conn *list, *c;

	pthread_mutex_lock(&w->lock);
	list = w->inbox;
	w->inbox = NULL;
	pthread_mutex_unlock(&w->lock);
	while ((c = list)) {
		list = c->next;
		c->prev = NULL;
		c->next = w->conns;
		if (w->conns)
			w->conns->prev = c;
		w->conns = c;
		w->n_conns++;
		w->n_handshakes++;
		conn_set_timed(c, 1);
		/* handshake_begin frees c itself on failure. */
		(void)handshake_begin(c);
	}
}

static int next_timeout(struct worker *w)
{
	unsigned long long now = tk_now_ms(), best = 0;

	for (struct conn *c = w->timed; c; c = c->tnext) {
		if (c->state == CONN_DRAIN && (!best || c->retransmit_ms < best))
			best = c->retransmit_ms;
		if (c->state == CONN_RELAY && (!best || c->deadline_ms < best))
			best = c->deadline_ms;
		if (c->state != CONN_HANDSHAKE)
			continue;
		if (!best || c->deadline_ms < best)
			best = c->deadline_ms;
		if (c->retransmit_ms && c->retransmit_ms < best)
			best = c->retransmit_ms;
	}
	if (!best)
		return -1;
	return best <= now ? 0 : (int)(best - now > 60000 ? 60000 : best - now);
}

static void expire(struct worker *w)
{
	unsigned long long now = tk_now_ms();
	struct conn *c = w->timed, *next;

	for (; c; c = next) {
		next = c->tnext;
		if (c->state == CONN_DRAIN && c->retransmit_ms <= now)
			relay_drain_step(c);
		else if (c->state == CONN_RELAY && c->deadline_ms <= now)
			relay_close_expired(c);
		if (c->dead || c->state != CONN_HANDSHAKE)
			continue;
		if (c->deadline_ms <= now) {
			handshake_timeout(c);
		} else if (c->retransmit_ms && c->retransmit_ms <= now) {
			/* DTLS: GnuTLS resends its last flight when called. */
			c->retransmit_ms = 0;
			handshake_step(c);
		}
	}
}

/* Take part in a module reset: key objects belong to the module session
 * that is about to end, and so do handshakes half way through signing. */
static void reset_check(struct worker *w)
{
	struct keyd *k = w->k;
	struct conn *c, *next;

	if (!atomic_load(&k->resetting)) {
		w->reset_acked = 0;
		return;
	}
	if (w->reset_acked)
		return;
	for (c = w->conns; c; c = next) {
		next = c->next;
		if (c->state == CONN_HANDSHAKE)
			handshake_fail(c, EIO, "the PKCS#11 module is being re-initialised, try again");
	}
	for (size_t i = 0; i < k->conf->n_ids; i++) {
		signer_drop(&w->keys[i]);
		w->keys[i].retry_after_ms = 0;
		w->keys[i].dropped_ms = 0;
	}
	w->reset_acked = 1;
	(void)atomic_fetch_add(&k->reset_acks, 1);
	(void)eventfd_write(k->donefd, 1);
}

static void dispatch(struct ev *ev, uint32_t events)
{
	struct conn *c = conn_of(ev);

	if (!c || c->dead)
		return;
	if (c->state == CONN_HANDSHAKE) {
		if (ev->kind == EV_CTL)
			handshake_ctl_event(c, events);
		else
			handshake_step(c);
	} else {
		relay_event(c, ev, events);
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event evs[MAX_EVENTS];

	for (;;) {
		int n, stop;

		n = epoll_wait(w->epfd, evs, MAX_EVENTS, next_timeout(w));
		if (n < 0 && errno != EINTR) {
			keyd_log(LOG_CRIT, "worker %u: epoll_wait: %s", w->index, strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			struct ev *ev = evs[i].data.ptr;

			if (ev == &wake_ev) {
				eventfd_t v;
				(void)eventfd_read(w->wakefd, &v);
				continue;
			}
			dispatch(ev, evs[i].events);
		}
		expire(w);
		adopt_inbox(w);
		reset_check(w);
		bury(w);
		pthread_mutex_lock(&w->lock);
		stop = w->stop;
		pthread_mutex_unlock(&w->lock);
		if (stop)
			break;
	}
	/* Shutting down.  A caller whose handshake is still running hears why
	 * its descriptor goes away, rather than seeing it just closed. */
	for (struct conn *c = w->conns, *next; c; c = next) {
		next = c->next;
		if (c->state == CONN_HANDSHAKE)
			handshake_fail(c, ESHUTDOWN, "tlskeyd is shutting down");
	}
	/* Tell every peer we are closing (best effort, the sockets are
	 * non-blocking) rather than just dropping connections. */
	for (struct conn *c = w->conns; c; c = c->next) {
		if (c->state == CONN_RELAY && c->tls && !c->bye_done)
			(void)gnutls_bye(c->tls, GNUTLS_SHUT_WR);
		/* The app's stream did not end, it was cut: say so. */
		if (c->app_tcp && c->app.fd >= 0 && !(c->net_eof && !c->to_app))
			appsock_reset(c->app.fd);
	}
	while (w->conns)
		conn_free(w->conns);
	bury(w);
	return NULL;
}

int worker_start(struct keyd *k, struct worker *w, unsigned index)
{
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = &wake_ev };
	int r;

	memset(w, 0, sizeof(*w));
	w->k = k;
	w->index = index;
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	w->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	w->scratch = malloc(KEYD_SCRATCH_SIZE);
	w->keys = calloc(k->conf->n_ids ? k->conf->n_ids : 1, sizeof(*w->keys));
	if (w->epfd < 0 || w->wakefd < 0 || !w->scratch || !w->keys)
		return -ENOMEM;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->wakefd, &e) < 0)
		return -errno;
	pthread_mutex_init(&w->lock, NULL);
	r = keyd_worker_creds_init(w);
	if (r < 0)
		return r;
	r = pthread_create(&w->thread, NULL, worker_main, w);
	return -r;
}

void worker_stop(struct worker *w)
{
	pthread_mutex_lock(&w->lock);
	w->stop = 1;
	pthread_mutex_unlock(&w->lock);
	(void)eventfd_write(w->wakefd, 1);
	(void)pthread_join(w->thread, NULL);
	while (w->inbox) {
		struct conn *c = w->inbox;
		w->inbox = c->next;
		c->prev = c->next = NULL;
		c->next = w->conns;
		w->conns = c;
		w->n_conns++;
		w->n_handshakes++;
		/* Admitted, never started: the caller still waits for an answer. */
		handshake_fail(c, ESHUTDOWN, "tlskeyd is shutting down");
	}
	bury(w);
	gnutls_certificate_free_credentials(w->cred);
	for (size_t i = 0; i < w->k->conf->n_ids; i++)
		signer_drop(&w->keys[i]);
	free(w->keys);
	if (w->scratch)
		tk_wipe(w->scratch, KEYD_SCRATCH_SIZE); /* relayed plaintext passed through it */
	free(w->scratch);
	(void)tk_close(w->epfd);
	(void)tk_close(w->wakefd);
	pthread_mutex_destroy(&w->lock);
}
