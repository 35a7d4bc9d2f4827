/* Trust: the credentials of a generation (anchors, the key callback), peer
 * certificate validation with configured pins, and the validation cache
 * key. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <stdlib.h>
#include <time.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include "common/file.h"
#include "common/util.h"
#include "keyd/crl.h"
#include "keyd/dane_match.h"
#include "keyd/identity.h"
#include "keyd/gen.h"
#include "keyd/keys.h"
#include "keyd/log.h"
#include "keyd/ocsp.h"
#include "keyd/prio.h"
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
	(void)gnutls_hash(h, "tlskeyd-vcache-2", 16);
	/* A peer valid under one identity's anchors is nothing to another's. */
	(void)gnutls_hash(h, &gen_trust_of(q->gen, q->id_index)->index, sizeof(unsigned));
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
	/* A result validated by TLSA records holds for those records only. */
	if (c->dane)
		(void)gnutls_hash(h, c->dane->digest, sizeof(c->dane->digest));
	for (unsigned i = 0; i < n; i++) {
		uint32_t len = certs[i].size;
		(void)gnutls_hash(h, &len, sizeof(len));
		(void)gnutls_hash(h, certs[i].data, certs[i].size);
	}
	ocsp_cache_feed(c->tls, h);
	gnutls_hash_deinit(h, out);
}

int trust_pin_name(const struct keyd_request *q, gnutls_x509_crt_t crt, char *ret, size_t len)
{
	if (q->msg.role == TK_ROLE_CLIENT && TK_HAS(&q->msg, TK_TAG_SNINAME)) {
		(void)snprintf(ret, len, "%s", q->msg.sniname);
		return 0;
	}
	return keyd_identity_from_cert(crt, ret, len);
}

/* A configured pin of conf may stand in for the CA, never for the
 * validity dates: at the handshake (the connection's configuration) and
 * when a reload re-evaluates the session (the new one). */
static int pin_accepts(const struct keyd_conf *conf, const struct keyd_request *q,
		       const gnutls_datum_t *leaf, unsigned status)
{
	/* An expired CRL is no better for a pinned peer: crl-expired decides. */
	const unsigned fatal = GNUTLS_CERT_EXPIRED | GNUTLS_CERT_NOT_ACTIVATED | GNUTLS_CERT_REVOKED |
			       GNUTLS_CERT_PURPOSE_MISMATCH | GNUTLS_CERT_MISSING_OCSP_STATUS |
			       GNUTLS_CERT_REVOCATION_DATA_SUPERSEDED;
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
	/* The pinned name must be the one the connection is about; it is
	 * also the only name the peer gets (finish() in handshake.c). */
	if (trust_pin_name(q, crt, id, sizeof(id)) < 0)
		goto out;
	pe = keyd_conf_peer(conf, id);
	for (size_t i = 0; pe && i < pe->n_pins && !ok; i++)
		ok = !memcmp(pe->pins[i].sha256, pe->pins[i].kind == KEYD_PIN_SPKI ? spki : whole, 32);
	if (ok && q->msg.role == TK_ROLE_CLIENT && TK_HAS(&q->msg, TK_TAG_SNINAME) &&
	    !gnutls_x509_crt_check_hostname(crt, id) && keyd_identity_from_cert(crt, id, sizeof(id)) == 0 &&
	    strcasecmp(id, q->msg.sniname))
		ok = 0;
out:
	gnutls_x509_crt_deinit(crt);
	return ok;
}

/* Secure TLSA records decide (dane_conn.c chose them): no CA and no pin
 * can stand in for a mismatch.  0: a DANE-EE/TA match, done; 1: a PKIX-EE/TA
 * match, which ordinary validation must confirm (pins do not count);
 * else the GnuTLS error to fail with. */
static int dane_verify(struct conn *c, const gnutls_datum_t *certs, unsigned n)
{
	const char *host = TK_HAS(&c->req.msg, TK_TAG_SNINAME) ? c->req.msg.sniname : NULL;
	int r = dane_chain_check(c->dane, certs, n, host, &c->dane_why);

	if (r < 0) {
		c->verify_status = GNUTLS_CERT_INVALID;
		return GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR;
	}
	c->dane_usage = r + 1;
	return r >= DANE_USAGE_TA ? 0 : 1;
}

