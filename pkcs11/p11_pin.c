#include "config.h"

/* PIN files: the registry mapping tokens to PIN files, the checks a PIN
 * file must pass, the GnuTLS PIN callback, and pin attributes in URIs.
 *
 * A PIN is read from its file at login time, copied into the buffer the
 * consumer gives us and wiped from our own memory at once; nothing here
 * keeps a PIN beyond one call, and no message ever contains one. */

#include <ctype.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <strings.h>
#include <sys/stat.h>

#include <gnutls/gnutls.h>
#include <gnutls/pkcs11.h>

#include "common/file.h"
#include "common/util.h"
#include "pkcs11/p11.h"
#include "pkcs11/p11_internal.h"

/* Bound on registrations: one per token is the normal case. */
#define PIN_ENTRIES_MAX 256

/* Which version of a PIN file was read: a file the token rejected is not
 * offered again until it changes, so workers retrying an import cannot
 * use up the token's PIN tries (a real HSM then needs its SO). */
struct pin_file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

struct pin_entry {
	P11KitUri *uri;  /* only its token attributes are matched */
	char *token_uri; /* canonical token URI: duplicates and messages */
	char *pin_file;
	int rejected;    /* the token said CKR_PIN_INCORRECT for ... */
	struct pin_file_id rejected_id; /* ... this version of pin_file */
};

/* Registrations come from the main thread, lookups from any worker that
 * imports a key: everything below is guarded by pin_lock. */
static pthread_mutex_t pin_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pin_entry pin_entries[PIN_ENTRIES_MAX];
static size_t pin_n;
static unsigned long pin_generation; /* bumped by p11_pin_clear */

/* The registration and file version this thread read last, so that a
 * CKR_PIN_INCORRECT reported afterwards is pinned on the right file. */
static _Thread_local struct {
	int valid;
	size_t index;
	unsigned long generation;
	struct pin_file_id id;
} pin_last;

/* Why the callback last refused, per thread (the thread calling GnuTLS). */
static _Thread_local char pin_fail[320];

void p11_padded_copy(const unsigned char *field, size_t fieldlen, char *out, size_t outlen)
{
	size_t n = fieldlen;

	while (n > 0 && (field[n - 1] == ' ' || field[n - 1] == '\0'))
		n--;
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, field, n);
	out[n] = '\0';
}

void p11_uri_token_label(P11KitUri *uri, char out[33])
{
	CK_TOKEN_INFO *ti = p11_kit_uri_get_token_info(uri);

	p11_padded_copy(ti->label, sizeof(ti->label), out, 33);
	if (out[0] == '\0')
		(void)snprintf(out, 33, "?");
}

void p11_pin_fail_reset(void)
{
	pin_fail[0] = '\0';
}

const char *p11_pin_fail_msg(void)
{
	return pin_fail[0] ? pin_fail : NULL;
}

/* Open a PIN file and check it deserves trust: a regular file (no symlink:
 * O_NOFOLLOW), owned by us or root, no group/other permission bits at all.
 * Group-readable files are refused even for a dedicated group: a PIN
 * readable by anyone but the daemon defeats keeping keys in a token. */
static int pin_file_open(const char *path, int *ret_fd, struct pin_file_id *ret_id, char *err, size_t errlen)
{
	struct stat st;
	int fd = -1, r;

	if (!path || path[0] != '/') {
		tk_errf(err, errlen, "PIN file '%s': path must be absolute", path ? path : "(null)");
		r = -EINVAL;
		goto out;
	}
	/* Never blocks: a FIFO planted at the path would hang start-up (and
	 * SIGTERM, which is only read in the event loop). */
	r = tk_file_open_regular("PIN file", path, O_NOFOLLOW, &fd, &st, err, errlen);
	if (r < 0) {
		if (r == -ELOOP)
			r = -EINVAL;
		goto out;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		tk_errf(err, errlen, "PIN file %s is group/world accessible (mode %04o): chmod 0600 it", path,
			 (unsigned)(st.st_mode & 07777));
		r = -EINVAL;
		goto out;
	}
	/* Root may use a PIN file of the daemon's user (tlskeyd -t and
	 * tlskeyctl keys run by an administrator); anyone else only its own
	 * or root's.  The mode check above already keeps everyone but the
	 * owner out. */
	if (st.st_uid != geteuid() && st.st_uid != 0 && geteuid() != 0) {
		tk_errf(err, errlen, "PIN file %s is owned by uid %u, expected %u or root", path,
			 (unsigned)st.st_uid, (unsigned)geteuid());
		r = -EINVAL;
		goto out;
	}
	if (ret_id)
		*ret_id = (struct pin_file_id){ st.st_dev, st.st_ino, st.st_size, st.st_mtim };
	*ret_fd = fd;
	fd = -1; /* now owned by the caller */
	r = 0;
out:
	(void)tk_close(fd);
	return r;
}

