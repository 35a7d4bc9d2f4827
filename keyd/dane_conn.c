/* DANE for one connection.  The TLSA name (_PORT._tcp.SNINAME) is known
 * at admission in the client role, so the records are fetched before the
 * handshake starts: the worker returns to its loop meanwhile, the
 * handshake timer keeps running, and validation later (trust.c) works
 * from the answer in the conn without any I/O. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "common/util.h"
#include "keyd/dane.h"
#include "keyd/dane_conn.h"
#include "keyd/gen.h"
#include "keyd/handshake.h"
#include "keyd/log.h"
#include "keyd/worker.h"

static atomic_ullong next_serial = 1;

/* Peer rule, then identity, then the global setting. */
static enum keyd_dane mode_of(const struct conn *c)
{
	const struct keyd_request *q = &c->req;
	const struct keyd_conf *conf = q->gen->conf;
	const struct keyd_peer *pe;

	if (q->msg.role != TK_ROLE_CLIENT)
		return KEYD_DANE_OFF;
	pe = TK_HAS(&q->msg, TK_TAG_SNINAME) ? keyd_conf_peer(conf, q->msg.sniname) : NULL;
	if (pe && pe->dane)
		return pe->dane;
	if (q->id && q->id->dane)
		return q->id->dane;
	return conf->dane ? conf->dane : KEYD_DANE_OFF;
}

/* "_PORT._tcp.NAME." from the connected socket's peer port. */
static int tlsa_name(const struct conn *c, char *out, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	unsigned port;
	const char *name = c->req.msg.sniname;
	unsigned char bin[sizeof(struct in6_addr)];

	if (!TK_HAS(&c->req.msg, TK_TAG_SNINAME) || !name[0] || inet_pton(AF_INET, name, bin) == 1 ||
	    inet_pton(AF_INET6, name, bin) == 1)
		return -EDESTADDRREQ;
	if (getpeername(c->net.fd, (struct sockaddr *)&ss, &sl) < 0)
		return -errno;
	if (ss.ss_family == AF_INET)
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	else if (ss.ss_family == AF_INET6)
		port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	else
		return -EAFNOSUPPORT;
	if ((size_t)snprintf(out, len, "_%u._%s.%s%s", port, c->dtls ? "udp" : "tcp", name,
			     name[strlen(name) - 1] == '.' ? "" : ".") >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* The answer is in: decide, then begin or fail.  Takes a's reference. */
static enum conn_status decided(struct conn *c, enum keyd_dane mode, struct dane_answer *a)
{
	const char *why = "";
	int r = dane_decide(mode, a, &why);

	if (r < 0) {
		enum conn_status st = handshake_fail(c, -r, "DANE: %s for %s%s%s", why,
						     c->req.msg.sniname, a->why[0] ? ": " : "", a->why);
		dane_answer_unref(a);
		return st;
	}
	if (r == 1)
		c->dane = a; /* owned by c: conn_close() drops it */
	else
		dane_answer_unref(a);
	return handshake_begin(c);
}

enum conn_status dane_conn_begin(struct conn *c)
{
	const struct keyd_request *q = &c->req;
	enum keyd_dane mode = mode_of(c);
	struct dane_resolver *res = c->w->k->dane;
	struct dane_answer *a;
	char qname[DANE_QNAME_MAX + 1];
	unsigned timeout = q->msg.timeout_ms ? q->msg.timeout_ms : q->gen->conf->handshake_timeout_ms;
	int r;

	if (mode == KEYD_DANE_OFF)
		return handshake_begin(c);
	c->dtls = q->msg.proto == IPPROTO_UDP;
	r = tlsa_name(c, qname, sizeof(qname));
	if (r == -EDESTADDRREQ && mode == KEYD_DANE_OPPORTUNISTIC)
		return handshake_begin(c); /* no server name: nothing to look up */
	if (r < 0)
		return handshake_fail(c, EKEYREJECTED, "DANE: no TLSA name for this connection (%s%s)",
				      r == -EDESTADDRREQ ? "the request has no server name" : strerror(-r),
				      "");
	if (!res) /* a reload turned DANE on: the resolver starts with the daemon */
		return handshake_fail(c, EKEYREJECTED, "DANE: no resolver running (dns-resolver "
				      "takes effect at restart)");
	if (dane_cache_get(res, qname, &a) == 0) {
		keyd_log(LOG_DEBUG, "DANE: TLSA %s from the cache", qname);
		return decided(c, mode, a);
	}
	c->deadline_ms = tk_now_ms() + timeout;
	c->dane_serial = atomic_fetch_add(&next_serial, 1);
	/* The handshake timer ends the wait (dane_conn_timeout); the resolver
	 * gives up a second later, so that a slow DNS is ETIMEDOUT. */
	r = dane_submit(res, c->w, c->dane_serial, qname, c->deadline_ms + 1000);
	if (r < 0) {
		c->dane_serial = 0;
		return handshake_fail(c, r == -EAGAIN ? EAGAIN : EKEYREJECTED, "DANE: cannot look up "
				      "TLSA %s: %s", qname, strerror(-r));
	}
	/* A caller that goes away meanwhile ends the wait (handshake.c's
	 * control event handler works without a TLS session). */
	r = conn_ev_update(c, &c->ctl, EPOLLIN | EPOLLRDHUP);
	if (r < 0)
		return handshake_fail(c, -r, "epoll: %s", strerror(-r));
	return CONN_LIVE;
}

void dane_worker_deliver(struct worker *w)
{
	struct dane_job *list, *j;

	pthread_mutex_lock(&w->lock);
	list = w->dane_done;
	w->dane_done = NULL;
	pthread_mutex_unlock(&w->lock);
	while ((j = list)) {
		list = j->next;
		for (struct conn *c = w->timed; c; c = c->tnext) {
			struct dane_answer *a = j->answer;

			if (c->dead || c->dane_serial != j->serial)
				continue;
			c->dane_serial = 0;
			j->answer = NULL;
			if (!a)
				(void)handshake_fail(c, ENOMEM, "DANE: out of memory");
			else
				(void)decided(c, mode_of(c), a);
			break;
		}
		dane_job_free(j);
	}
}

enum conn_status dane_conn_timeout(struct conn *c)
{
	c->dane_serial = 0;
	return handshake_fail(c, ETIMEDOUT, "DANE: the TLSA lookup for %s did not finish before the "
			      "handshake timer", c->req.msg.sniname);
}

void dane_worker_drop(struct worker *w)
{
	pthread_mutex_lock(&w->lock);
	for (struct dane_job *j = w->dane_done, *next; j; j = next) {
		next = j->next;
		dane_job_free(j);
	}
	w->dane_done = NULL;
	pthread_mutex_unlock(&w->lock);
}
