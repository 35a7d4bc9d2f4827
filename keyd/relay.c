/* The relay: plaintext on the application's protected descriptor <-> TLS
 * records on the network socket.  Event-driven with backpressure: we only
 * read from one side while the other side can take what we read.  Half
 * close travels both ways: EOF from the application becomes close_notify
 * plus a TCP FIN; close_notify from the peer becomes EOF for the app.
 *
 * Once the app has shut down its side (EOF read, or a hang-up seen while
 * its input waits behind backpressure), the close timer runs: if the peer
 * makes no progress -- sends nothing, takes nothing of what we still owe
 * it -- for close-timeout, the session ends with a reset.  Without it a
 * peer that never answers our close_notify nor reads would keep the
 * session and its two descriptors forever (the app's end is not watched
 * while a send waits).  Time in which decrypted bytes wait for the app
 * does not count: we do not read the peer meanwhile (relay_end.c). */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"
#include "keyd/conn.h"
#include "keyd/gen.h"
#include "keyd/relay.h"
#include "keyd/relay_io.h"
#include "keyd/relay_end.h"
#include "keyd/appsock.h"
#include "keyd/tickets.h"
#include "keyd/keyupdate.h"
#include "keyd/worker.h"
#include "keyd/log.h"

/* How much one event may move before yielding to other conns: batches of
 * decrypted records (up to RELAY_IO_PLAIN_CAP each, one send to the app
 * per batch), and chunks read from the app (RELAY_IO_PLAIN_CAP each). */
#define RELAY_NET_BATCHES 4
#define RELAY_BATCH_RECORDS 64
#define RELAY_APP_CHUNKS 4
/* The most a TLS peer may send while none of its records carries data:
 * KeyUpdates, tickets, warnings and empty or padding-only records take
 * far less.  GnuTLS gathers a post-handshake message whole, whatever
 * length it declares (16 MiB), and held it for as long as the peer
 * stalled; padding-only records cost decryption and deliver nothing. */
#define RELAY_NODATA_MAX (1024u * 1024u)
#define RECORD_MAX (16 * 1024)

/* The byte counts tlskey_query_session() reads from the accept thread;
 * and the key-update-bytes count. */
static void publish_count(struct conn *c, int in, size_t n)
{
	if (c->info && in)
		atomic_store_explicit(&c->info->bytes_in, c->bytes_in, memory_order_relaxed);
	else if (c->info)
		atomic_store_explicit(&c->info->bytes_out, c->bytes_out, memory_order_relaxed);
	keyupdate_account(c, n);
}

/* A due KeyUpdate goes out between records: 0 done, 1 wait for the
 * socket, -1 the conn was closed. */
static int key_update_step(struct conn *c)
{
	int r = keyupdate_flush(c);

	if (r == -EAGAIN)
		return 1;
	if (r < 0) {
		enum conn_status st;

		conn_set_end(c, STATS_END_ERROR);
		/* Closed or draining: either way the relay moves no more. */
		st = relay_end_abort(c, "TLS KeyUpdate failed");
		(void)st;
		return -1;
	}
	return 0;
}

/* A fatal error in a record the peer sent: tell the peer why, with the
 * alert GnuTLS itself would send (record_overflow, unexpected_message,
 * illegal_parameter, bad_record_mac, ...), before the connection ends.
 * Bounded: the push is MSG_DONTWAIT (handshake.c), so a peer that does not
 * read only loses the alert (GNUTLS_E_AGAIN is not retried).  Nothing is
 * sent when the peer sent a fatal alert itself or the transport is gone:
 * there is no one to tell. */
static void relay_alert(struct conn *c, int err)
{
	if (!c->tls || err == GNUTLS_E_FATAL_ALERT_RECEIVED || err == GNUTLS_E_PULL_ERROR ||
	    err == GNUTLS_E_PUSH_ERROR || err == GNUTLS_E_PREMATURE_TERMINATION)
		return;
	(void)gnutls_alert_send_appropriate(c->tls, err);
}

