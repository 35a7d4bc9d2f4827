#include "config.h"

/* p11_key_probe: check a key with raw PKCS#11 calls (through p11-kit), so
 * failures carry the token's own CKR_ code instead of GnuTLS's summary.
 *
 * The module is loaded again, as a p11-kit managed module: p11-kit
 * reference-counts C_Initialize on the real module and gives each load its
 * own session bookkeeping, so this coexists with GnuTLS holding the same
 * module in the same process.  Login state, however, is per token and per
 * process in PKCS#11: we never call C_Logout (it would log out the daemon's
 * key sessions) and treat CKR_USER_ALREADY_LOGGED_IN as success. */

#include <stdio.h>
#include <strings.h>

#include "common/util.h"
#include "pkcs11/p11.h"
#include "pkcs11/p11_internal.h"

#define SLOTS_MAX 256
#define SIG_MAX 2048

struct probe {
	const char *uri; /* for messages: pin attributes already removed */
	P11KitUri *parsed;
	CK_FUNCTION_LIST **modules; /* NULL-terminated */
	int from_registry;          /* p11_kit_modules_load_and_initialize */
	CK_FUNCTION_LIST *m;        /* the module holding the token */
	CK_SLOT_ID slot;
	CK_TOKEN_INFO ti;
	CK_SESSION_HANDLE s;
	int have_session;
	char label[33];
};

static int probe_load(struct probe *p, char *err, size_t errlen)
{
	const char *path = p11_module_path();
	CK_RV rv;

	if (!path) {
		p->modules = p11_kit_modules_load_and_initialize(0);
		if (!p->modules) {
			tk_errf(err, errlen, "%s: cannot load p11-kit modules: %s", p->uri, p11_kit_message());
			return -ENODEV;
		}
		p->from_registry = 1;
		return 0;
	}
	p->modules = calloc(2, sizeof(*p->modules));
	if (!p->modules) {
		tk_errf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	/* flags 0: managed, so our C_Finalize does not pull the module from
	 * under GnuTLS. */
	p->modules[0] = p11_kit_module_load(path, 0);
	if (!p->modules[0]) {
		tk_errf(err, errlen, "cannot load PKCS#11 module %s: %s", path, p11_kit_message());
		return -ENODEV;
	}
	rv = p11_kit_module_initialize(p->modules[0]);
	if (rv != CKR_OK) {
		p11_kit_module_release(p->modules[0]);
		p->modules[0] = NULL;
		tk_errf(err, errlen, "cannot initialise PKCS#11 module %s: %s", path, p11_ckr_name(rv));
		return p11_ckr_to_errno(rv) == -EIO ? -ENODEV : p11_ckr_to_errno(rv);
	}
	return 0;
}

static void probe_release(struct probe *p)
{
	if (p->have_session)
		(void)p->m->C_CloseSession(p->s);
	if (!p->modules)
		return;
	if (p->from_registry) {
		p11_kit_modules_finalize_and_release(p->modules);
		return;
	}
	if (p->modules[0]) {
		(void)p11_kit_module_finalize(p->modules[0]);
		p11_kit_module_release(p->modules[0]);
	}
	free(p->modules);
}

/* Find the first token matching the URI (GnuTLS also takes the first). */
static int probe_find_token(struct probe *p, char *err, size_t errlen)
{
	for (size_t i = 0; p->modules[i]; i++) {
		CK_FUNCTION_LIST *m = p->modules[i];
		CK_SLOT_ID slots[SLOTS_MAX];
		CK_ULONG n = SLOTS_MAX;
		CK_INFO info;

		if (m->C_GetInfo(&info) != CKR_OK || p11_kit_uri_match_module_info(p->parsed, &info) != 1)
			continue;
		if (m->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
			continue;
		for (CK_ULONG j = 0; j < n; j++) {
			CK_SLOT_INFO si;

			if (m->C_GetSlotInfo(slots[j], &si) != CKR_OK ||
			    p11_kit_uri_match_slot_info(p->parsed, &si) != 1 ||
			    m->C_GetTokenInfo(slots[j], &p->ti) != CKR_OK ||
			    p11_kit_uri_match_token_info(p->parsed, &p->ti) != 1)
				continue;
			p->m = m;
			p->slot = slots[j];
			p11_padded_copy(p->ti.label, sizeof(p->ti.label), p->label, sizeof(p->label));
			return 0;
		}
	}
	tk_errf(err, errlen, "token '%s', %s: no such token present", p->label, p->uri);
	return -ENODEV;
}

/* C_Login of `user_type` with the registered PIN. */
static int probe_login(struct probe *p, CK_USER_TYPE user_type, char *err, size_t errlen)
{
	char pin[P11_PIN_MAX + 1], msg[256];
	size_t len = 0;
	CK_RV rv;
	int r;

	if (p->ti.flags & CKF_USER_PIN_FINAL_TRY) {
		tk_errf(err, errlen,
			 "token '%s', %s: CKF_USER_PIN_FINAL_TRY: one more wrong PIN locks the token; "
			 "not trying automatically",
			 p->label, p->uri);
		return -EKEYREJECTED;
	}
	if (p->ti.flags & CKF_USER_PIN_LOCKED) {
		tk_errf(err, errlen, "token '%s', %s: CKR_PIN_LOCKED: the user PIN is locked", p->label, p->uri);
		return -EKEYREJECTED;
	}
	r = p11_pin_read_for_token(&p->ti, pin, sizeof(pin), &len, msg, sizeof(msg));
	if (r < 0) {
		tk_errf(err, errlen, "token '%s', %s: %s", p->label, p->uri, msg);
		return -EKEYREJECTED;
	}
	rv = p->m->C_Login(p->s, user_type, (CK_UTF8CHAR *)pin, (CK_ULONG)len);
	tk_wipe(pin, sizeof(pin));
	if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN)
		return 0;
	if (rv == CKR_PIN_INCORRECT)
		p11_pin_mark_rejected();
	tk_errf(err, errlen, "token '%s', %s: C_Login: %s", p->label, p->uri, p11_ckr_name(rv));
	return p11_ckr_to_errno(rv);
}

/* The one private key the URI names: none is -ENOKEY, several -EINVAL (an
 * ambiguous key URI would make GnuTLS pick one silently). */
static int probe_find_key(struct probe *p, CK_OBJECT_HANDLE *ret, char *err, size_t errlen)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE tmpl[8];
	CK_ATTRIBUTE *attrs;
	CK_ULONG nattrs = 0, nt = 0, found = 0;
	CK_OBJECT_HANDLE h[2];
	CK_RV rv;

	tmpl[nt++] = (CK_ATTRIBUTE){ CKA_CLASS, &cls, sizeof(cls) };
	attrs = p11_kit_uri_get_attributes(p->parsed, &nattrs);
	for (CK_ULONG i = 0; i < nattrs && nt < TK_ARRAY_SIZE(tmpl); i++) {
		if (attrs[i].type == CKA_CLASS) {
			if (attrs[i].ulValueLen != sizeof(cls) || *(CK_OBJECT_CLASS *)attrs[i].pValue != cls) {
				tk_errf(err, errlen, "%s: not a private key URI (type=private)", p->uri);
				return -EINVAL;
			}
			continue;
		}
		tmpl[nt++] = attrs[i];
	}
	rv = p->m->C_FindObjectsInit(p->s, tmpl, nt);
	if (rv == CKR_OK) {
		rv = p->m->C_FindObjects(p->s, h, TK_ARRAY_SIZE(h), &found);
		(void)p->m->C_FindObjectsFinal(p->s);
	}
	if (rv != CKR_OK) {
		tk_errf(err, errlen, "token '%s', %s: C_FindObjects: %s", p->label, p->uri, p11_ckr_name(rv));
		return p11_ckr_to_errno(rv);
	}
	if (found == 0) {
		tk_errf(err, errlen, "token '%s', %s: no private key matches", p->label, p->uri);
		return -ENOKEY;
	}
	if (found > 1) {
		tk_errf(err, errlen, "token '%s', %s: several private keys match; add id= or object=", p->label,
			 p->uri);
		return -EINVAL;
	}
	*ret = h[0];
	return 0;
}

