#include "config.h"

#include <errno.h>
#include <gnutls/gnutls.h>

#include "common/util.h"
#include "keyd/conf.h"
#include "keyd/gen.h"
#include "keyd/keyupdate.h"
#include "keyd/log.h"

/* GnuTLS ends a session that receives more than 8 KeyUpdates within a
 * second (GNUTLS_E_TOO_MANY_HANDSHAKE_PACKETS, lib/tls13/key_update.c), and
 * each of ours asks the peer for one back: so ours go out at least this
 * far apart, at most 3 in any second.  Even at 1 GB/s that is 500 MB per
 * key, far inside AES-GCM's limits (RFC 8446 5.5). */
#define KU_MIN_GAP_MS 500

static int gap_passed(const struct conn *c, unsigned long long now)
{
	return !c->ku_sent_ms || now - c->ku_sent_ms >= KU_MIN_GAP_MS;
}

int keyupdate_possible(const struct conn *c)
{
	/* DTLS 1.2 has no KeyUpdate; TLS 1.2 only renegotiation, which we
	 * refuse. */
	if (!c->tls || c->dtls || gnutls_protocol_get_version(c->tls) != GNUTLS_TLS1_3)
		return -EOPNOTSUPP;
	return 0;
}

int keyupdate_request(struct conn *c)
{
	int r = keyupdate_possible(c);

	if (r < 0)
		return r;
	if (c->app_eof || c->bye_done || c->bye_pending)
		return -ENOTCONN;
	/* Too soon after the last one: it goes out with the first data
	 * moved once the gap has passed (keyupdate_account()). */
	if (gap_passed(c, tk_now_ms()))
		c->ku_pending = 1;
	else
		c->ku_asked = 1;
	return 0;
}

void keyupdate_account(struct conn *c, size_t n)
{
	const struct keyd_conf *conf = c->req.gen->conf;
	unsigned long long now;

	if (!conf->key_update_bytes && !conf->key_update_s && !c->ku_asked)
		return;
	/* None after our side ended (keyupdate_flush() would drop it, and
	 * until then it would ask for EPOLLOUT for nothing). */
	if (c->ku_pending || c->app_eof || c->bye_done || c->bye_pending || keyupdate_possible(c) < 0)
		return;
	c->ku_bytes += n;
	/* Checked as data moves: an idle session encrypts nothing under the
	 * old keys, so it needs no new ones until it speaks again. */
	now = tk_now_ms();
	if (!c->ku_last_ms)
		c->ku_last_ms = now;
	if (!gap_passed(c, now))
		return; /* ku_bytes goes on counting */
	if (c->ku_asked || (conf->key_update_bytes && c->ku_bytes >= conf->key_update_bytes) ||
	    (conf->key_update_s && now - c->ku_last_ms >= conf->key_update_s * 1000ull))
		c->ku_pending = 1;
}

void keyupdate_poll(struct conn *c)
{
	if (c->ku_asked && !c->ku_pending && gap_passed(c, tk_now_ms()))
		c->ku_pending = 1;
}

int keyupdate_flush(struct conn *c)
{
	int r;

	if (!c->ku_pending)
		return 0;
	if (c->app_eof || c->bye_done || c->bye_pending) {
		c->ku_pending = c->ku_asked = 0; /* no KeyUpdate after our close_notify */
		return 0;
	}
	/* GnuTLS resumes a KeyUpdate interrupted by EAGAIN when called again. */
	r = gnutls_session_key_update(c->tls, GNUTLS_KU_PEER);
	if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
		return -EAGAIN;
	c->ku_pending = c->ku_asked = 0;
	if (r < 0) {
		keyd_log(LOG_INFO, "uid=%u myname=%s: KeyUpdate failed: %s", (unsigned)c->req.cred.uid,
			 c->req.msg.myname, gnutls_strerror(r));
		return -EIO;
	}
	c->ku_bytes = 0;
	c->ku_last_ms = c->ku_sent_ms = tk_now_ms();
	keyd_log(LOG_DEBUG, "uid=%u myname=%s: KeyUpdate sent", (unsigned)c->req.cred.uid,
		 c->req.msg.myname);
	return 0;
}