/* The network side: TLS records, or raw bytes for a connection that
 * stayed in cleartext (allow-handshake-timeout).  Returns like
 * gnutls_record_recv/send: >= 0 bytes, GNUTLS_E_AGAIN, or another error. */
static ssize_t net_recv(struct conn *c, uint8_t *buf, size_t len)
{
	ssize_t n;

	if (c->tls) {
		n = gnutls_record_recv(c->tls, buf, len);
		/* A server's NewSessionTicket comes in among the records. */
		tickets_client_note(c);
		return n;
	}
	do
		n = recv(c->net.fd, buf, len, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return (errno == EAGAIN || errno == EWOULDBLOCK) ? GNUTLS_E_AGAIN : GNUTLS_E_PULL_ERROR;
	return n;
}

static ssize_t net_send(struct conn *c, const uint8_t *buf, size_t len)
{
	ssize_t n;

	if (c->tls)
		return gnutls_record_send(c->tls, buf, len);
	do
		n = send(c->net.fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return (errno == EAGAIN || errno == EWOULDBLOCK) ? GNUTLS_E_AGAIN : GNUTLS_E_PUSH_ERROR;
	return n;
}

/* Hand the app what one batch decrypted, parking the rest under
 * backpressure.  The plaintext in buf is wiped in every case. */
static enum conn_status batch_to_app(struct conn *c, uint8_t *buf, size_t len)
{
	ssize_t w;

	do
		w = send(c->app.fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (w < 0 && errno == EINTR);
	if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
		tk_wipe(buf, len);
		return relay_end_app_gone(c, "application closed its descriptor");
	}
	if (w < 0)
		w = 0;
	if ((size_t)w < len) {
		/* Backpressure: park the rest, stop reading TLS. */
		c->to_app = malloc(len - (size_t)w);
		if (!c->to_app) {
			tk_wipe(buf, len);
			return relay_end_abort(c, "out of memory");
		}
		memcpy(c->to_app, buf + w, len - (size_t)w);
		c->to_app_len = len - (size_t)w;
		c->to_app_off = 0;
	}
	tk_wipe(buf, len);
	return CONN_LIVE;
}

/* Decrypt records into buf until it cannot take a full one, the peer has
 * sent all it has, or RELAY_BATCH_RECORDS.  Sets *ret_len; *ret_again when
 * nothing more is to be read now.  CONN_CLOSED on a fatal error. */
static enum conn_status batch_from_net(struct conn *c, uint8_t *buf, size_t *ret_len, int *ret_again)
{
	size_t off = 0;

	*ret_again = 0;
	for (int k = 0; k < RELAY_BATCH_RECORDS && RELAY_IO_PLAIN_CAP - off >= RECORD_MAX; k++) {
		ssize_t n = net_recv(c, buf + off, RELAY_IO_PLAIN_CAP - off);

		if (n > 0)
			c->data_mark = c->hs_bytes_in;
		else if (!c->dtls && c->tls && c->hs_bytes_in - c->data_mark > RELAY_NODATA_MAX) {
			conn_set_end(c, STATS_END_ERROR);
			if (off && batch_to_app(c, buf, off) == CONN_CLOSED)
				return CONN_CLOSED;
			return relay_end_abort(c, "TLS receive: more than 1 MiB of records without data");
		}

		/* GnuTLS also says AGAIN after a record that carried no data (a
		 * KeyUpdate, an empty record): if what follows is already in the
		 * read-ahead, no epoll event will come for it, so read on. */
		if (n == GNUTLS_E_AGAIN && relay_io_rx_buffered(c))
			continue;
		if (n == GNUTLS_E_AGAIN) {
			*ret_again = 1;
			break;
		}
		if (n == GNUTLS_E_INTERRUPTED || n == GNUTLS_E_REHANDSHAKE ||
		    n == GNUTLS_E_REAUTH_REQUEST || (n < 0 && !gnutls_error_is_fatal((int)n))) {
			/* Renegotiation is refused simply by not answering it:
			 * a warning alert is all a peer gets. */
			if (n == GNUTLS_E_REHANDSHAKE &&
			    gnutls_alert_send(c->tls, GNUTLS_AL_WARNING, GNUTLS_A_NO_RENEGOTIATION) < 0) {
				/* Only when the stash is full (relay_io.c): a peer
				 * that asks and asks and does not read. */
				conn_set_end(c, STATS_END_RESET);
				if (off && batch_to_app(c, buf, off) == CONN_CLOSED)
					return CONN_CLOSED;
				return relay_end_abort(c, "TLS send: peer does not read");
			}
			continue;
		}
		if (n < 0) {
			char why[160];
			(void)snprintf(why, sizeof(why), "TLS receive: %s", gnutls_strerror((int)n));
			conn_set_end(c, n == GNUTLS_E_PREMATURE_TERMINATION ? STATS_END_TRUNCATED
					: n == GNUTLS_E_PULL_ERROR ? STATS_END_RESET : STATS_END_ERROR);
			relay_alert(c, (int)n);
			/* What the peer sent before the break is the app's: it goes
			 * out (or is parked for the drain) before the reset. */
			if (off && batch_to_app(c, buf, off) == CONN_CLOSED)
				return CONN_CLOSED;
			return relay_end_abort(c, why);
		}
		if (n == 0) {
			c->net_eof = 1;
			conn_set_end(c, STATS_END_CLOSE_NOTIFY);
			break;
		}
		c->bytes_in += (unsigned long long)n;
		publish_count(c, 1, (size_t)n);
		off += (size_t)n;
		if (c->dtls)
			break; /* one datagram per send: the app's socket keeps boundaries */
	}
	*ret_len = off;
	return CONN_LIVE;
}

/* Move TLS -> app: up to RELAY_NET_BATCHES batches of decrypted records,
 * one send() to the app each.  Once the budget is spent, what was read
 * ahead is still decrypted (at most RELAY_IO_RX_CAP), but the socket is
 * left for the next event. */
static enum conn_status pump_net_batches(struct conn *c)
{
	uint8_t *buf = c->w->scratch;

	for (int i = 0; !c->net_eof && !c->to_app; i++) {
		size_t len = 0;
		int again = 0;

		if (i >= RELAY_NET_BATCHES) {
			if (!relay_io_rx_buffered(c))
				break;
			relay_io_rx_hold(c, 1);
		}
		if (batch_from_net(c, buf, &len, &again) == CONN_CLOSED)
			return CONN_CLOSED;
		/* Aborted (a bad record, a reset): the session drains, and its
		 * TLS state is gone; nothing more is read. */
		if (c->state != CONN_RELAY)
			return CONN_LIVE;
		if (len && batch_to_app(c, buf, len) == CONN_CLOSED)
			return CONN_CLOSED;
		if (c->state != CONN_RELAY)
			return CONN_LIVE;
		if (again)
			break;
	}
	if (c->net_eof && !c->to_app)
		relay_end_app_eof(c);
	return CONN_LIVE;
}

static enum conn_status pump_net_to_app(struct conn *c)
{
	enum conn_status st;

	relay_io_rx_begin(c);
	st = pump_net_batches(c);
	/* Kept only for a relay that goes on (not closed, not draining). */
	if (relay_io_rx_end(c, st == CONN_LIVE && c->state == CONN_RELAY && !c->net_eof) < 0)
		return relay_end_abort(c, "out of memory");
	return st;
}

static enum conn_status send_bye(struct conn *c)
{
	int r;

	if (c->to_net) {
		/* Records owed to the peer go before close_notify and the FIN. */
		c->bye_pending = 1;
		return CONN_LIVE;
	}
	r = c->tls ? gnutls_bye(c->tls, GNUTLS_SHUT_WR) : 0;

	if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
		c->bye_pending = 1;
		return CONN_LIVE;
	}
	c->bye_pending = 0;
	c->bye_done = 1;
	/* close_notify may sit in the worker's tx buffer: out with it first. */
	if (relay_io_tx_flush(c) < 0) {
		conn_set_end(c, STATS_END_RESET);
		return relay_end_abort(c, "send failed: peer gone");
	}
	/* close_notify is out (or stashed behind what is owed: then the FIN
	 * waits for it, see net_owed_flush); a FIN tells TCP-level peers too. */
	if (!c->to_net)
		(void)shutdown(c->net.fd, SHUT_WR);
	return CONN_LIVE;
}

/* Cleartext mode has no GnuTLS to hold an unsent remainder: keep it in
 * to_net. */
static enum conn_status raw_send_all(struct conn *c, const uint8_t *buf, size_t len)
{
	size_t off = 0;
	int e;

	while (off < len) {
		ssize_t n = net_send(c, buf + off, len - off);
		if (n == GNUTLS_E_AGAIN)
			break;
		if (n < 0) {
			conn_set_end(c, STATS_END_RESET);
			return relay_end_abort(c, "send failed: peer gone");
		}
		off += (size_t)n;
	}
	e = relay_io_stash(c, buf + off, len - off);
	if (e < 0)
		return relay_end_abort(c, "out of memory");
	return CONN_LIVE;
}

/* Encrypt one chunk of the app's plaintext: its records collect in the
 * worker's tx buffer (relay_io.c), sent with one call per chunk. */
static enum conn_status chunk_to_net(struct conn *c, const uint8_t *buf, size_t len)
{
	size_t off = 0;
	int again = 0, e;

	while (off < len) {
		ssize_t r = gnutls_record_send(c->tls, buf + off, len - off);

		/* The push function collects or stashes and does not say
		 * EAGAIN while collecting; retrying the same call is what
		 * GnuTLS asks for if it does. */
		if ((r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) && ++again < 4)
			continue;
		if (r < 0) {
			conn_set_end(c, STATS_END_RESET);
			return relay_end_abort(c, r == GNUTLS_E_PUSH_ERROR ? "TLS send failed: peer gone"
								: "TLS send failed");
		}
		off += (size_t)r;
	}
	e = relay_io_tx_flush(c);
	if (e < 0) {
		conn_set_end(c, STATS_END_RESET);
		return relay_end_abort(c, e == -ENOBUFS || e == -ENOMEM ? "TLS send: peer does not read"
								      : "TLS send failed: peer gone");
	}
	return CONN_LIVE;
}

/* On the app's SOCK_SEQPACKET end a read of 0 is an empty datagram or its
 * end: the end when nothing more waits (SIOCINQ counts every datagram
 * queued) and the app shut down (RDHUP), or tlskey_control(CLOSE_NOTIFY)
 * asked for it. */
static int app_dgram_end(const struct conn *c)
{
	struct pollfd p = { .fd = c->app.fd, .events = POLLRDHUP };
	int queued = 0, r;

	if (ioctl(c->app.fd, SIOCINQ, &queued) == 0 && queued > 0)
		return 0;
	if (c->stop_asked)
		return 1;
	r = poll(&p, 1, 0);
	return r < 0 || (r == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)));
}

