/* tlskey-tunnel's relay: the bytes between a connection's two sides.
 *
 * It reads from a side only while the buffer towards the other side has
 * room (backpressure), and forwards EOF as shutdown(SHUT_WR) once that
 * buffer has drained, so half-close works in both directions and no byte
 * read is ever dropped on a clean close.  On the protected descriptor that
 * shutdown makes tlskeyd send close_notify. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <tlskey/starttls.h>

#include "tools/tunnel/conn.h"
#include "tools/tunnel/tunnel.h"

static void relay_update(struct tunnel_conn *c);
static void relay_touch(struct tunnel_conn *c);

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

void tunnel_relay_start(struct tunnel_conn *c)
{
	const struct tunnel_conf *conf = c->t->conf;
	uint8_t *mem;
	int r;

	mem = malloc(2 * RELAY_BUF);
	if (!mem) {
		tunnel_conn_end(c, "error", ENOMEM, NULL);
		return;
	}
	c->buf[0].data = mem; /* freed in tunnel_conn_reap() */
	c->buf[1].data = mem + RELAY_BUF;
	r = set_nonblock(c->ep[SIDE_TLS].fd);
	if (r == 0)
		r = set_nonblock(c->ep[SIDE_PLAIN].fd);
	if (r < 0) {
		tunnel_conn_end(c, "error", -r, NULL);
		return;
	}
	if (conf->mode == TUNNEL_MODE_SERVER && conf->proxy_v2) {
		struct tlskey_session_info *info = calloc(1, sizeof(*info));
		struct proxy_v2_tls tls = { .peer = c->peer };
		size_t n;

		/* Version, cipher and ALPN are nice to have; without them the
		 * header still carries the addresses and the identity.  No chain
		 * buffer: ENOBUFS then says only that the chain was not copied.
		 * Whether the certificate came on this connection is claimed only
		 * when the daemon says it was a full handshake. */
		if (info)
			info->size = sizeof(*info);
		if (info && (tlskey_query_session(c->ep[SIDE_TLS].fd, info) == 0 || errno == ENOBUFS)) {
			tls.version = info->version;
			tls.cipher = info->cipher_suite;
			tls.alpn = info->alpn;
			/* An ENOBUFS that came before the document was read
			 * left it zero (no version): not known, not claimed. */
			tls.cert_conn = info->version[0] && !info->resumed;
		}
		r = proxy_v2_encode((struct sockaddr *)&c->remote, c->remote_len,
				    (struct sockaddr *)&c->local, c->local_len, &tls, c->buf[SIDE_TLS].data,
				    PROXY_V2_HDR_MAX, &n);
		free(info);
		if (r < 0) {
			tunnel_conn_end(c, "error", -r, "cannot encode the PROXY v2 header");
			return;
		}
		c->buf[SIDE_TLS].len = n;
		c->hdr_left = n;
	}
	c->state = CS_RELAY;
	relay_touch(c);
	relay_update(c);
}

static void relay_update(struct tunnel_conn *c)
{
	for (int i = 0; i < 2 && c->state == CS_RELAY; i++) {
		uint32_t ev = 0;
		int r;

		/* relay_read() compacts, so any free byte is room. */
		if (!c->rd_eof[i] && c->buf[i].len < RELAY_BUF)
			ev |= EPOLLIN;
		if (c->buf[1 - i].len > 0 && !c->wr_shut[i])
			ev |= EPOLLOUT;
		r = tunnel_ep_set(c->t, &c->ep[i], ev);
		if (r < 0)
			tunnel_conn_end(c, "error", -r, NULL);
	}
}

void tunnel_relay_rearm(struct tunnel_conn *c)
{
	unsigned idle = c->t->conf->idle_timeout_ms;

	c->deadline_ms = idle ? c->active_ms + idle : 0;
}

/* Data moved: the idle timer starts again. */
static void relay_touch(struct tunnel_conn *c)
{
	c->active_ms = tunnel_now_ms();
	tunnel_relay_rearm(c);
}

/* EOF on the protected descriptor: a clean end, or (only on a UNIX one,
 * which has no reset: protected-socket = unix, or its fallback) a TLS
 * stream that broke, which tlskeyd reports through tlskey_query().  On a
 * loopback TCP one a broken stream is ECONNRESET and never comes here.
 * Returns 1 if the stream broke. */