int trust_peer_verify(struct conn *c)
{
	gnutls_session_t s = c->tls;
	const struct keyd_request *q = &c->req;
	const struct trust_domain *dom = gen_trust_of(q->gen, q->id_index);
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
		c->pinned = v.pinned;
		c->dane_usage = v.dane_usage;
		(void)snprintf(c->peer, sizeof(c->peer), "%s", v.peer);
		(void)snprintf(c->mapped_user, sizeof(c->mapped_user), "%s", v.mapped_user);
		keyd_log(LOG_DEBUG, "validation cache hit: myname=%s peer=%s", q->msg.myname, v.peer);
		return 0;
	}
	keyd_log(LOG_DEBUG, "validation cache miss: myname=%s%s", q->msg.myname,
		 (q->msg.flags & TLSKEY_FLAG_NO_CACHE_READ) ? " (no-cache-read)" : "");
	if (c->dane) {
		r = dane_verify(c, certs, n);
		if (r != 1)
			return r;
	}
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
	else if (q->msg.role == TK_ROLE_CLIENT)
		status = ocsp_peer_status(s, ocsp_peer_mode(c->req.gen->conf, c->req.id), status);
	if (!status && !dom->crl_expired_accept && crl_set_expired_for(dom->crls, certs, n, time(NULL)))
		status = GNUTLS_CERT_INVALID | GNUTLS_CERT_REVOCATION_DATA_SUPERSEDED;
	c->reason = (status & GNUTLS_CERT_REVOKED) ? "revoked"
		    : (status & GNUTLS_CERT_REVOCATION_DATA_SUPERSEDED) ? "crl-expired" : NULL;
	if (status && !c->dane && pin_accepts(c->req.gen->conf, q, &certs[0], status)) {
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

/* Anchors of kind 's'ystem or 'f'ile into cred (a ca-dir: anchors_add_dir).  With
 * names, their subject names go into the CertificateRequest (GnuTLS's
 * GNUTLS_TL_USE_IN_TLS, what the credentials functions do); without,
 * client-ca-names names a file of its own (ca_names_load). */
static int anchors_add(gnutls_certificate_credentials_t cred, char kind, const char *path, int names)
{
	gnutls_x509_trust_list_t tl;

	if (names)
		return kind == 's' ? gnutls_certificate_set_x509_system_trust(cred)
				   : gnutls_certificate_set_x509_trust_file(cred, path, GNUTLS_X509_FMT_PEM);
	gnutls_certificate_get_trust_list(cred, &tl);
	return kind == 's' ? gnutls_x509_trust_list_add_system_trust(tl, 0, 0)
			   : gnutls_x509_trust_list_add_trust_file(tl, path, NULL, GNUTLS_X509_FMT_PEM, 0, 0);
}

/* tk_file_read_judged() judges for a ca-dir file and client-ca-names:
 * tk_file_trusted() with the setting's name in front. */
static int judge_ca_dir_file(const char *path, const struct stat *st, char *err, size_t errlen)
{
	return anchors_trusted("ca-dir file", path, st, err, errlen);
}

static int judge_ca_names(const char *path, const struct stat *st, char *err, size_t errlen)
{
	return anchors_trusted("client-ca-names", path, st, err, errlen);
}

#define CA_DIR_MAX_FILES 4096
#define CA_FILE_MAX (16u * 1024 * 1024)   /* one file of a ca-dir */
#define CA_DIR_TOTAL_MAX (64u * 1024 * 1024) /* all of them */

/* ca-dir: the certificates of every regular file in it (not GnuTLS's
 * directory reader: it opens each entry with a blocking open(), a FIFO
 * hangs start-up, and asks nobody who may write them).  A symbolic link
 * to a regular file counts (/etc/ssl/certs is made of them); names that
 * start with a dot and other kinds of entries are skipped, and so is a
 * file with no PEM certificate in it, as GnuTLS does.  Each file read is
 * owned and moded as tk_file_trusted() wants, or the whole directory is
 * refused: whoever may write one of them could add a trust anchor.
 * Returns the number of certificates added or a negative errno. */
static int anchors_add_dir(gnutls_certificate_credentials_t cred, const char *dir, int names, char *err,
			   size_t errlen)
{
	gnutls_x509_trust_list_t tl;
	struct dirent *de;
	struct stat st;
	size_t total = 0;
	unsigned files = 0;
	int fd, r = 0, n = 0;
	DIR *d;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = -errno;
		tk_errf(err, errlen, "ca-dir %s: %s", dir, strerror(-r));
		(void)tk_close(fd);
		return r;
	}
	r = anchors_trusted("ca-dir", dir, &st, err, errlen);
	d = r < 0 ? NULL : fdopendir(fd);
	if (!d) {
		if (r == 0) {
			r = -errno;
			tk_errf(err, errlen, "ca-dir %s: %s", dir, strerror(-r));
		}
		(void)tk_close(fd);
		return r;
	}
	gnutls_certificate_get_trust_list(cred, &tl);
	while (r == 0 && (errno = 0, de = readdir(d))) {
		char path[4096], *buf = NULL;
		size_t len = 0;
		gnutls_datum_t pem;
		int added;

		if (de->d_name[0] == '.')
			continue;
		if (fstatat(fd, de->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (++files > CA_DIR_MAX_FILES) {
			tk_errf(err, errlen, "ca-dir %s: more than %d files", dir, CA_DIR_MAX_FILES);
			r = -E2BIG;
			break;
		}
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path)) {
			tk_errf(err, errlen, "ca-dir %s: a name in it is too long", dir);
			r = -ENAMETOOLONG;
			break;
		}
		r = tk_file_read_judged("ca-dir file", path, CA_FILE_MAX, 0, judge_ca_dir_file, &buf, &len, &st,
					err, errlen);
		if (r == -ENOENT) {
			r = 0; /* removed since readdir() */
			continue;
		}
		if (r == 0 && (total += len) > CA_DIR_TOTAL_MAX) {
			tk_errf(err, errlen, "ca-dir %s: its files exceed %u MiB", dir, CA_DIR_TOTAL_MAX >> 20);
			r = -EFBIG;
		}
		if (r == 0) {
			pem = (gnutls_datum_t){ (unsigned char *)buf, (unsigned)len };
			added = names ? gnutls_certificate_set_x509_trust_mem(cred, &pem, GNUTLS_X509_FMT_PEM)
				      : gnutls_x509_trust_list_add_trust_mem(tl, &pem, NULL, GNUTLS_X509_FMT_PEM,
									    0, 0);
			if (added > 0)
				n += added;
		}
		tk_file_free(buf, len);
	}
	if (r == 0 && errno != 0) {
		r = -errno;
		tk_errf(err, errlen, "ca-dir %s: %s", dir, strerror(-r));
	}
	(void)closedir(d);
	return r < 0 ? r : n;
}

