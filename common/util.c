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
