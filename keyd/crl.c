/* CRLs: read bounded, checked (signed by an anchor of the same trust
 * domain), added to the domain's trust list, and their nextUpdate kept
 * for the expiry rule (crl-expired). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <gnutls/x509.h>

#include "common/file.h"
#include "common/util.h"
#include "keyd/crl.h"

#define CRL_FILE_MAX (16u * 1024 * 1024) /* one file */
#define CRL_DIR_MAX_FILES 1024
#define CRL_MAX 4096 /* CRLs in one trust domain */
#define CRL_TOTAL_MAX (64u * 1024 * 1024) /* bytes read for one trust domain */

struct crl_entry {
	gnutls_datum_t issuer; /* raw DN, owned */
	time_t next_update;    /* -1: none given */
};

struct crl_set {
	struct crl_entry *e;
	size_t n;
	size_t bytes; /* read so far, against CRL_TOTAL_MAX */
};

void crl_set_free(struct crl_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		gnutls_free(s->e[i].issuer.data);
	free(s->e);
	free(s);
}

/* Import every CRL of buf (PEM, else one DER). */
static int crl_parse(const char *buf, size_t len, gnutls_x509_crl_t **ret, unsigned *ret_n)
{
	gnutls_datum_t d = { (unsigned char *)(uintptr_t)buf, (unsigned)len };
	gnutls_x509_crl_t *list = NULL;
	unsigned n = 0;
	int r;

	if (memmem(buf, len, "-----BEGIN", 10)) {
		r = gnutls_x509_crl_list_import2(&list, &n, &d, GNUTLS_X509_FMT_PEM, 0);
		if (r < 0)
			return r;
	} else {
		list = gnutls_malloc(sizeof(*list));
		if (!list)
			return GNUTLS_E_MEMORY_ERROR;
		r = gnutls_x509_crl_init(&list[0]);
		if (r == 0)
			r = gnutls_x509_crl_import(list[0], &d, GNUTLS_X509_FMT_DER);
		if (r < 0) {
			if (r != GNUTLS_E_MEMORY_ERROR)
				gnutls_x509_crl_deinit(list[0]);
			gnutls_free(list);
			return r;
		}
		n = 1;
	}
	*ret = list;
	*ret_n = n;
	return 0;
}

/* 1 if an anchor of tl with crl's issuer name signed crl (dates aside). */
static int crl_signed_by_anchor(gnutls_x509_trust_list_t tl, gnutls_x509_crl_t crl)
{
	const unsigned dates = GNUTLS_CERT_REVOCATION_DATA_SUPERSEDED |
			       GNUTLS_CERT_REVOCATION_DATA_ISSUED_IN_FUTURE;
	gnutls_datum_t dn = { NULL, 0 };
	gnutls_x509_crt_t issuer = NULL; /* a copy: ours to free */
	unsigned status = 0;
	int r;

	if (gnutls_x509_crl_get_raw_issuer_dn(crl, &dn) < 0)
		return 0;
	r = gnutls_x509_trust_list_get_issuer_by_dn(tl, &dn, &issuer, 0);
	gnutls_free(dn.data);
	if (r < 0 || !issuer)
		return 0;
	r = gnutls_x509_crl_verify(crl, &issuer, 1, 0, &status);
	gnutls_x509_crt_deinit(issuer);
	if (r < 0)
		return 0;
	/* GnuTLS adds GNUTLS_CERT_INVALID to a date bit: only then is it
	 * about the dates alone. */
	if (status & dates)
		status &= ~(dates | GNUTLS_CERT_INVALID);
	return status == 0;
}

