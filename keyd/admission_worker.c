/* Admission on the workers.  Every worker watches its own duplicate of the
 * listening socket (EPOLLEXCLUSIVE: the kernel wakes one idle worker per
 * connection), accepts one client per wake-up, identifies it, reads its
 * request and, for a START that passes the ACL while a handshake slot is
 * free and nobody queues, starts the handshake on the spot: no hand-off
 * between threads, no context switch.  A worker that is signing does not
 * wait in epoll, so the next connection goes to one that is idle.
 *
 * What a worker does not finish itself goes to the accept loop
 * (admission.c), which keeps every rule that spans clients: a client whose
 * request has not arrived (watched there, under request-timeout), any
 * other request type (reload, status, queries: the accept loop's to
 * answer), and an admitted START that must wait behind the queue or for a
 * slot (the queue's order and the per-uid and per-identity shares stay in
 * one place).  The descriptor budget is the accept loop's too; workers
 * read the figures it publishes and tell it when they run out. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"
#include "keyd/admission.h"
#include "keyd/appsock.h"
#include "keyd/control.h"
#include "keyd/ctlconn.h"
#include "keyd/gen.h"
#include "keyd/log.h"
#include "keyd/passclose.h"
#include "keyd/quota.h"
#include "keyd/stats.h"
#include "keyd/vhost.h"
#include "keyd/worker.h"

/* The epoll tag of every worker's listener (each knows its own fd). */
struct ev admission_listen_tag = { .kind = 0, .fd = -1 };

void admission_workers_wake(struct keyd *k)
{
	for (unsigned i = 0; i < k->n_workers; i++)
		(void)eventfd_write(k->workers[i].wakefd, 1);
}

void admission_worker_listen_sync(struct worker *w)
{
	int on = atomic_load(&w->k->listen_on);
	struct epoll_event e = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = &admission_listen_tag };

	if (w->listen_fd < 0)
		return;
	if (on > 0 && !w->listening) {
		w->listening = epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->listen_fd, &e) == 0;
	} else if (on <= 0 && w->listening) {
		(void)epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->listen_fd, NULL);
		w->listening = 0;
	}
	if (on < 0) {
		w->listen_fd = tk_close(w->listen_fd);
		/* Handed over or stopping: callers connect afresh (to the new
		 * process). */
		ctlconn_close_all(w);
	}
}

/* The budget the accept loop counts by (admission.c: fds_accounted),
 * from what it publishes; the client a worker is admitting right now is
 * covered by the reserve (ADMISSION_FD_RESERVE). */
unsigned long long admission_fds_used(const struct keyd *k)
{
	return (unsigned long long)atomic_load(&k->fd_base) + atomic_load(&k->adm_fds) +
	       (unsigned long long)ADM_FDS_HANDOFF * atomic_load(&k->n_handoffs) +
	       (unsigned long long)ADM_FDS_PARKED * atomic_load(&k->n_parked) +
	       (unsigned long long)ADM_FDS_SESSION * atomic_load(&k->sessions) +
	       (unsigned long long)ADM_FDS_HANDSHAKE * atomic_load(&k->handshakes) +
	       (k->stats ? (unsigned long long)ADM_FDS_PAIR * atomic_load(&k->stats->pairs_ready) : 0);
}

int admission_fd_room_for(const struct keyd *k, unsigned extra)
{
	return admission_fds_used(k) + ADMISSION_FD_RESERVE(k->n_workers) + extra <
	       atomic_load(&k->fd_max);
}

static int fd_room(const struct keyd *k)
{
	return admission_fd_room_for(k, 0);
}

/* Out of descriptors: the accept loop pauses the listener, logs once and
 * resumes when sessions have ended (admission_tick). */
static void listen_full(struct keyd *k, int err)
{
	int expected = 0;

	if (atomic_compare_exchange_strong(&k->listen_full, &expected, 1 + err))
		(void)eventfd_write(k->donefd, 1);
}

