/* tkt: program identity, time, errno names, number and flag parsing. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/flags.h"
#include "test/lib/tkt.h"

static const char *tkt_prog = "test";
static int tkt_status = 1;

void tkt_prog_set(const char *prog, int status)
{
	tkt_prog = prog;
	tkt_status = status;
}

void tkt_die(const char *what)
{
	(void)fprintf(stderr, "%s: %s: %s\n", tkt_prog, what, strerror(errno));
	exit(tkt_status);
}

void tkt_dief(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)fprintf(stderr, "%s: ", tkt_prog);
	(void)vfprintf(stderr, fmt, ap);
	(void)fputc('\n', stderr);
	va_end(ap);
	exit(tkt_status);
}

long long tkt_now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *tkt_errno_name(int e)
{
	static char buf[16];
	const char *n = e > 0 ? strerrorname_np(e) : NULL;

	if (n)
		return n;
	(void)snprintf(buf, sizeof(buf), "E#%d", e);
	return buf;
}

/* Linux errno values stay far below this. */
#define TKT_ERRNO_MAX 4096

int tkt_errno_value(const char *name)
{
	/* strerrorname_np gives one name per value; these are the others. */
	static const struct {
		const char *name;
		int value;
	} aliases[] = {
		{ "ENOTSUP", ENOTSUP },
		{ "EWOULDBLOCK", EWOULDBLOCK },
		{ "EDEADLOCK", EDEADLOCK },
	};

	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (strcmp(aliases[i].name, name) == 0)
			return aliases[i].value;
	for (int e = 1; e < TKT_ERRNO_MAX; e++) {
		const char *n = strerrorname_np(e);

		if (n && strcmp(n, name) == 0)
			return e;
	}
	return -1;
}

/* Call fn on every item of a comma-separated list until it returns
 * non-zero; returns that value, or 0.  Lists longer than 255 bytes are
 * cut (the callers check the length first). */
static int list_each(const char *list, int (*fn)(const char *item, int arg), int arg)
{
	char tmp[256], *save = NULL;
	int r;

	(void)snprintf(tmp, sizeof(tmp), "%s", list);
	for (char *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		r = fn(t, arg);
		if (r)
			return r;
	}
	return 0;
}

static int item_is(const char *item, int e)
{
	int v = tkt_errno_value(item);

	return v >= 0 && v == e;
}

static int item_unknown(const char *item, int unused)
{
	(void)unused;
	return tkt_errno_value(item) < 0;
}

int tkt_errno_listed(const char *list, int e)
{
	if (strcmp(list, "any") == 0)
		return 1;
	return list_each(list, item_is, e);
}

int tkt_errno_list_valid(const char *list)
{
	if (strcmp(list, "any") == 0)
		return 1;
	if (strlen(list) >= 256)
		return 0;
	return !list_each(list, item_unknown, 0);
}

int tkt_parse_ulong(const char *s, int base, unsigned long max, unsigned long *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, base);
	if (errno || end == s || *end || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

int tkt_flags_parse(const char *s, int *ret_flags)
{
	unsigned long v;
	uint32_t f;

	/* Hex first: every existing script passes --flags that way, and no
	 * flag name is a hex number ("none" is not). */
	if (tkt_parse_ulong(s, 16, 0x7fffffffUL, &v) == 0) {
		*ret_flags = (int)v;
		return 0;
	}
	if (tk_flags_parse(s, &f) < 0 || f > 0x7fffffffU)
		return -EINVAL;
	*ret_flags = (int)f;
	return 0;
}
