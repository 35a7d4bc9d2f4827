#include "config.h"

/* PKCS#11 URIs in configuration: pin attributes (pin-source is taken as the
 * PIN file and registered, pin-value refused: a PIN in a URI ends up in
 * files, logs and argv) and the check that every attribute is one p11-kit
 * understands (it matches nothing with a URI it does not). */

#include <ctype.h>
#include <stdio.h>
#include <strings.h>

#include "common/util.h"
#include "pkcs11/p11.h"
#include "pkcs11/p11_internal.h"

/* --- pin attributes inside URIs ------------------------------------------ */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Percent-decode s[0..len) into a new string; -EINVAL on bad escapes or
 * an encoded NUL. */
static int pct_decode(const char *s, size_t len, char **ret)
{
	char *out = malloc(len + 1), *o = out;

	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '%') {
			*o++ = s[i];
			continue;
		}
		if (i + 2 >= len) {
			free(out);
			return -EINVAL;
		}
		int hi = hexval((unsigned char)s[i + 1]), lo = hexval((unsigned char)s[i + 2]);
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
			free(out);
			return -EINVAL;
		}
		*o++ = (char)(hi * 16 + lo);
		i += 2;
	}
	*o = '\0';
	*ret = out;
	return 0;
}

/* Is attribute a[0..len) named `name` ("name=..." or bare "name")? */
static int attr_is(const char *a, size_t len, const char *name)
{
	size_t n = strlen(name);

	return len >= n && strncasecmp(a, name, n) == 0 && (len == n || a[n] == '=');
}

int p11_uri_split_pin(const char *uri, char **ret_uri, char **ret_pin_source, int *ret_had_pin_value)
{
	static const char scheme[] = "pkcs11:";
	char *out = NULL, *source = NULL;
	const char *p;
	size_t o = 0;
	int had_value = 0, r, in_query = 0, first_path = 1, first_query = 1;

	if (!uri || strncasecmp(uri, scheme, sizeof(scheme) - 1) != 0)
		return -EINVAL;
	/* p11_kit_uri_parse() skips whitespace anywhere, so "; pin-value=..."
	 * is a pin-value to it that attr_is() would not see (and the PIN would
	 * stay in a URI that is logged).  RFC 7512 URIs have none: any
	 * whitespace or control character makes the URI malformed. */
	for (const unsigned char *q = (const unsigned char *)uri; *q; q++)
		if (*q <= ' ' || *q == 0x7f)
			return -EINVAL;
	out = malloc(strlen(uri) + 1);
	if (!out)
		return -ENOMEM;
	memcpy(out, scheme, sizeof(scheme) - 1);
	o = sizeof(scheme) - 1;

	/* RFC 7512: path attributes split by ';', then '?' and query
	 * attributes split by '&'.  pin-value/pin-source belong in the query;
	 * accept them (and p11-kit's old "pinfile") in the path too. */
	p = uri + sizeof(scheme) - 1;
	while (*p) {
		size_t len = strcspn(p, in_query ? "&" : ";?");
		char sep = p[len];

		if (attr_is(p, len, "pin-value")) {
			had_value = 1;
		} else if (attr_is(p, len, "pin-source") || attr_is(p, len, "pinfile")) {
			const char *v = memchr(p, '=', len);
			char *dec = NULL;

			if (source || !v) {
				r = -EINVAL;
				goto out;
			}
			r = pct_decode(v + 1, len - (size_t)(v + 1 - p), &dec);
			if (r < 0)
				goto out;
			source = dec;
		} else if (len > 0) {
			int *first = in_query ? &first_query : &first_path;

			if (in_query && first_query)
				out[o++] = '?';
			else if (!*first)
				out[o++] = in_query ? '&' : ';';
			*first = 0;
			memcpy(out + o, p, len);
			o += len;
		}
		p += len;
		if (sep == '?')
			in_query = 1;
		if (sep)
			p++;
	}
	out[o] = '\0';

	if (source) {
		/* pin-source is itself a URI; only local files are supported. */
		const char *path = source;

		if (strncasecmp(path, "file://", 7) == 0)
			path += 7;
		else if (strncasecmp(path, "file:", 5) == 0)
			path += 5;
		if (path[0] != '/') {
			r = -EINVAL;
			goto out;
		}
		memmove(source, path, strlen(path) + 1);
	}
	*ret_uri = out;
	*ret_pin_source = source;
	if (ret_had_pin_value)
		*ret_had_pin_value = had_value;
	out = source = NULL;
	r = 0;
out:
	free(out);
	free(source);
	return r;
}

