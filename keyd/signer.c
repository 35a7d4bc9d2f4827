/* A thin private key that forwards every signature to the worker's token
 * key and measures it: the audit log reports how long the token took, and
 * a failing token is noticed so that the key object is re-imported (new
 * session, new login) instead of failing forever. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "common/util.h"

#include "keyd/fdcount.h"
#include "keyd/signer.h"
#include "keyd/stats.h"

static long long now_us(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static void account(struct worker_key *wk, long long t0, int r)
{
	long long us = now_us() - t0;

	wk->signs++;
	wk->sign_us += us;
	stats_sign_record(wk->stats, wk->worker, wk->id, us, r >= 0);
	wk->fd_short = 0;
	if (r >= 0) {
		wk->fd_short_run = 0;
		return;
	}
	/* A module that could not open its own files for want of a
	 * descriptor answers with a generic error (SoftHSM: it opens and
	 * locks two token files per signature): the token and the key are
	 * fine, so keep them (no re-import, no module reset) and let the
	 * handshake say what happened. */
	if (wk->fd_short_run < FDS_SHORT_RUN_MAX && fds_short(&wk->fd_open, &wk->fd_limit)) {
		wk->fd_short = 1;
		wk->fd_short_run++;
	} else {
		wk->failed = 1;
		wk->fd_short_run = 0;
	}
}

/* One signature on the token, timed.  `in` is the data or, with is_hash,
 * the digest GnuTLS computed. */
static int sign_on_token(struct worker_key *wk, gnutls_sign_algorithm_t algo, unsigned flags,
			 const gnutls_datum_t *in, int is_hash, gnutls_datum_t *sig)
{
	long long t0 = now_us();
	int r = is_hash ? gnutls_privkey_sign_hash2(wk->token_key, algo, flags, in, sig)
			: gnutls_privkey_sign_data2(wk->token_key, algo, flags, in, sig);

	account(wk, t0, r);
	return r;
}

static int sign_data(gnutls_privkey_t key, gnutls_sign_algorithm_t algo, void *userdata,
		     unsigned flags, const gnutls_datum_t *data, gnutls_datum_t *sig)
{
	(void)key;
	return sign_on_token(userdata, algo, flags, data, 0, sig);
}

static int sign_hash(gnutls_privkey_t key, gnutls_sign_algorithm_t algo, void *userdata,
		     unsigned flags, const gnutls_datum_t *hash, gnutls_datum_t *sig)
{
	(void)key;
	return sign_on_token(userdata, algo, flags, hash, 1, sig);
}

/* TLS 1.3 ECDSA schemes name their curve; the key must be on it. */
static unsigned curve_bits(gnutls_sign_algorithm_t algo)
{
	switch (algo) {
	case GNUTLS_SIGN_ECDSA_SECP256R1_SHA256: return 256;
	case GNUTLS_SIGN_ECDSA_SECP384R1_SHA384: return 384;
	case GNUTLS_SIGN_ECDSA_SECP521R1_SHA512: return 521;
	default: return 0;
	}
}

static int info(gnutls_privkey_t key, unsigned flags, void *userdata)
{
	struct worker_key *wk = userdata;
	unsigned bits = wk->bits;
	int pk = wk->pk;

	(void)key;
	if (flags & GNUTLS_PRIVKEY_INFO_PK_ALGO)
		return pk;
	if (flags & GNUTLS_PRIVKEY_INFO_PK_ALGO_BITS)
		return (int)bits;
	if (flags & GNUTLS_PRIVKEY_INFO_HAVE_SIGN_ALGO) {
		gnutls_sign_algorithm_t algo = GNUTLS_FLAGS_TO_SIGN_ALGO(flags);
		int spk = (int)gnutls_sign_get_pk_algorithm(algo);
		unsigned cb = curve_bits(algo);

		if (spk == pk)
			return !cb || cb == bits;
		/* An RSA key on a token signs RSA-PSS too (CKM_RSA_PKCS_PSS). */
		return pk == GNUTLS_PK_RSA && spk == GNUTLS_PK_RSA_PSS;
	}
	return GNUTLS_E_UNKNOWN_PK_ALGORITHM;
}

