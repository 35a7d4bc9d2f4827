/* Trust: the credentials of a generation (anchors, the key callback), peer
 * certificate validation with configured pins, and the validation cache
 * key. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include "common/file.h"
#include "common/util.h"
#include "keyd/identity.h"
#include "keyd/gen.h"
#include "keyd/keys.h"
#include "keyd/log.h"
#include "keyd/trust.h"
#include "tlskey/starttls.h"

/* Everything a validation + authorization result depends on. */
static void cache_key(struct conn *c, const gnutls_datum_t *certs, unsigned n, uint8_t out[32])
{
	const struct keyd_request *q = &c->req;
	gnutls_hash_hd_t h;
	uint8_t hdr[16];
	uint32_t kinds = q->msg.flags & (TLSKEY_FLAG_NO_REMOTE_USER_ID | TLSKEY_FLAG_NO_REMOTE_DOMAIN_ID);

	memset(out, 0, 32);
	if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0)
		return;
	(void)gnutls_hash(h, "tlskeyd-vcache-1", 16);
	hdr[0] = q->msg.role;
	memcpy(hdr + 1, &kinds, 4);
	memcpy(hdr + 5, &q->acl_gen, sizeof(unsigned));
	(void)gnutls_hash(h, hdr, 5 + sizeof(unsigned));
	(void)gnutls_hash(h, &q->acl, sizeof(q->acl));
	(void)gnutls_hash(h, q->msg.myname, strlen(q->msg.myname) + 1);
	/* The rule that admitted the request decides peers= and map-user. */
	(void)gnutls_hash(h, q->decision.where, strlen(q->decision.where) + 1);
	(void)gnutls_hash(h, &q->decision.map_user, sizeof(q->decision.map_user));
	(void)gnutls_hash(h, q->msg.sniname, strlen(q->msg.sniname) + 1);
	for (unsigned i = 0; i < n; i++) {
		uint32_t len = certs[i].size;
		(void)gnutls_hash(h, &len, sizeof(len));
		(void)gnutls_hash(h, certs[i].data, certs[i].size);
	}
	gnutls_hash_deinit(h, out);
}

/* A configured pin may stand in for the CA, never for the validity dates. */
static int pin_accepts(struct conn *c, const gnutls_datum_t *leaf, unsigned status)
{
	const unsigned fatal = GNUTLS_CERT_EXPIRED | GNUTLS_CERT_NOT_ACTIVATED | GNUTLS_CERT_REVOKED |
			       GNUTLS_CERT_PURPOSE_MISMATCH;
	const struct keyd_conf *conf = c->req.gen->conf;
	const struct keyd_peer *pe;
	gnutls_x509_crt_t crt;
	unsigned char spki[32], whole[32];
	size_t len = sizeof(spki);
	char id[TK_ID_MAX + 1];
	int ok = 0;

	if (!conf->n_peers || (status & fatal) || gnutls_x509_crt_init(&crt) < 0)
		return 0;
	if (gnutls_x509_crt_import(crt, leaf, GNUTLS_X509_FMT_DER) < 0 ||
	    gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, spki, &len) < 0 || len != 32 ||
	    gnutls_hash_fast(GNUTLS_DIG_SHA256, leaf->data, leaf->size, whole) < 0)
		goto out;
	/* The pinned name must be the one the connection is about. */
	if (c->req.msg.role == TK_ROLE_CLIENT && TK_HAS(&c->req.msg, TK_TAG_SNINAME))
		(void)snprintf(id, sizeof(id), "%s", c->req.msg.sniname);
	else if (keyd_identity_from_cert(crt, id, sizeof(id)) < 0)
		goto out;
	pe = keyd_conf_peer(conf, id);
	for (size_t i = 0; pe && i < pe->n_pins && !ok; i++)
		ok = !memcmp(pe->pins[i].sha256, pe->pins[i].kind == KEYD_PIN_SPKI ? spki : whole, 32);
	if (ok && c->req.msg.role == TK_ROLE_CLIENT && TK_HAS(&c->req.msg, TK_TAG_SNINAME) &&
	    !gnutls_x509_crt_check_hostname(crt, id) && keyd_identity_from_cert(crt, id, sizeof(id)) == 0 &&
	    strcasecmp(id, c->req.msg.sniname))
		ok = 0;
out:
	gnutls_x509_crt_deinit(crt);
	return ok;
}

