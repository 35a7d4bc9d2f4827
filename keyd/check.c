/* The configuration check: `tlskeyd -t` and every start-up run it, so a
 * mistake is reported before the daemon binds its socket, at the line it
 * was made, instead of at the first handshake (contract in check.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <gnutls/x509.h>

#include "common/file.h"
#include "common/util.h"
#include "keyd/dane.h"
#include "keyd/check.h"
#include "keyd/gen.h"
#include "keyd/identity.h"
#include "keyd/log.h"
#include "keyd/ocsp.h"
#include "keyd/signer.h"
#include "keyd/stats.h"
#include "keyd/trust.h"
#include "pkcs11/p11.h"

#define DAY_S (24 * 3600)

/* One identity's findings, logged as they come. */
struct idcheck {
	const struct keyd_conf *conf;
	const struct keyd_identity *id;
	struct stats *stats; /* the key's state is recorded for STATUS */
	size_t idx;
	unsigned errors, warnings;
};

static void id_say(struct idcheck *ic, int prio, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void id_say(struct idcheck *ic, int prio, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	keyd_log(prio, "%s:%u: identity %s: %s", ic->conf->path ? ic->conf->path : "-", ic->id->line,
		 ic->id->name, msg);
	if (prio <= LOG_ERR)
		ic->errors++;
	else
		ic->warnings++;
}

int check_module(const char *path)
{
	char err[512];
	struct stat st;
	int fd, r;

	if (!path)
		return 0;
	/* Follows symbolic links: /usr/lib/softhsm/libsofthsm2.so is one;
	 * what is loaded is the file at their end. */
	r = tk_file_open_regular("pkcs11-module", path, 0, &fd, &st, err, sizeof(err));
	if (r == 0) {
		(void)tk_close(fd);
		r = tk_file_trusted(path, &st, err, sizeof(err));
	}
	if (r < 0)
		keyd_log(LOG_ERR, "pkcs11-module %s", err);
	return r;
}

static void check_dates(struct idcheck *ic, gnutls_x509_crt_t crt, unsigned i, time_t now)
{
	time_t na = gnutls_x509_crt_get_expiration_time(crt), nb = gnutls_x509_crt_get_activation_time(crt);
	unsigned warn = ic->conf->cert_expiry_warning_days;
	char when[32];
	struct tm tm;

	if (na == (time_t)-1 || !gmtime_r(&na, &tm) || !strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm))
		(void)snprintf(when, sizeof(when), "?");
	if (na != (time_t)-1 && na < now)
		id_say(ic, LOG_ERR, "certificate %u of %s expired on %s", i, ic->id->cert_src, when);
	else if (nb != (time_t)-1 && nb > now)
		id_say(ic, LOG_ERR, "certificate %u of %s is not valid yet", i, ic->id->cert_src);
	else if (warn && na != (time_t)-1 && na - now < (time_t)warn * DAY_S)
		id_say(ic, LOG_WARNING, "certificate %u of %s expires on %s, in less than %u days "
		       "(cert-expiry-warning)", i, ic->id->cert_src, when, warn);
}

/* The identity's name among the leaf's names (what a peer checks). */
static void check_name(struct idcheck *ic, gnutls_x509_crt_t leaf)
{
	const char *name = ic->id->name;
	char has[TK_ID_MAX + 1];
	int ok;

	ok = keyd_identity_is_user(name) ? gnutls_x509_crt_check_email(leaf, name, 0)
					 : gnutls_x509_crt_check_hostname2(leaf, name, 0);
	if (ok)
		return;
	if (keyd_identity_from_cert(leaf, has, sizeof(has)) < 0)
		(void)snprintf(has, sizeof(has), "no usable name");
	id_say(ic, LOG_WARNING, "certificate %s is for %s, not %s: peers checking the name will refuse it",
	       ic->id->cert_src, has, name);
}

/* Chain order and dates; returns the leaf (caller deinits) or NULL. */
static gnutls_x509_crt_t check_chain(struct idcheck *ic, const gnutls_pcert_st *chain, unsigned n)
{
	gnutls_x509_crt_t crts[16] = { 0 }, leaf = NULL;
	time_t now = time(NULL);
	unsigned m = n < 16 ? n : 16;

	for (unsigned i = 0; i < m; i++) {
		if (gnutls_x509_crt_init(&crts[i]) < 0 ||
		    gnutls_x509_crt_import(crts[i], &chain[i].cert, GNUTLS_X509_FMT_DER) < 0) {
			id_say(ic, LOG_ERR, "certificate %u of %s cannot be parsed", i, ic->id->cert_src);
			goto out;
		}
		check_dates(ic, crts[i], i, now);
		if (i > 0 && !gnutls_x509_crt_check_issuer(crts[i - 1], crts[i]))
			id_say(ic, LOG_ERR, "chain file %s: certificate %u did not issue certificate %u "
			       "(leaf first, then its issuers)", ic->id->cert_src, i, i - 1);
	}
	leaf = crts[0];
	crts[0] = NULL;
out:
	for (unsigned i = 0; i < m; i++)
		if (crts[i])
			gnutls_x509_crt_deinit(crts[i]);
	return leaf;
}

