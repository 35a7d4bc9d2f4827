/* The relay's network I/O.  GnuTLS reads a record in two recv() calls (the
 * 5-byte header, then the body) and pushes each record with its own
 * sendmsg(); on a bulk transfer that is three system calls per 16 KiB.
 * Here the pull function reads up to 64 KiB ahead into the worker's rx
 * buffer and serves GnuTLS from it, and while a plaintext chunk is being
 * encrypted the push function collects its records in the worker's tx
 * buffer, sent with one sendmsg() per chunk.
 *
 * The buffers belong to the worker, not to the session: an idle session
 * costs nothing more.  A session holds bytes of its own only while the
 * other side pushes back: ciphertext read ahead that GnuTLS has not taken
 * when the app stops reading (c->from_net), and records the peer has not
 * taken yet (c->to_net, bounded by STASH_MAX).
 *
 * XXX: a peer that stops reading leaves up to one chunk's records
 * (RELAY_IO_TX_CAP) in c->to_net, where GnuTLS used to hold one record:
 * 4x the user-space memory of such a session (the kernel's socket buffers
 * hold far more).  Stashing only a record's worth would cost a send per
 * record again under backpressure.
 *
 * Every call on the peer's socket says MSG_DONTWAIT: the caller shares the
 * file description, and O_NONBLOCK is not set on it (start_check.c). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "common/util.h"
#include "keyd/conn.h"
#include "keyd/relay_io.h"
#include "keyd/worker.h"

/* What a peer that does not read may leave owed to it: one full tx buffer
 * and some alerts or key updates GnuTLS answers with. */
#define STASH_MAX (2 * RELAY_IO_TX_CAP)

static uint8_t *rx_buf(const struct conn *c)
{
	return c->w->scratch + RELAY_IO_PLAIN_CAP + 256;
}

static uint8_t *tx_buf(const struct conn *c)
{
	return c->w->scratch + RELAY_IO_PLAIN_CAP + 256 + RELAY_IO_RX_CAP;
}

static size_t serve(uint8_t *dst, size_t len, const uint8_t *src, size_t *off, size_t have)
{
	size_t n = have - *off < len ? have - *off : len;

	memcpy(dst, src + *off, n);
	*off += n;
	return n;
}

static ssize_t rio_pull(gnutls_transport_ptr_t p, void *buf, size_t len)
{
	struct conn *c = p;
	struct relay_io *r = &c->w->rio;
	ssize_t n;

	if (c->from_net) {
		size_t got = serve(buf, len, c->from_net, &c->from_net_off, c->from_net_len);

		if (c->from_net_off == c->from_net_len) {
			free(c->from_net);
			c->from_net = NULL;
			c->from_net_len = c->from_net_off = 0;
		}
		return (ssize_t)got;
	}
	if (r->rx_owner == c && r->rx_off < r->rx_len)
		return (ssize_t)serve(buf, len, rx_buf(c), &r->rx_off, r->rx_len);
	if (r->rx_owner == c && r->rx_hold) {
		gnutls_transport_set_errno(c->tls, EAGAIN);
		return -1;
	}
	if (r->rx_owner != c) {
		/* Not inside a relay read (an alert sent on close, say): no
		 * read-ahead, the bytes would have nowhere to stay. */
		do
			n = recv(c->net.fd, buf, len, MSG_DONTWAIT);
		while (n < 0 && errno == EINTR);
	} else {
		do
			n = recv(c->net.fd, rx_buf(c), RELAY_IO_RX_CAP, MSG_DONTWAIT);
		while (n < 0 && errno == EINTR);
		if (n > 0) {
			r->rx_off = 0;
			r->rx_len = (size_t)n;
			n = (ssize_t)serve(buf, len, rx_buf(c), &r->rx_off, r->rx_len);
			c->hs_bytes_in += (unsigned long long)r->rx_len;
			return n;
		}
	}
	if (n < 0)
		gnutls_transport_set_errno(c->tls, errno == EWOULDBLOCK ? EAGAIN : errno);
	else
		c->hs_bytes_in += (unsigned long long)n;
	return n;
}

/* Stash what is left of iov past its first sent bytes. */
static int stash_tail(struct conn *c, const giovec_t *iov, int iovcnt, size_t sent)
{
	for (int i = 0; i < iovcnt; i++) {
		size_t skip = sent < iov[i].iov_len ? sent : iov[i].iov_len;
		int r = relay_io_stash(c, (const uint8_t *)iov[i].iov_base + skip, iov[i].iov_len - skip);

		sent -= skip;
		if (r < 0)
			return r;
	}
	return 0;
}

static ssize_t rio_vec_push(gnutls_transport_ptr_t p, const giovec_t *iov, int iovcnt)
{
	struct conn *c = p;
	struct relay_io *r = &c->w->rio;
	struct msghdr mh = { .msg_iov = (struct iovec *)(void *)iov, .msg_iovlen = (size_t)iovcnt };
	size_t total = 0;
	ssize_t n;
	int e;

	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	if (r->tx_owner == c && !c->to_net && r->tx_len + total <= RELAY_IO_TX_CAP) {
		for (int i = 0; i < iovcnt; i++) {
			memcpy(tx_buf(c) + r->tx_len, iov[i].iov_base, iov[i].iov_len);
			r->tx_len += iov[i].iov_len;
		}
		return (ssize_t)total;
	}
	/* Whatever is owed already goes first: records must not overtake. */
	e = r->tx_owner == c ? relay_io_tx_flush(c) : 0;
	if (e == 0 && c->to_net)
		e = relay_io_net_flush(c);
	if (e == 0 && c->to_net)
		e = stash_tail(c, iov, iovcnt, 0);
	if (e < 0) {
		gnutls_transport_set_errno(c->tls, -e);
		return -1;
	}
	if (c->to_net)
		return (ssize_t)total;
	do
		n = sendmsg(c->net.fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
		gnutls_transport_set_errno(c->tls, errno);
		return -1;
	}
	if (c->state == CONN_HANDSHAKE) {
		/* The handshake waits for the socket (GnuTLS keeps the rest). */
		if (n < 0)
			gnutls_transport_set_errno(c->tls, EAGAIN);
		return n;
	}
	/* Once relaying, GnuTLS never keeps a record of its own: what the
	 * socket did not take is stashed (bounded), in order, and GnuTLS is
	 * told it all went.  A record it kept after EAGAIN (an alert, a
	 * KeyUpdate, sent outside chunk_to_net()) would go out with the next
	 * gnutls_record_send(), which then returns that record's length, not
	 * the data's: the relay would count the data as sent, and lose it. */
	if (n < 0)
		n = 0;
	e = stash_tail(c, iov, iovcnt, (size_t)n);
	if (e < 0) {
		gnutls_transport_set_errno(c->tls, -e);
		return -1;
	}
	return (ssize_t)total;
}

