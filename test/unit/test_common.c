/* Unit tests for common/flags.c (one table of flag names), the bounded
 * whole-file reader of common/file.c and the server name lists of
 * common/namelist.c. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/file.h"
#include "common/flags.h"
#include "common/namelist.h"
#include "common/util.h"
#include "tlskey/starttls.h"
#include "test/unit/check-main.h"

START_TEST(flags_round_trip)
{
	char buf[256];
	uint32_t f = 0;

	for (uint32_t all = 0; all <= TLSKEY_FLAGS_ALL; all++) {
		ck_assert_uint_lt(tk_flags_format(all, buf, sizeof(buf)), sizeof(buf));
		ck_assert_int_eq(tk_flags_parse(buf, &f), 0);
		ck_assert_uint_eq(f, all);
	}
	ck_assert_uint_eq(tk_flag_bit("skip-authorization"), TLSKEY_FLAG_SKIP_AUTHORIZATION);
	ck_assert_str_eq(tk_flag_name(TLSKEY_FLAG_NO_LOCAL_CERT), "no-local-cert");
	(void)tk_flags_format(0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "none");
}
END_TEST

START_TEST(flags_negative)
{
	char buf[8];
	uint32_t f = 0x55;

	ck_assert_int_eq(tk_flags_parse("no-cache-read,bogus", &f), -EINVAL);
	ck_assert_int_eq(tk_flags_parse("no-cache-read,no-cache-read", &f), -EINVAL);
	ck_assert_int_eq(tk_flags_parse("no-cache-read,", &f), -EINVAL);
	ck_assert_int_eq(tk_flags_parse("", &f), -EINVAL);
	ck_assert_uint_eq(f, 0x55); /* untouched on failure */
	ck_assert_uint_eq(tk_flag_bit("NO-CACHE-READ"), 0);
	ck_assert_ptr_null(tk_flag_name(TLSKEY_FLAG_NO_CACHE_READ | TLSKEY_FLAG_NO_CACHE_WRITE));
	/* Unknown bits are shown, not dropped; a short buffer is cut and
	 * the length needed is returned. */
	ck_assert_uint_eq(tk_flags_format(0x100 | TLSKEY_FLAG_NO_LOCAL_CERT, buf, sizeof(buf)),
			  strlen("no-local-cert,0x100"));
	ck_assert_uint_eq(strlen(buf), sizeof(buf) - 1);
}
END_TEST

static void write_file(const char *path, size_t len)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	for (size_t i = 0; i < len; i++)
		ck_assert_int_ne(fputc('a' + (int)(i % 26), f), EOF);
	ck_assert_int_eq(fclose(f), 0);
}

static int judged;

static int judge_no(const char *path, const struct stat *st, char *err, size_t errlen)
{
	judged++;
	ck_assert_uint_eq((unsigned long long)st->st_size, 100);
	(void)snprintf(err, errlen, "%s: not trusted", path);
	return -EPERM;
}

static int judge_yes(const char *path, const struct stat *st, char *err, size_t errlen)
{
	(void)path, (void)err, (void)errlen;
	judged++;
	ck_assert_uint_eq((unsigned long long)st->st_size, 100);
	return 0;
}

/* The judge sees the opened file before a byte is read: the file's atime,
 * set before its mtime, moves on a read (relatime), and must not when the
 * judge refuses. */
