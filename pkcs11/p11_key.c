#include "config.h"

/* Module set-up and the objects the daemon keeps: private keys (through
 * GnuTLS's PKCS#11 layer) and certificate chains. */

#include <pthread.h>
#include <stdio.h>
#include <strings.h>
#include <sys/stat.h>

#include <gnutls/pkcs11.h>
#include <gnutls/x509.h>

#include "common/file.h"
#include "common/util.h"
#include "pkcs11/p11.h"
#include "pkcs11/p11_internal.h"

/* A chain file is a few certificates; anything bigger is a mistake. */
#define CHAIN_FILE_MAX (1024 * 1024)
#define CHAIN_CERTS_MAX 16

static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static int initialised;
static char *module_path; /* NULL: p11-kit registry */

const char *p11_module_path(void)
{
	return module_path;
}

/* Contract in p11.h.  GnuTLS would initialise PKCS#11 by itself on first
 * use (all p11-kit modules, no PIN callback): hence "before anything else". */
int p11_init(const char *path, char *err, size_t errlen)
{
	char *copy = NULL;
	int r, gr, gnutls_up = 0;

	(void)pthread_mutex_lock(&init_lock);
	if (initialised) {
		tk_errf(err, errlen, "PKCS#11 already initialised");
		r = -EALREADY;
		goto out;
	}
	if (path) {
		copy = strdup(path);
		if (!copy) {
			tk_errf(err, errlen, "out of memory");
			r = -ENOMEM;
			goto out;
		}
	}
	/* MANUAL: load exactly the configured module, not every module
	 * registered with p11-kit (opensc, trust store: ~12 MB and slow). */
	gr = gnutls_pkcs11_init(path ? GNUTLS_PKCS11_FLAG_MANUAL : GNUTLS_PKCS11_FLAG_AUTO, NULL);
	if (gr < 0) {
		tk_errf(err, errlen, "cannot initialise PKCS#11: %s", gnutls_strerror(gr));
		r = -ENODEV;
		goto out;
	}
	gnutls_up = 1;
	if (path) {
		gr = gnutls_pkcs11_add_provider(path, NULL);
		if (gr < 0) {
			tk_errf(err, errlen, "cannot load PKCS#11 module %s: %s", path, gnutls_strerror(gr));
			r = -ENODEV;
			goto out;
		}
	}
	gnutls_pkcs11_set_pin_function(p11_pin_callback, NULL);
	module_path = copy; /* now owned by this file until p11_done */
	copy = NULL;
	initialised = 1;
	r = 0;
out:
	if (r < 0 && gnutls_up)
		gnutls_pkcs11_deinit();
	(void)pthread_mutex_unlock(&init_lock);
	free(copy);
	return r;
}

/* Contract in p11.h.  Keys imported before must be released first. */
int p11_reinit(char *err, size_t errlen)
{
	int gr, r = 0;

	(void)pthread_mutex_lock(&init_lock);
	if (!initialised) {
		tk_errf(err, errlen, "PKCS#11 is not initialised");
		r = -EINVAL;
		goto out;
	}
	/* Finalize and initialize the module again: some modules (p11-kit's
	 * client after its server went away, USB tokens after a replug)
	 * answer CKR_DEVICE_ERROR to everything until then. */
	gnutls_pkcs11_deinit();
	gr = gnutls_pkcs11_init(module_path ? GNUTLS_PKCS11_FLAG_MANUAL : GNUTLS_PKCS11_FLAG_AUTO, NULL);
	if (gr >= 0 && module_path)
		gr = gnutls_pkcs11_add_provider(module_path, NULL);
	if (gr < 0) {
		tk_errf(err, errlen, "cannot re-initialise PKCS#11%s%s: %s", module_path ? " module " : "",
			module_path ? module_path : "", gnutls_strerror(gr));
		r = -ENODEV;
	}
	gnutls_pkcs11_set_pin_function(p11_pin_callback, NULL);
out:
	(void)pthread_mutex_unlock(&init_lock);
	return r;
}

void p11_done(void)
{
	(void)pthread_mutex_lock(&init_lock);
	if (initialised) {
		gnutls_pkcs11_set_pin_function(NULL, NULL);
		gnutls_pkcs11_deinit();
		free(module_path);
		module_path = NULL;
		initialised = 0;
	}
	(void)pthread_mutex_unlock(&init_lock);
	p11_pin_clear();
}

/* Does any token GnuTLS sees match the token part of `u`?  Only called on
 * error paths, to tell "no such token" from "no such object". */
static int token_present(P11KitUri *u)
{
	for (unsigned i = 0;; i++) {
		P11KitUri *t;
		char *url = NULL;
		int found;

		if (gnutls_pkcs11_token_get_url(i, GNUTLS_PKCS11_URL_GENERIC, &url) < 0)
			return 0;
		t = p11_kit_uri_new();
		found = t && p11_kit_uri_parse(url, P11_KIT_URI_FOR_TOKEN, t) == P11_KIT_URI_OK &&
			p11_kit_uri_match_token_info(u, p11_kit_uri_get_token_info(t)) == 1;
		if (t)
			p11_kit_uri_free(t);
		gnutls_free(url);
		if (found)
			return 1;
	}
}