int trust_peer_verify(struct conn *c)
{
	gnutls_session_t s = c->tls;
	const struct keyd_request *q = &c->req;
	gnutls_typed_vdata_st data[2];
	struct vcache_value v;
	const gnutls_datum_t *certs;
	unsigned n = 0, nd = 0, status = 0;
	int r;

	certs = gnutls_certificate_get_peers(s, &n);
	if (!certs || n == 0)
		return 0; /* finish() applies the certificate-request flags */
	cache_key(c, certs, n, c->cache_key);
	if (!(q->msg.flags & TLSKEY_FLAG_NO_CACHE_READ) &&
	    vcache_get(c->req.gen->vcache, c->cache_key, &v) == 0) {
		c->cache_hit = 1;
		(void)snprintf(c->peer, sizeof(c->peer), "%s", v.peer);
		(void)snprintf(c->mapped_user, sizeof(c->mapped_user), "%s", v.mapped_user);
		keyd_log(LOG_DEBUG, "validation cache hit: myname=%s peer=%s", q->msg.myname, v.peer);
		return 0;
	}
	keyd_log(LOG_DEBUG, "validation cache miss: myname=%s%s", q->msg.myname,
		 (q->msg.flags & TLSKEY_FLAG_NO_CACHE_READ) ? " (no-cache-read)" : "");
	if (q->msg.role == TK_ROLE_CLIENT && TK_HAS(&q->msg, TK_TAG_SNINAME)) {
		data[nd].type = GNUTLS_DT_DNS_HOSTNAME;
		data[nd].data = (unsigned char *)q->msg.sniname;
		data[nd++].size = 0;
	}
	data[nd].type = GNUTLS_DT_KEY_PURPOSE_OID;
	data[nd].data = (unsigned char *)(q->msg.role == TK_ROLE_CLIENT ? GNUTLS_KP_TLS_WWW_SERVER
									 : GNUTLS_KP_TLS_WWW_CLIENT);
	data[nd++].size = 0;
	r = gnutls_certificate_verify_peers(s, data, nd, &status);
	if (r < 0)
		status = GNUTLS_CERT_INVALID;
	if (status && pin_accepts(c, &certs[0], status)) {
		c->pinned = 1;
		return 0;
	}
	if (status) {
		c->verify_status = status;
		return GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR;
	}
	return 0;
}

static int verify_cb(gnutls_session_t s)
{
	return trust_peer_verify(gnutls_session_get_ptr(s));
}

/* The file or directory at path as opened (st): trusted (tk_file_trusted)? */
static int anchors_trusted(const char *what, const char *path, const struct stat *st, char *err,
			   size_t errlen)
{
	char why[512];
	int r = tk_file_trusted(path, st, why, sizeof(why));

	if (r < 0)
		tk_errf(err, errlen, "%s %s", what, why);
	return r;
}

int trust_anchors_load(const struct keyd_conf *conf, gnutls_certificate_credentials_t cred, char *err,
		       size_t errlen)
{
	struct stat st;
	int r, n = 0;

	/* A file, a directory, both, or the system store when neither is
	 * configured (or ca-file is "system"). */
	if ((!conf->ca_file && !conf->ca_dir) || (conf->ca_file && !strcmp(conf->ca_file, "system"))) {
		/* An empty system store is the host's business (pins may be
		 * all this daemon needs); only a failure to read it is ours. */
		r = gnutls_certificate_set_x509_system_trust(cred);
		if (r < 0) {
			tk_errf(err, errlen, "system trust store: %s", gnutls_strerror(r));
			return -EINVAL;
		}
		n += r;
	} else if (conf->ca_file) {
		int fd;

		/* GnuTLS opens the file with a blocking open(): make sure first
		 * that it is a regular file, or a FIFO there would hang start-up.
		 * (Whoever could swap it in between could edit it anyway.) */
		r = tk_file_open_regular("ca-file", conf->ca_file, 0, &fd, &st, err, errlen);
		if (r < 0)
			return r;
		(void)tk_close(fd);
		r = anchors_trusted("ca-file", conf->ca_file, &st, err, errlen);
		if (r < 0)
			return r;
		r = gnutls_certificate_set_x509_trust_file(cred, conf->ca_file, GNUTLS_X509_FMT_PEM);
		if (r <= 0) {
			tk_errf(err, errlen, "no trust anchors loaded from ca-file %s: %s", conf->ca_file,
				r < 0 ? gnutls_strerror(r) : "file holds no certificate");
			return -EINVAL;
		}
		n += r;
	}
	if (conf->ca_dir) {
		if (stat(conf->ca_dir, &st) < 0) {
			r = -errno;
			tk_errf(err, errlen, "ca-dir %s: %s", conf->ca_dir, strerror(-r));
			return r;
		}
		r = anchors_trusted("ca-dir", conf->ca_dir, &st, err, errlen);
		if (r < 0)
			return r;
		/* A configured directory that yields nothing is a mistake even
		 * when a ca-file or pins provide other anchors. */
		r = gnutls_certificate_set_x509_trust_dir(cred, conf->ca_dir, GNUTLS_X509_FMT_PEM);
		if (r <= 0) {
			tk_errf(err, errlen, "no trust anchors loaded from ca-dir %s: %s", conf->ca_dir,
				r < 0 ? gnutls_strerror(r) : "directory holds no certificate");
			return -EINVAL;
		}
		n += r;
	}
	return n;
}

int trust_creds_new(const struct keyd_conf *conf, gnutls_certificate_credentials_t *ret_cred,
		    char *err, size_t len)
{
	gnutls_certificate_credentials_t cred;
	int r;

	if (gnutls_certificate_allocate_credentials(&cred) < 0) {
		(void)snprintf(err, len, "out of memory");
		return -ENOMEM;
	}
	r = trust_anchors_load(conf, cred, err, len);
	if (r < 0) {
		gnutls_certificate_free_credentials(cred);
		return r;
	}
	gnutls_certificate_set_retrieve_function2(cred, keys_cert_cb);
	gnutls_certificate_set_verify_function(cred, verify_cb);
	*ret_cred = cred;
	return 0;
}