static void hand_over(struct keyd *k, struct handoff *h)
{
	(void)atomic_fetch_add(&k->n_handoffs, 1);
	pthread_mutex_lock(&k->handoff_lock);
	h->next = k->handoffs;
	k->handoffs = h;
	pthread_mutex_unlock(&k->handoff_lock);
	(void)eventfd_write(k->donefd, 1);
}

/* Claim a handshake slot and the request's shares for a start on this
 * worker: only when nothing queues (the queue goes first), no module reset
 * runs, and a slot is free now.  Returns 1 with the slot held, else 0. */
static int slot_claim(struct keyd *k, const struct keyd_request *q)
{
	if (atomic_load(&k->queued) || atomic_load(&k->resetting))
		return 0;
	if (atomic_fetch_add(&k->handshakes, 1) >= q->gen->conf->max_handshakes) {
		(void)atomic_fetch_sub(&k->handshakes, 1);
		return 0;
	}
	if (quota_handshake_take(q->gen->quota, q->cred.uid, q->id_index) < 0) {
		(void)atomic_fetch_sub(&k->handshakes, 1);
		return 0;
	}
	return 1;
}

/* The worker with the fewest handshakes, this one while it has none: a
 * worker that signs blocks, so handshakes piled on one worker wait for
 * each other's signatures while others idle (the kernel wakes whichever
 * worker waits in epoll, also one with handshakes waiting for peers). */
static struct worker *least_loaded(struct worker *self)
{
	struct keyd *k = self->k;
	struct worker *best = self;
	unsigned low = atomic_load(&self->load);

	for (unsigned i = 0; low && i < k->n_workers; i++) {
		unsigned l = atomic_load(&k->workers[i].load);

		if (l < low) {
			low = l;
			best = &k->workers[i];
		}
	}
	return best;
}

/* A START admitted here on cc: start it on this worker (cc goes with the
 * conn) or on a less loaded one, or queue it at the accept loop (the
 * socket goes, cc ends). */
static void start_admitted(struct worker *w, struct keyd_request *q, int netfd, struct ctlconn *cc)
{
	struct keyd *k = w->k;
	struct handoff *h;
	int ctlfd;

	if (slot_claim(k, q)) {
		struct worker *to = least_loaded(w);

		quota_pending_put(k->quota, q->cred.uid);
		if (to == w) {
			worker_adopt(w, q, netfd, cc);
			return;
		}
		/* worker_submit() counts the slot itself; the shares go with
		 * the request. */
		ctlfd = ctlconn_release_fd(w, cc);
		(void)atomic_fetch_sub(&k->handshakes, 1);
		{
			struct keyd_gen *g = gen_ref(q->gen);

			if (worker_submit(to, q, netfd, ctlfd, cc) < 0)
				quota_handshake_put(g->quota, q->cred.uid, q->id_index);
			gen_unref(g);
		}
		return;
	}
	ctlfd = ctlconn_release_fd(w, cc);
	h = calloc(1, sizeof(*h));
	if (!h) {
		ctlconn_free(cc);
		quota_pending_put(k->quota, q->cred.uid);
		acl_unref(q->acl);
		gen_unref(q->gen);
		vhost_free(q->vhost);
		(void)shutdown(netfd, SHUT_RDWR);
		(void)passclose(netfd);
		control_refuse(ctlfd, &q->cred, q->unit[0] ? q->unit : NULL, EAGAIN,
			       "tlskeyd is out of memory, try again later");
		return;
	}
	*h = (struct handoff){ .kind = HANDOFF_QUEUE, .ctlfd = ctlfd, .fd = netfd, .counted = 1, .req = *q,
			       .cc = cc };
	hand_over(k, h);
}

