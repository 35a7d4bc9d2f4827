/* Connection lifecycle: the one place that changes a connection's state
 * and, with it, every count and slot that depends on it; and the one place
 * that ends a connection (conn_close).  Handlers never free a conn: the
 * worker frees memory after the event batch (bury in worker.c). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <gnutls/gnutls.h>

#include "common/util.h"
#include "keyd/conn.h"
#include "keyd/ctlconn.h"
#include "keyd/ocsp_fetch.h"
#include "keyd/dane_match.h"
#include "keyd/gen.h"
#include "keyd/keys.h"
#include "keyd/log.h"
#include "keyd/outcome.h"
#include "keyd/quota.h"
#include "keyd/worker.h"
#include "keyd/passclose.h"
#include "keyd/vhost.h"
#include "policy/acl.h"

void keyd_slot_free(struct keyd *k)
{
	/* Only the accept loop's queue needs to hear about it; waking it for
	 * every handshake would cost a context switch each. */
	if (atomic_load(&k->queued))
		(void)eventfd_write(k->donefd, 1);
}

int conn_ev_update(struct conn *c, struct ev *ev, uint32_t mask)
{
	struct epoll_event e = { .events = mask, .data.ptr = ev };
	int op;

	if (ev->fd < 0 || ev->mask == mask)
		return 0;
	if (mask == 0)
		op = EPOLL_CTL_DEL;
	else
		op = ev->mask ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (epoll_ctl(c->w->epfd, op, ev->fd, &e) < 0)
		return -errno;
	ev->mask = mask;
	/* ctl's registration names &c->ctl from now on (or is gone), no
	 * longer the parked ctlconn's (worker_adopt). */
	if (ev == &c->ctl && c->cc)
		c->cc->owner = NULL;
	return 0;
}

static void ev_close(struct worker *w, struct ev *ev, int reset)
{
	if (ev->fd < 0)
		return;
	/* Remove explicitly: another process may still hold a duplicate of
	 * this socket, which would keep the epoll registration alive (the
	 * caller's own socket; and any of ours in an upgrade's child between
	 * its fork and exec). */
	if (ev->mask)
		(void)epoll_ctl(w->epfd, EPOLL_CTL_DEL, ev->fd, NULL);
	ev->mask = 0;
	/* The network socket is the caller's too: its close is bounded, and
	 * SO_LINGER is ours again just before it (passclose.h): a reset
	 * where the session wants one, else an orderly end in the
	 * background. */
	if (ev->kind == EV_NET) /* checked TCP or UDP at admission */
		ev->fd = passclose_here(ev->fd, reset ? PASSCLOSE_RESET : PASSCLOSE_ORDERLY);
	else if (ev->kind == EV_CTL || ev->kind == EV_IDLE)
		ev->fd = passclose_ctl(ev->fd); /* what the caller queued in it goes too */
	else
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
	(void)atomic_fetch_sub(&w->load, 1);
	quota_handshake_put(c->req.gen->quota, c->req.cred.uid, c->req.id_index);
	/* The relay needs no key: this worker's key objects of an older
	 * generation go once its last handshake on them is over. */
	keys_detach(c);
	(void)atomic_fetch_sub(&w->k->handshakes, 1);
	keyd_slot_free(w->k);
}

enum conn_status conn_close(struct conn *c, int err, const char *why)
{
	struct worker *w;

	if (!c || c->dead)
		return CONN_CLOSED;
	w = c->w;
	if (c->established)
		outcome_session_end(c, why);
	if (err) {
		c->failed = 1;
		keyd_log(LOG_DEBUG, "uid=%u pid=%d myname=%s: connection closed: %s",
			 (unsigned)c->req.cred.uid, (int)c->req.cred.pid, c->req.msg.myname,
			 why ? why : strerror(err));
	}
	conn_handshake_done(c);
	conn_set_timed(c, 0);
	/* The OCSP entry this session held (ocsp_online.c). */
	free(c->ocsp_detail);
	c->ocsp_detail = NULL;
	if (c->ocsp_held && w->k->ocsp)
		ocsp_cache_release(w->k->ocsp, c->ocsp_key);
	c->ocsp_held = 0;
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
	c->tls = NULL; /* a dead conn's later events must not reach it */
	ev_close(w, &c->net, c->net_reset);
	ev_close(w, &c->app, 0);
	ev_close(w, &c->ctl, 0);
	/* Its socket was ctl, closed just now; events of this batch may
	 * still name it (worker_adopt). */
	ctlconn_grave(w, c->cc);
	c->cc = NULL;
	c->app_out = tk_close(c->app_out);
	if (c->to_app) {
		tk_wipe(c->to_app, c->to_app_len);
		free(c->to_app);
	}
	if (c->to_net) {
		tk_wipe(c->to_net, c->to_net_len);
		free(c->to_net);
	}
	free(c->from_net); /* ciphertext */
	c->to_app = c->to_net = c->from_net = NULL;
	acl_unref(c->req.acl);
	dane_answer_unref(c->dane);
	c->dane = NULL;
	c->req.acl = NULL;
	/* After gnutls_deinit(): the session pointed at the generation's
	 * credentials and priorities. */
	gen_unref(c->req.gen);
	c->req.gen = NULL;
	vhost_free(c->req.vhost);
	c->req.vhost = NULL;
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
	return CONN_CLOSED;
}

void conn_set_state(struct conn *c, enum conn_state to)
{
	if (c->dead || c->state == to)
		return;
	switch (to) {
	case CONN_RELAY:
		/* The handshake is over: its slot and timer go, the relay's
		 * close timer is armed later (relay_end.c) when the app shuts down. */
		conn_set_timed(c, 0);
		c->retransmit_ms = 0;
		conn_handshake_done(c);
		break;
	case CONN_DRAIN:
		/* The drain limit is a deadline: on the timed list. */
		conn_set_timed(c, 1);
		break;
	case CONN_HANDSHAKE:
		break;
	}
	c->state = to;
}
