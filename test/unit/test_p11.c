#include "config.h"

/* Unit tests for pkcs11/ against SoftHSM tokens prepared by test_p11.sh.
 * Environment: SOFTHSM2_CONF, TK_MODULE, TK_DIR, TK_TOKEN_URI (fixture.sh),
 * TK_AUX_PIN_FILE (PIN of token tlskeyd-aux), TK_TMP (scratch directory).
 * Check forks per test, so PKCS#11 login state never leaks between tests. */

#include <check.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#include "common/util.h"
#include "pkcs11/p11.h"
#include "test/unit/check-main.h"

#define AUX_URI "pkcs11:token=tlskeyd-aux"
#define WRONG_PIN "wrong-pin-0000"

static char err[512];

static const char *env(const char *name)
{
	const char *v = getenv(name);

	ck_assert_msg(v && *v, "%s not set: run test_p11 through test_p11.sh", name);
	return v;
}

/* "$TK_TOKEN_URI;object=<label>;type=private" */
static char *key_uri(const char *label)
{
	char *s = NULL;

	ck_assert_int_ge(asprintf(&s, "%s;object=%s;type=private", env("TK_TOKEN_URI"), label), 0);
	return s;
}

static char *path_in(const char *dirvar, const char *name)
{
	char *s = NULL;

	ck_assert_int_ge(asprintf(&s, "%s/%s", env(dirvar), name), 0);
	return s;
}

