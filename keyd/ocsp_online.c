/* Online OCSP decisions for one connection.  The peer's chain validated
 * already (trust.c), so the responder URL an attacker could choose comes
 * from a certificate a trusted CA signed: the daemon connects where that
 * certificate says (loopback included), with http:// only. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <gnutls/crypto.h>
#include <gnutls/ocsp.h>

#include "common/util.h"
#include "keyd/dane_match.h"
#include "keyd/gen.h"
#include "keyd/log.h"
#include "keyd/ocsp_fetch.h"
#include "keyd/ocsp_online.h"
#include "keyd/worker.h"

static atomic_ullong next_serial = 1;

/* The identity's setting, else the global one (off by default). */
static int online_mode(const struct conn *c)
{
	const struct keyd_conf *conf = c->req.gen->conf;

	if (c->req.id && c->req.id->peer_ocsp_online)
		return c->req.id->peer_ocsp_online;
	return conf->peer_ocsp_online ? conf->peer_ocsp_online : KEYD_OCSP_ONLINE_OFF;
}

/* Soft: accept and say why in the log; hard: refuse. */
static int unavailable(struct conn *c, const char *why, char *note, size_t len)
{
	if (online_mode(c) == KEYD_OCSP_ONLINE_HARD) {
		c->reason = "ocsp-unavailable";
		(void)snprintf(note, len, "peer certificate status unknown (ocsp-unavailable): %s", why);
		return -EKEYREJECTED;
	}
	keyd_log(LOG_WARNING, "uid=%u myname=%s: OCSP: %s; accepted (peer-ocsp-online = soft)",
		 (unsigned)c->req.cred.uid, c->req.msg.myname, why);
	(void)snprintf(note, len, " ocsp=unavailable");
	return 0;
}

/* from: the responder's URL, or NULL for a verdict from the cache. */
static int verdict(struct conn *c, int v, const uint8_t key[32], const char *from, char *note,
		   size_t len)
{
	struct ocsp_fetcher *f = c->w->k->ocsp;

	if (v == OCSP_V_REVOKED) {
		c->reason = "revoked";
		(void)snprintf(note, len, "peer certificate rejected: revoked (OCSP, %s)",
			       from ? from : "cached answer");
		return -EKEYREJECTED;
	}
	/* A live session keeps its entry, which is asked again on expiry. */
	if (!c->ocsp_held && ocsp_cache_hold(f, key) == 0) {
		memcpy(c->ocsp_key, key, 32);
		c->ocsp_held = 1;
	}
	(void)snprintf(note, len, " ocsp=good%s", from ? "" : " (cached)");
	return 0;
}

/* 1 if is signed leaf (dates aside: the chain's were checked).  A name
 * match is not enough: the peer may append a certificate of its own with
 * the issuer's name, which the chain's validation passes over but whose
 * key would then check a forged OCSP answer. */
static int signed_by(gnutls_x509_crt_t leaf, gnutls_x509_crt_t is)
{
	unsigned status = 0;

	if (!gnutls_x509_crt_check_issuer(leaf, is))
		return 0;
	if (gnutls_x509_crt_verify(leaf, &is, 1,
				   GNUTLS_VERIFY_DISABLE_TIME_CHECKS |
					   GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS,
				   &status) < 0)
		return 0;
	return status == 0;
}

/* The issuer of certs[0]: certs[1] if it signed it, else an anchor that
 * did. */
static int issuer_of(const struct conn *c, const gnutls_datum_t *certs, unsigned n,
		     gnutls_x509_crt_t leaf, gnutls_x509_crt_t *ret)
{
	gnutls_x509_crt_t is = NULL;

	if (n > 1) {
		if (gnutls_x509_crt_init(&is) < 0)
			return -ENOMEM;
		if (gnutls_x509_crt_import(is, &certs[1], GNUTLS_X509_FMT_DER) == 0 &&
		    signed_by(leaf, is)) {
			*ret = is;
			return 0;
		}
		gnutls_x509_crt_deinit(is);
		is = NULL;
	}
	if (gnutls_certificate_get_issuer(gen_trust_of(c->req.gen, c->req.id_index)->cred, leaf, &is,
					  GNUTLS_TL_GET_COPY) < 0)
		return -ENOENT;
	if (!signed_by(leaf, is)) {
		gnutls_x509_crt_deinit(is);
		return -ENOENT;
	}
	*ret = is;
	return 0;
}