int signer_wrap(struct worker_key *wk, gnutls_pubkey_t pub)
{
	gnutls_privkey_t p;
	int r;

	/* Tokens do not always tell the size of an EC key; the certificate's
	 * public key does, and TLS 1.3 needs it to pick the signature scheme. */
	r = gnutls_pubkey_get_pk_algorithm(pub, &wk->bits);
	if (r < 0 || r != gnutls_privkey_get_pk_algorithm(wk->token_key, NULL))
		return -EKEYREJECTED;
	wk->pk = r;

	if (gnutls_privkey_init(&p) < 0)
		return -ENOMEM;
	r = gnutls_privkey_import_ext4(p, wk, sign_data, sign_hash, NULL, NULL, info, 0);
	if (r < 0) {
		gnutls_privkey_deinit(p);
		return -EINVAL;
	}
	wk->key = p;
	wk->failed = 0;
	return 0;
}

void signer_drop(struct worker_key *wk)
{
	if (wk->key)
		gnutls_privkey_deinit(wk->key);
	if (wk->token_key)
		gnutls_privkey_deinit(wk->token_key);
	wk->key = NULL;
	wk->token_key = NULL;
	wk->failed = 0;
	wk->fd_short = 0;
}

/* The signature scheme of the test signature for a certificate key. */
static gnutls_sign_algorithm_t test_algo(int pk)
{
	switch (pk) {
	case GNUTLS_PK_RSA: return GNUTLS_SIGN_RSA_SHA256;
	case GNUTLS_PK_RSA_PSS: return GNUTLS_SIGN_RSA_PSS_RSAE_SHA256;
	case GNUTLS_PK_ECDSA: return GNUTLS_SIGN_ECDSA_SHA256;
	case GNUTLS_PK_EDDSA_ED25519: return GNUTLS_SIGN_EDDSA_ED25519;
	case GNUTLS_PK_EDDSA_ED448: return GNUTLS_SIGN_EDDSA_ED448;
	default: return GNUTLS_SIGN_UNKNOWN;
	}
}

int signer_key_matches(gnutls_privkey_t key, gnutls_pubkey_t pub, char *err, size_t errlen)
{
	/* Fixed: the signature proves possession of the key, not freshness. */
	static const unsigned char nonce[32] = "tlskeyd: key matches its cert?";
	const gnutls_datum_t data = { (unsigned char *)nonce, sizeof(nonce) };
	gnutls_datum_t sig = { NULL, 0 };
	gnutls_sign_algorithm_t algo;
	int pk, kpk, gr;

	pk = gnutls_pubkey_get_pk_algorithm(pub, NULL);
	kpk = gnutls_privkey_get_pk_algorithm(key, NULL);
	/* An RSA token key serves an RSA-PSS certificate too. */
	if (pk < 0 || (kpk != pk && !(pk == GNUTLS_PK_RSA_PSS && kpk == GNUTLS_PK_RSA))) {
		tk_errf(err, errlen, "private key does not match the certificate (key %s, certificate %s)",
			gnutls_pk_get_name((gnutls_pk_algorithm_t)kpk), gnutls_pk_get_name((gnutls_pk_algorithm_t)pk));
		return -EKEYREJECTED;
	}
	algo = test_algo(pk);
	if (algo == GNUTLS_SIGN_UNKNOWN)
		return 0; /* no scheme to test with: the algorithm check above is all */
	gr = gnutls_privkey_sign_data2(key, algo, 0, &data, &sig);
	if (gr < 0) {
		tk_errf(err, errlen, "test signature failed: %s", gnutls_strerror(gr));
		return -EIO;
	}
	gr = gnutls_pubkey_verify_data2(pub, algo, 0, &data, &sig);
	gnutls_free(sig.data);
	if (gr < 0) {
		tk_errf(err, errlen, "private key does not match the certificate: a test signature "
				     "does not verify with the certificate's public key");
		return -EKEYREJECTED;
	}
	return 0;
}
