/* OCSP: checking a response before it is stapled (server role), and the
 * peer-ocsp rule for what a remote server staples (client role).
 *
 * Server role: the response comes from a file (ocsp-response), kept fresh
 * by "tlskeyctl ocsp-fetch"; it is read when a generation is built (start,
 * reload), never by a worker.  Client role: GnuTLS asks for the status,
 * checks a stapled response and must-staple in
 * gnutls_certificate_verify_peers(); this file only applies peer-ocsp on
 * top.  No network I/O here. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gnutls/ocsp.h>

#include "common/file.h"
#include "common/util.h"
#include "keyd/log.h"
#include "keyd/ocsp.h"

int ocsp_crt_must_staple(gnutls_x509_crt_t crt)
{
	gnutls_x509_tlsfeatures_t f;
	unsigned feature;
	int yes = 0;

	if (gnutls_x509_tlsfeatures_init(&f) < 0)
		return 0;
	if (gnutls_x509_crt_get_tlsfeatures(crt, f, 0, NULL) == 0)
		for (unsigned i = 0; !yes && gnutls_x509_tlsfeatures_get(f, i, &feature) == 0; i++)
			yes = feature == 5; /* the TLS extension number of status_request */
	gnutls_x509_tlsfeatures_deinit(f);
	return yes;
}

/* The one single response about leaf: times and status. */
static int single_check(gnutls_ocsp_resp_t resp, gnutls_x509_crt_t leaf, time_t now,
			int *ret_revoked, time_t *ret_next, char *err, size_t len)
{
	unsigned status = 0;
	time_t this_upd = 0, next_upd = 0, rev_time = 0;
	int r;

	r = gnutls_ocsp_resp_check_crt(resp, 0, leaf);
	if (r < 0) {
		tk_errf(err, len, "the response is about another certificate (%s)", gnutls_strerror(r));
		return -EINVAL;
	}
	r = gnutls_ocsp_resp_get_single(resp, 0, NULL, NULL, NULL, NULL, &status, &this_upd,
					&next_upd, &rev_time, NULL);
	if (r < 0) {
		tk_errf(err, len, "unreadable response: %s", gnutls_strerror(r));
		return -EINVAL;
	}
	/* Without nextUpdate nobody can tell when it stops being news: such
	 * a response is never stapled (responders set it: openssl -ndays). */
	if (next_upd == (time_t)-1) {
		tk_errf(err, len, "the response has no nextUpdate");
		return -EINVAL;
	}
	if (this_upd > now + 300) {
		tk_errf(err, len, "the response's thisUpdate is in the future");
		return -EINVAL;
	}
	if (next_upd <= now) {
		tk_errf(err, len, "the response expired (nextUpdate %lld, now %lld)",
			(long long)next_upd, (long long)now);
		return -EKEYEXPIRED;
	}
	if (status != GNUTLS_OCSP_CERT_GOOD && status != GNUTLS_OCSP_CERT_REVOKED) {
		tk_errf(err, len, "the responder does not know the certificate (status unknown)");
		return -EINVAL;
	}
	*ret_revoked = status == GNUTLS_OCSP_CERT_REVOKED;
	*ret_next = next_upd;
	return 0;
}

int ocsp_resp_check(const gnutls_datum_t *der, gnutls_x509_crt_t leaf, gnutls_x509_crt_t issuer,
		    time_t now, int *ret_revoked, time_t *ret_next, char *err, size_t len)
{
	gnutls_ocsp_resp_t resp;
	unsigned verify = 0;
	int r;

	if (gnutls_ocsp_resp_init(&resp) < 0)
		return -ENOMEM;
	r = gnutls_ocsp_resp_import(resp, der);
	if (r < 0) {
		tk_errf(err, len, "not a DER OCSP response: %s", gnutls_strerror(r));
		r = -EINVAL;
		goto out;
	}
	r = gnutls_ocsp_resp_get_status(resp);
	if (r != GNUTLS_OCSP_RESP_SUCCESSFUL) {
		tk_errf(err, len, "the responder answered with error status %d", r);
		r = -EINVAL;
		goto out;
	}
	/* The issuer's key, or a responder certificate the issuer signed
	 * for OCSP signing (GnuTLS checks the delegation). */
	r = gnutls_ocsp_resp_verify_direct(resp, issuer, &verify, 0);
	if (r < 0 || verify) {
		tk_errf(err, len, "the response is not signed by the certificate's issuer%s%s",
			r < 0 ? ": " : "", r < 0 ? gnutls_strerror(r) : "");
		r = -EINVAL;
		goto out;
	}
	r = single_check(resp, leaf, now, ret_revoked, ret_next, err, len);
out:
	gnutls_ocsp_resp_deinit(resp);
	return r;
}