static void write_file(const char *path, const char *content, mode_t mode)
{
	int fd;

	(void)unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

static void setup(void)
{
	err[0] = '\0';
	ck_assert_msg(p11_init(env("TK_MODULE"), err, sizeof(err)) == 0, "p11_init: %s", err);
}

static void teardown(void)
{
	p11_done();
}

/* Register the fixture token's PIN file. */
static void add_main_pin(void)
{
	char *pin = path_in("TK_DIR", "pin");

	ck_assert_msg(p11_pin_add(env("TK_TOKEN_URI"), pin, err, sizeof(err)) == 0, "p11_pin_add: %s", err);
	free(pin);
}

/* Sign with `key` and verify with `pub` (or the key's own public key). */
static void sign_verify(gnutls_privkey_t key, gnutls_pubkey_t pub)
{
	gnutls_datum_t data = { (unsigned char *)"tlskeyd test data", 17 };
	gnutls_datum_t sig = { NULL, 0 };
	gnutls_pubkey_t own = NULL;
	gnutls_sign_algorithm_t algo;
	int r;

	r = gnutls_privkey_sign_data(key, GNUTLS_DIG_SHA256, 0, &data, &sig);
	ck_assert_msg(r == 0, "sign: %s", gnutls_strerror(r));
	if (!pub) {
		ck_assert_int_eq(gnutls_pubkey_init(&own), 0);
		ck_assert_int_eq(gnutls_pubkey_import_privkey(own, key, 0, 0), 0);
		pub = own;
	}
	algo = gnutls_pk_to_sign(gnutls_privkey_get_pk_algorithm(key, NULL), GNUTLS_DIG_SHA256);
	r = gnutls_pubkey_verify_data2(pub, algo, 0, &data, &sig);
	ck_assert_msg(r >= 0, "verify: %s", gnutls_strerror(r));
	gnutls_free(sig.data);
	if (own)
		gnutls_pubkey_deinit(own);
}

static void free_chain(gnutls_pcert_st *chain, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		gnutls_pcert_deinit(&chain[i]);
	free(chain);
}

/* ---- names and URIs ------------------------------------------------------ */

START_TEST(test_ckr_names)
{
	ck_assert_str_eq(p11_ckr_name(0x0), "CKR_OK");
	ck_assert_str_eq(p11_ckr_name(0xA0), "CKR_PIN_INCORRECT");
	ck_assert_str_eq(p11_ckr_name(0xE0), "CKR_TOKEN_NOT_PRESENT");
	ck_assert_str_eq(p11_ckr_name(0x7FFF1234UL), "CKR_0x7FFF1234");
}
END_TEST

static void strip_ok(const char *in, const char *want_uri, const char *want_source)
{
	char *uri = NULL, *source = NULL;

	ck_assert_msg(p11_uri_strip_pin(in, &uri, &source) == 0, "strip %s", in);
	ck_assert_str_eq(uri, want_uri);
	if (want_source)
		ck_assert_pstr_eq(source, want_source);
	else
		ck_assert_ptr_null(source);
	free(uri);
	free(source);
}

START_TEST(test_uri_strip)
{
	char *uri = (char *)"untouched", *source = (char *)"untouched";

	strip_ok("pkcs11:token=a;object=b", "pkcs11:token=a;object=b", NULL);
	strip_ok("pkcs11:token=a;object=b?pin-source=file:/x/y", "pkcs11:token=a;object=b", "/x/y");
	strip_ok("pkcs11:token=a?pin-value=1234", "pkcs11:token=a", NULL);
	strip_ok("pkcs11:token=a;pin-source=%2Fetc%2Fp%20in;object=b", "pkcs11:token=a;object=b", "/etc/p in");
	strip_ok("pkcs11:token=a?module-path=/m.so&pin-source=/p&pin-value=x&module-name=s",
		 "pkcs11:token=a?module-path=/m.so&module-name=s", "/p");
	strip_ok("pkcs11:?pin-source=file:///p", "pkcs11:", "/p");
	strip_ok("PKCS11:token=a", "pkcs11:token=a", NULL);
	/* RFC 3986 allows "?" inside the query. */
	strip_ok("pkcs11:a?b?c&pin-value=1", "pkcs11:a?b?c", NULL);

	ck_assert_int_eq(p11_uri_strip_pin("file:/x", &uri, &source), -EINVAL);
	ck_assert_int_eq(p11_uri_strip_pin("pkcs11:token=a; pin-value=1", &uri, &source), -EINVAL);
	ck_assert_int_eq(p11_uri_strip_pin("pkcs11:token=a?pin-value\x7f=1", &uri, &source), -EINVAL);
	ck_assert_int_eq(p11_uri_strip_pin("pkcs11:token=a?pin-source=relative", &uri, &source), -EINVAL);
	ck_assert_int_eq(p11_uri_strip_pin("pkcs11:token=a?pin-source=https://h/p", &uri, &source), -EINVAL);
	ck_assert_int_eq(p11_uri_strip_pin("pkcs11:?pin-source=/a&pin-source=/b", &uri, &source), -EINVAL);
	ck_assert_int_eq(p11_uri_strip_pin("pkcs11:?pin-source=/a%zz", &uri, &source), -EINVAL);
	ck_assert_int_eq(p11_uri_strip_pin("pkcs11:?pin-source=/a%2", &uri, &source), -EINVAL);
	ck_assert_int_eq(p11_uri_strip_pin("pkcs11:?pin-source=/a%00b", &uri, &source), -EINVAL);
	/* ret_* untouched on failure */
	ck_assert_str_eq(uri, "untouched");
	ck_assert_str_eq(source, "untouched");
}
END_TEST

/* ---- keys ------------------------------------------------------------------ */

static void import_sign(const char *label, const char *chain_file)
{
	gnutls_privkey_t key = NULL;
	gnutls_pcert_st *chain = NULL;
	unsigned n = 0;
	char *uri = key_uri(label), *cf = path_in("TK_DIR", chain_file);
	int r;

	add_main_pin();
	r = p11_key_import(uri, &key, err, sizeof(err));
	ck_assert_msg(r == 0, "import %s: %d %s", uri, r, err);
	ck_assert_ptr_nonnull(key);
	sign_verify(key, NULL);

	/* The certificate in the fixture matches the key on the token. */
	r = p11_chain_load(cf, &chain, &n, err, sizeof(err));
	ck_assert_msg(r == 0, "chain %s: %s", cf, err);
	ck_assert_uint_eq(n, 2);
	sign_verify(key, chain[0].pubkey);

	free_chain(chain, n);
	gnutls_privkey_deinit(key);
	free(uri);
	free(cf);
}

START_TEST(test_import_sign_ec)
{
	import_sign("server-ec", "server-ec-chain.pem");
}
END_TEST

START_TEST(test_import_sign_rsa)
{
	import_sign("server-rsa", "server-rsa-chain.pem");
}
END_TEST

/* pin-source inside the key URI, no p11_pin_add. */
START_TEST(test_import_pin_source)
{
	gnutls_privkey_t key = NULL;
	char *uri = NULL;
	int r;

	ck_assert_int_ge(asprintf(&uri, "%s;object=alice-ec;type=private?pin-source=file:%s/pin",
				  env("TK_TOKEN_URI"), env("TK_DIR")),
			 0);
	r = p11_key_import(uri, &key, err, sizeof(err));
	ck_assert_msg(r == 0, "import: %s", err);
	sign_verify(key, NULL);
	gnutls_privkey_deinit(key);
	free(uri);
}
END_TEST

/* The aux token's PIN file ends in a newline. */
START_TEST(test_import_aux_newline)
{
	gnutls_privkey_t key = NULL;
	int r;

	ck_assert_int_eq(p11_pin_add(AUX_URI, env("TK_AUX_PIN_FILE"), err, sizeof(err)), 0);
	r = p11_key_import(AUX_URI ";object=aux-ec", &key, err, sizeof(err));
	ck_assert_msg(r == 0, "import: %s", err);
	sign_verify(key, NULL);
	gnutls_privkey_deinit(key);
}
END_TEST

START_TEST(test_import_pin_value_rejected)
{
	gnutls_privkey_t key = NULL;
	char *uri = NULL;

	ck_assert_int_ge(asprintf(&uri, "%s;object=server-ec?pin-value=" WRONG_PIN, env("TK_TOKEN_URI")), 0);
	ck_assert_int_eq(p11_key_import(uri, &key, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(key);
	ck_assert_ptr_nonnull(strstr(err, "pin-value"));
	ck_assert_ptr_null(strstr(err, WRONG_PIN));
	free(uri);
}
END_TEST

#define THREADS 4
#define SIGNS 200

struct worker {
	pthread_t t;
	const char *uri;
	int imported, signed_ok;
	char err[512];
};

/* Each worker imports its own key object: GnuTLS serialises signing per
 * object, so this is how the daemon gets parallel signatures. */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	gnutls_datum_t data = { (unsigned char *)"concurrent", 10 };
	gnutls_privkey_t key = NULL;
	gnutls_pubkey_t pub = NULL;

	if (p11_key_import(w->uri, &key, w->err, sizeof(w->err)) < 0)
		return NULL;
	w->imported = 1;
	if (gnutls_pubkey_init(&pub) < 0 || gnutls_pubkey_import_privkey(pub, key, 0, 0) < 0)
		goto out;
	for (int i = 0; i < SIGNS; i++) {
		gnutls_datum_t sig = { NULL, 0 };

		if (gnutls_privkey_sign_data(key, GNUTLS_DIG_SHA256, 0, &data, &sig) < 0)
			break;
		if (gnutls_pubkey_verify_data2(pub, GNUTLS_SIGN_ECDSA_SHA256, 0, &data, &sig) >= 0)
			w->signed_ok++;
		gnutls_free(sig.data);
	}
out:
	if (pub)
		gnutls_pubkey_deinit(pub);
	gnutls_privkey_deinit(key);
	return NULL;
}

START_TEST(test_concurrent_sign)
{
	struct worker w[THREADS] = { 0 };
	char *uri = key_uri("server-ec");

	add_main_pin();
	for (int i = 0; i < THREADS; i++) {
		w[i].uri = uri;
		ck_assert_int_eq(pthread_create(&w[i].t, NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		ck_assert_int_eq(pthread_join(w[i].t, NULL), 0);
		ck_assert_msg(w[i].imported, "worker %d: %s", i, w[i].err);
		ck_assert_int_eq(w[i].signed_ok, SIGNS);
	}
	free(uri);
}
END_TEST

/* ---- probe ----------------------------------------------------------------- */

static void probe_ok(const char *label, const char *type)
{
	struct p11_key_status st;
	char *uri = key_uri(label);
	int r;

	memset(&st, 0x55, sizeof(st));
	r = p11_key_probe(uri, &st, err, sizeof(err));
	ck_assert_msg(r == 0, "probe %s: %d %s", uri, r, err);
	ck_assert_int_eq(st.present, 1);
	ck_assert_int_eq(st.usable, 1);
	ck_assert_int_eq(st.extractable, 0);
	ck_assert_int_eq(st.sensitive, 1);
	ck_assert_str_eq(st.token, "tlskeyd-test");
	ck_assert_str_eq(st.key_type, type);
	free(uri);
}

START_TEST(test_probe_ok)
{
	add_main_pin();
	probe_ok("server-ec", "EC");
	probe_ok("server-rsa", "RSA");
}
END_TEST

/* p11-kit loads the module a second time (managed) next to GnuTLS's copy;
 * the probe must neither break GnuTLS's key session nor its login. */
START_TEST(test_probe_coexists)
{
	gnutls_privkey_t key = NULL, key2 = NULL;
	char *uri = key_uri("server-ec");

	add_main_pin();
	ck_assert_msg(p11_key_import(uri, &key, err, sizeof(err)) == 0, "import: %s", err);
	sign_verify(key, NULL);
	probe_ok("server-ec", "EC");
	sign_verify(key, NULL);
	probe_ok("server-rsa", "RSA");
	ck_assert_msg(p11_key_import(uri, &key2, err, sizeof(err)) == 0, "import: %s", err);
	sign_verify(key2, NULL);
	sign_verify(key, NULL);
	gnutls_privkey_deinit(key);
	gnutls_privkey_deinit(key2);
	/* And with no GnuTLS session open at all. */
	probe_ok("server-ec", "EC");
	free(uri);
}
END_TEST

/* ---- negative cases ---------------------------------------------------------- */

static void read_first_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");

	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(buf, (int)len, f));
	fclose(f);
}

/* Wrong PIN through GnuTLS first: exactly one C_Login, then the file is
 * refused until it changes. */
START_TEST(test_wrong_pin)
{
	gnutls_privkey_t key = NULL;
	struct p11_key_status st;
	char *pin = path_in("TK_TMP", "wrong-pin");
	char good[128];
	int r;

	write_file(pin, WRONG_PIN "\n", 0600);
	ck_assert_int_eq(p11_pin_add(AUX_URI, pin, err, sizeof(err)), 0);

	r = p11_key_import(AUX_URI ";object=aux-ec;type=private", &key, err, sizeof(err));
	ck_assert_msg(r == -EKEYREJECTED, "import: %d %s", r, err);
	ck_assert_ptr_null(key);
	ck_assert_msg(strstr(err, "CKR_PIN_INCORRECT"), "%s", err);
	ck_assert_msg(strstr(err, "tlskeyd-aux"), "%s", err);
	ck_assert_ptr_null(strstr(err, WRONG_PIN));

	/* Unchanged file: not offered to the token again. */
	r = p11_key_import(AUX_URI ";object=aux-ec;type=private", &key, err, sizeof(err));
	ck_assert_msg(r == -EKEYREJECTED && strstr(err, "not trying it again"), "import: %d %s", r, err);
	r = p11_key_probe(AUX_URI ";object=aux-ec", &st, err, sizeof(err));
	ck_assert_msg(r == -EKEYREJECTED && strstr(err, "not trying it again"), "probe: %d %s", r, err);
	ck_assert_ptr_null(strstr(err, WRONG_PIN));

	/* Fixed file: used again, and the token was not locked. */
	read_first_line(env("TK_AUX_PIN_FILE"), good, sizeof(good));
	write_file(pin, good, 0600);
	tk_wipe(good, sizeof(good));
	r = p11_key_import(AUX_URI ";object=aux-ec;type=private", &key, err, sizeof(err));
	ck_assert_msg(r == 0, "import: %d %s", r, err);
	gnutls_privkey_deinit(key);
	free(pin);
}
END_TEST

/* Wrong PIN through the probe: the token's own CKR_ code, same latch. */
START_TEST(test_wrong_pin_probe)
{
	gnutls_privkey_t key = NULL;
	struct p11_key_status st;
	char *pin = path_in("TK_TMP", "wrong-pin");
	int r;

	write_file(pin, WRONG_PIN, 0600);
	ck_assert_int_eq(p11_pin_add(AUX_URI, pin, err, sizeof(err)), 0);
	r = p11_key_probe(AUX_URI ";object=aux-ec", &st, err, sizeof(err));
	ck_assert_msg(r == -EKEYREJECTED, "probe: %d %s", r, err);
	ck_assert_msg(strstr(err, "C_Login: CKR_PIN_INCORRECT") && strstr(err, "tlskeyd-aux"), "%s", err);
	ck_assert_ptr_null(strstr(err, WRONG_PIN));
	r = p11_key_import(AUX_URI ";object=aux-ec;type=private", &key, err, sizeof(err));
	ck_assert_msg(r == -EKEYREJECTED && strstr(err, "not trying it again"), "import: %d %s", r, err);
	free(pin);
}
END_TEST

START_TEST(test_pin_file_missing)
{
	gnutls_privkey_t key = NULL;
	char *uri = key_uri("server-ec");
	int r;

	r = p11_pin_add(env("TK_TOKEN_URI"), "/nonexistent/tlskeyd/pin", err, sizeof(err));
	ck_assert_int_eq(r, -ENOENT);
	ck_assert_msg(strstr(err, "/nonexistent/tlskeyd/pin"), "%s", err);

	/* Nothing registered: login cannot happen. */
	r = p11_key_import(uri, &key, err, sizeof(err));
	ck_assert_msg(r == -EKEYREJECTED, "import: %d %s", r, err);
	ck_assert_msg(strstr(err, "no PIN file registered"), "%s", err);
	free(uri);
}
END_TEST

START_TEST(test_pin_file_mode)
{
	gnutls_privkey_t key = NULL;
	char *pin = path_in("TK_TMP", "pin-0644"), *link = path_in("TK_TMP", "pin-link");
	char *good = path_in("TK_TMP", "pin-copy"), *real = path_in("TK_DIR", "pin");
	char *uri = key_uri("server-ec");
	char buf[128] = "";
	int r;

	write_file(pin, WRONG_PIN, 0644);
	r = p11_pin_add(env("TK_TOKEN_URI"), pin, err, sizeof(err));
	ck_assert_msg(r == -EINVAL, "%d %s", r, err);
	ck_assert_msg(strstr(err, "group/world accessible") && strstr(err, "0644"), "%s", err);

	(void)unlink(link);
	ck_assert_int_eq(symlink(real, link), 0);
	r = p11_pin_add(env("TK_TOKEN_URI"), link, err, sizeof(err));
	ck_assert_msg(r == -EINVAL && strstr(err, "symbolic link"), "%d %s", r, err);

	ck_assert_int_eq(p11_pin_add(env("TK_TOKEN_URI"), "relative/pin", err, sizeof(err)), -EINVAL);

	/* Registered while safe, loosened before login: checked again. */
	read_first_line(real, buf, sizeof(buf));
	write_file(good, buf, 0600);
	ck_assert_int_eq(p11_pin_add(env("TK_TOKEN_URI"), good, err, sizeof(err)), 0);
	ck_assert_int_eq(chmod(good, 0640), 0);
	r = p11_key_import(uri, &key, err, sizeof(err));
	ck_assert_msg(r == -EKEYREJECTED && strstr(err, "group/world accessible"), "%d %s", r, err);
	ck_assert_ptr_null(strstr(err, buf));
	tk_wipe(buf, sizeof(buf));
	free(pin);
	free(link);
	free(good);
	free(real);
	free(uri);
}
END_TEST

/* As root, a 0600 PIN file of another user (the daemon's) is accepted and
 * used; the same file opened up to its group is still refused. */
START_TEST(test_pin_file_other_owner_root)
{
	gnutls_privkey_t key = NULL;
	char *copy = path_in("TK_TMP", "pin-nobody"), *real = path_in("TK_DIR", "pin");
	char *uri = key_uri("server-ec");
	char buf[128] = "";
	int r;

	if (geteuid() != 0) {
		free(copy), free(real), free(uri);
		return; /* only root can hand a file to another user */
	}
	read_first_line(real, buf, sizeof(buf));
	write_file(copy, buf, 0600);
	tk_wipe(buf, sizeof(buf));
	ck_assert_int_eq(chown(copy, 65534, 65534), 0);
	r = p11_pin_add(env("TK_TOKEN_URI"), copy, err, sizeof(err));
	ck_assert_msg(r == 0, "%d %s", r, err);
	r = p11_key_import(uri, &key, err, sizeof(err));
	ck_assert_msg(r == 0, "%d %s", r, err);
	gnutls_privkey_deinit(key);
	ck_assert_int_eq(chmod(copy, 0640), 0);
	ck_assert_int_eq(p11_pin_add("pkcs11:token=tlskeyd-aux", copy, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "group/world accessible") != NULL, "%s", err);
	free(copy);
	free(real);
	free(uri);
}
END_TEST

START_TEST(test_pin_add_duplicate)
{
	char *pin = path_in("TK_DIR", "pin"), *other = path_in("TK_TMP", "other-pin");

	write_file(other, "x", 0600);
	ck_assert_int_eq(p11_pin_add(env("TK_TOKEN_URI"), pin, err, sizeof(err)), 0);
	ck_assert_int_eq(p11_pin_add(env("TK_TOKEN_URI"), pin, err, sizeof(err)), 0);
	ck_assert_int_eq(p11_pin_add(env("TK_TOKEN_URI"), other, err, sizeof(err)), -EEXIST);
	ck_assert_int_eq(p11_pin_add("pkcs11:token=%zz", pin, err, sizeof(err)), -EINVAL);
	free(pin);
	free(other);
}
END_TEST

/* A registration through a URI with an attribute p11-kit does not know
 * ("typ=private") used to match no token and shadow the right one: the
 * identity that spelt its URI right then had "no PIN file registered". */
START_TEST(test_pin_add_misspelt_uri)
{
	char *pin = path_in("TK_DIR", "pin"), *good = key_uri("server-ec"), bad[512];
	gnutls_privkey_t key = NULL;
	int r;

	(void)snprintf(bad, sizeof(bad), "%s;object=alice-ec;typ=private", env("TK_TOKEN_URI"));
	ck_assert_int_eq(p11_pin_add(bad, pin, err, sizeof(err)), 0);
	ck_assert_int_eq(p11_pin_add(good, pin, err, sizeof(err)), 0);
	r = p11_key_import(good, &key, err, sizeof(err));
	ck_assert_msg(r == 0, "import with the right URI: %d %s", r, err);
	gnutls_privkey_deinit(key);
	/* The misspelt URI itself is refused, naming the attribute. */
	r = p11_uri_check(bad, err, sizeof(err));
	ck_assert_int_eq(r, -EINVAL);
	ck_assert_msg(strstr(err, "'typ'"), "%s", err);
	ck_assert_int_eq(p11_key_import(bad, &key, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(p11_uri_check(good, err, sizeof(err)), 0);
	ck_assert_int_eq(p11_uri_check("pkcs11:token=a?module-path=/x.so&pin-source=/p", err, sizeof(err)), 0);
	ck_assert_int_eq(p11_uri_check("pkcs11:token=a?modul-path=/x.so", err, sizeof(err)), -EINVAL);
	/* The message names the attribute, never the URI (it may hold a PIN). */
	ck_assert_int_eq(p11_uri_check("pkcs11:token=a;typ=private?pin-value=918273", err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "'typ'") && !strstr(err, "918273"), "%s", err);
	ck_assert_int_eq(p11_uri_check("pkcs11:token=a;id=%zz?pin-value=918273", err, sizeof(err)), -EINVAL);
	ck_assert_msg(!strstr(err, "918273"), "%s", err);
	free(pin);
	free(good);
}
END_TEST

START_TEST(test_unknown_token)
{
	gnutls_privkey_t key = NULL;
	struct p11_key_status st;
	const char *uri = "pkcs11:token=no-such-token;object=server-ec;type=private";
	int r;

	add_main_pin();
	r = p11_key_import(uri, &key, err, sizeof(err));
	ck_assert_msg(r == -ENODEV, "import: %d %s", r, err);
	ck_assert_msg(strstr(err, "no-such-token"), "%s", err);
	r = p11_key_probe(uri, &st, err, sizeof(err));
	ck_assert_msg(r == -ENODEV, "probe: %d %s", r, err);
}
END_TEST

START_TEST(test_unknown_object)
{
	gnutls_privkey_t key = NULL;
	struct p11_key_status st;
	char *uri = key_uri("no-such-key");
	int r;

	add_main_pin();
	r = p11_key_import(uri, &key, err, sizeof(err));
	ck_assert_msg(r == -ENOKEY, "import: %d %s", r, err);
	ck_assert_msg(strstr(err, "no-such-key") && strstr(err, "tlskeyd-test"), "%s", err);
	r = p11_key_probe(uri, &st, err, sizeof(err));
	ck_assert_msg(r == -ENOKEY, "probe: %d %s", r, err);
	free(uri);
}
END_TEST

START_TEST(test_ambiguous_probe)
{
	struct p11_key_status st;
	int r;

	add_main_pin();
	/* Four private keys on the token. */
	r = p11_key_probe(env("TK_TOKEN_URI"), &st, err, sizeof(err));
	ck_assert_msg(r == -EINVAL && strstr(err, "several"), "%d %s", r, err);
}
END_TEST

START_TEST(test_malformed)
{
	gnutls_privkey_t key = NULL;
	struct p11_key_status st;
	gnutls_pcert_st *chain = NULL;
	unsigned n = 0;
	char *junk = path_in("TK_TMP", "junk.pem");

	ck_assert_int_eq(p11_key_import("pkcs11:token=%zz;object=x", &key, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(p11_key_import("file:/etc/passwd", &key, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(p11_key_import(AUX_URI ";object=aux-cert;type=cert", &key, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(p11_key_probe("pkcs11:token=%zz", &st, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(key);

	ck_assert_int_eq(p11_chain_load("/nonexistent/chain.pem", &chain, &n, err, sizeof(err)), -ENOENT);
	write_file(junk, "not a certificate\n", 0600);
	ck_assert_int_eq(p11_chain_load(junk, &chain, &n, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "no PEM certificate"), "%s", err);
	ck_assert_ptr_null(chain);
	free(junk);
}
END_TEST

START_TEST(test_chain_from_token)
{
	gnutls_pcert_st *chain = NULL;
	unsigned n = 0;
	int r;

	r = p11_chain_load(AUX_URI ";object=aux-cert;type=cert", &chain, &n, err, sizeof(err));
	ck_assert_msg(r == 0, "chain: %s", err);
	ck_assert_uint_eq(n, 1);
	free_chain(chain, n);

	r = p11_chain_load(AUX_URI ";object=no-such-cert;type=cert", &chain, &n, err, sizeof(err));
	ck_assert_msg(r == -ENOKEY, "%d %s", r, err);
}
END_TEST

START_TEST(test_init_errors)
{
	/* setup already ran p11_init */
	ck_assert_int_eq(p11_init(NULL, err, sizeof(err)), -EALREADY);
	p11_done();
	p11_done();
	ck_assert_int_eq(p11_init("/nonexistent/libnothing.so", err, sizeof(err)), -ENODEV);
	ck_assert_msg(strstr(err, "/nonexistent/libnothing.so"), "%s", err);
	ck_assert_int_eq(p11_key_import("pkcs11:object=x", &(gnutls_privkey_t){ NULL }, err, sizeof(err)),
			 -EINVAL);
	ck_assert_msg(p11_init(env("TK_MODULE"), err, sizeof(err)) == 0, "%s", err);
}
END_TEST

/* p11_init(NULL): modules from the p11-kit registry.  Passes vacuously
 * where SoftHSM is not registered with p11-kit (no softhsm2.module). */
START_TEST(test_init_registry)
{
	gnutls_privkey_t key = NULL;
	struct p11_key_status st;
	char *uri = key_uri("server-ec");
	int r;

	p11_done();
	ck_assert_msg(p11_init(NULL, err, sizeof(err)) == 0, "%s", err);
	add_main_pin();
	r = p11_key_import(uri, &key, err, sizeof(err));
	if (r == -ENODEV) {
		fprintf(stderr, "note: SoftHSM not registered with p11-kit: %s\n", err);
		goto out;
	}
	ck_assert_msg(r == 0, "import: %d %s", r, err);
	sign_verify(key, NULL);
	r = p11_key_probe(uri, &st, err, sizeof(err));
	ck_assert_msg(r == 0 && st.usable == 1, "probe: %d %s", r, err);
	sign_verify(key, NULL);
	gnutls_privkey_deinit(key);
out:
	free(uri);
}
END_TEST

static Suite *p11_suite(void)
{
	Suite *s = suite_create("pkcs11");
	struct {
		const char *name;
		const TTest *fn;
	} tests[] = {
		{ "/pkcs11/ckr/names", test_ckr_names },
		{ "/pkcs11/uri/strip-pin", test_uri_strip },
		{ "/pkcs11/key/import-sign-ec", test_import_sign_ec },
		{ "/pkcs11/key/import-sign-rsa", test_import_sign_rsa },
		{ "/pkcs11/key/pin-source-in-uri", test_import_pin_source },
		{ "/pkcs11/key/pin-file-newline", test_import_aux_newline },
		{ "/pkcs11/key/pin-value-rejected", test_import_pin_value_rejected },
		{ "/pkcs11/key/concurrent-sign", test_concurrent_sign },
		{ "/pkcs11/probe/ok", test_probe_ok },
		{ "/pkcs11/probe/coexists-with-gnutls", test_probe_coexists },
		{ "/pkcs11/probe/ambiguous-uri", test_ambiguous_probe },
		{ "/pkcs11/pin/wrong-pin", test_wrong_pin },
		{ "/pkcs11/pin/wrong-pin-probe", test_wrong_pin_probe },
		{ "/pkcs11/pin/file-missing", test_pin_file_missing },
		{ "/pkcs11/pin/file-mode", test_pin_file_mode },
		{ "/pkcs11/pin/other-owner-root", test_pin_file_other_owner_root },
		{ "/pkcs11/pin/add-duplicate", test_pin_add_duplicate },
		{ "/pkcs11/pin/add-misspelt-uri", test_pin_add_misspelt_uri },
		{ "/pkcs11/neg/unknown-token", test_unknown_token },
		{ "/pkcs11/neg/unknown-object", test_unknown_object },
		{ "/pkcs11/neg/malformed", test_malformed },
		{ "/pkcs11/chain/from-token", test_chain_from_token },
		{ "/pkcs11/init/errors", test_init_errors },
		{ "/pkcs11/init/p11-kit-registry", test_init_registry },
	};

	for (size_t i = 0; i < TK_ARRAY_SIZE(tests); i++) {
		TCase *tc = tcase_create(tests[i].name);

		tcase_add_checked_fixture(tc, setup, teardown);
		tcase_set_timeout(tc, 60);
		tcase_add_test(tc, tests[i].fn);
		suite_add_tcase(s, tc);
	}
	return s;
}

int main(void)
{
	return tkt_suite_run(p11_suite());
}
