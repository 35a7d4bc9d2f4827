#include "config.h"

#include <errno.h>
#include <string.h>

#include "common/namelist.h"
#include "common/util.h"

int tk_namelist_is_multi(const char *spec)
{
	return spec && (strchr(spec, ',') || strchr(spec, '*'));
}

/* One entry, len bytes at s: a host name, or "*." and a host name. */
static int entry_validate(const char *s, size_t len)
{
	if (len >= 2 && s[0] == '*' && s[1] == '.') {
		s += 2;
		len -= 2;
	}
	/* A '*' anywhere else, or an '@', is no host name: tk_name_validate
	 * refuses the first, the second is checked here. */
	if (len == 0 || memchr(s, '@', len))
		return -EINVAL;
	return tk_name_validate(s, len);
}

int tk_namelist_validate(const char *spec)
{
	size_t n = 0;
	const char *p;

	if (!spec || !*spec || strlen(spec) > 255)
		return -EINVAL;
	for (p = spec;; n++) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		if (n >= TK_NAMELIST_MAX || entry_validate(p, len) < 0)
			return -EINVAL;
		if (!comma)
			break;
		p = comma + 1;
	}
	return 0;
}

int tk_namelist_entry(const char *spec, size_t i, char *ret, size_t len)
{
	const char *p = spec;

	for (size_t k = 0; k < i; k++) {
		p = strchr(p, ',');
		if (!p)
			return -ENOENT;
		p++;
	}
	{
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);

		if (n + 1 > len)
			return -ERANGE;
		memcpy(ret, p, n);
		ret[n] = '\0';
	}
	return 0;
}

int tk_namelist_entry_match(const char *entry, const char *name)
{
	size_t el = strlen(entry), nl = strlen(name), bl;

	if (el >= 2 && entry[0] == '*' && entry[1] == '.') {
		bl = el - 2;
		/* The dot check keeps "evil-example.test" out of "*.example.test". */
		if (strchr(name, '@') || nl < bl + 2 || name[nl - bl - 1] != '.')
			return 0;
		return tk_domain_equal(name + nl - bl, bl, entry + 2, bl) ? 1 : 0;
	}
	return tk_identity_equal(entry, el, name, nl) ? 2 : 0;
}
