/* The handshake's GnuTLS transport (keyd/transport.h). */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <gnutls/gnutls.h>

#include "keyd/conn.h"
#include "keyd/relay_io.h"
#include "keyd/transport.h"

/* GnuTLS transport on the caller's socket.  The caller still shares the
 * file description and could clear O_NONBLOCK on its own duplicate at any
 * time, so the daemon does not set it: every call says MSG_DONTWAIT
 * itself, and a worker never blocks on a socket the caller controls. */
static ssize_t net_pull(gnutls_transport_ptr_t p, void *buf, size_t len)
{
	struct conn *c = p;
	ssize_t n;

	do
		n = recv(c->net.fd, buf, len, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		gnutls_transport_set_errno(c->tls, errno == EWOULDBLOCK ? EAGAIN : errno);
	else
		c->hs_bytes_in += (unsigned long long)n;
	return n;
}

static ssize_t net_vec_push(gnutls_transport_ptr_t p, const giovec_t *iov, int iovcnt)
{
	struct conn *c = p;
	struct msghdr mh = { .msg_iov = (struct iovec *)(void *)iov, .msg_iovlen = (size_t)iovcnt };
	ssize_t n;

	do
		n = sendmsg(c->net.fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		gnutls_transport_set_errno(c->tls, errno == EWOULDBLOCK ? EAGAIN : errno);
	return n;
}

static ssize_t net_push(gnutls_transport_ptr_t p, const void *buf, size_t len)
{
	giovec_t iov = { .iov_base = (void *)buf, .iov_len = len };

	return net_vec_push(p, &iov, 1);
}

/* DTLS asks whether a datagram is waiting.  The worker's epoll loop does
 * the waiting (GNUTLS_NONBLOCK), so this only looks, whatever ms says. */
static int net_pull_timeout(gnutls_transport_ptr_t p, unsigned int ms)
{
	struct conn *c = p;
	struct pollfd pfd = { .fd = c->net.fd, .events = POLLIN };
	int r;

	(void)ms;
	do
		r = poll(&pfd, 1, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		gnutls_transport_set_errno(c->tls, errno);
	return r;
}

void transport_attach(struct conn *c)
{
	gnutls_transport_set_ptr(c->tls, c);
	gnutls_transport_set_pull_function(c->tls, net_pull);
	gnutls_transport_set_push_function(c->tls, net_push);
	gnutls_transport_set_vec_push_function(c->tls, net_vec_push);
	gnutls_transport_set_pull_timeout_function(c->tls, net_pull_timeout);
	/* TLS reads ahead into the worker's rx buffer from the first
	 * ClientHello byte on (one recv() per flight instead of two per
	 * record); handshake_step() keeps what is left past a step in
	 * c->from_net.  A datagram is one read: DTLS keeps net_pull. */
	relay_io_attach(c);
}