/* One datagram (DTLS) or chunk (TLS, cleartext) read from the app. */
static enum conn_status data_to_net(struct conn *c, const uint8_t *buf, size_t len)
{
	ssize_t r;

	if (!c->tls)
		return raw_send_all(c, buf, len);
	if (!c->dtls)
		return chunk_to_net(c, buf, len);
	r = net_send(c, buf, len);
	if (r == GNUTLS_E_LARGE_PACKET) {
		/* Datagram semantics: too big for the path, dropped. */
		keyd_log(LOG_DEBUG, "DTLS: dropped a %zu byte datagram (MTU)", len);
		return CONN_LIVE;
	}
	if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
		/* GnuTLS keeps the encrypted record; resume later. */
		c->send_pending = 1;
		return CONN_LIVE;
	}
	if (r < 0) {
		conn_set_end(c, STATS_END_RESET);
		return relay_end_abort(c, "TLS send failed: peer gone");
	}
	return CONN_LIVE;
}

/* What the peer was owed from before goes first. */
static enum conn_status net_owed_flush(struct conn *c)
{
	if (c->to_net) {
		if (relay_io_net_flush(c) < 0) {
			conn_set_end(c, STATS_END_RESET);
			return relay_end_abort(c, "send failed: peer gone");
		}
		if (c->to_net)
			return CONN_LIVE;
		if (c->bye_done)
			(void)shutdown(c->net.fd, SHUT_WR); /* the FIN send_bye held back */
	}
	if (c->send_pending) {
		ssize_t r = gnutls_record_send(c->tls, NULL, 0);
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
			return CONN_LIVE;
		if (r < 0) {
			conn_set_end(c, STATS_END_RESET);
			return relay_end_abort(c, "TLS send failed");
		}
		c->send_pending = 0;
	}
	return CONN_LIVE;
}