/* RFC 7512 and p11-kit: every attribute p11_kit_uri_parse() knows. */
static const char *const uri_path_attrs[] = {
	"id", "library-description", "library-manufacturer", "library-version", "manufacturer",
	"model", "object", "object-type", "serial", "slot-description", "slot-id",
	"slot-manufacturer", "token", "type", "pin-source", "pin-value", "pinfile",
};
static const char *const uri_query_attrs[] = { "pin-source", "pin-value", "module-name", "module-path" };

static int uri_attr_known(const char *a, size_t len, int in_query)
{
	const char *const *names = in_query ? uri_query_attrs : uri_path_attrs;
	size_t n = in_query ? TK_ARRAY_SIZE(uri_query_attrs) : TK_ARRAY_SIZE(uri_path_attrs);
	size_t nlen = strcspn(a, "=;?&");

	if (nlen > len)
		nlen = len;
	for (size_t i = 0; i < n; i++)
		if (strlen(names[i]) == nlen && !strncmp(a, names[i], nlen))
			return 1;
	return 0;
}

/* Contract in p11.h. */
int p11_uri_check(const char *uri, char *err, size_t errlen)
{
	const char *p;
	P11KitUri *u;
	int in_query = 0, r;

	if (!uri || strncasecmp(uri, "pkcs11:", 7)) {
		tk_errf(err, errlen, "not a PKCS#11 URI (pkcs11:...)");
		return -EINVAL;
	}
	for (p = uri + 7; *p;) {
		size_t len = strcspn(p, in_query ? "&" : ";?");
		char sep = p[len];

		if (len > 0 && !uri_attr_known(p, len, in_query)) {
			size_t nlen = strcspn(p, "=;?&");
			/* The attribute's name only: the URI could hold a PIN
			 * (the caller reports where it was written). */
			tk_errf(err, errlen, "unknown PKCS#11 URI attribute '%.*s' (RFC 7512 names: "
				 "token, object, type, id, serial, manufacturer, model, ...)",
				 (int)(nlen > 64 ? 64 : nlen), p);
			return -EINVAL;
		}
		p += len;
		if (sep == '?')
			in_query = 1;
		if (sep)
			p++;
	}
	u = p11_kit_uri_new();
	if (!u) {
		tk_errf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r = p11_kit_uri_parse(uri, P11_KIT_URI_FOR_ANY, u);
	if (r != P11_KIT_URI_OK) {
		tk_errf(err, errlen, "malformed PKCS#11 URI: %s", p11_kit_uri_message(r));
		r = -EINVAL;
	} else if (p11_kit_uri_any_unrecognized(u)) {
		tk_errf(err, errlen, "the PKCS#11 URI has an attribute or value p11-kit does not understand");
		r = -EINVAL;
	} else {
		r = 0;
	}
	p11_kit_uri_free(u);
	return r;
}

/* Contract in p11.h. */
int p11_uri_strip_pin(const char *uri, char **ret_uri, char **ret_pin_source)
{
	return p11_uri_split_pin(uri, ret_uri, ret_pin_source, NULL);
}

int p11_uri_prepare(const char *uri, char **ret_uri, P11KitUri **ret_parsed, char *err, size_t errlen)
{
	char *clean = NULL, *source = NULL;
	P11KitUri *u = NULL;
	int had_value = 0, r;

	r = p11_uri_split_pin(uri, &clean, &source, &had_value);
	if (r == -EINVAL) {
		tk_errf(err, errlen, "malformed PKCS#11 URI (expected pkcs11:..., pin-source=/absolute/path)");
		goto out;
	}
	if (r < 0)
		goto out;
	r = p11_uri_check(clean, err, errlen);
	if (r < 0)
		goto out;
	if (had_value) {
		/* A PIN in a URI ends up in configuration files, logs and argv. */
		tk_errf(err, errlen, "%s: pin-value in a URI is not accepted; use a PIN file", clean);
		r = -EINVAL;
		goto out;
	}
	u = p11_kit_uri_new();
	if (!u) {
		r = -ENOMEM;
		goto out;
	}
	r = p11_kit_uri_parse(clean, P11_KIT_URI_FOR_ANY, u);
	if (r != P11_KIT_URI_OK) {
		tk_errf(err, errlen, "%s: malformed PKCS#11 URI: %s", clean, p11_kit_uri_message(r));
		r = -EINVAL;
		goto out;
	}
	if (source) {
		r = p11_pin_add(clean, source, err, errlen);
		if (r < 0)
			goto out;
	}
	*ret_uri = clean;
	*ret_parsed = u;
	clean = NULL;
	u = NULL;
	r = 0;
out:
	if (r == -ENOMEM)
		tk_errf(err, errlen, "out of memory");
	if (u)
		p11_kit_uri_free(u);
	free(clean);
	free(source);
	return r;
}
