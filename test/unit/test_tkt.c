/* test/lib/tkt-util.c: the errno names and --flags parsing the C test
 * helpers rely on (a wrong name there would make shell tests pass or fail
 * for the wrong reason). */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <string.h>

#include <tlskey/starttls.h>

#include "test/lib/tkt.h"
#include "test/unit/check-main.h"

START_TEST(errno_names)
{
	static const int values[] = { EACCES, ENOKEY, EKEYREJECTED, ECONNRESET, ETIMEDOUT,
				      ESHUTDOWN, EPROTO, ENOTSOCK, EAGAIN, EOPNOTSUPP };

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		ck_assert_int_eq(tkt_errno_value(tkt_errno_name(values[i])), values[i]);
	ck_assert_str_eq(tkt_errno_name(EACCES), "EACCES");
	ck_assert_str_eq(tkt_errno_name(EKEYREJECTED), "EKEYREJECTED");
	/* Aliases strerrorname_np never prints still parse. */
	ck_assert_int_eq(tkt_errno_value("ENOTSUP"), ENOTSUP);
	ck_assert_int_eq(tkt_errno_value("EWOULDBLOCK"), EWOULDBLOCK);
	/* Unknown names and values. */
	ck_assert_int_eq(tkt_errno_value("EBOGUS"), -1);
	ck_assert_int_eq(tkt_errno_value("eacces"), -1);
	ck_assert_int_eq(tkt_errno_value(""), -1);
	ck_assert_str_eq(tkt_errno_name(0), "E#0");
	ck_assert_str_eq(tkt_errno_name(99999), "E#99999");
}
END_TEST

START_TEST(errno_lists)
{
	char longlist[400];

	ck_assert(tkt_errno_listed("any", EIO));
	ck_assert(tkt_errno_listed("EACCES", EACCES));
	ck_assert(tkt_errno_listed("EPROTO,ECONNRESET,EACCES", ECONNRESET));
	ck_assert(!tkt_errno_listed("EPROTO,ECONNRESET", EACCES));
	ck_assert(!tkt_errno_listed("EBOGUS", -1));
	ck_assert(tkt_errno_list_valid("any"));
	ck_assert(tkt_errno_list_valid("EACCES,ENOKEY"));
	ck_assert(!tkt_errno_list_valid("EACCES,EBOGUS"));
	ck_assert(!tkt_errno_list_valid("13"));
	memset(longlist, 0, sizeof(longlist));
	for (size_t i = 0; i + 7 < sizeof(longlist) - 1; i += 7)
		memcpy(longlist + i, "EACCES,", 7);
	ck_assert(!tkt_errno_list_valid(longlist));
}
END_TEST

START_TEST(flags)
{
	int f = -1;

	/* Hex, as every existing script passes it. */
	ck_assert_int_eq(tkt_flags_parse("80", &f), 0);
	ck_assert_int_eq(f, TLSKEY_FLAG_SKIP_AUTHORIZATION);
	ck_assert_int_eq(tkt_flags_parse("0", &f), 0);
	ck_assert_int_eq(f, 0);
	ck_assert_int_eq(tkt_flags_parse("ff", &f), 0);
	ck_assert_int_eq(f, 0xff);
	ck_assert_int_eq(tkt_flags_parse("0x80", &f), 0); /* strtoul's prefix, as before */
	ck_assert_int_eq(f, 0x80);
	/* Names from common/flags.h. */
	ck_assert_int_eq(tkt_flags_parse("skip-authorization,no-remote-domain-id", &f), 0);
	ck_assert_int_eq(f, TLSKEY_FLAG_SKIP_AUTHORIZATION | TLSKEY_FLAG_NO_REMOTE_DOMAIN_ID);
	ck_assert_int_eq(tkt_flags_parse("none", &f), 0);
	ck_assert_int_eq(f, 0);
	/* Refused, and *ret_flags untouched. */
	f = 42;
	ck_assert_int_eq(tkt_flags_parse("skip-authorisation", &f), -EINVAL);
	ck_assert_int_eq(tkt_flags_parse("no-local-cert,no-local-cert", &f), -EINVAL);
	ck_assert_int_eq(tkt_flags_parse("", &f), -EINVAL);
	ck_assert_int_eq(tkt_flags_parse("-1", &f), -EINVAL);
	ck_assert_int_eq(tkt_flags_parse("80000000", &f), -EINVAL);
	ck_assert_int_eq(f, 42);
}
END_TEST

START_TEST(numbers)
{
	unsigned long v = 7;

	ck_assert_int_eq(tkt_parse_ulong("65535", 10, 65535, &v), 0);
	ck_assert_uint_eq(v, 65535);
	v = 7;
	ck_assert_int_eq(tkt_parse_ulong("65536", 10, 65535, &v), -EINVAL);
	ck_assert_int_eq(tkt_parse_ulong("12x", 10, 100, &v), -EINVAL);
	ck_assert_int_eq(tkt_parse_ulong("", 10, 100, &v), -EINVAL);
	ck_assert_uint_eq(v, 7);
}
END_TEST

int main(void)
{
	const TTest *tests[] = { errno_names, errno_lists, flags, numbers, NULL };

	return tkt_run("tkt", "/test/lib/tkt", NULL, NULL, 0, tests);
}