int ocsp_find_issuer(const gnutls_pcert_st *chain, unsigned n,
		     gnutls_certificate_credentials_t cred, gnutls_x509_crt_t *ret_issuer, char *err,
		     size_t len)
{
	gnutls_x509_crt_t leaf = NULL, issuer = NULL;
	int r = -ENOENT;

	if (n > 1) {
		if (gnutls_x509_crt_init(&issuer) < 0)
			return -ENOMEM;
		if (gnutls_x509_crt_import(issuer, &chain[1].cert, GNUTLS_X509_FMT_DER) == 0) {
			*ret_issuer = issuer;
			return 0;
		}
		gnutls_x509_crt_deinit(issuer);
		tk_errf(err, len, "unreadable second certificate in the chain");
		return -ENOENT;
	}
	if (gnutls_x509_crt_init(&leaf) < 0)
		return -ENOMEM;
	if (gnutls_x509_crt_import(leaf, &chain[0].cert, GNUTLS_X509_FMT_DER) == 0 &&
	    gnutls_certificate_get_issuer(cred, leaf, &issuer, GNUTLS_TL_GET_COPY) == 0) {
		*ret_issuer = issuer;
		r = 0;
	} else {
		tk_errf(err, len, "the certificate's issuer is neither in the chain nor a trust anchor");
	}
	gnutls_x509_crt_deinit(leaf);
	return r;
}

/* Read and check id's response file; 0 with o filled, or a reason. */
static int staple_read(const struct keyd_identity *id, gnutls_x509_crt_t leaf,
		       const gnutls_pcert_st *chain, unsigned n,
		       gnutls_certificate_credentials_t cred, struct keyd_ocsp *o, char *err,
		       size_t len)
{
	gnutls_x509_crt_t issuer = NULL;
	struct stat st;
	char *buf = NULL;
	size_t blen = 0;
	time_t next = 0;
	int r, revoked = 0;

	/* Whoever may write it could staple an older "good" answer. */
	r = tk_file_read_judged("ocsp-response", id->ocsp_file, OCSP_MAX_RESPONSE, 0, tk_file_trusted, &buf,
				&blen, &st, err, len);
	if (r < 0)
		return r;
	r = ocsp_find_issuer(chain, n, cred, &issuer, err, len);
	if (r == 0) {
		gnutls_datum_t der = { (unsigned char *)buf, (unsigned)blen };

		r = ocsp_resp_check(&der, leaf, issuer, time(NULL), &revoked, &next, err, len);
		gnutls_x509_crt_deinit(issuer);
	}
	if (r == 0) {
		o->data.response.data = gnutls_malloc(blen);
		if (!o->data.response.data) {
			r = -ENOMEM;
		} else {
			memcpy(o->data.response.data, buf, blen);
			o->data.response.size = (unsigned)blen;
			o->data.version = 1;
			o->data.exptime = next;
			o->revoked = revoked;
			o->have = 1;
		}
	}
	tk_file_free(buf, blen);
	return r;
}

int ocsp_staple_load(const char *conf_path, const struct keyd_identity *id,
		     const gnutls_pcert_st *chain, unsigned n, gnutls_certificate_credentials_t cred,
		     struct keyd_ocsp *o)
{
	gnutls_x509_crt_t leaf;
	char err[512] = "";
	int r = 0;

	atomic_init(&o->expired_logged, 0);
	if (n == 0 || gnutls_x509_crt_init(&leaf) < 0)
		return n == 0 ? 0 : -ENOMEM;
	if (gnutls_x509_crt_import(leaf, &chain[0].cert, GNUTLS_X509_FMT_DER) == 0)
		o->must_staple = ocsp_crt_must_staple(leaf);
	if (id->ocsp_file)
		r = staple_read(id, leaf, chain, n, cred, o, err, sizeof(err));
	gnutls_x509_crt_deinit(leaf);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		keyd_log(LOG_WARNING, "%s:%u: identity %s: ocsp-response %s not stapled: %s", conf_path,
			 id->line, id->name, id->ocsp_file, err);
	else if (o->revoked)
		keyd_log(LOG_ERR, "%s:%u: identity %s: the OCSP response says the certificate is "
			 "REVOKED; stapled as it is, clients will refuse this server", conf_path, id->line,
			 id->name);
	if (o->must_staple && !o->have)
		keyd_log(LOG_ERR, "%s:%u: identity %s: must-staple certificate without a valid "
			 "ocsp-response: its server handshakes are refused", conf_path, id->line,
			 id->name);
	return 0;
}