/* Token, login, attributes, then the key against the certificate. */
static void check_key(struct idcheck *ic, gnutls_pubkey_t pub)
{
	struct p11_key_status st;
	gnutls_privkey_t key = NULL;
	char err[512];
	int r;

	/* At the line of the URI: p11-kit would match nothing with it and
	 * call the token absent. */
	if (p11_uri_check(ic->id->key_uri, err, sizeof(err)) < 0) {
		keyd_log(LOG_ERR, "%s:%u: identity %s: 'key': %s", ic->conf->path ? ic->conf->path : "-",
			 ic->id->key_line, ic->id->name, err);
		ic->errors++;
		return;
	}
	/* Raw PKCS#11 first: its failures carry the token's CKR_ code. */
	r = p11_key_probe(ic->id->key_uri, &st, err, sizeof(err));
	stats_key_event(ic->stats, ic->idx, r < 0 ? -r : 0);
	if (r < 0) {
		id_say(ic, LOG_ERR, "key: %s", err);
		return;
	}
	if (st.extractable || !st.sensitive)
		id_say(ic, LOG_WARNING, "key %s is extractable or not sensitive", ic->id->key_uri);
	r = p11_key_import(ic->id->key_uri, &key, err, sizeof(err));
	if (r < 0) {
		id_say(ic, LOG_ERR, "key: %s", err);
		return;
	}
	r = signer_key_matches(key, pub, err, sizeof(err));
	if (r < 0)
		id_say(ic, LOG_ERR, "token '%s', %s: %s %s", st.token, ic->id->key_uri, err, ic->id->cert_src);
	gnutls_privkey_deinit(key);
}

static int check_one(struct keyd *k, size_t i, unsigned *warnings)
{
	struct idcheck ic = { .conf = k->conf, .id = &k->conf->ids[i], .stats = k->stats,
			      .idx = k->conf->ids[i].stats_slot };
	gnutls_x509_crt_t leaf;

	leaf = check_chain(&ic, k->gen->chains[i], k->gen->chain_lens[i]);
	if (leaf) {
		check_name(&ic, leaf);
		gnutls_x509_crt_deinit(leaf);
	}
	check_key(&ic, k->gen->chains[i][0].pubkey);
	if (ic.errors) {
		keyd_log(ic.id->optional ? LOG_WARNING : LOG_ERR, "%s:%u: identity %s is not usable%s",
			 k->conf->path ? k->conf->path : "-", ic.id->line, ic.id->name,
			 ic.id->optional ? " (optional = yes)" : "");
	}
	/* Logged when the generation was built (keyd/ocsp.c). */
	ic.warnings += ocsp_staple_warnings(&k->gen->ocsp[i], ic.id);
	*warnings += ic.warnings;
	return ic.errors ? 0 : 1;
}

static unsigned check_anchors(const struct keyd_conf *conf)
{
	gnutls_certificate_credentials_t cred;
	char err[512];
	int r;

	if (gnutls_certificate_allocate_credentials(&cred) < 0) {
		keyd_log(LOG_ERR, "trust anchors: out of memory");
		return 1;
	}
	r = trust_anchors_load(&conf->trust, cred, err, sizeof(err));
	gnutls_certificate_free_credentials(cred);
	if (r < 0) {
		keyd_log(LOG_ERR, "%s", err);
		return 1;
	}
	return 0;
}

/* dns-trust-anchor: the file, as start-up will open it (dane.c). */
static unsigned check_dane(const struct keyd_conf *conf)
{
	char err[512];

	if (!conf->dns_trust_anchor || dane_anchor_check(conf->dns_trust_anchor, err, sizeof(err)) == 0)
		return 0;
	keyd_log(LOG_ERR, "%s", err);
	return 1;
}

int check_config(struct keyd *k, struct check_result *ret)
{
	struct check_result res = { .n_ids = k->conf->n_ids };

	res.errors += check_dane(k->conf);

	res.anchors_bad = (int)check_anchors(k->conf);
	res.errors += (unsigned)res.anchors_bad;
	for (size_t i = 0; i < k->conf->n_ids; i++) {
		if (check_one(k, i, &res.warnings))
			res.n_usable++;
		else if (k->conf->ids[i].optional)
			res.warnings++;
		else
			res.errors++;
	}
	*ret = res;
	return 0;
}

int check_verdict(const char *conf_path, const struct check_result *c, int test_only)
{
	if (test_only) {
		int bad = c->errors || !c->n_usable;

		printf("%s: %s (%zu identities, %zu usable, %u errors, %u warnings)\n", conf_path,
		       bad ? "configuration NOT OK" : "configuration OK", c->n_ids, c->n_usable, c->errors,
		       c->warnings);
		return bad ? -EINVAL : 0;
	}
	if (c->anchors_bad || c->n_usable == 0) {
		keyd_log(LOG_ERR, "%s: %zu identities, %zu usable%s: not starting", conf_path, c->n_ids,
			 c->n_usable, c->anchors_bad ? ", no trust anchors" : "");
		return -EINVAL;
	}
	return 0;
}