static int pin_file_id_eq(const struct pin_file_id *a, const struct pin_file_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
	       a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* Read the PIN in `path` into pin[pin_max], NUL-terminated, one trailing
 * "\n" (or "\r\n") removed.  On failure `pin` is wiped. */
static int pin_file_read(const char *path, char *pin, size_t pin_max, size_t *ret_len, struct pin_file_id *ret_id,
			 char *err, size_t errlen)
{
	char buf[P11_PIN_MAX + 3];
	size_t len = 0;
	int fd = -1, r;

	r = pin_file_open(path, &fd, ret_id, err, errlen);
	if (r < 0)
		goto out;
	/* Read one byte more than any acceptable content to detect overlong files. */
	while (len < sizeof(buf)) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			tk_errf(err, errlen, "PIN file %s: read: %s", path, strerror(-r));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if (len == 0 || len > P11_PIN_MAX || len >= pin_max) {
		tk_errf(err, errlen, "PIN file %s: PIN is %s", path, len == 0 ? "empty" : "too long");
		r = -EINVAL;
		goto out;
	}
	if (memchr(buf, '\0', len)) {
		tk_errf(err, errlen, "PIN file %s: PIN contains a NUL byte", path);
		r = -EINVAL;
		goto out;
	}
	memcpy(pin, buf, len);
	pin[len] = '\0';
	*ret_len = len;
	r = 0;
out:
	tk_wipe(buf, sizeof(buf));
	if (r < 0 && pin && pin_max)
		tk_wipe(pin, pin_max);
	(void)tk_close(fd);
	return r;
}

/* Find the registration for a token; call with pin_lock held. */
static struct pin_entry *pin_find_locked(const CK_TOKEN_INFO *ti)
{
	for (size_t i = 0; i < pin_n; i++)
		if (p11_kit_uri_match_token_info(pin_entries[i].uri, (CK_TOKEN_INFO *)ti) == 1)
			return &pin_entries[i];
	return NULL;
}

int p11_pin_read_for_token(const CK_TOKEN_INFO *ti, char *pin, size_t pin_max, size_t *ret_len, char *err,
			   size_t errlen)
{
	struct pin_entry *e;
	struct pin_file_id id;
	char label[33];
	int r;

	p11_padded_copy(ti->label, sizeof(ti->label), label, sizeof(label));
	pin_last.valid = 0;
	(void)pthread_mutex_lock(&pin_lock);
	e = pin_find_locked(ti);
	if (!e) {
		tk_errf(err, errlen, "no PIN file registered for token '%s'", label);
		r = -ENOENT;
		goto out;
	}
	r = pin_file_read(e->pin_file, pin, pin_max, ret_len, &id, err, errlen);
	if (r < 0)
		goto out;
	if (e->rejected && pin_file_id_eq(&e->rejected_id, &id)) {
		tk_wipe(pin, pin_max);
		tk_errf(err, errlen,
			 "CKR_PIN_INCORRECT earlier for PIN file %s: not trying it again until the file changes",
			 e->pin_file);
		r = -EKEYREJECTED;
		goto out;
	}
	e->rejected = 0;
	pin_last.valid = 1;
	pin_last.index = (size_t)(e - pin_entries);
	pin_last.generation = pin_generation;
	pin_last.id = id;
out:
	(void)pthread_mutex_unlock(&pin_lock);
	return r;
}

void p11_pin_mark_rejected(void)
{
	if (!pin_last.valid)
		return;
	(void)pthread_mutex_lock(&pin_lock);
	if (pin_last.generation == pin_generation && pin_last.index < pin_n) {
		pin_entries[pin_last.index].rejected = 1;
		pin_entries[pin_last.index].rejected_id = pin_last.id;
	}
	(void)pthread_mutex_unlock(&pin_lock);
	pin_last.valid = 0;
}

int p11_pin_callback(void *userdata, int attempt, const char *token_url, const char *token_label,
		     unsigned int flags, char *pin, size_t pin_max)
{
	P11KitUri *tok = NULL;
	char msg[256];
	size_t len;
	int r = -1;

	(void)userdata, (void)attempt, (void)token_label; /* the callback's signature */
	/* GnuTLS calls again with GNUTLS_PIN_WRONG after CKR_PIN_INCORRECT and
	 * would keep asking; a file does not change between attempts, and every
	 * wrong try brings the token closer to locking the PIN. */
	if (flags & GNUTLS_PIN_WRONG) {
		p11_pin_mark_rejected();
		(void)snprintf(pin_fail, sizeof(pin_fail), "CKR_PIN_INCORRECT: the token rejected the PIN");
		goto out;
	}
	if (flags & GNUTLS_PIN_SO) {
		(void)snprintf(pin_fail, sizeof(pin_fail), "security officer PIN requested: not supported");
		goto out;
	}
	/* Restart loops must not lock the token: the last try is for a human. */
	if (flags & GNUTLS_PIN_FINAL_TRY) {
		(void)snprintf(pin_fail, sizeof(pin_fail),
			       "CKF_USER_PIN_FINAL_TRY: one more wrong PIN locks the token; "
			       "not trying automatically (log in once by hand to reset the counter)");
		goto out;
	}
	tok = p11_kit_uri_new();
	if (!tok || !token_url || p11_kit_uri_parse(token_url, P11_KIT_URI_FOR_TOKEN, tok) != P11_KIT_URI_OK) {
		(void)snprintf(pin_fail, sizeof(pin_fail), "cannot parse token URI from GnuTLS");
		goto out;
	}
	if (p11_pin_read_for_token(p11_kit_uri_get_token_info(tok), pin, pin_max, &len, msg, sizeof(msg)) < 0) {
		(void)snprintf(pin_fail, sizeof(pin_fail), "%s", msg);
		goto out;
	}
	r = 0;
out:
	if (tok)
		p11_kit_uri_free(tok);
	return r;
}

void p11_pin_clear(void)
{
	(void)pthread_mutex_lock(&pin_lock);
	for (size_t i = 0; i < pin_n; i++) {
		p11_kit_uri_free(pin_entries[i].uri);
		free(pin_entries[i].token_uri);
		free(pin_entries[i].pin_file);
	}
	pin_n = 0;
	pin_generation++;
	(void)pthread_mutex_unlock(&pin_lock);
}

/* Contract in p11.h.  The file is checked now (so configuration mistakes
 * surface at start-up) and again at every read.  Registering the same file
 * again for the same token is a no-op; a different file is -EEXIST. */
int p11_pin_add(const char *uri, const char *pin_file, char *err, size_t errlen)
{
	P11KitUri *u = NULL;
	char *token_uri = NULL, *file = NULL;
	int fd = -1, r, locked = 0;

	if (!uri || !pin_file) {
		tk_errf(err, errlen, "p11_pin_add: missing URI or PIN file");
		return -EINVAL;
	}
	u = p11_kit_uri_new();
	if (!u) {
		r = -ENOMEM;
		goto out;
	}
	r = p11_kit_uri_parse(uri, P11_KIT_URI_FOR_ANY, u);
	if (r != P11_KIT_URI_OK) {
		tk_errf(err, errlen, "malformed PKCS#11 URI: %s", p11_kit_uri_message(r));
		r = -EINVAL;
		goto out;
	}
	/* A PIN in the URI is not what is registered here; it must not end up
	 * in token_uri, which is printed. */
	p11_kit_uri_set_pin_value(u, NULL);
	p11_kit_uri_set_pin_source(u, NULL);
	if (p11_kit_uri_format(u, P11_KIT_URI_FOR_TOKEN, &token_uri) != P11_KIT_URI_OK) {
		r = -ENOMEM;
		goto out;
	}
	/* Match with the token part alone.  p11_kit_uri_match_token_info()
	 * matches nothing for a URI with an attribute it did not understand
	 * (a misspelt "typ=private"): registered as given, such a URI held
	 * the token's only entry, matched no token, and the identity that
	 * spelt its URI right found "no PIN file registered for token". */
	p11_kit_uri_free(u);
	u = p11_kit_uri_new();
	if (!u) {
		r = -ENOMEM;
		goto out;
	}
	if (p11_kit_uri_parse(token_uri, P11_KIT_URI_FOR_TOKEN, u) != P11_KIT_URI_OK) {
		tk_errf(err, errlen, "cannot parse token URI %s", token_uri);
		r = -EINVAL;
		goto out;
	}
	r = pin_file_open(pin_file, &fd, NULL, err, errlen);
	if (r < 0)
		goto out;
	file = strdup(pin_file);
	if (!file) {
		r = -ENOMEM;
		goto out;
	}

	(void)pthread_mutex_lock(&pin_lock);
	locked = 1;
	for (size_t i = 0; i < pin_n; i++) {
		if (strcmp(pin_entries[i].token_uri, token_uri) != 0)
			continue;
		if (strcmp(pin_entries[i].pin_file, pin_file) == 0) {
			r = 0;
		} else {
			tk_errf(err, errlen, "token %s already has PIN file %s, not %s", token_uri,
				 pin_entries[i].pin_file, pin_file);
			r = -EEXIST;
		}
		goto out;
	}
	if (pin_n == PIN_ENTRIES_MAX) {
		tk_errf(err, errlen, "too many PIN files (at most %d)", PIN_ENTRIES_MAX);
		r = -E2BIG;
		goto out;
	}
	/* u, token_uri and file now owned by the registry */
	pin_entries[pin_n++] = (struct pin_entry){ .uri = u, .token_uri = token_uri, .pin_file = file };
	u = NULL;
	token_uri = file = NULL;
	r = 0;
out:
	if (locked)
		(void)pthread_mutex_unlock(&pin_lock);
	if (r == -ENOMEM)
		tk_errf(err, errlen, "out of memory");
	if (u)
		p11_kit_uri_free(u);
	free(token_uri);
	free(file);
	(void)tk_close(fd);
	return r;
}
