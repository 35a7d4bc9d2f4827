#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <gnutls/gnutls.h>

#include "common/peerid.h"
#include "common/util.h"
#include "keyd/identity.h"

#define OID_LDAP_DC "0.9.2342.19200300.100.1.25"
#define OID_LDAP_UID "0.9.2342.19200300.100.1.1"
#define MAX_DC 16
/* An identity is at most 255 bytes (tk_name_validate); room to notice more. */
#define TK_ID_BUF 600

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

/* The next SAN of type want at index *idx or after it, into buf (size
 * bytes; *ret_n its length, not terminated); *idx moves past it.  Returns
 * 1 found, 0 no more, or -ENAMETOOLONG: a name too long for us is refused,
 * never skipped, as skipping it would let a later, different name stand
 * for the peer. */
static int san_next(gnutls_x509_crt_t crt, unsigned want, unsigned *idx, char *buf, size_t size,
		    size_t *ret_n)
{
	while (*idx < 64) {
		size_t n = size - 1;
		unsigned critical;
		int type = gnutls_x509_crt_get_subject_alt_name(crt, (*idx)++, buf, &n, &critical);

		if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			return 0;
		if (type == GNUTLS_E_SHORT_MEMORY_BUFFER)
			return -ENAMETOOLONG;
		if (type < 0 || (unsigned)type != want)
			continue;
		*ret_n = n;
		return 1;
	}
	return 0;
}

static int from_san(gnutls_x509_crt_t crt, unsigned want, char *ret, size_t len)
{
	char buf[512];
	unsigned idx = 0;
	size_t n = 0;
	int r;

	while ((r = san_next(crt, want, &idx, buf, sizeof(buf), &n)) == 1)
		if (!memchr(buf, '\0', n))
			return copy_out(buf, n, ret, len);
	return r < 0 ? r : -ENOENT;
}

/* Component idx of oid in the subject DN into buf (size bytes), NUL
 * terminated.  Returns 0, 1 if there is no such component, -ENAMETOOLONG
 * if it does not fit (never truncated), -EINVAL if it cannot be read. */