/* Move app -> TLS: up to RELAY_APP_CHUNKS reads of RELAY_IO_PLAIN_CAP. */
static enum conn_status pump_app_chunks(struct conn *c)
{
	uint8_t *buf = c->w->scratch;

	if (net_owed_flush(c) == CONN_CLOSED)
		return CONN_CLOSED;
	if (c->to_net || c->send_pending)
		return CONN_LIVE;
	if (c->bye_pending)
		return send_bye(c);
	for (int i = 0; i < RELAY_APP_CHUNKS && !c->app_eof && !c->to_net && !c->send_pending; i++) {
		enum conn_status st;
		ssize_t n;
		int ku;

		keyupdate_poll(c);
		ku = c->ku_pending ? key_update_step(c) : 0;

		if (ku)
			return ku < 0 ? CONN_CLOSED : CONN_LIVE;
		n = recv(c->app.fd, buf, RELAY_IO_PLAIN_CAP, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		/* tlskey_control(CLOSE_NOTIFY): what the app wrote before is in. */
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && c->stop_asked)
			n = 0;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0) {
			return relay_end_app_gone(c, "application descriptor error");
		}
		if (n == 0 && c->dtls && !app_dgram_end(c)) {
			/* An empty datagram, not the app's end: nothing to send. */
			keyd_log(LOG_DEBUG, "uid=%u myname=%s: DTLS: the application sent an empty "
				 "datagram; dropped", (unsigned)c->req.cred.uid, c->req.msg.myname);
			continue;
		}
		if (n == 0) {
			c->app_eof = 1;
			conn_set_end(c, STATS_END_APP_CLOSE);
			relay_end_timer_arm(c);
			return send_bye(c);
		}
		c->bytes_out += (unsigned long long)n;
		publish_count(c, 0, (size_t)n);
		st = data_to_net(c, buf, (size_t)n);
		tk_wipe(buf, (size_t)n);
		if (st == CONN_CLOSED)
			return CONN_CLOSED;
	}
	return CONN_LIVE;
}

