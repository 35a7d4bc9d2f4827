/* Worker threads: each runs one epoll loop that drives many handshakes and
 * relays without blocking on any single peer.  A worker only blocks while
 * its own token session signs, so workers sign concurrently. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/util.h"
#include "keyd/admission.h"
#include "keyd/conn.h"
#include "keyd/ctlconn.h"
#include "keyd/dane_conn.h"
#include "keyd/ocsp_conn.h"
#include "keyd/gen.h"
#include "keyd/reeval.h"
#include "keyd/worker.h"
#include "keyd/handshake.h"
#include "keyd/relay.h"
#include "keyd/relay_end.h"
#include "keyd/appsock.h"
#include "keyd/keys.h"
#include "keyd/log.h"
#include "keyd/outcome.h"
#include "keyd/p11reset.h"
#include "keyd/quota.h"
#include "keyd/passclose.h"
#include "keyd/vhost.h"
#include "keyd/wcmd.h"
#include "policy/acl.h"

#define MAX_EVENTS 64

static struct ev wake_ev = { .kind = 0 };

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

static void bury(struct worker *w)
{
	ctlconn_bury(w);
	while (w->grave) {
		struct conn *c = w->grave;
		w->grave = c->next;
		free(c);
	}
}

/* A conn for an admitted request (its references now c's), or NULL with
 * everything released. */
static struct conn *conn_make(struct worker *w, struct conn *c, const struct keyd_request *req,
			      int netfd, int ctlfd)
{
	if (!c) {
		(void)passclose(netfd);
		(void)passclose_ctl(ctlfd);
		acl_unref(req->acl);
		gen_unref(req->gen);
		vhost_free(req->vhost);
		return NULL;
	}
	c->req = *req; /* acl and generation references now owned by c */
	c->net = (struct ev){ .kind = EV_NET, .fd = netfd };
	c->app = (struct ev){ .kind = EV_APP, .fd = -1 };
	c->app_out = -1;
	c->ctl = (struct ev){ .kind = EV_CTL, .fd = ctlfd };
	c->w = w;
	c->state = CONN_HANDSHAKE;
	c->hs_slot = 1; /* taken by the caller (admission) */
	c->sign_us = -1;
	return c;
}

int worker_submit(struct worker *w, const struct keyd_request *req, int netfd, int ctlfd,
		  struct ctlconn *cc)
{
	struct conn *c = conn_make(w, calloc(1, sizeof(*c)), req, netfd, ctlfd);

	if (!c) {
		ctlconn_free(cc);
		return -ENOMEM;
	}
	c->cc = cc;
	(void)atomic_fetch_add(&w->load, 1);
	(void)atomic_fetch_add(&w->k->handshakes, 1);
	(void)atomic_fetch_add(&w->k->sessions, 1);
	pthread_mutex_lock(&w->lock);
	c->next = w->inbox;
	w->inbox = c;
	pthread_mutex_unlock(&w->lock);
	(void)eventfd_write(w->wakefd, 1);
	return 0;
}

/* c joins this worker's conns and its handshake starts. */
static void adopt_one(struct worker *w, struct conn *c)
{
	c->prev = NULL;
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	w->n_conns++;
	w->n_handshakes++;
	conn_set_timed(c, 1);
	if (keys_attach(c) < 0) {
		(void)handshake_fail(c, ENOMEM, "out of memory");
		return;
	}
	/* A failed start closed c; its memory goes with the batch.
	 * DANE may first look up the server's TLSA records. */
	if (dane_conn_begin(c) == CONN_CLOSED)
		return;
}