unsigned ocsp_staple_warnings(const struct keyd_ocsp *o, const struct keyd_identity *id)
{
	return (unsigned)(id->ocsp_file && !o->have) + (unsigned)o->revoked +
	       (unsigned)(o->must_staple && !o->have);
}

void ocsp_staple_free(struct keyd_ocsp *o)
{
	if (!o)
		return;
	gnutls_free(o->data.response.data);
	o->data.response.data = NULL;
	o->have = 0;
}

gnutls_ocsp_data_st *ocsp_staple_current(struct keyd_ocsp *o, const char *name, time_t now)
{
	if (!o || !o->have)
		return NULL;
	if (now < o->data.exptime)
		return &o->data;
	if (!atomic_exchange(&o->expired_logged, 1))
		keyd_log(LOG_WARNING, "identity %s: the OCSP response expired; no longer stapled "
			 "(run tlskeyctl ocsp-fetch, then reload)", name);
	return NULL;
}

int ocsp_server_check(struct keyd_ocsp *o, const char *name, time_t now, char *why, size_t len)
{
	if (!o || !o->must_staple || ocsp_staple_current(o, name, now))
		return 0;
	(void)snprintf(why, len, "identity %s has a must-staple certificate and no current OCSP "
		       "response (ocsp-missing)", name);
	return -EKEYEXPIRED;
}

int ocsp_peer_mode(const struct keyd_conf *conf, const struct keyd_identity *id)
{
	if (id && id->peer_ocsp != KEYD_OCSP_INHERIT)
		return id->peer_ocsp;
	return conf->peer_ocsp ? conf->peer_ocsp : KEYD_OCSP_IF_STAPLED;
}

int ocsp_client_setup(gnutls_session_t s, int mode)
{
	int r;

	if (mode == KEYD_OCSP_OFF)
		return 0;
	r = gnutls_ocsp_status_request_enable_client(s, NULL, 0, NULL);
	return r < 0 ? -ENOMEM : 0;
}

unsigned ocsp_peer_status(gnutls_session_t s, int mode, unsigned status)
{
	const unsigned ocsp_bits = GNUTLS_CERT_MISSING_OCSP_STATUS | GNUTLS_CERT_INVALID_OCSP_STATUS;

	if (mode == KEYD_OCSP_REQUIRE && !gnutls_ocsp_status_request_is_checked(s, 0))
		status |= GNUTLS_CERT_INVALID | GNUTLS_CERT_MISSING_OCSP_STATUS;
	if (mode == KEYD_OCSP_OFF && (status & ocsp_bits)) {
		status &= ~ocsp_bits;
		/* GNUTLS_CERT_INVALID always comes with a reason bit: if the
		 * OCSP ones were all, the chain itself is fine. */
		if (status == GNUTLS_CERT_INVALID)
			status = 0;
	}
	return status;
}

/* XXX: a cached result outlives the response's nextUpdate by up to
 * cache-ttl (default 300 s): the same bytes are not checked again. */
void ocsp_cache_feed(gnutls_session_t s, gnutls_hash_hd_t h)
{
	gnutls_datum_t resp = { NULL, 0 };
	uint32_t size = 0;

	if (gnutls_ocsp_status_request_get(s, &resp) == 0)
		size = resp.size;
	(void)gnutls_hash(h, &size, sizeof(size));
	if (size)
		(void)gnutls_hash(h, resp.data, resp.size);
}

const char *ocsp_status_word(unsigned status)
{
	if (status & GNUTLS_CERT_REVOKED)
		return "revoked";
	if (status & GNUTLS_CERT_MISSING_OCSP_STATUS)
		return "ocsp-missing";
	if (status & GNUTLS_CERT_INVALID_OCSP_STATUS)
		return "ocsp-invalid";
	return NULL;
}