START_TEST(file_read_judged_first)
{
	char dir[] = "/tmp/tk-common-XXXXXX", path[64], err[256], *buf = NULL;
	struct timespec old[2] = { { .tv_sec = 1000000 }, { .tv_nsec = UTIME_OMIT } };
	size_t len = 0;
	struct stat st;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	(void)snprintf(path, sizeof(path), "%s/f", dir);
	write_file(path, 100);
	ck_assert_int_eq(utimensat(AT_FDCWD, path, old, 0), 0);
	judged = 0;
	ck_assert_int_eq(tk_file_read_judged("test file", path, 1000, 0, judge_no, &buf, &len, &st, err,
					     sizeof(err)),
			 -EPERM);
	ck_assert_int_eq(judged, 1);
	ck_assert_ptr_null(buf);
	ck_assert_ptr_nonnull(strstr(err, "not trusted"));
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq((long long)st.st_atime, 1000000);
	/* The control: a judge that says yes, and the read moves atime. */
	ck_assert_int_eq(tk_file_read_judged("test file", path, 1000, 0, judge_yes, &buf, &len, &st, err,
					     sizeof(err)),
			 0);
	ck_assert_int_eq(judged, 2);
	ck_assert_uint_eq(len, 100);
	tk_file_free(buf, len);
	ck_assert_int_eq(stat(path, &st), 0);
	{
		struct statvfs vfs;

		/* (Where reads never move atime, the test above proves nothing.) */
		ck_assert_int_eq(statvfs(dir, &vfs), 0);
		if (!(vfs.f_flag & ST_NOATIME))
			ck_assert_int_ne((long long)st.st_atime, 1000000);
	}
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/* tk_file_trusted() judges st, the file as it was opened, and its walk of
 * the path must end on that same file: a name swapped in between (two
 * names of another user in a sticky directory, say) is refused. */
START_TEST(file_trusted_same_file)
{
	char dir[] = "/tmp/tk-common-XXXXXX", a[64], b[64], err[512];
	struct stat sa;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	(void)snprintf(a, sizeof(a), "%s/a", dir);
	(void)snprintf(b, sizeof(b), "%s/b", dir);
	write_file(a, 10);
	write_file(b, 10);
	ck_assert_int_eq(chmod(a, 0644), 0);
	ck_assert_int_eq(chmod(b, 0644), 0);
	ck_assert_int_eq(stat(a, &sa), 0);
	ck_assert_int_eq(tk_file_trusted(a, &sa, err, sizeof(err)), 0);
	ck_assert_int_eq(tk_file_trusted(b, &sa, err, sizeof(err)), -EAGAIN);
	ck_assert_ptr_nonnull(strstr(err, "changed while it was checked"));
	/* The same through a trailing "/." on a directory. */
	{
		char dot[80];
		struct stat sd;

		(void)snprintf(dot, sizeof(dot), "%s/.", dir);
		ck_assert_int_eq(stat(dir, &sd), 0);
		ck_assert_int_eq(tk_file_trusted(dot, &sd, err, sizeof(err)), 0);
		ck_assert_int_eq(tk_file_trusted(dot, &sa, err, sizeof(err)), -EAGAIN);
	}
	ck_assert_int_eq(unlink(a), 0);
	ck_assert_int_eq(unlink(b), 0);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

START_TEST(file_read_bounded)
{
	char dir[] = "/tmp/tk-common-XXXXXX", path[64], err[256], *buf = NULL;
	size_t len = 0;
	struct stat st;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	(void)snprintf(path, sizeof(path), "%s/f", dir);

	write_file(path, 1000);
	ck_assert_int_eq(tk_file_read("test file", path, 1000, 0, &buf, &len, &st, err, sizeof(err)), 0);
	ck_assert_uint_eq(len, 1000);
	ck_assert_int_eq(buf[len], '\0');
	ck_assert_int_eq(buf[27], 'b');
	tk_file_free(buf, len);

	/* One byte over the limit is refused, not cut. */
	buf = NULL;
	ck_assert_int_eq(tk_file_read("test file", path, 999, 0, &buf, &len, NULL, err, sizeof(err)),
			 -EFBIG);
	ck_assert_ptr_null(buf);
	ck_assert_ptr_nonnull(strstr(err, "larger than 999 bytes"));

	/* Empty files are fine. */
	write_file(path, 0);
	ck_assert_int_eq(tk_file_read("test file", path, 10, 0, &buf, &len, NULL, err, sizeof(err)), 0);
	ck_assert_uint_eq(len, 0);
	tk_file_free(buf, len);

	/* A FIFO is refused without blocking, a symbolic link with O_NOFOLLOW. */
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	buf = NULL;
	ck_assert_int_eq(tk_file_read("PIN file", path, 10, 0, &buf, &len, NULL, err, sizeof(err)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "not a regular file"));
	ck_assert_int_eq(unlink(path), 0);
	write_file(path, 5);
	{
		char link[80];

		(void)snprintf(link, sizeof(link), "%s/l", dir);
		ck_assert_int_eq(symlink(path, link), 0);
		ck_assert_int_eq(tk_file_read("PIN file", link, 10, O_NOFOLLOW, &buf, &len, NULL, err,
					      sizeof(err)),
				 -ELOOP);
		ck_assert_int_eq(unlink(link), 0);
	}
	ck_assert_int_eq(tk_file_read("x", "/nonexistent/x", 10, 0, &buf, &len, NULL, err, sizeof(err)),
			 -ENOENT);
	ck_assert_ptr_null(buf);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

START_TEST(printable)
{
	char s[] = "ok \n\r\x1b[31m\x7f\xc3\xa9 end";

	tk_printable(s);
	ck_assert_str_eq(s, "ok ???[31m??? end");
	s[0] = '\0';
	tk_printable(s);
	ck_assert_str_eq(s, "");
}
END_TEST

START_TEST(parse_ulong)
{
	unsigned long v = 7;

	ck_assert_int_eq(tk_parse_ulong("0", 0, 10, &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(tk_parse_ulong("65535", 0, 65535, &v), 0);
	ck_assert_uint_eq(v, 65535);
	v = 7;
	/* Out of range, signs, spaces, other bases, trailing text, overflow:
	 * refused, *ret untouched. */
	ck_assert_int_eq(tk_parse_ulong("65536", 0, 65535, &v), -EINVAL);
	ck_assert_int_eq(tk_parse_ulong("0", 1, 10, &v), -EINVAL);
	ck_assert_int_eq(tk_parse_ulong("-1", 0, ULONG_MAX, &v), -EINVAL);
	ck_assert_int_eq(tk_parse_ulong("+1", 0, 10, &v), -EINVAL);
	ck_assert_int_eq(tk_parse_ulong(" 1", 0, 10, &v), -EINVAL);
	ck_assert_int_eq(tk_parse_ulong("1 ", 0, 10, &v), -EINVAL);
	ck_assert_int_eq(tk_parse_ulong("0x10", 0, 100, &v), -EINVAL);
	ck_assert_int_eq(tk_parse_ulong("", 0, 10, &v), -EINVAL);
	ck_assert_int_eq(tk_parse_ulong(NULL, 0, 10, &v), -EINVAL);
	ck_assert_int_eq(tk_parse_ulong("99999999999999999999999", 0, ULONG_MAX, &v), -EINVAL);
	ck_assert_uint_eq(v, 7);
}
END_TEST

START_TEST(namelist_validate)
{
	char many[300] = "";

	ck_assert_int_eq(tk_namelist_validate("a.test,b.test"), 0);
	ck_assert_int_eq(tk_namelist_validate("*.example.test"), 0);
	ck_assert_int_eq(tk_namelist_validate("a.test,*.example.test"), 0);
	ck_assert_int_eq(tk_namelist_is_multi("a.test"), 0);
	ck_assert_int_eq(tk_namelist_is_multi("a.test,b.test"), 1);
	ck_assert_int_eq(tk_namelist_is_multi("*.b.test"), 1);
	/* Empty entries, spaces, users, '*' anywhere but a whole first label. */
	ck_assert_int_eq(tk_namelist_validate(""), -EINVAL);
	ck_assert_int_eq(tk_namelist_validate(NULL), -EINVAL);
	ck_assert_int_eq(tk_namelist_validate("a.test,"), -EINVAL);
	ck_assert_int_eq(tk_namelist_validate(",a.test"), -EINVAL);
	ck_assert_int_eq(tk_namelist_validate("a.test,,b.test"), -EINVAL);
	ck_assert_int_eq(tk_namelist_validate("a.test, b.test"), -EINVAL);
	ck_assert_int_eq(tk_namelist_validate("alice@a.test,b.test"), -EINVAL);
	ck_assert_int_eq(tk_namelist_validate("*"), -EINVAL);
	ck_assert_int_eq(tk_namelist_validate("*."), -EINVAL);
	ck_assert_int_eq(tk_namelist_validate("*example.test"), -EINVAL);
	ck_assert_int_eq(tk_namelist_validate("x.*.test"), -EINVAL);
	ck_assert_int_eq(tk_namelist_validate("*.*.test"), -EINVAL);
	ck_assert_int_eq(tk_namelist_validate("a*.test"), -EINVAL);
	/* At most TK_NAMELIST_MAX entries. */
	for (unsigned i = 0; i < TK_NAMELIST_MAX; i++)
		strcat(many, i ? ",a.t" : "a.t");
	ck_assert_int_eq(tk_namelist_validate(many), 0);
	strcat(many, ",a.t");
	ck_assert_int_eq(tk_namelist_validate(many), -EINVAL);
}
END_TEST

START_TEST(namelist_entries)
{
	char e[16] = "keep";

	ck_assert_int_eq(tk_namelist_entry("a.test,*.b.test", 0, e, sizeof(e)), 0);
	ck_assert_str_eq(e, "a.test");
	ck_assert_int_eq(tk_namelist_entry("a.test,*.b.test", 1, e, sizeof(e)), 0);
	ck_assert_str_eq(e, "*.b.test");
	ck_assert_int_eq(tk_namelist_entry("a.test,*.b.test", 2, e, sizeof(e)), -ENOENT);
	ck_assert_int_eq(tk_namelist_entry("a-rather-long.test", 0, e, 8), -ERANGE);
	ck_assert_str_eq(e, "*.b.test");
}
END_TEST

START_TEST(namelist_match)
{
	ck_assert_int_eq(tk_namelist_entry_match("a.example.test", "a.example.test"), 2);
	ck_assert_int_eq(tk_namelist_entry_match("a.example.test", "A.Example.TEST"), 2);
	ck_assert_int_eq(tk_namelist_entry_match("*.example.test", "a.example.test"), 1);
	ck_assert_int_eq(tk_namelist_entry_match("*.example.test", "x.a.Example.test"), 1);
	/* Not the domain itself, not a name that only ends in the same text,
	 * never a user. */
	ck_assert_int_eq(tk_namelist_entry_match("*.example.test", "example.test"), 0);
	ck_assert_int_eq(tk_namelist_entry_match("*.example.test", "evil-example.test"), 0);
	ck_assert_int_eq(tk_namelist_entry_match("*.example.test", "alice@a.example.test"), 0);
	ck_assert_int_eq(tk_namelist_entry_match("*.ample.test", "a.example.test"), 0);
	ck_assert_int_eq(tk_namelist_entry_match("a.example.test", "b.example.test"), 0);
}
END_TEST

int main(void)
{
	const TTest *tests[] = { flags_round_trip, flags_negative, file_read_bounded, file_read_judged_first, file_trusted_same_file, printable, parse_ulong,
				 namelist_validate, namelist_entries, namelist_match, NULL };

	return tkt_run("common", "/common", NULL, NULL, 0, tests);
}
