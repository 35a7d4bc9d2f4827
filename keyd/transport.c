/* The handshake's GnuTLS transport (keyd/transport.h). */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <gnutls/gnutls.h>

#include "keyd/conn.h"
#include "keyd/log.h"
#include "keyd/relay_io.h"
#include "keyd/transport.h"

/* A DTLS record has a 13-byte header: a shorter datagram cannot be one,
 * and is dropped like any invalid record (RFC 6347 4.1.2.7).  A forged
 * empty one read as the peer's end and closed the session. */
#define DTLS_HEADER 13
/* Datagrams dropped in one pull before it says "nothing yet" (the socket
 * stays readable: the worker comes back). */
#define DTLS_DROPS_MAX 16

int transport_net_error(int e)
{
	switch (e) {
	case EAGAIN:
#if EWOULDBLOCK != EAGAIN
	case EWOULDBLOCK:
#endif
	case EINTR:
	case EBADF:
	case ENOTSOCK:
	case EFAULT:
	case EINVAL:
	case ENOTCONN:
	case EDESTADDRREQ:
		return 0;
	default:
		return 1;
	}
}

void transport_drain_errqueue(int fd)
{
	char buf[512];

	for (int i = 0; i < 16; i++) {
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
		char cbuf[512];
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				     .msg_controllen = sizeof(cbuf) };

		if (recvmsg(fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) < 0 && errno != EINTR)
			return;
	}
}

/* Once the peer has proven its address (our cookie came back, or we are
 * the client and the handshake is done), a network error is ignored:
 * anyone who knows the addresses can forge the ICMP message behind it.
 * Before that it fails the handshake at once, so that nothing listening is
 * a quick error in the client role. */
static int dtls_ignores(const struct conn *c, ssize_t n, int e)
{
	if (!c->dtls)
		return 0;
	if (n >= 0)
		return n < DTLS_HEADER;
	return transport_net_error(e) &&
	       (c->state != CONN_HANDSHAKE || (c->req.msg.role == TK_ROLE_SERVER && !c->cookie_wait));
}

/* GnuTLS transport on the caller's socket.  The caller still shares the
 * file description and could clear O_NONBLOCK on its own duplicate at any
 * time, so the daemon does not set it: every call says MSG_DONTWAIT
 * itself, and a worker never blocks on a socket the caller controls. */
static ssize_t net_pull(gnutls_transport_ptr_t p, void *buf, size_t len)
{
	struct conn *c = p;
	ssize_t n;

	for (int drops = 0;;) {
		n = recv(c->net.fd, buf, len, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (!dtls_ignores(c, n, errno))
			break;
		keyd_log(LOG_DEBUG, "uid=%u myname=%s: DTLS: ignored %s%s",
			 (unsigned)c->req.cred.uid, c->req.msg.myname,
			 n >= 0 ? "a datagram too short for a record" : "a network error: ",
			 n >= 0 ? "" : strerror(errno));
		if (n < 0)
			transport_drain_errqueue(c->net.fd); /* the app may have set IP_RECVERR */
		if (++drops == DTLS_DROPS_MAX) {
			n = -1;
			errno = EAGAIN;
			break;
		}
	}
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

	for (int tries = 0;;) {
		n = sendmsg(c->net.fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		/* An earlier ICMP error reported on this send, which did not go
		 * out: the error is consumed, so once more; then it is lost. */
		if (n >= 0 || !dtls_ignores(c, n, errno) || ++tries == 2)
			break;
	}
	if (n < 0 && dtls_ignores(c, n, errno)) {
		transport_drain_errqueue(c->net.fd);
		n = 0;
		for (int i = 0; i < iovcnt; i++)
			n += (ssize_t)iov[i].iov_len;
		return n;
	}
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