static int tls_eof_broken(struct tunnel_conn *c)
{
	struct tlskey_info *info;
	int domain = 0, broken;
	socklen_t len = sizeof(domain);

	if (getsockopt(c->ep[SIDE_TLS].fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0 || domain != AF_UNIX)
		return 0;
	info = calloc(1, sizeof(*info));
	/* Not known (out of memory, the daemon gone): not claimed clean
	 * either way, so taken for broken, as a reset would be. */
	broken = !info || (tlskey_query(c->ep[SIDE_TLS].fd, info) < 0 ? errno != ENOENT
									 : info->state == TLSKEY_STATE_FAILED);
	free(info);
	return broken;
}

/* Read once from side i.  Returns 0, or -1 if the connection ended. */
static int relay_read(struct tunnel_conn *c, int i)
{
	struct relay_buf *b = &c->buf[i];
	ssize_t n;

	if (b->len == 0)
		b->off = 0;
	else if (b->off + b->len == RELAY_BUF) {
		memmove(b->data, b->data + b->off, b->len);
		b->off = 0;
	}
	if (b->off + b->len == RELAY_BUF)
		return 0;
	do
		n = recv(c->ep[i].fd, b->data + b->off + b->len, RELAY_BUF - b->off - b->len, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n < 0) {
		tunnel_conn_end(c, errno == ECONNRESET ? "reset" : "error", errno, NULL);
		return -1;
	}
	if (n == 0 && i == SIDE_TLS && tls_eof_broken(c)) {
		tunnel_conn_end(c, "reset", ECONNRESET, "the TLS stream was cut (tlskeyd's session state: failed)");
		return -1;
	}
	if (n == 0)
		c->rd_eof[i] = 1;
	else
		relay_touch(c);
	b->len += (size_t)n;
	return 0;
}

/* Write what buf[i] holds to side 1 - i.  Returns 0, or -1 if ended. */
static int relay_write(struct tunnel_conn *c, int i)
{
	struct relay_buf *b = &c->buf[i];
	int to = 1 - i;

	while (b->len > 0) {
		ssize_t n = send(c->ep[to].fd, b->data + b->off, b->len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0) {
			tunnel_conn_end(c, (errno == EPIPE || errno == ECONNRESET) ? "reset" : "error", errno,
				 NULL);
			return -1;
		}
		if (c->hdr_left && i == SIDE_TLS) {
			size_t h = (size_t)n < c->hdr_left ? (size_t)n : c->hdr_left;

			c->hdr_left -= h;
			c->bytes[i] += (size_t)n - h;
		} else {
			c->bytes[i] += (size_t)n;
		}
		b->off += (size_t)n;
		b->len -= (size_t)n;
	}
	b->off = 0;
	return 0;
}

/* Forward EOFs whose buffers have drained; end the connection when both
 * directions are closed. */
static void relay_eof(struct tunnel_conn *c)
{
	for (int i = 0; i < 2; i++) {
		int to = 1 - i;

		if (c->rd_eof[i] && c->buf[i].len == 0 && !c->wr_shut[to]) {
			/* On the protected descriptor this makes tlskeyd send
			 * close_notify and a TCP FIN. */
			if (shutdown(c->ep[to].fd, SHUT_WR) < 0 && errno != ENOTCONN) {
				tunnel_conn_end(c, "error", errno, NULL);
				return;
			}
			c->wr_shut[to] = 1;
		}
	}
	if (c->wr_shut[0] && c->wr_shut[1])
		tunnel_conn_end(c, "eof", 0, NULL);
}

void tunnel_relay_event(struct tunnel_conn *c, int side, uint32_t events)
{
	int other = 1 - side;

	if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && (c->ep[side].events & EPOLLIN)) {
		if (relay_read(c, side) < 0)
			return;
		/* Pass it on at once rather than after another epoll round. */
		if (!c->wr_shut[other] && relay_write(c, side) < 0)
			return;
	}
	if ((events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) && (c->ep[side].events & EPOLLOUT)) {
		if (relay_write(c, other) < 0)
			return;
	}
	relay_eof(c);
	if (c->state == CS_RELAY)
		relay_update(c);
}

int tunnel_relay_finished(const struct tunnel_conn *c)
{
	return c->state == CS_RELAY && c->wr_shut[SIDE_TLS] && c->buf[SIDE_PLAIN].len == 0 &&
	       c->buf[SIDE_TLS].len == 0;
}