int trust_anchors_load(const struct keyd_trustconf *conf, gnutls_certificate_credentials_t cred,
		       char *err, size_t errlen)
{
	const int names = !(conf->client_ca_names && conf->client_ca_names[0] == '/');
	struct stat st;
	int r, n = 0;

	/* A file, a directory, both, or the system store when neither is
	 * configured (or ca-file is "system"). */
	if ((!conf->ca_file && !conf->ca_dir) || (conf->ca_file && !strcmp(conf->ca_file, "system"))) {
		/* An empty system store is the host's business (pins may be
		 * all this daemon needs); only a failure to read it is ours. */
		r = anchors_add(cred, 's', NULL, names);
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
		r = anchors_add(cred, 'f', conf->ca_file, names);
		if (r <= 0) {
			tk_errf(err, errlen, "no trust anchors loaded from ca-file %s: %s", conf->ca_file,
				r < 0 ? gnutls_strerror(r) : "file holds no certificate");
			return -EINVAL;
		}
		n += r;
	}
	if (conf->ca_dir) {
		r = anchors_add_dir(cred, conf->ca_dir, names, err, errlen);
		if (r < 0)
			return r;
		/* A configured directory that yields nothing is a mistake even
		 * when a ca-file or pins provide other anchors. */
		if (r == 0) {
			tk_errf(err, errlen, "no trust anchors loaded from ca-dir %s: directory holds no "
				"certificate", conf->ca_dir);
			return -EINVAL;
		}
		n += r;
	}
	return n;
}

#define CA_NAMES_MAX_SIZE (1024 * 1024)
#define CA_NAMES_MAX 256

/* client-ca-names = FILE: the subject names of the CA certificates in it
 * go into the CertificateRequest.  Each must validate under the anchors
 * already in cred (one of them, or an intermediate below one): asking
 * for a CA this identity would refuse helps no client. */
