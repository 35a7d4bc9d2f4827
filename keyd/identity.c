#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <gnutls/gnutls.h>

#include "common/util.h"
#include "keyd/identity.h"

#define OID_LDAP_DC "0.9.2342.19200300.100.1.25"
#define OID_LDAP_UID "0.9.2342.19200300.100.1.1"
#define MAX_DC 16

static int copy_out(const char *s, size_t n, char *ret, size_t len)
{
	if (tk_name_validate(s, n) < 0)
		return -ENOENT;
	if (n + 1 > len)
		return -ERANGE;
	memcpy(ret, s, n);
	ret[n] = '\0';
	return 0;
}

static int from_san(gnutls_x509_crt_t crt, unsigned want, char *ret, size_t len)
{
	for (unsigned i = 0; i < 64; i++) {
		char buf[512];
		size_t n = sizeof(buf) - 1;
		unsigned critical;
		int type = gnutls_x509_crt_get_subject_alt_name(crt, i, buf, &n, &critical);

		if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (type < 0 || (unsigned)type != want)
			continue;
		if (memchr(buf, '\0', n))
			continue;
		return copy_out(buf, n, ret, len);
	}
	return -ENOENT;
}

static int from_dn(gnutls_x509_crt_t crt, char *ret, size_t len)
{
	char dcs[MAX_DC][64], uid[256], out[600];
	size_t n, pos = 0;
	int ndc = 0, r;

	for (ndc = 0; ndc < MAX_DC; ndc++) {
		n = sizeof(dcs[ndc]) - 1;
		r = gnutls_x509_crt_get_dn_by_oid(crt, OID_LDAP_DC, (unsigned)ndc, 0, dcs[ndc], &n);
		if (r < 0)
			break;
		dcs[ndc][n] = '\0';
	}
	if (ndc == 0)
		return -ENOENT;
	n = sizeof(uid) - 1;
	if (gnutls_x509_crt_get_dn_by_oid(crt, OID_LDAP_UID, 0, 0, uid, &n) >= 0) {
		uid[n] = '\0';
		pos = (size_t)snprintf(out, sizeof(out), "%s@", uid);
	}
	/* The DN lists dc= components from the root down; a domain name
	 * is written the other way round. */
	for (int i = ndc - 1; i >= 0 && pos < sizeof(out); i--)
		pos += (size_t)snprintf(out + pos, sizeof(out) - pos, "%s%s", dcs[i], i ? "." : "");
	if (pos >= sizeof(out))
		return -ENOENT;
	return copy_out(out, pos, ret, len);
}

int keyd_identity_from_cert(gnutls_x509_crt_t crt, char *ret, size_t len)
{
	int r = from_san(crt, GNUTLS_SAN_RFC822NAME, ret, len);

	if (r != -ENOENT)
		return r;
	r = from_san(crt, GNUTLS_SAN_DNSNAME, ret, len);
	if (r != -ENOENT)
		return r;
	return from_dn(crt, ret, len);
}

int keyd_identity_is_user(const char *id)
{
	return strchr(id, '@') != NULL;
}
