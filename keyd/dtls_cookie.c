/* DTLS server cookies (keyd/dtls_cookie.h).  Without them a ClientHello
 * from a forged address cost a token signature, and the victim got our
 * whole first flight, resent three times: some 16 times the bytes of the
 * forged datagram (a review, 2026-12-07).  The cookie is GnuTLS's: a MAC
 * over the client's address and its ClientHello, under a key made once
 * per process. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <gnutls/gnutls.h>
#include <gnutls/dtls.h>

#include "keyd/dtls_cookie.h"
#include "keyd/keyd.h"
#include "keyd/log.h"

/* Datagrams looked at in one step before waiting for the next event (the
 * socket stays readable: the worker comes back). */
#define COOKIE_LOOKS_MAX 16

static gnutls_datum_t cookie_key;
static int cookie_key_err;
static pthread_once_t cookie_once = PTHREAD_ONCE_INIT;

static void make_key(void)
{
	cookie_key_err = gnutls_key_generate(&cookie_key, GNUTLS_COOKIE_KEY_SIZE);
}

static ssize_t cookie_push(gnutls_transport_ptr_t p, const void *data, size_t size)
{
	const struct conn *c = p;

	return send(c->net.fd, data, size, MSG_DONTWAIT | MSG_NOSIGNAL);
}

int dtls_cookie_step(struct conn *c)
{
	uint8_t buf[KEYD_DTLS_MTU * 2];

	(void)pthread_once(&cookie_once, make_key);
	if (cookie_key_err < 0)
		return -ENOMEM;
	for (int i = 0; i < COOKIE_LOOKS_MAX; i++) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		gnutls_dtls_prestate_st pre;
		ssize_t n;
		int r;

		/* Peeked: a good one stays for GnuTLS to read. */
		n = recv(c->net.fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0 && (errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH ||
			      errno == EHOSTDOWN))
			continue; /* an ICMP error (forgeable): consumed, look on */
		if (n < 0)
			return -errno;
		if (getpeername(c->net.fd, (struct sockaddr *)&peer, &plen) < 0)
			return -errno;
		memset(&pre, 0, sizeof(pre));
		r = (size_t)n <= sizeof(buf) ? gnutls_dtls_cookie_verify(&cookie_key, &peer, plen, buf,
									  (size_t)n, &pre)
					     : GNUTLS_E_UNEXPECTED_PACKET_LENGTH;
		if (r == 0) {
			gnutls_dtls_prestate_set(c->tls, &pre);
			keyd_log(LOG_DEBUG, "uid=%u myname=%s: DTLS: the ClientHello returned our cookie",
				 (unsigned)c->req.cred.uid, c->req.msg.myname);
			return 1;
		}
		/* Not ours to keep: gone from the socket either way. */
		(void)recv(c->net.fd, buf, 1, MSG_DONTWAIT | MSG_TRUNC);
		if (r != GNUTLS_E_BAD_COOKIE) {
			keyd_log(LOG_DEBUG, "uid=%u myname=%s: DTLS: dropped a %zd byte datagram before "
				 "the cookie exchange (%s)", (unsigned)c->req.cred.uid, c->req.msg.myname, n,
				 gnutls_strerror(r));
			continue;
		}
		/* A ClientHello without our cookie: ask for it back, at the
		 * address it claims.  A lost answer is resent by the client's
		 * own retransmission of its ClientHello. */
		(void)gnutls_dtls_cookie_send(&cookie_key, &peer, plen, &pre, c, cookie_push);
		keyd_log(LOG_DEBUG, "uid=%u myname=%s: DTLS: HelloVerifyRequest sent",
			 (unsigned)c->req.cred.uid, c->req.msg.myname);
	}
	return 0;
}
