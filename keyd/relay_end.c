/* How a relay ends (keyd/relay_end.c, the caller is keyd/relay.c): the
 * network side failing (the app drains what it was sent, then sees a
 * reset), the app going away, the peer's orderly end becoming EOF for the
 * app, the close timer after the app's own end.  Also the decrypted bytes
 * parked for the app, which both the relay and the drain flush. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"
#include "keyd/conn.h"
#include "keyd/gen.h"
#include "keyd/relay_end.h"
#include "keyd/appsock.h"
#include "keyd/log.h"

/* After a failure the app gets this long to take what it was sent before
 * its descriptor is reset; we look this often whether it has. */
#define DRAIN_MAX_MS 10000
#define DRAIN_POLL_MS 20

static void record_failure(struct conn *c, const char *why)
{
	/* Record the failure before the app sees its error or EOF, so that a
	 * tlskey_query() right after it already says "failed". */
	c->failed = 1;
	registry_fail(c->info);
	c->info = NULL;
	keyd_log(LOG_INFO, "relay closed: uid=%u pid=%d myname=%s peer=%s: %s",
		 (unsigned)c->req.cred.uid, (int)c->req.cred.pid, c->req.msg.myname,
		 c->peer[0] ? c->peer : "(none)", why);
}

/* The application went away: end the session, the peer sees the TCP
 * connection end without close_notify. */
enum conn_status relay_end_app_gone(struct conn *c, const char *why)
{
	conn_set_end(c, STATS_END_APP_CLOSE);
	record_failure(c, why);
	if (c->net.fd >= 0)
		(void)shutdown(c->net.fd, SHUT_RDWR);
	return conn_close(c, 0, why); /* the failure is recorded already */
}

/* The network side failed (truncation, reset, TLS error): the app must see
 * an error, never a clean EOF.  On a TCP protected descriptor it gets the
 * bytes already sent to it, then ECONNRESET; a UNIX pair can only end. */
enum conn_status relay_end_abort(struct conn *c, const char *why)
{
	record_failure(c, why);
	if (c->net.fd >= 0)
		(void)shutdown(c->net.fd, SHUT_RDWR);
	if (c->app_tcp && c->app.fd >= 0) {
		conn_set_state(c, CONN_DRAIN);
		c->deadline_ms = tk_now_ms() + DRAIN_MAX_MS;
		(void)conn_ev_update(c, &c->net, 0);
		return relay_drain_step(c);
	}
	if (c->app.fd >= 0)
		(void)shutdown(c->app.fd, SHUT_RDWR);
	return conn_close(c, 0, why);
}

/* The peer's close_notify, after everything before it, becomes EOF for
 * the app.  While a session is live the daemon's end of a TCP protected
 * descriptor lingers {1, 0} (appsock.c), so that if the daemon dies the
 * app reads ECONNRESET, never a clean EOF; this is the one orderly end,
 * so the reset goes first: the FIN must not be followed by one. */
void relay_end_app_eof(struct conn *c)
{
	if (c->app_tcp)
		appsock_orderly(c->app.fd);
	(void)shutdown(c->app.fd, SHUT_WR);
}

/* The app shut down its side: from now on the peer has close-timeout to
 * make progress each time (see the top of this file). */
void relay_end_timer_arm(struct conn *c)
{
	if (c->state != CONN_RELAY || c->timed)
		return;
	c->deadline_ms = tk_now_ms() + c->req.gen->conf->close_timeout_ms;
	conn_set_timed(c, 1);
}

/* Write out decrypted bytes the app has not taken yet (all of them taken:
 * c->to_app is NULL afterwards).  CONN_CLOSED if the app is gone. */
enum conn_status relay_end_flush_app(struct conn *c)
{
	while (c->to_app_off < c->to_app_len) {
		ssize_t n = send(c->app.fd, c->to_app + c->to_app_off, c->to_app_len - c->to_app_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return CONN_LIVE;
		if (n < 0) {
			return relay_end_app_gone(c, "application closed its descriptor");
		}
		c->to_app_off += (size_t)n;
	}
	tk_wipe(c->to_app, c->to_app_len); /* decrypted plaintext */
	free(c->to_app);
	c->to_app = NULL;
	c->to_app_len = c->to_app_off = 0;
	return CONN_LIVE;
}

enum conn_status relay_drain_step(struct conn *c)
{
	unsigned long long now = tk_now_ms();

	if (c->to_app && relay_end_flush_app(c) == CONN_CLOSED)
		return CONN_CLOSED;
	if ((!c->to_app && appsock_unsent(c->app.fd) == 0) || now >= c->deadline_ms) {
		appsock_reset(c->app.fd);
		return conn_close(c, 0, "drained");
	}
	c->retransmit_ms = now + DRAIN_POLL_MS;
	if (conn_ev_update(c, &c->app, c->to_app ? EPOLLOUT : 0) < 0) {
		appsock_reset(c->app.fd);
		return conn_close(c, 0, "drain: epoll failed");
	}
	return CONN_LIVE;
}

/* The close timer ran out.  It measures the peer, so time in which the
 * app held us back (decrypted bytes parked for it: we do not read the
 * peer meanwhile) does not count: the timer starts over instead. */
enum conn_status relay_close_expired(struct conn *c)
{
	char why[160];

	if (c->to_app) {
		c->deadline_ms = tk_now_ms() + c->req.gen->conf->close_timeout_ms;
		return CONN_LIVE;
	}
	(void)snprintf(why, sizeof(why), "the application closed; the peer made no progress for "
		       "close-timeout (%u ms)%s", c->req.gen->conf->close_timeout_ms,
		       c->bye_done ? " after our close_notify" : ", close_notify not sent");
	c->net_reset = 1;
	/* The application's close came first, but the timer ends it. */
	c->end = STATS_END_TIMEOUT + 1;
	return relay_end_abort(c, why);
}