/* The job for c's peer (url, request, key), or a reason. */
static int job_make(struct conn *c, struct ocsp_job **ret, const char **why)
{
	const gnutls_datum_t *certs;
	unsigned n = 0;
	struct ocsp_job *j = calloc(1, sizeof(*j));
	gnutls_ocsp_req_t req = NULL;
	int r = -ENOMEM;

	*why = "out of memory";
	certs = gnutls_certificate_get_peers(c->tls, &n);
	if (!j || !certs || !n || gnutls_x509_crt_init(&j->leaf) < 0)
		goto out;
	r = -EINVAL;
	*why = "unreadable peer certificate";
	if (gnutls_x509_crt_import(j->leaf, &certs[0], GNUTLS_X509_FMT_DER) < 0)
		goto out;
	r = -ENOENT;
	*why = "the certificate names no http:// OCSP responder (AIA)";
	if (ocsp_aia_url(j->leaf, j->url, sizeof(j->url)) < 0 || strncasecmp(j->url, "http://", 7))
		goto out;
	*why = "the certificate's issuer is not known (neither the next certificate of the chain nor an anchor signed it)";
	if (issuer_of(c, certs, n, j->leaf, &j->issuer) < 0)
		goto out;
	r = -ENOMEM;
	*why = "cannot build the OCSP request";
	if (gnutls_ocsp_req_init(&req) < 0 ||
	    gnutls_ocsp_req_add_cert(req, GNUTLS_DIG_SHA1, j->issuer, j->leaf) < 0 ||
	    gnutls_ocsp_req_export(req, &j->req) < 0 ||
	    gnutls_hash_fast(GNUTLS_DIG_SHA256, j->req.data, j->req.size, j->key) < 0)
		goto out;
	r = 0;
out:
	if (req)
		gnutls_ocsp_req_deinit(req);
	if (r == 0)
		*ret = j;
	else
		ocsp_job_free(j);
	return r;
}

int ocsp_online_start(struct conn *c, const char *detail, char *note, size_t len)
{
	const struct keyd_conf *conf = c->req.gen->conf;
	struct ocsp_fetcher *f = c->w->k->ocsp;
	unsigned long long deadline;
	struct ocsp_job *j = NULL;
	const char *why;
	int r, v;

	note[0] = '\0';
	/* Off, no certificate, a pin or a DANE-TA/EE match (no CA vouched for
	 * the chain, so neither its AIA nor its issuer is to be trusted; RFC
	 * 7671 section 5.1: revocation does not apply to DANE-EE), or a valid
	 * staple: nothing to ask. */
	if (online_mode(c) == KEYD_OCSP_ONLINE_OFF || !c->tls || c->pinned ||
	    c->dane_usage >= DANE_USAGE_TA + 1 ||
	    !gnutls_certificate_get_peers(c->tls, &(unsigned){ 0 }) ||
	    gnutls_ocsp_status_request_is_checked(c->tls, 0))
		return 0;
	if (!f)
		return unavailable(c, "the fetch thread is not running", note, len);
	r = job_make(c, &j, &why);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return unavailable(c, why, note, len);
	if (ocsp_cache_lookup(f, j->key, &v) == 0) {
		r = verdict(c, v, j->key, NULL, note, len);
		ocsp_job_free(j);
		return r;
	}
	deadline = tk_now_ms() + (conf->ocsp_timeout_ms ? conf->ocsp_timeout_ms : OCSP_ONLINE_TIMEOUT_MS);
	j->w = c->w;
	j->serial = atomic_fetch_add(&next_serial, 1);
	j->deadline_ms = deadline < c->deadline_ms ? deadline : c->deadline_ms;
	j->timeout_ms = conf->ocsp_timeout_ms ? conf->ocsp_timeout_ms : OCSP_ONLINE_TIMEOUT_MS;
	j->max_ttl_s = conf->ocsp_max_ttl_s ? conf->ocsp_max_ttl_s : OCSP_MAX_TTL_DEFAULT;
	c->ocsp_detail = strdup(detail);
	if (!c->ocsp_detail) {
		ocsp_job_free(j);
		return -ENOMEM;
	}
	c->ocsp_serial = j->serial;
	r = ocsp_submit(f, j);
	if (r < 0) {
		c->ocsp_serial = 0;
		ocsp_job_free(j);
		return unavailable(c, r == -EAGAIN ? "too many OCSP fetches queued" : "the fetch thread stopped",
				   note, len);
	}
	/* Quiet on the network side (the handshake is over, GnuTLS is not
	 * called again until delivery, not even for a DTLS resend); a caller
	 * that goes away is seen. */
	c->retransmit_ms = 0;
	if (conn_ev_update(c, &c->net, 0) < 0 || conn_ev_update(c, &c->ctl, EPOLLIN | EPOLLRDHUP) < 0) {
		(void)snprintf(note, len, "epoll: cannot wait for the OCSP answer");
		return -EIO;
	}
	return 1;
}

int ocsp_online_answer(struct conn *c, const struct ocsp_job *j, char *note, size_t len)
{
	char why[OCSP_URL_MAX + 300];

	note[0] = '\0';
	if (j->verdict != OCSP_V_FAILED)
		return verdict(c, j->verdict, j->key, j->url, note, len);
	/* The HTTP client's reasons name the responder already. */
	if (strstr(j->why, j->url))
		return unavailable(c, j->why, note, len);
	(void)snprintf(why, sizeof(why), "responder %s: %s", j->url, j->why);
	return unavailable(c, why, note, len);
}

int ocsp_online_late(struct conn *c, char *note, size_t len)
{
	c->ocsp_serial = 0;
	return unavailable(c, "no answer from the responder before the handshake timer", note, len);
}

int ocsp_online_revoked(const struct conn *c)
{
	return c->ocsp_held && c->w->k->ocsp && ocsp_cache_revoked(c->w->k->ocsp, c->ocsp_key);
}

void ocsp_online_release(struct conn *c)
{
	free(c->ocsp_detail);
	c->ocsp_detail = NULL;
	c->ocsp_serial = 0;
	if (c->ocsp_held && c->w->k->ocsp)
		ocsp_cache_release(c->w->k->ocsp, c->ocsp_key);
	c->ocsp_held = 0;
}