/* One file: parse, note issuers and dates, hand to the trust list. */
static int crl_add_file(gnutls_x509_trust_list_t tl, struct crl_set *s, const char *what,
			const char *path, char *err, size_t errlen)
{
	gnutls_x509_crl_t *list = NULL;
	struct crl_entry *grown;
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	unsigned n = 0;
	int r;

	/* Regular files only (tk_file_read): a FIFO would hang a reload. */
	r = tk_file_read_judged(what, path, CRL_FILE_MAX, 0, tk_file_trusted, &buf, &len, &st, err, errlen);
	if (r < 0)
		return r;
	s->bytes += len;
	if (s->bytes > CRL_TOTAL_MAX) {
		tk_errf(err, errlen, "%s %s: the CRLs of one identity exceed %u MiB", what, path,
			CRL_TOTAL_MAX >> 20);
		r = -EFBIG;
		goto out;
	}
	r = crl_parse(buf, len, &list, &n);
	if (r < 0 || n == 0) {
		tk_errf(err, errlen, "%s %s: %s", what, path, r < 0 ? gnutls_strerror(r) : "no CRL in it");
		r = -EINVAL;
		goto out;
	}
	if (s->n + n > CRL_MAX) {
		tk_errf(err, errlen, "%s %s: more than %d CRLs", what, path, CRL_MAX);
		r = -E2BIG;
		goto drop;
	}
	grown = realloc(s->e, (s->n + n) * sizeof(*grown));
	if (!grown) {
		r = -ENOMEM;
		goto drop;
	}
	s->e = grown;
	for (unsigned i = 0; i < n; i++) {
		struct crl_entry *e = &s->e[s->n];

		if (gnutls_x509_crl_get_raw_issuer_dn(list[i], &e->issuer) < 0)
			e->issuer = (gnutls_datum_t){ NULL, 0 };
		e->next_update = gnutls_x509_crl_get_next_update(list[i]);
		s->n++;
	}
	/* Signed by an anchor of this domain, or refused: a CRL is a
	 * statement about certificates, only their issuer may make it.
	 * Its dates are ours to judge (crl_set_expired_for), so an expired
	 * one is loaded and crl-expired decides at validation time; GnuTLS's
	 * own check (GNUTLS_TL_VERIFY_CRL) would drop it here. */
	for (unsigned i = 0; i < n; i++) {
		if (!crl_signed_by_anchor(tl, list[i])) {
			tk_errf(err, errlen, "%s %s: a CRL is not signed by a trust anchor of this identity",
				what, path);
			r = -EINVAL;
			goto drop;
		}
	}
	r = gnutls_x509_trust_list_add_crls(tl, list, n, GNUTLS_TL_USE_IN_TLS, 0);
	gnutls_free(list); /* the CRLs are the list's now */
	list = NULL;
	if (r < 0 || (unsigned)r != n) {
		tk_errf(err, errlen, "%s %s: %s", what, path, r < 0 ? gnutls_strerror(r) : "not all CRLs added");
		r = -EINVAL;
		goto out;
	}
	r = 0;
	goto out;
drop:
	for (unsigned i = 0; i < n; i++)
		gnutls_x509_crl_deinit(list[i]);
	gnutls_free(list);
out:
	tk_file_free(buf, len);
	return r;
}

static int crl_add_dir(gnutls_x509_trust_list_t tl, struct crl_set *s, const char *dir, char *err,
		       size_t errlen)
{
	struct stat st;
	struct dirent *de;
	unsigned files = 0;
	DIR *d;
	int fd, r = 0;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = -errno;
		tk_errf(err, errlen, "crl-dir %s: %s", dir, strerror(-r));
		if (fd >= 0)
			(void)close(fd);
		return r;
	}
	r = tk_file_trusted(dir, &st, err, errlen);
	d = r < 0 ? NULL : fdopendir(fd);
	if (!d) {
		(void)close(fd);
		return r < 0 ? r : -errno;
	}
	while (r == 0 && (de = readdir(d))) {
		char path[4096];

		if (de->d_name[0] == '.')
			continue;
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (++files > CRL_DIR_MAX_FILES) {
			tk_errf(err, errlen, "crl-dir %s: more than %d files", dir, CRL_DIR_MAX_FILES);
			r = -E2BIG;
			break;
		}
		(void)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		r = crl_add_file(tl, s, "crl-dir file", path, err, errlen);
	}
	(void)closedir(d);
	return r;
}

int crl_load(gnutls_certificate_credentials_t cred, const char *file, const char *dir,
	     struct crl_set **ret_set, char *err, size_t errlen)
{
	gnutls_x509_trust_list_t tl;
	struct crl_set *s;
	int r = 0;

	if (!file && !dir) {
		*ret_set = NULL;
		return 0;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	gnutls_certificate_get_trust_list(cred, &tl);
	if (file)
		r = crl_add_file(tl, s, "crl-file", file, err, errlen);
	if (r == 0 && dir)
		r = crl_add_dir(tl, s, dir, err, errlen);
	if (r < 0) {
		crl_set_free(s);
		return r;
	}
	*ret_set = s;
	return 0;
}

int crl_set_expired_for(const struct crl_set *s, const gnutls_datum_t *certs, unsigned n, time_t now)
{
	int expired = 0;

	for (unsigned i = 0; s && i < n && !expired; i++) {
		gnutls_x509_crt_t crt;
		gnutls_datum_t dn = { NULL, 0 };

		if (gnutls_x509_crt_init(&crt) < 0)
			return 1; /* cannot tell: fail closed */
		if (gnutls_x509_crt_import(crt, &certs[i], GNUTLS_X509_FMT_DER) == 0 &&
		    gnutls_x509_crt_get_raw_issuer_dn(crt, &dn) == 0) {
			for (size_t j = 0; j < s->n && !expired; j++)
				expired = s->e[j].next_update != (time_t)-1 && s->e[j].next_update < now &&
					  s->e[j].issuer.size == dn.size &&
					  !memcmp(s->e[j].issuer.data, dn.data, dn.size);
		}
		gnutls_free(dn.data);
		gnutls_x509_crt_deinit(crt);
	}
	return expired;
}

size_t crl_set_count(const struct crl_set *s, time_t *ret_next)
{
	time_t next = -1;

	for (size_t i = 0; s && i < s->n; i++)
		if (s->e[i].next_update != (time_t)-1 && (next == -1 || s->e[i].next_update < next))
			next = s->e[i].next_update;
	if (ret_next)
		*ret_next = next;
	return s ? s->n : 0;
}