/* Turn a GnuTLS error from importing `what` into our errno and one line. */
static int import_error(int gr, const char *what, const char *uri, P11KitUri *u, char *err, size_t errlen)
{
	const char *why = p11_pin_fail_msg();
	char label[33];

	p11_uri_token_label(u, label);
	switch (gr) {
	case GNUTLS_E_PKCS11_PIN_ERROR:
		tk_errf(err, errlen, "token '%s', %s: login failed: %s", label, uri,
			 why ? why : gnutls_strerror(gr));
		return -EKEYREJECTED;
	case GNUTLS_E_PKCS11_PIN_LOCKED:
		tk_errf(err, errlen, "token '%s', %s: CKR_PIN_LOCKED: the user PIN is locked", label, uri);
		return -EKEYREJECTED;
	case GNUTLS_E_PKCS11_PIN_EXPIRED:
		tk_errf(err, errlen, "token '%s', %s: CKR_PIN_EXPIRED: the user PIN must be changed", label,
			 uri);
		return -EKEYREJECTED;
	case GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE:
	case GNUTLS_E_PKCS11_REQUESTED_OBJECT_NOT_AVAILBLE:
		if (!token_present(u)) {
			tk_errf(err, errlen, "token '%s', %s: no such token present", label, uri);
			return -ENODEV;
		}
		tk_errf(err, errlen, "token '%s', %s: no %s matches", label, uri, what);
		return -ENOKEY;
	case GNUTLS_E_PKCS11_SLOT_ERROR:
	case GNUTLS_E_PKCS11_TOKEN_ERROR:
	case GNUTLS_E_PKCS11_DEVICE_ERROR:
	case GNUTLS_E_PKCS11_LOAD_ERROR:
		tk_errf(err, errlen, "token '%s', %s: %s", label, uri, gnutls_strerror(gr));
		return -ENODEV;
	case GNUTLS_E_PARSING_ERROR:
	case GNUTLS_E_INVALID_REQUEST:
		tk_errf(err, errlen, "%s: %s", uri, gnutls_strerror(gr));
		return -EINVAL;
	case GNUTLS_E_MEMORY_ERROR:
		tk_errf(err, errlen, "out of memory");
		return -ENOMEM;
	default:
		tk_errf(err, errlen, "token '%s', %s: %s", label, uri, gnutls_strerror(gr));
		return -EIO;
	}
}

static int check_initialised(char *err, size_t errlen)
{
	int ok;

	(void)pthread_mutex_lock(&init_lock);
	ok = initialised;
	(void)pthread_mutex_unlock(&init_lock);
	if (!ok) {
		tk_errf(err, errlen, "PKCS#11 not initialised (p11_init)");
		return -EINVAL;
	}
	return 0;
}

/* Contract in p11.h.  gnutls_pkcs11_privkey_import_url opens a session of
 * its own and keeps it in the key object; GnuTLS serialises signing per
 * object, so concurrency comes from one import per worker.  An import
 * costs 8-14 ms on SoftHSM: callers import once and reuse. */
int p11_key_import(const char *key_uri, gnutls_privkey_t *ret_key, char *err, size_t errlen)
{
	gnutls_pkcs11_privkey_t pk = NULL;
	gnutls_privkey_t key = NULL;
	P11KitUri *u = NULL;
	char *uri = NULL;
	CK_ATTRIBUTE *cls;
	int r, gr;

	r = check_initialised(err, errlen);
	if (r < 0)
		goto out;
	r = p11_uri_prepare(key_uri, &uri, &u, err, errlen);
	if (r < 0)
		goto out;
	cls = p11_kit_uri_get_attribute(u, CKA_CLASS);
	if (cls && cls->ulValueLen == sizeof(CK_OBJECT_CLASS) &&
	    *(CK_OBJECT_CLASS *)cls->pValue != CKO_PRIVATE_KEY) {
		tk_errf(err, errlen, "%s: not a private key URI (type=private)", uri);
		r = -EINVAL;
		goto out;
	}

	p11_pin_fail_reset();
	gr = gnutls_pkcs11_privkey_init(&pk);
	if (gr >= 0)
		gr = gnutls_pkcs11_privkey_import_url(pk, uri, GNUTLS_PKCS11_OBJ_FLAG_LOGIN);
	if (gr < 0) {
		r = import_error(gr, "private key", uri, u, err, errlen);
		goto out;
	}
	gr = gnutls_privkey_init(&key);
	if (gr >= 0)
		gr = gnutls_privkey_import_pkcs11(key, pk, GNUTLS_PRIVKEY_IMPORT_AUTO_RELEASE);
	if (gr < 0) {
		r = import_error(gr, "private key", uri, u, err, errlen);
		goto out;
	}
	pk = NULL; /* now owned by key */
	*ret_key = key;
	key = NULL;
	r = 0;
out:
	if (key)
		gnutls_privkey_deinit(key);
	if (pk)
		gnutls_pkcs11_privkey_deinit(pk);
	if (u)
		p11_kit_uri_free(u);
	free(uri);
	return r;
}