static int dn_component(gnutls_x509_crt_t crt, const char *oid, unsigned idx, char *buf,
			size_t size)
{
	size_t n = size;
	int r = gnutls_x509_crt_get_dn_by_oid(crt, oid, idx, 0, buf, &n);

	if (r == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
		return 1;
	if (r == GNUTLS_E_SHORT_MEMORY_BUFFER || (r >= 0 && n >= size))
		return -ENAMETOOLONG;
	if (r < 0 || memchr(buf, '\0', n))
		return -EINVAL;
	buf[n] = '\0';
	return 0;
}

/* The identity a subject DN names.  Every dc= component is a whole label
 * and every one counts: a component that is too long, one too many, or a
 * label with a dot in it refuses the certificate.  Dropping or cutting
 * one would turn "uid=<300 bytes>,dc=a,dc=test" into the domain a.test,
 * or a DN with a 17th dc= into its parent domain. */
static int from_dn(gnutls_x509_crt_t crt, char *ret, size_t len)
{
	char dcs[MAX_DC][64], uid[256], out[TK_ID_BUF];
	size_t pos = 0;
	int ndc, r;

	for (ndc = 0; ndc < MAX_DC; ndc++) {
		r = dn_component(crt, OID_LDAP_DC, (unsigned)ndc, dcs[ndc], sizeof(dcs[ndc]));
		if (r == 1)
			break;
		if (r < 0)
			return r;
		if (strchr(dcs[ndc], '.'))
			return -EINVAL;
	}
	if (ndc == 0)
		return -ENOENT;
	if (ndc == MAX_DC) {
		char extra[64];

		r = dn_component(crt, OID_LDAP_DC, MAX_DC, extra, sizeof(extra));
		if (r != 1)
			return r < 0 && r != -ENAMETOOLONG ? r : -ENAMETOOLONG;
	}
	r = dn_component(crt, OID_LDAP_UID, 0, uid, sizeof(uid));
	if (r < 0)
		return r;
	if (r == 0) {
		size_t ul = strlen(uid);

		if (ul + 1 >= sizeof(out))
			return -ENAMETOOLONG;
		memcpy(out, uid, ul);
		out[ul] = '@';
		pos = ul + 1;
	}
	/* The DN lists dc= components from the root down; a domain name
	 * is written the other way round. */
	for (int i = ndc - 1; i >= 0; i--) {
		size_t dl = strlen(dcs[i]);

		if (pos + dl + (i ? 1 : 0) >= sizeof(out))
			return -ENAMETOOLONG;
		memcpy(out + pos, dcs[i], dl);
		pos += dl;
		if (i)
			out[pos++] = '.';
	}
	out[pos] = '\0';
	if (pos > 255)
		return -ENAMETOOLONG;
	return copy_out(out, pos, ret, len);
}

static int ids_add(struct keyd_peer_ids *ids, const char *s)
{
	for (size_t i = 0; i < ids->n; i++)
		if (!strcmp(ids->id[i], s))
			return 0;
	/* Bounded: what lies beyond the first KEYD_PEER_IDS_MAX is never an
	 * identity of the peer (it can only admit less, never more). */
	if (ids->n < KEYD_PEER_IDS_MAX)
		(void)snprintf(ids->id[ids->n++], sizeof(ids->id[0]), "%s", s);
	return 1;
}

/* Every SAN of type want, as identity text, in certificate order.
 * Returns SAN_ADDED if one was added, | SAN_PRESENT if the certificate
 * has one of that kind at all (valid or not), or a negative errno. */
#define SAN_ADDED 1
#define SAN_PRESENT 2
static int all_san(gnutls_x509_crt_t crt, unsigned want, struct keyd_peer_ids *ids)
{
	char buf[512], text[INET6_ADDRSTRLEN];
	unsigned idx = 0;
	size_t n = 0;
	int found = 0, r;

	while ((r = san_next(crt, want, &idx, buf, sizeof(buf), &n)) == 1) {
		found |= SAN_PRESENT;
		if (want == GNUTLS_SAN_IPADDRESS) {
			if ((n != 4 && n != 16) || !inet_ntop(n == 4 ? AF_INET : AF_INET6, buf, text, sizeof(text)))
				continue;
			found |= ids_add(ids, text);
			continue;
		}
		if (memchr(buf, '\0', n))
			continue;
		buf[n] = '\0';
		/* Only SPIFFE IDs among URIs; names as tk_name_validate says. */
		if (want == GNUTLS_SAN_URI ? tk_spiffe_validate(buf, n) < 0 : tk_name_validate(buf, n) < 0)
			continue;
		/* A dNSName spelt as an address is no name, and must not pass
		 * for the iPAddress identity that peers=ADDRESS/BITS matches. */
		if (want != GNUTLS_SAN_URI && tk_peer_kind(buf) != TK_PEER_NAME)
			continue;
		/* The kind is the SAN's, not the text's: a dNSName is a
		 * domain, never user@domain (map-user would take its local
		 * part for an account), and an rfc822Name always a user. */
		if ((want == GNUTLS_SAN_DNSNAME && keyd_identity_is_user(buf)) ||
		    (want == GNUTLS_SAN_RFC822NAME && !keyd_identity_is_user(buf)))
			continue;
		found |= ids_add(ids, buf);
	}
	return r < 0 ? r : found;
}

/* The subject CN, opt-in: a host name only without a dNSName SAN, an
 * e-mail address only without an rfc822Name SAN.  A CN with a wildcard
 * or anything tk_name_validate refuses is no identity. */
static int from_cn(gnutls_x509_crt_t crt, unsigned mode, int have_dns, int have_mail,
		   struct keyd_peer_ids *ids)
{
	char cn[256];
	int r = dn_component(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn, sizeof(cn));
	int user;

	if (r != 0)
		return r == 1 ? 0 : r;
	if (tk_name_validate(cn, strlen(cn)) < 0 || tk_peer_kind(cn) != TK_PEER_NAME)
		return 0;
	user = keyd_identity_is_user(cn);
	if ((user && ((mode & KEYD_PEER_CN_EMAIL) && !have_mail)) ||
	    (!user && ((mode & KEYD_PEER_CN_HOSTNAME) && !have_dns)))
		(void)ids_add(ids, cn);
	return 0;
}

int keyd_identity_list(gnutls_x509_crt_t crt, unsigned cn_mode, struct keyd_peer_ids *ret)
{
	static const unsigned kinds[] = { GNUTLS_SAN_RFC822NAME, GNUTLS_SAN_DNSNAME, GNUTLS_SAN_URI,
					  GNUTLS_SAN_IPADDRESS };
	struct keyd_peer_ids ids = { .n = 0 };
	int found[4], r;

	for (size_t k = 0; k < 4; k++) {
		found[k] = all_san(crt, kinds[k], &ids);
		if (found[k] < 0)
			return found[k];
	}
	if (ids.n == 0) {
		char dn[256];

		r = from_dn(crt, dn, sizeof(dn));
		if (r < 0 && r != -ENOENT)
			return r;
		if (r == 0 && tk_peer_kind(dn) == TK_PEER_NAME)
			(void)ids_add(&ids, dn);
	}
	if (cn_mode) {
		/* Any dNSName (rfc822Name) rules out the CN of its kind, also
		 * one that is no identity here (a wildcard, say): the CA put
		 * the names in the SAN, and the CN is not one of them (RFC
		 * 6125 6.4.4). */
		r = from_cn(crt, cn_mode, found[1] & SAN_PRESENT, found[0] & SAN_PRESENT, &ids);
		if (r < 0)
			return r;
	}
	if (ids.n == 0)
		return -ENOENT;
	*ret = ids;
	return 0;
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