void worker_adopt(struct worker *w, const struct keyd_request *req, int netfd, struct ctlconn *cc)
{
	struct keyd_gen *g = gen_ref(req->gen); /* conn_make() may drop the request's */
	struct conn *mem = calloc(1, sizeof(*mem));
	uint32_t mask = cc->ev.mask;
	struct conn *c;

	/* Out of memory: the socket is closed, out of the epoll set first. */
	if (!mem && mask) {
		(void)epoll_ctl(w->epfd, EPOLL_CTL_DEL, cc->ev.fd, NULL);
		mask = 0;
	}
	c = conn_make(w, mem, req, netfd, cc->ev.fd);

	cc->ev.fd = -1; /* the conn's now (or closed) */
	cc->ev.mask = 0;
	if (c) {
		c->cc = cc;
		/* A socket already registered stays so, still naming cc: its
		 * events are the conn's through cc->owner (dispatch), with no
		 * system call, until the conn changes the registration. */
		if (mask) {
			c->ctl.mask = mask;
			cc->owner = c;
		}
	} else {
		ctlconn_free(cc);
		/* The slot admission claimed for it. */
		quota_handshake_put(g->quota, req->cred.uid, req->id_index);
		(void)atomic_fetch_sub(&w->k->handshakes, 1);
		keyd_slot_free(w->k);
	}
	gen_unref(g);
	if (!c)
		return;
	(void)atomic_fetch_add(&w->load, 1);
	(void)atomic_fetch_add(&w->k->sessions, 1);
	adopt_one(w, c);
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
		adopt_one(w, c);
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
	{
		int t = ctlconn_next_timeout(w, now);

		if (t >= 0 && (!best || now + (unsigned long long)t < best))
			best = now + (unsigned long long)t;
	}
	if (!best)
		return -1;
	return best <= now ? 0 : (int)(best - now > 60000 ? 60000 : best - now);
}

static void expire(struct worker *w)
{
	unsigned long long now = tk_now_ms();
	struct conn *c = w->timed, *next;

	ctlconn_expire(w, now);
	for (; c; c = next) {
		enum conn_status st = CONN_LIVE;

		next = c->tnext;
		if (c->state == CONN_DRAIN && c->retransmit_ms <= now)
			st = relay_drain_step(c);
		else if (c->state == CONN_RELAY && c->deadline_ms <= now)
			st = relay_close_expired(c);
		if (st == CONN_CLOSED || c->state != CONN_HANDSHAKE)
			continue;
		if (c->deadline_ms <= now) {
			st = c->dane_serial ? dane_conn_timeout(c)
			     : c->ocsp_serial ? ocsp_conn_timeout(c) : handshake_timeout(c);
		} else if (c->retransmit_ms && c->retransmit_ms <= now) {
			/* DTLS: GnuTLS resends its last flight when called. */
			c->retransmit_ms = 0;
			keyd_log(LOG_DEBUG, "uid=%u pid=%d myname=%s: DTLS: no answer to our last flight yet, "
				 "resending it", (unsigned)c->req.cred.uid, (int)c->req.cred.pid,
				 c->req.msg.myname);
			st = handshake_step(c);
		}
		/* Closed or not, c stays in memory until bury(). */
		(void)st;
	}
}

/* Take part in a module reset: key objects belong to the module session
 * that is about to end, and so do handshakes half way through signing. */
static void reset_check(struct worker *w)
{
	struct keyd *k = w->k;
	struct conn *c, *next;

	if (!p11reset_worker_due(k, &w->reset_acked))
		return;
	for (c = w->conns; c; c = next) {
		next = c->next;
		if (c->state == CONN_HANDSHAKE)
			handshake_fail(c, EIO, "the PKCS#11 module is being re-initialised, try again");
	}
	keys_drop_all(w, 1);
	p11reset_worker_ack(k, &w->reset_acked);
}

/* One epoll event.  A conn closed by an earlier event of the same batch
 * is still in memory (dead): its later events are dropped here. */
static enum conn_status dispatch(struct worker *w, struct ev *ev, uint32_t events)
{
	struct conn *c;

