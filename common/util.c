#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "common/util.h"

void tk_wipe(void *p, size_t len)
{
	if (p && len)
		explicit_bzero(p, len);
}

void tk_secret_free(char *s)
{
	if (!s)
		return;
	tk_wipe(s, strlen(s));
	free(s);
}

static int label_char_ok(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '_';
}

int tk_name_validate(const char *name, size_t len)
{
	const char *at, *dom;
	size_t i, lab = 0;

	if (!name || len == 0 || len > 255 || memchr(name, '\0', len))
		return -EINVAL;
	at = memchr(name, '@', len);
	dom = name;
	if (at) {
		/* Local part: printable, no spaces, no second '@'. */
		if (at == name)
			return -EINVAL;
		for (const char *c = name; c < at; c++)
			if (!isgraph((unsigned char)*c))
				return -EINVAL;
		dom = at + 1;
	}
	if (dom == name + len || *dom == '.')
		return -EINVAL;
	for (i = dom - name; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c == '.') {
			if (lab == 0)
				return -EINVAL;
			lab = 0;
			continue;
		}
		if (!label_char_ok(c) || ++lab > 63)
			return -EINVAL;
	}
	return lab == 0 ? -EINVAL : 0;
}

static int ascii_lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

int tk_domain_equal(const char *a, size_t alen, const char *b, size_t blen)
{
	/* ASCII only, no locale: "I" must not become a dotless i anywhere. */
	if (alen != blen)
		return 0;
	for (size_t i = 0; i < alen; i++)
		if (ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i]))
			return 0;
	return 1;
}

int tk_identity_equal(const char *a, size_t alen, const char *b, size_t blen)
{
	const char *aat = memchr(a, '@', alen), *bat = memchr(b, '@', blen);
	size_t al = aat ? (size_t)(aat - a) + 1 : 0, bl = bat ? (size_t)(bat - b) + 1 : 0;

	if (!aat != !bat)
		return 0; /* a user is never a domain */
	/* Local parts (with their '@') byte for byte: user names are case-sensitive. */
	if (al != bl || memcmp(a, b, al) != 0)
		return 0;
	return tk_domain_equal(a + al, alen - al, b + bl, blen - bl);
}

void tk_identity_canonical(char *name)
{
	char *c = strchr(name, '@');

	for (c = c ? c + 1 : name; *c; c++)
		*c = (char)ascii_lower((unsigned char)*c);
}

void tk_printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '?';
}

int tk_parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *ret)
{
	char *end;
	unsigned long v;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

unsigned long long tk_now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000ULL + (unsigned long long)ts.tv_nsec / 1000000ULL;
}

void tk_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