static enum conn_status pump_app_to_net(struct conn *c)
{
	enum conn_status st;

	relay_io_tx_begin(c);
	st = pump_app_chunks(c);
	if (relay_io_tx_end(c, st == CONN_LIVE && c->state == CONN_RELAY) < 0) {
		conn_set_end(c, STATS_END_RESET);
		return relay_end_abort(c, "send failed: peer gone");
	}
	return st;
}

/* Recompute what we wait for; close the conn when both directions are done. */
static enum conn_status relay_rearm(struct conn *c)
{
	uint32_t net = 0, app = 0;
	int r;

	/* A draining session has the interest relay_drain_step() set: the
	 * network side is shut and out of epoll, and stays so. */
	if (c->state != CONN_RELAY)
		return CONN_LIVE;

	/* DTLS has no transport EOF to wait for: once the app is done and our
	 * close_notify is out, the session is over. */
	if ((c->net_eof || c->dtls) && !c->to_app && c->app_eof && c->bye_done && !c->send_pending &&
	    !c->to_net)
		return conn_close(c, 0, "both directions done");
	if (!c->net_eof && !c->to_app)
		net |= EPOLLIN;
	if (c->send_pending || c->bye_pending || c->to_net || (c->ku_pending && !c->app_eof))
		net |= EPOLLOUT;
	if (c->to_app)
		app |= EPOLLOUT;
	if (!c->app_eof && !c->send_pending && !c->bye_pending && !c->to_net &&
	    !c->ku_pending)
		app |= EPOLLIN | EPOLLRDHUP;
	else if (!c->app_eof && !c->app_hup)
		/* Not reading the app (backpressure), but still hearing about
		 * it hanging up, which starts the close timer.  Once heard,
		 * the condition stays asserted: stop asking until we read. */
		app |= EPOLLRDHUP;
	r = conn_ev_update(c, &c->net, net);
	if (r == 0)
		r = conn_ev_update(c, &c->app, app);
	if (r < 0)
		return relay_end_abort(c, "epoll failed");
	return CONN_LIVE;
}