	if (ev->kind == EV_IDLE) {
		struct ctlconn *cc = (struct ctlconn *)(void *)ev; /* ev is its first member */

		if (cc->dead)
			return CONN_LIVE;
		if (!cc->owner) {
			ctlconn_event(w, cc, events);
			return CONN_LIVE;
		}
		ev = &cc->owner->ctl; /* a conn's control socket (worker_adopt) */
	}
	c = conn_of(ev);
	if (!c || c->dead)
		return CONN_CLOSED;
	if (c->state != CONN_HANDSHAKE)
		return relay_event(c, ev, events);
	if (ev->kind == EV_CTL)
		return handshake_ctl_event(c, events);
	return handshake_step(c);
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
			/* Session controls for a worker that is gone: what is
			 * queued now is answered below, later ones are refused
			 * (ESHUTDOWN) instead of waiting for ever.
			 * XXX: starts may still be handed to it (worker_submit
			 * does not look): they wait until the daemon stops. */
			pthread_mutex_lock(&w->lock);
			w->stop = 1;
			pthread_mutex_unlock(&w->lock);
			break;
		}
		for (int i = 0; i < n; i++) {
			struct ev *ev = evs[i].data.ptr;

			if (ev == &wake_ev) {
				eventfd_t v;
				(void)eventfd_read(w->wakefd, &v);
				continue;
			}
			if (ev == &admission_listen_tag) {
				admission_worker_accept(w);
				continue;
			}
			if (dispatch(w, ev, evs[i].events) == CONN_CLOSED)
				continue; /* freed by bury() after the batch */
		}
		expire(w);
		adopt_inbox(w);
		dane_worker_deliver(w);
		wcmd_run(w); /* session controls for our conns */
		ocsp_conn_deliver(w);
		reset_check(w);
		reeval_worker_run(w); /* after a reload: sessions no longer allowed */
		keys_prune(w); /* after a reload: keys of the old generation */
		bury(w);
		admission_worker_listen_sync(w);
		/* Before waiting: the next batch of protected pairs, a whole
		 * one only where the descriptor budget has room for it (else
		 * pairs are made one at a time, as they are needed). */
		w->pool.batch = admission_fd_room_for(w->k, 2 * APPSOCK_POOL + 1) ? APPSOCK_POOL : 1;
		if (w->pool.used && w->pool.n == 0 && w->pool.batch > 1)
			(void)appsock_pool_fill(&w->pool);
		pthread_mutex_lock(&w->lock);
		stop = w->stop;
		pthread_mutex_unlock(&w->lock);
		if (stop)
			break;
	}
	wcmd_run(w); /* the last ones queued before stop: answered */
	ctlconn_close_all(w);
	/* Shutting down.  A caller whose handshake is still running hears why
	 * its descriptor goes away, rather than seeing it just closed. */
	for (struct conn *c = w->conns, *next; c; c = next) {
		next = c->next;
		if (c->state == CONN_HANDSHAKE)
			handshake_fail(c, ESHUTDOWN, "tlskeyd is shutting down");
	}
	/* A live session ends because we stop, whatever it was doing.  Its
	 * peer must not take that for the end of the stream: close_notify
	 * says the stream is complete, true only where the app ended its side
	 * and nothing is owed; else the peer sees a reset, as when the app's
	 * side breaks (relay_end_app_gone). */
	for (struct conn *c = w->conns; c; c = c->next) {
		if (c->state == CONN_RELAY)
			c->end = STATS_END_SHUTDOWN + 1;
		if (c->state == CONN_RELAY && c->tls && !c->bye_done) {
			if (c->app_eof && !c->to_net && !c->send_pending)
				(void)gnutls_bye(c->tls, GNUTLS_SHUT_WR);
			else
				c->net_reset = 1;
		}
		/* The app's stream did not end, it was cut: say so. */
		if (c->app_tcp && c->app.fd >= 0 && !(c->net_eof && !c->to_app))
			appsock_reset(c->app.fd);
	}
	/* One session-end record each (end=shutdown), saying why. */
	while (w->conns)
		(void)conn_close(w->conns, 0,
				 atomic_load(&w->k->drain_cut) ? "the upgrade's drain limit passed"
							       : "tlskeyd is shutting down");
	bury(w);
	passclose_thread_done();
	return NULL;
}

int worker_start(struct keyd *k, struct worker *w, unsigned index)
{
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = &wake_ev };
	int r;

	memset(w, 0, sizeof(*w));
	w->k = k;
	w->index = index;
	/* Its own duplicate of the listener: it watches and closes it on its
	 * own thread (admission_worker_listen_sync). */
	w->listen_fd = k->listen_fd >= 0 ? fcntl(k->listen_fd, F_DUPFD_CLOEXEC, 3) : -1;
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	w->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	w->scratch = malloc(RELAY_IO_SCRATCH_SIZE);
	w->pool.ready = k->stats ? &k->stats->pairs_ready : NULL;
	if (w->epfd < 0 || w->wakefd < 0 || !w->scratch)
		return -ENOMEM;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->wakefd, &e) < 0)
		return -errno;
	pthread_mutex_init(&w->lock, NULL);
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
	reeval_worker_clear(w);
	dane_worker_drop(w);
	ocsp_conn_drop(w);
	keys_free_all(w);
	appsock_pool_drain(&w->pool);
	w->listen_fd = tk_close(w->listen_fd);
	if (w->scratch)
		tk_wipe(w->scratch, RELAY_IO_SCRATCH_SIZE); /* relayed plaintext passed through it */
	free(w->scratch);
	(void)tk_close(w->epfd);
	(void)tk_close(w->wakefd);
	pthread_mutex_destroy(&w->lock);
}
