/* DTLS server cookies (keyd/dtls_cookie.h).  Without them a ClientHello
 * from a forged address cost a token signature, and the victim got our
 * whole first flight, resent every second: some 16 times the bytes of the
 * forged datagram (a review, 2026-12-07).  The cookie is GnuTLS's MAC
 * over the client's address (only: GnuTLS 3.7 puts neither a time nor the
 * ClientHello in it), so the key changes every COOKIE_ROTATE_S seconds
 * and the one before still verifies (RFC 6347 4.2.1): a cookie is good
 * for at most twice that, not for the life of the process. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <gnutls/dtls.h>

#include "common/util.h"
#include "keyd/dtls_cookie.h"
#include "keyd/keyd.h"
#include "keyd/log.h"
#include "keyd/transport.h"

/* Datagrams looked at in one step before waiting for the next event (the
 * socket stays readable: the worker comes back). */
#define COOKIE_LOOKS_MAX 16
#define COOKIE_ROTATE_S 30

static pthread_mutex_t key_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t keys[2][GNUTLS_COOKIE_KEY_SIZE]; /* current, previous */
static unsigned long long key_epoch;             /* of keys[0]; 0: none yet */

/* Copy the current and previous keys for this moment (made or rotated as
 * time says); the previous is all zero when there is none.  -1 if no
 * random bytes could be had. */
static int cookie_keys(uint8_t cur[GNUTLS_COOKIE_KEY_SIZE], uint8_t prev[GNUTLS_COOKIE_KEY_SIZE],
		       int *have_prev)
{
	unsigned long long epoch = tk_now_ms() / (COOKIE_ROTATE_S * 1000ull) + 1;
	int r = 0;

	pthread_mutex_lock(&key_lock);
	if (epoch != key_epoch) {
		if (key_epoch && epoch == key_epoch + 1)
			memcpy(keys[1], keys[0], sizeof(keys[0]));
		else
			tk_wipe(keys[1], sizeof(keys[1])); /* idle for longer: none */
		if (gnutls_rnd(GNUTLS_RND_KEY, keys[0], sizeof(keys[0])) < 0) {
			r = -1;
			key_epoch = 0;
		} else {
			key_epoch = epoch;
		}
	}
	memcpy(cur, keys[0], GNUTLS_COOKIE_KEY_SIZE);
	memcpy(prev, keys[1], GNUTLS_COOKIE_KEY_SIZE);
	pthread_mutex_unlock(&key_lock);
	*have_prev = 0;
	for (size_t i = 0; i < GNUTLS_COOKIE_KEY_SIZE; i++)
		*have_prev |= prev[i];
	return r;
}

static ssize_t cookie_push(gnutls_transport_ptr_t p, const void *data, size_t size)
{
	const struct conn *c = p;

	return send(c->net.fd, data, size, MSG_DONTWAIT | MSG_NOSIGNAL);
}

int dtls_cookie_step(struct conn *c, int *ret_hello)
{
	uint8_t buf[KEYD_DTLS_MTU * 2], cur[GNUTLS_COOKIE_KEY_SIZE], prev[GNUTLS_COOKIE_KEY_SIZE];
	gnutls_datum_t kcur = { cur, sizeof(cur) }, kprev = { prev, sizeof(prev) };
	int have_prev, ret = 0;

	*ret_hello = 0;
	if (cookie_keys(cur, prev, &have_prev) < 0)
		return -ENOMEM;
	for (int i = 0; i < COOKIE_LOOKS_MAX; i++) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		gnutls_dtls_prestate_st pre;
		size_t len;
		ssize_t n;
		int r;

		/* Peeked: a good one stays for GnuTLS to read. */
		n = recv(c->net.fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0 && transport_net_error(errno)) {
			/* From the network (forgeable): consumed, look on. */
			transport_drain_errqueue(c->net.fd);
			continue;
		}
		if (n < 0) {
			ret = -errno;
			break;
		}
		if (getpeername(c->net.fd, (struct sockaddr *)&peer, &plen) < 0) {
			ret = -errno;
			break;
		}
		/* The verifier reads only the ClientHello's first fields. */
		len = (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf);
		memset(&pre, 0, sizeof(pre));
		r = gnutls_dtls_cookie_verify(&kcur, &peer, plen, buf, len, &pre);
		if (r == GNUTLS_E_BAD_COOKIE && have_prev) {
			memset(&pre, 0, sizeof(pre));
			r = gnutls_dtls_cookie_verify(&kprev, &peer, plen, buf, len, &pre);
		}
		if (r == 0) {
			gnutls_dtls_prestate_set(c->tls, &pre);
			*ret_hello = 1;
			keyd_log(LOG_DEBUG, "uid=%u myname=%s: DTLS: the ClientHello returned our cookie",
				 (unsigned)c->req.cred.uid, c->req.msg.myname);
			ret = 1;
			break;
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
		memset(&pre, 0, sizeof(pre));
		(void)gnutls_dtls_cookie_send(&kcur, &peer, plen, &pre, c, cookie_push);
		*ret_hello = 1;
		c->cookies_sent++;
		keyd_log(LOG_DEBUG, "uid=%u myname=%s: DTLS: HelloVerifyRequest sent",
			 (unsigned)c->req.cred.uid, c->req.msg.myname);
	}
	tk_wipe(cur, sizeof(cur));
	tk_wipe(prev, sizeof(prev));
	return ret;
}