enum conn_status relay_event(struct conn *c, struct ev *ev, uint32_t events)
{
	if (c->state == CONN_DRAIN)
		return relay_drain_step(c);
	if (ev->kind == EV_APP && (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
		c->app_hup = 1;
		relay_end_timer_arm(c);
	}
	/* Anything on the network side is the peer's doing: it answers, or
	 * takes what we owe it.  The close timer starts over. */
	if (ev->kind == EV_NET && c->timed)
		c->deadline_ms = tk_now_ms() + c->req.gen->conf->close_timeout_ms;
	/* A hang-up too: a UNIX or SEQPACKET end the app shut both ways never
	 * turns writable, and the failing send ends the session (else the
	 * hang-up would be reported at every wait while the bytes wait). */
	if (ev->kind == EV_APP && (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) && c->to_app) {
		if (relay_end_flush_app(c) == CONN_CLOSED)
			return CONN_CLOSED;
		/* We read the peer again from now on: its close timer
		 * starts now, not when the app stopped taking. */
		if (!c->to_app && c->timed)
			c->deadline_ms = tk_now_ms() + c->req.gen->conf->close_timeout_ms;
		if (!c->to_app && c->net_eof)
			relay_end_app_eof(c);
	}
	if (ev->kind == EV_NET && (events & EPOLLOUT)) {
		if (pump_app_to_net(c) == CONN_CLOSED)
			return CONN_CLOSED;
	}
	if (ev->kind == EV_APP && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && c->state == CONN_RELAY) {
		if (pump_app_to_net(c) == CONN_CLOSED)
			return CONN_CLOSED;
	}
	if (c->state != CONN_RELAY)
		return CONN_LIVE; /* aborted above: draining */
	/* Decrypted data can be buffered inside GnuTLS without the socket
	 * being readable, so the TLS side is pumped whenever it may move. */
	if (!c->to_app && !c->net_eof &&
	    (ev->kind == EV_NET || c->from_net || (c->tls && gnutls_record_check_pending(c->tls) > 0))) {
		if (pump_net_to_app(c) == CONN_CLOSED)
			return CONN_CLOSED;
	}
	return relay_rearm(c);
}

enum conn_status relay_begin(struct conn *c)
{
	relay_io_attach(c);
	c->data_mark = c->hs_bytes_in;
	/* Data may have arrived with the last handshake flight: decrypted
	 * in GnuTLS, or read ahead by the handshake (c->from_net). */
	if (c->tls && (c->from_net || gnutls_record_check_pending(c->tls) > 0) &&
	    pump_net_to_app(c) == CONN_CLOSED)
		return CONN_CLOSED;
	return relay_rearm(c);
}

enum conn_status relay_kick(struct conn *c)
{
	if (c->dead || c->state != CONN_RELAY)
		return CONN_LIVE;
	if (pump_app_to_net(c) == CONN_CLOSED)
		return CONN_CLOSED;
	return relay_rearm(c);
}

enum conn_status relay_stop(struct conn *c)
{
	c->stop_asked = 1;
	return relay_kick(c);
}