static int ca_names_load(gnutls_certificate_credentials_t cred, const char *path, char *err,
			 size_t len)
{
	gnutls_x509_trust_list_t tl;
	gnutls_x509_crt_t *crts = NULL;
	gnutls_datum_t d;
	struct stat st;
	char *buf = NULL;
	size_t blen = 0;
	unsigned n = 0, i, status;
	int r;

	r = tk_file_read_judged("client-ca-names", path, CA_NAMES_MAX_SIZE, 0, judge_ca_names, &buf, &blen,
				&st, err, len);
	if (r < 0)
		return r;
	d = (gnutls_datum_t){ (unsigned char *)buf, (unsigned)blen };
	if (r == 0 && (gnutls_x509_crt_list_import2(&crts, &n, &d, GNUTLS_X509_FMT_PEM, 0) < 0 || n == 0 ||
		       n > CA_NAMES_MAX)) {
		tk_errf(err, len, "client-ca-names %s: not 1 to %d PEM certificates", path, CA_NAMES_MAX);
		r = -EINVAL;
	}
	tk_file_free(buf, blen);
	gnutls_certificate_get_trust_list(cred, &tl);
	for (i = 0; r == 0 && i < n; i++) {
		status = 0;
		if (gnutls_x509_trust_list_verify_crt2(tl, &crts[i], 1, NULL, 0, 0, &status, NULL) < 0 ||
		    status) {
			tk_errf(err, len, "client-ca-names %s: certificate %u is not a trust anchor of this "
				"identity (nor issued by one)", path, i + 1);
			r = -EINVAL;
		}
	}
	/* Added once more, now with its name for the CertificateRequest;
	 * the list owns them from here on. */
	if (r == 0 && gnutls_x509_trust_list_add_cas(tl, crts, n, GNUTLS_TL_USE_IN_TLS) < 0) {
		tk_errf(err, len, "client-ca-names %s: cannot add", path);
		r = -ENOMEM;
	}
	for (i = 0; r < 0 && i < n; i++)
		gnutls_x509_crt_deinit(crts[i]);
	gnutls_free(crts);
	return r;
}

/* Credentials, priority and CRLs for the settings t into *d. */
static int domain_new(const struct keyd_trustconf *t, struct trust_domain *d, char *err, size_t len)
{
	int r;

	memset(d, 0, sizeof(*d));
	if (gnutls_certificate_allocate_credentials(&d->cred) < 0) {
		d->cred = NULL;
		(void)snprintf(err, len, "out of memory");
		return -ENOMEM;
	}
	r = trust_anchors_load(t, d->cred, err, len);
	if (r >= 0)
		r = crl_load(d->cred, t->crl_file, t->crl_dir, &d->crls, err, len);
	if (r >= 0 && t->client_ca_names && t->client_ca_names[0] == '/')
		r = ca_names_load(d->cred, t->client_ca_names, err, len);
	if (r < 0)
		return r;
	gnutls_certificate_set_retrieve_function3(d->cred, keys_cert_cb);
	gnutls_certificate_set_verify_function(d->cred, verify_cb);
	d->crl_expired_accept = t->crl_expired == KEYD_CRL_EXPIRED_ACCEPT;
	d->no_ca_names = t->client_ca_names && !strcmp(t->client_ca_names, "none");
	/* Never with RSA key exchange (prio.c); the reason is logged. */
	r = keyd_prio_init(t->priority, &d->prio);
	if (r < 0) {
		d->prio = NULL;
		(void)snprintf(err, len, "priority '%s': %s", t->priority ? t->priority : "NORMAL",
			       r == -ENOMEM ? "out of memory" : "invalid");
		return r;
	}
	return 0;
}

void trust_domain_free(struct trust_domain *d)
{
	if (d->cred)
		gnutls_certificate_free_credentials(d->cred);
	if (d->prio)
		gnutls_priority_deinit(d->prio);
	crl_set_free(d->crls);
	memset(d, 0, sizeof(*d));
}

int trust_domain_build(const struct keyd_trustconf *t, unsigned index, struct trust_domain *ret,
		       char *err, size_t len)
{
	int r = domain_new(t, ret, err, len);

	if (r < 0) {
		trust_domain_free(ret);
		return r;
	}
	ret->index = index;
	return 0;
}