static int chain_from_file(const char *path, gnutls_pcert_st **ret_chain, unsigned *ret_n, char *err,
			   size_t errlen)
{
	gnutls_datum_t data = { NULL, 0 };
	char *text = NULL;
	size_t len = 0;
	gnutls_x509_crt_t *crts = NULL;
	gnutls_pcert_st *chain = NULL;
	unsigned n = 0, done = 0;
	int r, gr;

	/* A chain file that grows past the limit while it is read is refused,
	 * not cut (a cut PEM file would lose its last certificates). */
	r = tk_file_read("certificate file", path, CHAIN_FILE_MAX, 0, &text, &len, NULL, err, errlen);
	if (r < 0)
		goto out;
	data.data = (unsigned char *)text;
	data.size = (unsigned)len;
	/* SORT: accept intermediates in any order after the leaf. */
	gr = gnutls_x509_crt_list_import2(&crts, &n, &data, GNUTLS_X509_FMT_PEM, GNUTLS_X509_CRT_LIST_SORT);
	if (gr < 0) {
		tk_errf(err, errlen, "%s: %s", path,
			 gr == GNUTLS_E_NO_CERTIFICATE_FOUND ? "no PEM certificate found" : gnutls_strerror(gr));
		r = gr == GNUTLS_E_MEMORY_ERROR ? -ENOMEM : -EINVAL;
		goto out;
	}
	if (n == 0 || n > CHAIN_CERTS_MAX) {
		tk_errf(err, errlen, "%s: %u certificates (1 to %d expected)", path, n, CHAIN_CERTS_MAX);
		r = -EINVAL;
		goto out;
	}
	chain = calloc(n, sizeof(*chain));
	if (!chain) {
		tk_errf(err, errlen, "out of memory");
		r = -ENOMEM;
		goto out;
	}
	for (done = 0; done < n; done++) {
		gr = gnutls_pcert_import_x509(&chain[done], crts[done], 0);
		if (gr < 0) {
			tk_errf(err, errlen, "%s: certificate %u: %s", path, done, gnutls_strerror(gr));
			r = -EINVAL;
			goto out;
		}
	}
	*ret_chain = chain; /* now owned by the caller */
	*ret_n = n;
	chain = NULL;
	r = 0;
out:
	if (chain) {
		for (unsigned i = 0; i < done; i++)
			gnutls_pcert_deinit(&chain[i]);
		free(chain);
	}
	for (unsigned i = 0; i < n; i++)
		gnutls_x509_crt_deinit(crts[i]);
	gnutls_free(crts);
	tk_file_free(text, len);
	return r;
}

static int chain_from_token(const char *src, gnutls_pcert_st **ret_chain, unsigned *ret_n, char *err,
			    size_t errlen)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_pcert_st *chain = NULL;
	P11KitUri *u = NULL;
	char *uri = NULL;
	int r, gr;

	r = check_initialised(err, errlen);
	if (r < 0)
		goto out;
	r = p11_uri_prepare(src, &uri, &u, err, errlen);
	if (r < 0)
		goto out;
	chain = calloc(1, sizeof(*chain));
	if (!chain) {
		tk_errf(err, errlen, "out of memory");
		r = -ENOMEM;
		goto out;
	}
	p11_pin_fail_reset();
	gr = gnutls_x509_crt_init(&crt);
	/* No LOGIN flag: certificates are public objects. */
	if (gr >= 0)
		gr = gnutls_x509_crt_import_url(crt, uri, 0);
	if (gr < 0) {
		r = import_error(gr, "certificate", uri, u, err, errlen);
		goto out;
	}
	gr = gnutls_pcert_import_x509(chain, crt, 0);
	if (gr < 0) {
		tk_errf(err, errlen, "%s: %s", uri, gnutls_strerror(gr));
		r = -EINVAL;
		goto out;
	}
	*ret_chain = chain; /* now owned by the caller */
	*ret_n = 1;
	chain = NULL;
	r = 0;
out:
	free(chain);
	if (crt)
		gnutls_x509_crt_deinit(crt);
	if (u)
		p11_kit_uri_free(u);
	free(uri);
	return r;
}

/* Contract in p11.h. */
int p11_chain_load(const char *src, gnutls_pcert_st **ret_chain, unsigned *ret_n, char *err, size_t errlen)
{
	if (!src || !ret_chain || !ret_n) {
		tk_errf(err, errlen, "p11_chain_load: missing argument");
		return -EINVAL;
	}
	if (strncasecmp(src, "pkcs11:", 7) == 0)
		return chain_from_token(src, ret_chain, ret_n, err, errlen);
	return chain_from_file(src, ret_chain, ret_n, err, errlen);
}