/* One signature over a fixed input; the result is thrown away. */
static int probe_sign(struct probe *p, CK_OBJECT_HANDLE key, CK_KEY_TYPE type, int always_auth, char *err,
		      size_t errlen)
{
	CK_BYTE data[32];
	CK_BYTE *sig = NULL;
	CK_ULONG siglen = 0;
	CK_MECHANISM mech = { 0, NULL, 0 };
	const char *step = "C_SignInit";
	CK_RV rv;
	int r;

	/* Raw inputs: CKM_RSA_PKCS signs any short string (no DigestInfo
	 * needed), CKM_ECDSA a hash-sized one. */
	if (type == CKK_RSA)
		mech.mechanism = CKM_RSA_PKCS;
	else if (type == CKK_EC)
		mech.mechanism = CKM_ECDSA;
	else
		mech.mechanism = CKM_EDDSA;
	memset(data, 0x5a, sizeof(data));

	rv = p->m->C_SignInit(p->s, &mech, key);
	if (rv == CKR_OK && always_auth) {
		/* CKA_ALWAYS_AUTHENTICATE: a context-specific login per operation. */
		r = probe_login(p, CKU_CONTEXT_SPECIFIC, err, errlen);
		if (r < 0)
			goto out;
	}
	if (rv == CKR_OK) {
		step = "C_Sign";
		rv = p->m->C_Sign(p->s, data, sizeof(data), NULL, &siglen);
	}
	if (rv == CKR_OK && (siglen == 0 || siglen > SIG_MAX)) {
		tk_errf(err, errlen, "token '%s', %s: C_Sign: implausible signature size %lu", p->label, p->uri,
			 (unsigned long)siglen);
		r = -EIO;
		goto out;
	}
	if (rv == CKR_OK) {
		sig = malloc(siglen);
		if (!sig) {
			tk_errf(err, errlen, "out of memory");
			r = -ENOMEM;
			goto out;
		}
		rv = p->m->C_Sign(p->s, data, sizeof(data), sig, &siglen);
	}
	if (rv != CKR_OK) {
		tk_errf(err, errlen, "token '%s', %s: %s: %s", p->label, p->uri, step, p11_ckr_name(rv));
		r = p11_ckr_to_errno(rv);
		goto out;
	}
	r = 0;
out:
	free(sig);
	return r;
}