void admission_worker_request(struct worker *w, struct ctlconn *cc)
{
	struct keyd *k = w->k;
	struct tk_msg *m = calloc(1, sizeof(*m));
	struct handoff *h = NULL;
	struct keyd_request q;
	int fd = -1, netfd = -1, r;

	r = m ? control_recv(cc->ev.fd, &cc->who, m, &fd) : -ENOMEM;
	/* The hand-off only for what goes to the accept loop. */
	if ((r == -EAGAIN || (r == 0 && m->type != TK_MSG_START)) && !(h = calloc(1, sizeof(*h)))) {
		if (fd >= 0)
			(void)passclose(fd);
		fd = -1;
		r = -ENOMEM;
	}
	if (h) {
		/* Not here yet, or not ours to answer: the accept loop's,
		 * with who connected (cc ends here). */
		*h = (struct handoff){ .kind = r == 0 ? HANDOFF_CALL : HANDOFF_CLIENT,
				       .ctlfd = ctlconn_release_fd(w, cc), .fd = fd, .counted = 1,
				       .who = cc->who, .pidfd = r == 0 ? -1 : cc->pidfd,
				       .m = r == 0 ? m : NULL };
		memset(&cc->who, 0, sizeof(cc->who)); /* its memory is h's now */
		if (r != 0)
			cc->pidfd = -1; /* and so is the pidfd of a client */
		ctlconn_free(cc);
		if (r != 0)
			free(m);
		hand_over(k, h);
		return;
	}
	if (r == 0) {
		struct control_call x = { .k = k, .ctlfd = cc->ev.fd, .who = &cc->who, .m = m, .fd = fd,
					  .ret_req = &q, .ret_netfd = &netfd };

		r = control_dispatch(&x);
	} else if (r == -ENOMEM) {
		tk_msg_send_result(cc->ev.fd, EAGAIN, "tlskeyd is out of memory, try again later");
	}
	free(m);
	if (r != 0) {
		/* Refused and answered (or unreadable): the connection is done. */
		quota_pending_put(k->quota, cc->who.cred.uid);
		ctlconn_drop(w, cc);
		return;
	}
	start_admitted(w, &q, netfd, cc);
}

int admission_worker_share(struct worker *w, struct ctlconn *cc)
{
	char why[TK_MESSAGE_MAX];
	int r = quota_pending_take(w->k->quota, cc->who.cred.uid, why, sizeof(why));

	if (r == 0)
		return 0;
	keyd_log(LOG_WARNING, "uid=%u pid=%d: %s: refusing", (unsigned)cc->who.cred.uid,
		 (int)cc->who.cred.pid, r == -EAGAIN ? why : strerror(-r));
	ctlconn_refuse(w, cc, EAGAIN, r == -EAGAIN ? why : "tlskeyd is out of memory, try again later");
	return r;
}

void admission_worker_accept(struct worker *w)
{
	struct keyd *k = w->k;
	struct ctlconn *cc;
	struct caller who;
	int fd, pidfd = -1, r;

	if (!fd_room(k)) {
		listen_full(k, 0);
		return;
	}
	fd = accept4(w->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE)
			listen_full(k, errno);
		return; /* EAGAIN: another worker took it */
	}
	/* max-pending clients wait for their request at the accept loop:
	 * no more are taken on, as there. */
	if (atomic_load(&k->adm_clients) >= atomic_load(&k->max_pending)) {
		keyd_log(LOG_WARNING, "too many waiting clients (%u): refusing one",
			 atomic_load(&k->adm_clients));
		control_refuse(fd, NULL, NULL, EAGAIN, "tlskeyd has too many waiting clients");
		stats_outcome(k->stats, STATS_REFUSED, EAGAIN, (size_t)-1);
		return;
	}
	r = caller_identify(fd, &who, &pidfd);
	if (r < 0) {
		keyd_log(r == -ESRCH ? LOG_INFO : LOG_WARNING, "a client could not be identified (%s): closed",
			 r == -ESRCH ? "it exited, or its PID was reused" : strerror(-r));
		(void)passclose_ctl(fd);
		return;
	}
	cc = ctlconn_new(fd, pidfd, &who);
	if (!cc) {
		control_refuse(fd, &who.cred, who.unit[0] ? who.unit : NULL, EAGAIN,
			       "tlskeyd is out of memory, try again later");
		(void)tk_close(pidfd);
		caller_done(&who);
		return;
	}
	if (admission_worker_share(w, cc) == 0)
		admission_worker_request(w, cc);
}