static ssize_t rio_push(gnutls_transport_ptr_t p, const void *buf, size_t len)
{
	giovec_t iov = { .iov_base = (void *)buf, .iov_len = len };

	return rio_vec_push(p, &iov, 1);
}

void relay_io_attach(struct conn *c)
{
	if (!c->tls || c->dtls)
		return;
	gnutls_transport_set_pull_function(c->tls, rio_pull);
	gnutls_transport_set_push_function(c->tls, rio_push);
	gnutls_transport_set_vec_push_function(c->tls, rio_vec_push);
}

void relay_io_rx_begin(struct conn *c)
{
	struct relay_io *r = &c->w->rio;

	r->rx_owner = c;
	r->rx_off = r->rx_len = 0;
	r->rx_hold = 0;
}

void relay_io_rx_hold(struct conn *c, int hold)
{
	if (c->w->rio.rx_owner == c)
		c->w->rio.rx_hold = hold;
}

size_t relay_io_rx_left(const struct conn *c)
{
	const struct relay_io *r = &c->w->rio;
	size_t n = c->from_net ? c->from_net_len - c->from_net_off : 0;

	return n + (r->rx_owner == c ? r->rx_len - r->rx_off : 0);
}

int relay_io_rx_buffered(const struct conn *c)
{
	return relay_io_rx_left(c) > 0;
}

int relay_io_rx_end(struct conn *c, int keep)
{
	struct relay_io *r = &c->w->rio;
	size_t off = r->rx_off, left = r->rx_len - r->rx_off;
	uint8_t *s;

	if (r->rx_owner != c)
		return 0;
	r->rx_owner = NULL;
	r->rx_hold = 0;
	r->rx_off = r->rx_len = 0;
	if (!keep || left == 0)
		return 0;
	/* from_net is served before the rx buffer and the buffer is filled
	 * only once from_net is empty: appending keeps the stream's order. */
	s = realloc(c->from_net, c->from_net_len + left);
	if (!s)
		return -ENOMEM;
	memcpy(s + c->from_net_len, rx_buf(c) + off, left);
	c->from_net = s;
	c->from_net_len += left;
	return 0;
}

void relay_io_tx_begin(struct conn *c)
{
	c->w->rio.tx_owner = c;
	c->w->rio.tx_len = 0;
}

/* One send of len bytes at buf; what does not go is stashed. */
static int send_or_stash(struct conn *c, const uint8_t *buf, size_t len)
{
	ssize_t n = 0;

	if (!c->to_net) {
		do
			n = send(c->net.fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		while (n < 0 && errno == EINTR);
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		if (n < 0)
			n = 0;
	}
	return (size_t)n < len ? relay_io_stash(c, buf + n, len - (size_t)n) : 0;
}

int relay_io_tx_flush(struct conn *c)
{
	struct relay_io *r = &c->w->rio;
	size_t len = r->tx_len;

	if (r->tx_owner != c || len == 0)
		return 0;
	r->tx_len = 0;
	return send_or_stash(c, tx_buf(c), len);
}

int relay_io_tx_end(struct conn *c, int keep)
{
	struct relay_io *r = &c->w->rio;
	int e = 0;

	if (r->tx_owner != c)
		return 0;
	if (keep)
		e = relay_io_tx_flush(c);
	r->tx_owner = NULL;
	r->tx_len = 0;
	return e;
}

int relay_io_net_flush(struct conn *c)
{
	while (c->to_net && c->to_net_off < c->to_net_len) {
		ssize_t n = send(c->net.fd, c->to_net + c->to_net_off, c->to_net_len - c->to_net_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0)
			return -errno;
		c->to_net_off += (size_t)n;
	}
	if (c->to_net) {
		tk_wipe(c->to_net, c->to_net_len); /* the app's plaintext in cleartext mode */
		free(c->to_net);
	}
	c->to_net = NULL;
	c->to_net_len = c->to_net_off = 0;
	return 0;
}

int relay_io_stash(struct conn *c, const uint8_t *buf, size_t len)
{
	size_t keep = c->to_net ? c->to_net_len - c->to_net_off : 0;
	uint8_t *s;

	if (len == 0)
		return 0;
	if (keep + len > STASH_MAX)
		return -ENOBUFS;
	s = malloc(keep + len);
	if (!s)
		return -ENOMEM;
	if (keep)
		memcpy(s, c->to_net + c->to_net_off, keep);
	memcpy(s + keep, buf, len);
	if (c->to_net) {
		tk_wipe(c->to_net, c->to_net_len);
		free(c->to_net);
	}
	c->to_net = s;
	c->to_net_len = keep + len;
	c->to_net_off = 0;
	return 0;
}