static const char *key_type_name(CK_KEY_TYPE t, char buf[16])
{
	switch (t) {
	case CKK_RSA:
		return "RSA";
	case CKK_EC:
		return "EC";
	case CKK_EC_EDWARDS:
		return "EdDSA";
	case CKK_DSA:
		return "DSA";
	default:
		(void)snprintf(buf, 16, "0x%lX", (unsigned long)t);
		return buf;
	}
}

/* Contract in p11.h.  *ret is written only on success, so every failure is
 * the errno plus `err`: -ENODEV (no token), -EKEYREJECTED (PIN), -ENOKEY
 * (no key), -EIO (the test signature failed).  On success usable is 1,
 * except for key types we have no test mechanism for (then 0, unsigned).
 * Attributes the token does not reveal read as the unsafe value
 * (extractable 1, sensitive 0). */
int p11_key_probe(const char *key_uri, struct p11_key_status *ret, char *err, size_t errlen)
{
	struct probe p = { 0 };
	struct p11_key_status st = { 0 };
	CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
	CK_KEY_TYPE type = (CK_KEY_TYPE)-1;
	CK_BBOOL extractable = CK_TRUE, sensitive = CK_FALSE, always_auth = CK_FALSE;
	CK_ATTRIBUTE a[4];
	char *uri = NULL, tbuf[16];
	CK_RV rv;
	int r;

	if (!ret) {
		tk_errf(err, errlen, "p11_key_probe: missing status");
		return -EINVAL;
	}
	r = p11_uri_prepare(key_uri, &uri, &p.parsed, err, errlen);
	if (r < 0)
		goto out;
	p.uri = uri;
	p11_uri_token_label(p.parsed, p.label);
	r = probe_load(&p, err, errlen);
	if (r < 0)
		goto out;
	r = probe_find_token(&p, err, errlen);
	if (r < 0)
		goto out;
	rv = p.m->C_OpenSession(p.slot, CKF_SERIAL_SESSION, NULL, NULL, &p.s);
	if (rv != CKR_OK) {
		tk_errf(err, errlen, "token '%s', %s: C_OpenSession: %s", p.label, p.uri, p11_ckr_name(rv));
		r = p11_ckr_to_errno(rv);
		goto out;
	}
	p.have_session = 1;
	if (p.ti.flags & CKF_LOGIN_REQUIRED) {
		r = probe_login(&p, CKU_USER, err, errlen);
		if (r < 0)
			goto out;
	}
	r = probe_find_key(&p, &key, err, errlen);
	if (r < 0)
		goto out;

	/* One call; attributes the token refuses come back with length -1. */
	a[0] = (CK_ATTRIBUTE){ CKA_KEY_TYPE, &type, sizeof(type) };
	a[1] = (CK_ATTRIBUTE){ CKA_EXTRACTABLE, &extractable, sizeof(extractable) };
	a[2] = (CK_ATTRIBUTE){ CKA_SENSITIVE, &sensitive, sizeof(sensitive) };
	a[3] = (CK_ATTRIBUTE){ CKA_ALWAYS_AUTHENTICATE, &always_auth, sizeof(always_auth) };
	rv = p.m->C_GetAttributeValue(p.s, key, a, TK_ARRAY_SIZE(a));
	if (rv != CKR_OK && rv != CKR_ATTRIBUTE_SENSITIVE && rv != CKR_ATTRIBUTE_TYPE_INVALID) {
		tk_errf(err, errlen, "token '%s', %s: C_GetAttributeValue: %s", p.label, p.uri, p11_ckr_name(rv));
		r = p11_ckr_to_errno(rv);
		goto out;
	}
	if (a[1].ulValueLen != sizeof(extractable))
		extractable = CK_TRUE;
	if (a[2].ulValueLen != sizeof(sensitive))
		sensitive = CK_FALSE;
	if (a[3].ulValueLen != sizeof(always_auth))
		always_auth = CK_FALSE;
	if (a[0].ulValueLen != sizeof(type))
		type = (CK_KEY_TYPE)-1;

	st.present = 1;
	st.extractable = extractable == CK_TRUE;
	st.sensitive = sensitive == CK_TRUE;
	(void)snprintf(st.token, sizeof(st.token), "%s", p.label);
	(void)snprintf(st.key_type, sizeof(st.key_type), "%s",
		       a[0].ulValueLen == sizeof(type) ? key_type_name(type, tbuf) : "?");
	if (type == CKK_RSA || type == CKK_EC || type == CKK_EC_EDWARDS) {
		r = probe_sign(&p, key, type, always_auth == CK_TRUE, err, errlen);
		if (r < 0)
			goto out;
		st.usable = 1;
	}
	*ret = st;
	r = 0;
out:
	probe_release(&p);
	if (p.parsed)
		p11_kit_uri_free(p.parsed);
	free(uri);
	return r;
}