int trust_domains_build(struct keyd_gen *g, char *err, size_t len, size_t *ret_bad)
{
	const struct keyd_conf *c = g->conf;
	struct keyd_trustconf *seen;
	int r = 0;

	*ret_bad = (size_t)-1;
	g->id_trust = calloc(c->n_ids ? c->n_ids : 1, sizeof(*g->id_trust));
	g->doms = calloc(c->n_ids ? c->n_ids : 1, sizeof(*g->doms));
	seen = calloc(c->n_ids ? c->n_ids : 1, sizeof(*seen));
	if (!g->id_trust || !g->doms || !seen) {
		free(seen);
		(void)snprintf(err, len, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < c->n_ids && r == 0; i++) {
		struct keyd_trustconf t = keyd_conf_trust_of(c, &c->ids[i]);
		size_t j;

		if (keyd_conf_trust_equal(&t, &c->trust))
			continue; /* the global domain */
		/* Identities with the same settings share one domain. */
		for (j = 0; j < g->n_doms && !keyd_conf_trust_equal(&t, &seen[j]); j++)
			;
		if (j == g->n_doms) {
			r = trust_domain_build(&t, (unsigned)j + 1, &g->doms[j], err, len);
			if (r < 0) {
				*ret_bad = i;
				break;
			}
			seen[j] = t;
			g->n_doms++;
		}
		g->id_trust[i] = &g->doms[j];
	}
	free(seen);
	return r;
}

void trust_domains_free(struct keyd_gen *g)
{
	for (size_t i = 0; i < g->n_doms; i++)
		trust_domain_free(&g->doms[i]);
	free(g->doms);
	free(g->id_trust);
	trust_domain_free(&g->trust);
}

int trust_apply_identity(struct conn *c)
{
	const struct trust_domain *d = gen_trust_of(c->req.gen, c->req.id_index);
	int r = gnutls_priority_set(c->tls, d->prio);

	if (r == 0)
		r = gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, d->cred);
	/* An empty certificate_authorities list: the client picks any of
	 * its certificates (client-ca-names = none). */
	if (r == 0 && c->req.msg.role == TK_ROLE_SERVER)
		gnutls_certificate_send_x509_rdn_sequence(c->tls, d->no_ca_names);
	return r;
}

#define RECHECK_MAX_CHAIN 16

int trust_peer_recheck(const struct keyd_gen *g, size_t id_index, const struct conn *c,
		       const char **ret_reason)
{
	const struct trust_domain *d = gen_trust_of(g, id_index);
	const struct keyd_request *q = &c->req;
	gnutls_x509_crt_t crts[RECHECK_MAX_CHAIN];
	gnutls_x509_trust_list_t tl;
	gnutls_typed_vdata_st data[2];
	const gnutls_datum_t *certs;
	unsigned n = 0, got = 0, nd = 0, status = 0;
	int r = 0;

	certs = c->tls ? gnutls_certificate_get_peers(c->tls, &n) : NULL;
	if (!certs || n == 0)
		return 0;
	if (n > RECHECK_MAX_CHAIN)
		n = RECHECK_MAX_CHAIN;
	for (; got < n; got++) {
		if (gnutls_x509_crt_init(&crts[got]) < 0)
			break;
		if (gnutls_x509_crt_import(crts[got], &certs[got], GNUTLS_X509_FMT_DER) < 0) {
			gnutls_x509_crt_deinit(crts[got]);
			break;
		}
	}
	if (q->msg.role == TK_ROLE_CLIENT && TK_HAS(&q->msg, TK_TAG_SNINAME)) {
		data[nd].type = GNUTLS_DT_DNS_HOSTNAME;
		data[nd].data = (unsigned char *)(uintptr_t)q->msg.sniname;
		data[nd++].size = 0;
	}
	data[nd].type = GNUTLS_DT_KEY_PURPOSE_OID;
	data[nd].data = (unsigned char *)(q->msg.role == TK_ROLE_CLIENT ? GNUTLS_KP_TLS_WWW_SERVER
									 : GNUTLS_KP_TLS_WWW_CLIENT);
	data[nd++].size = 0;
	gnutls_certificate_get_trust_list(d->cred, &tl);
	if (got != n || gnutls_x509_trust_list_verify_crt2(tl, crts, n, data, nd, 0, &status, NULL) < 0)
		status = GNUTLS_CERT_INVALID;
	if (!status && !d->crl_expired_accept && crl_set_expired_for(d->crls, certs, n, time(NULL)))
		status = GNUTLS_CERT_REVOCATION_DATA_SUPERSEDED;
	/* A peer the handshake admitted by a pin stays only while the new
	 * configuration pins it too (and nothing fatal came up). */
	if (status && c->pinned && pin_accepts(g->conf, q, &certs[0], status))
		status = 0;
	if (status) {
		*ret_reason = (status & GNUTLS_CERT_REVOKED) ? "revoked"
			      : (status & GNUTLS_CERT_REVOCATION_DATA_SUPERSEDED) ? "crl-expired"
										: "untrusted";
		r = -EKEYREJECTED;
	}
	for (unsigned i = 0; i < got; i++)
		gnutls_x509_crt_deinit(crts[i]);
	return r;
}
