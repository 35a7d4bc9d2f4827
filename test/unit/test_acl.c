/* Unit tests for policy/: the ACL parser, the matcher and the decisions.
 * Negative cases first-class: every parse error must name the right line,
 * and every matcher test pairs a "must match" with near misses that a
 * sloppy suffix or prefix comparison would let through. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/acl.h"
#include "common/util.h"
#include "policy/acl_internal.h"
#include "test/unit/check-main.h"

#define NAME "<test>"

static char err[8192];

static struct acl *load_ok(const char *text)
{
	struct acl *acl = NULL;
	int r = acl_load_buffer(NAME, text, strlen(text), &acl, err, sizeof(err));

	ck_assert_msg(r == 0, "load failed (%d): %.300s\n--- input:\n%.200s", r, err, text);
	ck_assert_ptr_nonnull(acl);
	return acl;
}

/* Load text that must fail with -EINVAL; the first error must be on line
 * `line` and mention `needle`. */
static void load_bad(const char *text, unsigned line, const char *needle)
{
	struct acl *acl = (struct acl *)0x1; /* must stay untouched */
	char prefix[64];
	int r = acl_load_buffer(NAME, text, strlen(text), &acl, err, sizeof(err));

	ck_assert_msg(r == -EINVAL, "expected -EINVAL, got %d (err '%.300s') for:\n%.200s", r, err,
		      text);
	ck_assert_ptr_eq(acl, (struct acl *)0x1);
	snprintf(prefix, sizeof(prefix), NAME ":%u: ", line);
	ck_assert_msg(!strncmp(err, prefix, strlen(prefix)), "expected '%s...', got '%.300s'", prefix,
		      err);
	ck_assert_msg(strstr(err, needle) != NULL, "'%s' not in error '%.300s'", needle, err);
}

static struct acl_subject subj(uid_t uid, gid_t gid)
{
	struct acl_subject s = { .uid = uid, .gid = gid };
	return s;
}

static struct acl_decision check(const struct acl *acl, const struct acl_subject *s,
				 const char *myname, enum acl_role role, uint32_t flags)
{
	struct acl_request req = { .subject = s, .myname = myname, .role = role, .flags = flags };
	struct acl_decision d;
	int r;

	memset(&d, 0xa5, sizeof(d));
	r = acl_check(acl, &req, &d);
	ck_assert_msg(r == 0, "acl_check(%s) = %d", myname, r);
	return d;
}

static int allowed(const struct acl *acl, const struct acl_subject *s, const char *myname,
		   enum acl_role role, uint32_t flags)
{
	return check(acl, s, myname, role, flags).allowed;
}

/* Allowed as uid 1000 client without flags. */
static int ok1000(const struct acl *acl, const char *myname)
{
	struct acl_subject s = subj(1000, 1000);
	return allowed(acl, &s, myname, ACL_ROLE_CLIENT, 0);
}

/* Check many names at once as subject s in role: `spec` is a list of names
 * separated by spaces, each prefixed with '+' (must be allowed) or '-' (must
 * be denied).  One line per case keeps the tables readable. */
static void expect_as(const struct acl *acl, const struct acl_subject *s, enum acl_role role,
		      const char *spec)
{
	char buf[1024];
	char *save = NULL;

	ck_assert_uint_lt(strlen(spec), sizeof(buf));
	memcpy(buf, spec, strlen(spec) + 1);
	for (char *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
		ck_assert_msg(t[0] == '+' || t[0] == '-', "bad spec item '%s'", t);
		ck_assert_msg(allowed(acl, s, t + 1, role, 0) == (t[0] == '+'), "%s: expected %s",
			      t + 1, t[0] == '+' ? "allowed" : "denied");
	}
}

/* Check one name for several values of one field of s (s->unit, s->exe):
 * `vals` is NULL-terminated, each value prefixed with '+' (allowed) or '-'
 * (denied).  The field is left at the last value. */
static void expect_field(const struct acl *acl, struct acl_subject *s, const char **field,
			 enum acl_role role, const char *name, const char *const *vals)
{
	for (; *vals; vals++) {
		*field = *vals + 1;
		ck_assert_msg(allowed(acl, s, name, role, 0) == (**vals == '+'), "%s as %s: expected %s",
			      name, *field, **vals == '+' ? "allowed" : "denied");
	}
}

/* The same as uid 1000 client without flags. */
static void expect1000(const struct acl *acl, const char *spec)
{
	struct acl_subject s = subj(1000, 1000);

	expect_as(acl, &s, ACL_ROLE_CLIENT, spec);
}

START_TEST(empty_default_deny)
{
	const char *texts[] = { "", "\n\n", "# nothing\n   \t\n# here", "\r\n" };
	struct acl_subject s = subj(0, 0);

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct acl *acl = load_ok(texts[i]);
		struct acl_decision d = check(acl, &s, "example.test", ACL_ROLE_SERVER, 0);

		ck_assert_int_eq(d.allowed, 0);
		ck_assert_ptr_null(d.rule);
		ck_assert_int_eq(d.action, ACL_ACTION_DENY);
		ck_assert_uint_eq(d.line, 0);
		ck_assert_str_eq(d.where, "default deny");
		ck_assert_int_eq(d.map_user, 0);
		ck_assert_uint_eq(acl_rule_count(acl), 0);
		acl_unref(acl);
	}
	/* Also with a NULL buffer of length 0. */
	{
		struct acl *acl = NULL;
		ck_assert_int_eq(acl_load_buffer(NAME, NULL, 0, &acl, err, sizeof(err)), 0);
		ck_assert_uint_eq(acl_rule_count(acl), 0);
		acl_unref(acl);
	}
}
END_TEST

START_TEST(parse_example)
{
	static const char text[] =
		"# action  subject            myname              roles          options\n"
		"allow     user:root          server.example.test server\n"
		"allow     group:root         *.example.test      client,server\n"
		"allow     uid:1000           @example.test       client  flags=skip-authorization,no-cache-read\n"
		"allow     unit:nginx.service www.example.test    server  peers=*@example.test,partner.example.org\n"
		"allow     exe:/usr/bin/myapp alice@example.test  both    map-user   # trailing comment\n"
		"deny      user:daemon        *                   any\n"
		"\tmap alice@example.test daemon\n"
		"map *@example.test %u\n";
	struct acl *acl = load_ok(text);
	char buf[512];

	ck_assert_uint_eq(acl_rule_count(acl), 6);
	ck_assert_uint_eq(acl_map_count(acl), 2);

	ck_assert_int_eq(acl_rule_format(acl, 0, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, NAME ":2: allow user:root server.example.test server # uid=0");
	ck_assert_int_eq(acl_rule_format(acl, 1, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, NAME ":3: allow group:root *.example.test client,server # gid=0");
	ck_assert_int_eq(acl_rule_format(acl, 2, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, NAME ":4: allow uid:1000 @example.test client "
			      "flags=skip-authorization,no-cache-read");
	ck_assert_int_eq(acl_rule_format(acl, 3, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, NAME ":5: allow unit:nginx.service www.example.test server "
			      "peers=*@example.test,partner.example.org");
	ck_assert_int_eq(acl_rule_format(acl, 4, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, NAME ":6: allow exe:/usr/bin/myapp alice@example.test client,server "
			      "map-user");
	ck_assert_int_eq(acl_rule_format(acl, 5, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, NAME ":7: deny user:daemon * client,server # uid=1");
	ck_assert_int_eq(acl_rule_format(acl, 6, buf, sizeof(buf)), -ENOENT);

	ck_assert_int_eq(acl_map_format(acl, 0, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, NAME ":8: map alice@example.test daemon");
	ck_assert_int_eq(acl_map_format(acl, 1, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, NAME ":9: map *@example.test %u");
	ck_assert_int_eq(acl_map_format(acl, 2, buf, sizeof(buf)), -ENOENT);

	/* Too small: error, but still a NUL-terminated prefix. */
	memset(buf, 'x', sizeof(buf));
	ck_assert_int_eq(acl_rule_format(acl, 0, buf, 10), -ENOBUFS);
	ck_assert_uint_lt(strlen(buf), 10);
	ck_assert_int_eq(acl_rule_format(acl, 0, buf, 0), -EINVAL);
	acl_unref(acl);
}
END_TEST

/* One row per parse error kind, each on a different line so that an
 * off-by-one in line counting shows. */
static const struct {
	const char *text;
	unsigned line;
	const char *needle;
} bad[] = {
	{ "frobnicate any * any\n", 1, "unknown keyword 'frobnicate'" },
	{ "# c\nAllow any * any\n", 2, "unknown keyword 'Allow'" },
	{ "\n\nallow any *\n", 3, "expected: allow SUBJECT MYNAME ROLES" },
	{ "deny any * any map-user\n", 1, "deny rules take no options" },
	{ "map a@example.test\n", 1, "expected: map PATTERN" },
	{ "map a@example.test root extra\n", 1, "expected: map PATTERN" },
	/* subjects */
	{ "#\n#\n#\nallow person:root * any\n", 4, "unknown subject 'person:root'" },
	{ "allow root * any\n", 1, "unknown subject 'root'" },
	{ "allow user: * any\n", 1, "empty value in subject" },
	{ "\nallow user:tlskey-no-such-user-x * any\n", 2, "unknown user 'tlskey-no-such-user-x'" },
	{ "\nallow group:tlskey-no-such-group-x * any\n", 2,
	  "unknown group 'tlskey-no-such-group-x'" },
	{ "allow uid:root * any\n", 1, "invalid numeric user id 'root'" },
	{ "allow uid:12a * any\n", 1, "invalid numeric user id" },
	{ "allow uid:-1 * any\n", 1, "invalid numeric user id" },
	{ "allow uid:+1 * any\n", 1, "invalid numeric user id" },
	{ "allow uid:4294967295 * any\n", 1, "invalid numeric user id" },
	{ "allow uid:99999999999 * any\n", 1, "invalid numeric user id" },
	{ "allow gid:x * any\n", 1, "invalid numeric group id" },
	{ "allow unit:nginx * any\n", 1, "type suffix" },
	{ "allow unit:ng/inx.service * any\n", 1, "invalid character in unit name" },
	{ "allow unit:[ab].service * any\n", 1, "invalid character in unit name" },
	{ "allow exe:usr/bin/x * any\n", 1, "must be absolute" },
	{ "allow exe:/usr/bin/ * any\n", 1, "must name a file" },
	{ "allow exe:/usr//bin/x * any\n", 1, "canonical" },
	{ "allow exe:/usr/./bin/x * any\n", 1, "canonical" },
	{ "allow exe:/usr/../bin/x * any\n", 1, "canonical" },
	{ "allow exe:/usr/bin/.. * any\n", 1, "canonical" },
	/* combined subjects */
	{ "allow any+uid:0 * any\n", 1, "'any' cannot be combined" },
	{ "\nallow uid:0+user:root * any\n", 2, "more than one user:/uid: part" },
	{ "allow gid:0+group:root * any\n", 1, "more than one group:/gid: part" },
	{ "allow exe:/a+exe:/b * any\n", 1, "more than one exe: part" },
	{ "allow uid:0+unit:a.service+unit:b.service * any\n", 1, "more than one unit: part" },
	{ "allow uid:0+exe:usr/bin/x * any\n", 1, "must be absolute" },
	{ "allow uid:0+gid:x * any\n", 1, "invalid numeric group id" },
	{ "allow uid:0+user: * any\n", 1, "empty value in subject" },
	/* myname patterns */
	{ "\nallow any *foo.test any\n", 2, "invalid myname pattern '*foo.test'" },
	{ "allow any a@@b any\n", 1, "invalid myname pattern 'a@@b'" },
	{ "allow any foo.*.test any\n", 1, "invalid myname pattern" },
	{ "allow any *.*.test any\n", 1, "'*' is only allowed as the first label" },
	{ "allow any *. any\n", 1, "invalid myname pattern" },
	{ "allow any @ any\n", 1, "invalid myname pattern" },
	{ "allow any *@ any\n", 1, "invalid myname pattern" },
	{ "allow any @a@b.test any\n", 1, "invalid myname pattern" },
	{ "allow any a..b any\n", 1, "invalid myname pattern" },
	{ "allow any .a.b any\n", 1, "invalid myname pattern" },
	{ "allow any a.b. any\n", 1, "invalid myname pattern" },
	{ "allow any al*ce@example.test any\n", 1, "invalid myname pattern" },
	{ "allow any *@*.example.test.* any\n", 1, "invalid myname pattern" },
	{ "allow any *@* any\n", 1, "invalid myname pattern" },
	{ "allow any ** any\n", 1, "invalid myname pattern" },
	/* roles */
	{ "allow any * clients\n", 1, "unknown role 'clients'" },
	{ "allow any * client,client\n", 1, "duplicate role 'client'" },
	{ "allow any * client,\n", 1, "empty item in role list" },
	{ "allow any * ,server\n", 1, "empty item in role list" },
	{ "allow any * Client\n", 1, "unknown role 'Client'" },
	/* options */
	{ "allow any * any foo=bar\n", 1, "unknown option 'foo'" },
	{ "allow any * any map-users\n", 1, "unknown option 'map-users'" },
	{ "allow any * any peers\n", 1, "unknown option 'peers'" },
	{ "map * -\nallow any * any map-user map-user\n", 2, "duplicate option 'map-user'" },
	{ "allow any * any flags=no-cache-read flags=no-cache-write\n", 1,
	  "duplicate option 'flags'" },
	{ "allow any * any peers=* peers=*\n", 1, "duplicate option 'peers'" },
	{ "allow any * any flags=skip-auth\n", 1, "unknown flag 'skip-auth'" },
	{ "allow any * any flags=no-cache-read,no-cache-read\n", 1, "duplicate flag" },
	/* Known TLSKEY_FLAG_* names that the ACL does not grant are unknown here. */
	{ "allow any * any flags=no-local-cert\n", 1, "unknown flag 'no-local-cert'" },
	{ "allow any * any flags=skip-authorization,no-require-peer-cert\n", 1,
	  "unknown flag 'no-require-peer-cert'" },
	{ "allow any * any flags=none\n", 1, "unknown flag 'none'" },
	{ "allow any * any flags=\n", 1, "empty item in flags list" },
	{ "allow any * any peers=\n", 1, "empty item in peers list" },
	{ "allow any * any peers=a.test,,b.test\n", 1, "empty item in peers list" },
	{ "allow any * any peers=*bad.test\n", 1, "invalid peer pattern '*bad.test'" },
	/* map lines */
	{ "\nmap *.example.test %u\n", 2, "'%u' needs a user pattern" },
	{ "map * %u\n", 1, "'%u' needs a user pattern" },
	{ "map example.test %u\n", 1, "'%u' needs a user pattern" },
	{ "map a@example.test tlskey-no-such-user-x\n", 1, "unknown user 'tlskey-no-such-user-x'" },
	{ "map a@example.test ../root\n", 1, "invalid local user name" },
	{ "map a@example.test 1000\n", 1, "invalid local user name" },
	{ "map a@@example.test root\n", 1, "invalid map pattern" },
	{ "allow any * any\nallow any * any map-user\n", 2, "map-user, but the ACL has no map lines" },
	/* lexical */
	{ "allow any * any\x01\n", 1, "control character 0x01" },
	{ "# fine\nallow\x7f any * any\n", 2, "control character 0x7f" },
	{ "allow any * any a b c d e f g h i j k l m\n", 1, "more than 16 fields" },
};

START_TEST(parse_errors)
{
	load_bad(bad[_i].text, bad[_i].line, bad[_i].needle);
}
END_TEST

START_TEST(parse_error_every_line_reported)
{
	static const char text[] = "allow any * any\n"
				   "allow nobody * any\n"
				   "allow any * any\n"
				   "deny any *x any\n";
	load_bad(text, 2, "unknown subject 'nobody'");
	ck_assert_msg(strstr(err, "\n" NAME ":4: invalid myname pattern '*x'") != NULL,
		      "second error missing: '%s'", err);
}
END_TEST

START_TEST(parse_nul_byte)
{
	static const char text[] = "allow any * any\nallow any *\0x any\n";
	struct acl *acl = NULL;

	ck_assert_int_eq(acl_load_buffer(NAME, text, sizeof(text) - 1, &acl, err, sizeof(err)),
			 -EINVAL);
	ck_assert_ptr_null(acl);
	ck_assert_msg(!strncmp(err, NAME ":2: control character 0x00",
			       strlen(NAME ":2: control character 0x00")),
		      "%s", err);
}
END_TEST

START_TEST(parse_line_length)
{
	/* Exactly ACL_LINE_MAX bytes is fine, one more is not, and the error
	 * names the long line, not the one after it. */
	char *text = malloc(3 * ACL_LINE_MAX);
	size_t n;

	ck_assert_ptr_nonnull(text);
	strcpy(text, "allow any * any\n#");
	n = strlen(text);
	memset(text + n, 'c', ACL_LINE_MAX - 1);
	strcpy(text + n + ACL_LINE_MAX - 1, "\nallow any * any\n");
	acl_unref(load_ok(text));

	strcpy(text, "allow any * any\n#");
	memset(text + n, 'c', ACL_LINE_MAX);
	strcpy(text + n + ACL_LINE_MAX, "\nallow any * any\n");
	load_bad(text, 2, "line longer than 4096 bytes");

	/* Also without a trailing newline. */
	text[n + ACL_LINE_MAX] = '\0';
	load_bad(text, 2, "line longer than 4096 bytes");
	free(text);
}
END_TEST

START_TEST(parse_crlf_and_no_final_newline)
{
	struct acl *acl = load_ok("allow uid:1000 a.example.test any\r\nallow uid:1000 "
				  "b.example.test any");

	ck_assert_uint_eq(acl_rule_count(acl), 2);
	ck_assert_int_eq(ok1000(acl, "a.example.test"), 1);
	ck_assert_int_eq(ok1000(acl, "b.example.test"), 1);
	acl_unref(acl);
}
END_TEST

START_TEST(parse_limits)
{
	static const char line[] = "deny any * any\n";
	size_t ll = sizeof(line) - 1, n = ACL_ENTRIES_MAX + 1;
	char *text = malloc((n + 1) * ll + 1);
	struct acl *acl = NULL;
	int r;

	ck_assert_ptr_nonnull(text);
	for (size_t i = 0; i < n; i++)
		memcpy(text + i * ll, line, ll);

	r = acl_load_buffer(NAME, text, (n - 1) * ll, &acl, err, sizeof(err));
	ck_assert_msg(r == 0, "%s", err);
	ck_assert_uint_eq(acl_rule_count(acl), ACL_ENTRIES_MAX);
	acl_unref(acl);

	acl = NULL;
	r = acl_load_buffer(NAME, text, n * ll, &acl, err, sizeof(err));
	ck_assert_int_eq(r, -E2BIG);
	ck_assert_ptr_null(acl);
	ck_assert_msg(strstr(err, NAME ":65537: more than 65536 entries") == err, "%s", err);

	/* The first error decides the return code, even when a limit follows. */
	memcpy(text + n * ll, line, ll);
	text[1] = 'x';
	r = acl_load_buffer(NAME, text, (n + 1) * ll, &acl, err, sizeof(err));
	ck_assert_int_eq(r, -EINVAL);
	ck_assert_ptr_null(acl);
	ck_assert_msg(strstr(err, NAME ":1: unknown keyword 'dxny'") == err, "%s", err);
	ck_assert_msg(strstr(err, "\n" NAME ":65538: more than 65536 entries") != NULL, "%s", err);
	free(text);

	/* The size limit applies to buffers too. */
	text = calloc(1, ACL_FILE_MAX + 1);
	ck_assert_ptr_nonnull(text);
	memset(text, '\n', ACL_FILE_MAX + 1);
	ck_assert_int_eq(acl_load_buffer(NAME, text, ACL_FILE_MAX, &acl, err, sizeof(err)), 0);
	acl_unref(acl);
	acl = NULL;
	ck_assert_int_eq(acl_load_buffer(NAME, text, ACL_FILE_MAX + 1, &acl, err, sizeof(err)),
			 -EFBIG);
	ck_assert_ptr_null(acl);
	free(text);
}
END_TEST

START_TEST(parse_peers_limit)
{
	char text[ACL_LINE_MAX];
	size_t n;

	strcpy(text, "allow any * any peers=a.test");
	for (unsigned i = 1; i < ACL_PEERS_MAX; i++)
		strcat(text, ",a.test");
	n = strlen(text);
	strcpy(text + n, "\n");
	acl_unref(load_ok(text));
	strcpy(text + n, ",a.test\n");
	load_bad(text, 1, "more than 64 patterns");
}
END_TEST

START_TEST(bad_arguments)
{
	struct acl *acl = NULL;
	char small[4];

	ck_assert_int_eq(acl_load_buffer(NULL, "", 0, &acl, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(acl_load_buffer(NAME, NULL, 3, &acl, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(acl_load_buffer(NAME, "", 0, NULL, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(acl_load_file(NULL, &acl, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(acl);
	/* A tiny or absent error buffer is fine. */
	ck_assert_int_eq(acl_load_buffer(NAME, "bogus", 5, &acl, NULL, 0), -EINVAL);
	ck_assert_int_eq(acl_load_buffer(NAME, "bogus", 5, &acl, small, sizeof(small)), -EINVAL);
	ck_assert_uint_eq(strlen(small), 3);
	ck_assert_int_eq(acl_load_buffer(NAME, "bogus", 5, &acl, small, 1), -EINVAL);
	ck_assert_str_eq(small, "");
	ck_assert_ptr_null(acl);
	acl_unref(NULL);
	ck_assert_ptr_null(acl_ref(NULL));
	ck_assert_uint_eq(acl_rule_count(NULL), 0);
}
END_TEST

START_TEST(pattern_exact)
{
	struct acl *acl = load_ok("allow uid:1000 server.example.test any\n"
				  "allow uid:1000 alice@example.test any\n");

	/* Domains are case-insensitive, local parts case-sensitive. */
	expect1000(acl, "+server.example.test +SERVER.Example.TEST +alice@example.test "
			  "+alice@EXAMPLE.test -Alice@example.test -alic@example.test "
			  "-alicee@example.test -xalice@example.test -alice@server.example.test "
			  "-example.test -a.server.example.test -server.example.tes "
			  "-server.example.test.evil -xserver.example.test -server@example.test");
	acl_unref(acl);
}
END_TEST

START_TEST(pattern_wildcard_domain)
{
	struct acl *acl = load_ok("allow uid:1000 *.example.test any\n");

	/* Any depth, strictly below, on a label boundary, domains only. */
	expect1000(acl, "+a.example.test +www.example.test +a.b.c.example.test "
			  "+WWW.EXAMPLE.TEST -example.test -evil-example.test -xexample.test "
			  "-alice@x.example.test -alice@example.test -a.example.test.evil "
			  "-a.example.testx -test");
	acl_unref(acl);
}
END_TEST

START_TEST(pattern_users_at_domain)
{
	const char *forms[] = { "allow uid:1000 @example.test any\n",
				"allow uid:1000 *@example.test any\n" };

	for (size_t i = 0; i < 2; i++) {
		struct acl *acl = load_ok(forms[i]);

		/* Users only. */
		expect1000(acl, "+alice@example.test +bob@Example.Test -alice@sub.example.test "
				  "-alice@evil-example.test -alice@example.test.evil -example.test "
				  "-x.example.test");
		acl_unref(acl);
	}
}
END_TEST

START_TEST(pattern_users_below_domain)
{
	struct acl *acl = load_ok("allow uid:1000 *@*.example.test any\n");

	expect1000(acl, "+alice@sub.example.test +alice@a.b.example.test -alice@example.test "
			  "-alice@evil-example.test -sub.example.test");
	acl_unref(acl);
}
END_TEST

START_TEST(pattern_any)
{
	struct acl *acl = load_ok("allow uid:1000 * any\n");

	expect1000(acl, "+a.example.test +alice@example.test +localhost");
	acl_unref(acl);
}
END_TEST

START_TEST(pattern_direct)
{
	/* The pattern parser itself: empty and overlong input. */
	struct acl_pattern p;
	const char *reason = NULL;
	char longname[300];

	ck_assert_int_eq(acl_pattern_parse("", 0, &p, &reason), -EINVAL);
	ck_assert_str_eq(reason, "empty identity pattern");
	memset(longname, 'a', sizeof(longname));
	ck_assert_int_eq(acl_pattern_parse(longname, sizeof(longname), &p, &reason), -EINVAL);
	ck_assert_int_eq(acl_pattern_parse("a\0b", 3, &p, &reason), -EINVAL);
	ck_assert_int_eq(acl_pattern_parse("a.test", 6, &p, &reason), 0);
	ck_assert_int_eq(p.kind, ACL_PATTERN_EXACT);
	ck_assert_int_eq(acl_pattern_match(&p, "A.TEST"), 1);
	acl_pattern_done(&p);
	acl_pattern_done(NULL);
}
END_TEST

START_TEST(first_match_order)
{
	struct acl_subject s = subj(1000, 1000);
	struct acl *acl;
	struct acl_decision d;

	/* deny before allow: the deny decides. */
	acl = load_ok("# header\n"
		      "deny  uid:1000 secret.example.test any\n"
		      "allow uid:1000 *.example.test any\n");
	d = check(acl, &s, "secret.example.test", ACL_ROLE_CLIENT, 0);
	ck_assert_int_eq(d.allowed, 0);
	ck_assert_int_eq(d.action, ACL_ACTION_DENY);
	ck_assert_ptr_nonnull(d.rule);
	ck_assert_uint_eq(d.line, 2);
	ck_assert_str_eq(d.where, NAME ":2");
	d = check(acl, &s, "www.example.test", ACL_ROLE_CLIENT, 0);
	ck_assert_int_eq(d.allowed, 1);
	ck_assert_int_eq(d.action, ACL_ACTION_ALLOW);
	ck_assert_str_eq(d.where, NAME ":3");
	acl_unref(acl);

	/* allow before deny: the allow decides. */
	acl = load_ok("allow uid:1000 *.example.test any\n"
		      "deny  uid:1000 secret.example.test any\n");
	d = check(acl, &s, "secret.example.test", ACL_ROLE_CLIENT, 0);
	ck_assert_int_eq(d.allowed, 1);
	ck_assert_str_eq(d.where, NAME ":1");
	acl_unref(acl);

	/* A non-matching deny (other uid) does not stop evaluation. */
	acl = load_ok("deny  uid:1001 * any\n"
		      "allow uid:1000 * any\n"
		      "deny  any * any\n");
	d = check(acl, &s, "x.test", ACL_ROLE_SERVER, 0);
	ck_assert_int_eq(d.allowed, 1);
	ck_assert_str_eq(d.where, NAME ":2");
	s.uid = 1002;
	d = check(acl, &s, "x.test", ACL_ROLE_SERVER, 0);
	ck_assert_int_eq(d.allowed, 0);
	ck_assert_str_eq(d.where, NAME ":3");
	acl_unref(acl);
}
END_TEST

START_TEST(roles)
{
	struct acl_subject s = subj(1000, 1000);
	struct acl *acl = load_ok("allow uid:1000 c.test client\n"
				  "allow uid:1000 s.test server\n"
				  "allow uid:1000 b.test both\n"
				  "allow uid:1000 a.test any\n"
				  "allow uid:1000 cs.test server,client\n");

	ck_assert_int_eq(allowed(acl, &s, "c.test", ACL_ROLE_CLIENT, 0), 1);
	expect_as(acl, &s, ACL_ROLE_SERVER, "-c.test +s.test");
	ck_assert_int_eq(allowed(acl, &s, "s.test", ACL_ROLE_CLIENT, 0), 0);
	for (int role = ACL_ROLE_CLIENT; role <= ACL_ROLE_SERVER; role++) {
		expect_as(acl, &s, role, "+b.test +a.test +cs.test");
	}
	ck_assert_str_eq(acl_role_name(ACL_ROLE_CLIENT), "client");
	ck_assert_str_eq(acl_role_name(ACL_ROLE_SERVER), "server");
	ck_assert_str_eq(acl_role_name((enum acl_role)3), "invalid");
	acl_unref(acl);
}
END_TEST

START_TEST(subject_user_and_group)
{
	gid_t groups[] = { 5, 1234, 7 };
	struct acl_subject s = subj(1000, 1000);
	struct acl *acl = load_ok("allow gid:1234 g.test any\n"
				  "allow group:1234 g2.test any\n"
				  "allow user:root r.test any\n"
				  "allow user:1000 u.test any\n"
				  "allow group:root gr.test any\n");

	/* Not in the group at all. */
	ck_assert_int_eq(allowed(acl, &s, "g.test", ACL_ROLE_CLIENT, 0), 0);
	/* Supplementary group. */
	s.groups = groups;
	s.n_groups = 3;
	expect_as(acl, &s, ACL_ROLE_CLIENT, "+g.test +g2.test");
	/* Only the first n_groups entries count. */
	s.n_groups = 1;
	ck_assert_int_eq(allowed(acl, &s, "g.test", ACL_ROLE_CLIENT, 0), 0);
	s.groups = NULL;
	s.n_groups = 0;
	/* Primary group. */
	s.gid = 1234;
	ck_assert_int_eq(allowed(acl, &s, "g.test", ACL_ROLE_CLIENT, 0), 1);
	/* A uid equal to the gid is not the group. */
	s = subj(1234, 1000);
	ck_assert_int_eq(allowed(acl, &s, "g.test", ACL_ROLE_CLIENT, 0), 0);

	s = subj(0, 1000);
	expect_as(acl, &s, ACL_ROLE_CLIENT, "+r.test -gr.test");
	s = subj(1000, 0);
	expect_as(acl, &s, ACL_ROLE_CLIENT, "-r.test +gr.test +u.test");
	acl_unref(acl);
}
END_TEST

START_TEST(subject_unit_and_exe)
{
	struct acl_subject s = subj(1000, 1000);
	struct acl *acl = load_ok("allow unit:nginx.service www.test server\n"
				  "allow unit:tlskey-*.service t.test any\n"
				  "allow exe:/usr/bin/myapp e.test any\n"
				  "allow unit:foo\\x2dbar@*.service esc.test any\n"
				  "allow any open.test any\n");

	/* Unknown unit/exe never match a unit:/exe: rule. */
	expect_as(acl, &s, ACL_ROLE_SERVER, "-www.test -e.test +open.test");

	expect_field(acl, &s, &s.unit, ACL_ROLE_SERVER, "www.test",
		     (const char *const[]){ "+nginx.service", "-nginx.service2", "-xnginx.service", NULL });
	expect_field(acl, &s, &s.unit, ACL_ROLE_SERVER, "t.test",
		     (const char *const[]){ "+tlskey-foo.service", "-tlskey-foo.socket", NULL });

	/* systemd's "\x2d" escapes are literal, not glob escapes. */
	expect_field(acl, &s, &s.unit, ACL_ROLE_SERVER, "esc.test",
		     (const char *const[]){ "+foo\\x2dbar@1.service", "-foox2dbar@1.service", NULL });

	expect_field(acl, &s, &s.exe, ACL_ROLE_CLIENT, "e.test",
		     (const char *const[]){ "+/usr/bin/myapp", "-/usr/bin/myapp (deleted)",
					    "-/usr/bin/myap", NULL });
	acl_unref(acl);
}
END_TEST

/* Finding 4: "user:X+exe:PATH" needs both; each part alone is not enough. */
START_TEST(subject_combined)
{
	struct acl_subject s = subj(1000, 1000);
	gid_t groups[] = { 50 };
	struct acl *acl = load_ok("allow uid:1000+exe:/usr/sbin/nginx www.test server\n"
				  "allow group:50+unit:tlskey-*.service+exe:/usr/bin/g++ g.test any\n"
				  "allow user:root+gid:0 r.test any\n");
	char buf[512];

	ck_assert_uint_eq(acl_rule_count(acl), 3);
	/* The formatter writes the subject back as it parses: it round-trips. */
	ck_assert_int_eq(acl_rule_format(acl, 0, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, NAME ":1: allow uid:1000+exe:/usr/sbin/nginx www.test server");
	ck_assert_int_eq(acl_rule_format(acl, 1, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, NAME ":2: allow group:50+unit:tlskey-*.service+exe:/usr/bin/g++ g.test "
			      "client,server");
	ck_assert_int_eq(acl_rule_format(acl, 2, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, NAME ":3: allow user:root+gid:0 r.test client,server # uid=0");
	{
		/* Parse what was printed (without the "name:line: " prefix). */
		const char *text = strstr(buf, "allow ");
		struct acl *again = load_ok(text);
		char buf2[512];

		ck_assert_int_eq(acl_rule_format(again, 0, buf2, sizeof(buf2)), 0);
		ck_assert_str_eq(strstr(buf2, "allow "), text);
		acl_unref(again);
	}

	/* uid alone, exe alone: no. */
	ck_assert_int_eq(allowed(acl, &s, "www.test", ACL_ROLE_SERVER, 0), 0);
	expect_field(acl, &s, &s.exe, ACL_ROLE_SERVER, "www.test",
		     (const char *const[]){ "+/usr/sbin/nginx", NULL });
	s.uid = 1001;
	ck_assert_int_eq(allowed(acl, &s, "www.test", ACL_ROLE_SERVER, 0), 0);
	s.uid = 1000;
	expect_field(acl, &s, &s.exe, ACL_ROLE_SERVER, "www.test",
		     (const char *const[]){ "-/usr/sbin/nginx2", NULL });

	/* Three parts; '+' inside an exe: path ("g++") is part of the path. */
	s.groups = groups;
	s.n_groups = 1;
	s.unit = "tlskey-a.service";
	expect_field(acl, &s, &s.exe, ACL_ROLE_CLIENT, "g.test",
		     (const char *const[]){ "+/usr/bin/g++", "-/usr/bin/g", NULL });
	s.exe = "/usr/bin/g++";
	expect_field(acl, &s, &s.unit, ACL_ROLE_CLIENT, "g.test",
		     (const char *const[]){ "-other.service", NULL });
	s.unit = "tlskey-a.service";
	s.n_groups = 0;
	ck_assert_int_eq(allowed(acl, &s, "g.test", ACL_ROLE_CLIENT, 0), 0);
	acl_unref(acl);
}
END_TEST

/* Finding 4/13: a deny rule naming exe: or unit: must not be escaped by an
 * attribute the daemon could not read (or could not tie to the caller). */
START_TEST(subject_deny_fail_closed)
{
	struct acl_subject s = subj(1000, 1000);
	struct acl *acl = load_ok("deny exe:/usr/bin/evil * any\n"
				  "deny uid:1000+unit:batch-*.service d.test any\n"
				  "allow uid:1000 * any\n"
				  "allow uid:1001 * any\n");
	struct acl_decision d;

	/* Known and different: the deny does not apply. */
	s.exe = "/usr/bin/good";
	s.unit = "web.service";
	expect_as(acl, &s, ACL_ROLE_CLIENT, "+a.test +d.test");
	/* Known and named: denied. */
	expect_field(acl, &s, &s.exe, ACL_ROLE_CLIENT, "a.test",
		     (const char *const[]){ "-/usr/bin/evil", NULL });
	/* Unknown exe: the deny matches (it used to fail open). */
	s.exe = NULL;
	d = check(acl, &s, "a.test", ACL_ROLE_CLIENT, 0);
	ck_assert_int_eq(d.allowed, 0);
	ck_assert_uint_eq(d.line, 1);
	/* Unknown unit: the combined deny matches for uid 1000 only. */
	s.exe = "/usr/bin/good";
	s.unit = NULL;
	d = check(acl, &s, "d.test", ACL_ROLE_CLIENT, 0);
	ck_assert_int_eq(d.allowed, 0);
	ck_assert_uint_eq(d.line, 2);
	s.uid = 1001;
	ck_assert_int_eq(allowed(acl, &s, "d.test", ACL_ROLE_CLIENT, 0), 1);
	acl_unref(acl);
}
END_TEST

/* Finding 4: an allow rule on exe:/unit: alone loads, with a warning in
 * err; combined with a uid, or as a deny, it does not warn. */
START_TEST(subject_process_only_warns)
{
	struct acl *acl;

	acl = load_ok("allow uid:0+exe:/usr/bin/x a.test any\n"
		      "deny exe:/usr/bin/y * any\n"
		      "allow gid:0+unit:a.service b.test any\n");
	ck_assert_str_eq(err, "");
	acl_unref(acl);
	acl = load_ok("# x\n"
		      "allow exe:/usr/bin/x a.test any\n"
		      "allow uid:0 b.test any\n"
		      "allow unit:a.service+exe:/usr/bin/x c.test any\n");
	ck_assert_msg(strstr(err, NAME ":2: warning: allow rule on exe:/unit: alone") != NULL,
		      "no warning for line 2: '%s'", err);
	ck_assert_msg(strstr(err, NAME ":4: warning: ") != NULL, "no warning for line 4: '%s'", err);
	ck_assert_msg(strstr(err, ":3:") == NULL, "warning for line 3: '%s'", err);
	ck_assert_uint_eq(acl_rule_count(acl), 3);
	acl_unref(acl);
}
END_TEST

/* Finding 1: one case rule for the ACL and for the daemon's lookup of
 * configured names (tk_identity_equal), so a spelling cannot be judged
 * as one identity and served as another. */
START_TEST(case_rule_shared)
{
	static const struct {
		const char *pattern, *id;
	} pairs[] = {
		{ "alice@example.test", "alice@example.test" },
		{ "alice@example.test", "alice@EXAMPLE.TEST" },
		{ "alice@example.test", "ALICE@example.test" },
		{ "alice@example.test", "Alice@Example.Test" },
		{ "alice@example.test", "alice@example.tesT" },
		{ "alice@example.test", "alice@example.test.x" },
		{ "alice@example.test", "example.test" },
		{ "server.example.test", "SERVER.example.test" },
		{ "server.example.test", "server@example.test" },
		{ "Server.Example.Test", "server.example.test" },
		{ "bob@X.test", "bob@x.TEST" },
		{ "bob@x.test", "bOb@x.test" },
	};
	struct acl_subject s = subj(1000, 1000);
	struct acl *acl;
	char canon[64];

	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		char text[128];
		int eq = tk_identity_equal(pairs[i].pattern, strlen(pairs[i].pattern), pairs[i].id,
					   strlen(pairs[i].id));

		(void)snprintf(text, sizeof(text), "allow uid:1000 %s any\n", pairs[i].pattern);
		acl = load_ok(text);
		ck_assert_msg(ok1000(acl, pairs[i].id) == eq, "ACL and lookup disagree on %s vs %s",
			      pairs[i].pattern, pairs[i].id);
		acl_unref(acl);
	}
	/* The local part is case-sensitive (doc/acl.md), the domain is not. */
	ck_assert_int_eq(tk_identity_equal("alice@example.test", 18, "ALICE@example.test", 18), 0);
	ck_assert_int_eq(tk_identity_equal("alice@example.test", 18, "alice@EXAMPLE.test", 18), 1);
	(void)snprintf(canon, sizeof(canon), "%s", "Alice@EXAMPLE.Test");
	tk_identity_canonical(canon);
	ck_assert_str_eq(canon, "Alice@example.test");
	(void)snprintf(canon, sizeof(canon), "%s", "WWW.Example.TEST");
	tk_identity_canonical(canon);
	ck_assert_str_eq(canon, "www.example.test");

	/* The audit's deny/allow pair: the daemon resolves every spelling to
	 * the configured name first; that name is denied, and a spelling the
	 * lookup does not equate with it is a different identity. */
	acl = load_ok("deny uid:1000 alice@example.test any\n"
		      "allow uid:1000 @example.test client\n");
	expect1000(acl, "-alice@example.test -alice@EXAMPLE.TEST +bob@example.test");
	ck_assert_int_eq(tk_identity_equal("alice@example.test", 18, "ALICE@example.test", 18), 0);
	(void)s;
	acl_unref(acl);
}
END_TEST

/* Finding 3: which decisions need an authenticated peer. */
START_TEST(restricts_peers)
{
	struct acl_subject s = subj(1000, 1000);
	struct acl *acl = load_ok("allow uid:1000 a.test any peers=alice@example.test\n"
				  "allow uid:1000 m.test any map-user\n"
				  "allow uid:1000 o.test any\n"
				  "map *@example.test %u\n");
	struct acl_decision d;

	d = check(acl, &s, "a.test", ACL_ROLE_SERVER, 0);
	ck_assert_int_eq(acl_decision_restricts_peers(&d), 1);
	d = check(acl, &s, "m.test", ACL_ROLE_SERVER, 0);
	ck_assert_int_eq(acl_decision_restricts_peers(&d), 1);
	d = check(acl, &s, "o.test", ACL_ROLE_SERVER, 0);
	ck_assert_int_eq(acl_decision_restricts_peers(&d), 0);
	d = check(acl, &s, "none.test", ACL_ROLE_SERVER, 0);
	ck_assert_int_eq(acl_decision_restricts_peers(&d), 0);
	ck_assert_int_eq(acl_decision_restricts_peers(NULL), 0);
	/* And the empty identity never passes the peer check itself. */
	d = check(acl, &s, "a.test", ACL_ROLE_SERVER, 0);
	ck_assert_int_eq(acl_check_peer(acl, &d, "", NULL, 0), -EACCES);
	acl_unref(acl);
}
END_TEST

START_TEST(flags_permission)
{
	struct acl_subject s = subj(1000, 1000);
	struct acl_decision d;
	struct acl *acl = load_ok("allow uid:1000 a.test any\n"
				  "allow uid:1000 a.test any flags=skip-authorization\n"
				  "allow uid:1000 b.test any flags=no-cache-read\n"
				  "deny  uid:1000 c.test any\n"
				  "allow uid:1000 c.test any flags=skip-authorization\n"
				  "allow uid:1000 d.test any "
				  "flags=no-cache-write,no-cache-read,skip-authorization\n");

	/* No privileged flags: the plain rule decides. */
	d = check(acl, &s, "a.test", ACL_ROLE_CLIENT, 0);
	ck_assert_int_eq(d.allowed, 1);
	ck_assert_uint_eq(d.line, 1);
	ck_assert_uint_eq(d.denied_flags, 0);
	/* Bits the ACL does not govern are ignored. */
	d = check(acl, &s, "a.test", ACL_ROLE_CLIENT, 0x0001 | 0x0008 | 0x0100);
	ck_assert_int_eq(d.allowed, 1);
	ck_assert_uint_eq(d.line, 1);
	/* skip-authorization: rule 1 does not grant it, evaluation goes on to 2. */
	d = check(acl, &s, "a.test", ACL_ROLE_CLIENT, ACL_FLAG_SKIP_AUTHORIZATION);
	ck_assert_int_eq(d.allowed, 1);
	ck_assert_uint_eq(d.line, 2);
	ck_assert_uint_eq(d.denied_flags, ACL_FLAG_SKIP_AUTHORIZATION);
	/* ...but rule 2 does not grant no-cache-write: default deny. */
	d = check(acl, &s, "a.test", ACL_ROLE_CLIENT,
		  ACL_FLAG_SKIP_AUTHORIZATION | ACL_FLAG_NO_CACHE_WRITE);
	ck_assert_int_eq(d.allowed, 0);
	ck_assert_ptr_null(d.rule);
	ck_assert_str_eq(d.where, "default deny");
	ck_assert_uint_eq(d.denied_flags, ACL_FLAG_SKIP_AUTHORIZATION | ACL_FLAG_NO_CACHE_WRITE);
	/* Partial grant is not a grant. */
	ck_assert_int_eq(allowed(acl, &s, "b.test", ACL_ROLE_CLIENT, ACL_FLAG_NO_CACHE_READ), 1);
	ck_assert_int_eq(allowed(acl, &s, "b.test", ACL_ROLE_CLIENT,
				 ACL_FLAG_NO_CACHE_READ | ACL_FLAG_NO_CACHE_WRITE),
			 0);
	ck_assert_int_eq(allowed(acl, &s, "b.test", ACL_ROLE_CLIENT, ACL_FLAG_NO_CACHE_WRITE), 0);
	/* A deny matches whatever the flags: a later grant cannot override it. */
	d = check(acl, &s, "c.test", ACL_ROLE_CLIENT, ACL_FLAG_SKIP_AUTHORIZATION);
	ck_assert_int_eq(d.allowed, 0);
	ck_assert_uint_eq(d.line, 4);
	ck_assert_int_eq(allowed(acl, &s, "d.test", ACL_ROLE_CLIENT, ACL_FLAGS_PRIVILEGED), 1);
	acl_unref(acl);
}
END_TEST

START_TEST(peers)
{
	struct acl_subject s = subj(1000, 1000);
	struct acl_decision d, other;
	char why[256];
	struct acl *acl = load_ok("allow uid:1000 www.example.test server "
				  "peers=*@example.test,partner.example.org,*.corp.test\n"
				  "allow uid:1000 open.example.test server\n"
				  "deny  uid:1000 * any\n");
	struct acl *acl2 = load_ok("allow uid:1000 www.example.test server\n");

	d = check(acl, &s, "www.example.test", ACL_ROLE_SERVER, 0);
	ck_assert_int_eq(d.allowed, 1);
	ck_assert_int_eq(acl_check_peer(acl, &d, "alice@example.test", why, sizeof(why)), 0);
	ck_assert_int_eq(acl_check_peer(acl, &d, "partner.example.org", why, sizeof(why)), 0);
	ck_assert_int_eq(acl_check_peer(acl, &d, "PARTNER.example.org", why, sizeof(why)), 0);
	ck_assert_int_eq(acl_check_peer(acl, &d, "a.b.corp.test", why, sizeof(why)), 0);
	ck_assert_int_eq(acl_check_peer(acl, &d, "alice@sub.example.test", why, sizeof(why)),
			 -EACCES);
	ck_assert_msg(strstr(why, "peers=") && strstr(why, NAME ":1"), "%s", why);
	ck_assert_int_eq(acl_check_peer(acl, &d, "example.test", why, sizeof(why)), -EACCES);
	ck_assert_int_eq(acl_check_peer(acl, &d, "evil.example.org", why, sizeof(why)), -EACCES);
	ck_assert_int_eq(acl_check_peer(acl, &d, "corp.test", why, sizeof(why)), -EACCES);
	ck_assert_int_eq(acl_check_peer(acl, &d, "alice@corp.test", why, sizeof(why)), -EACCES);
	/* Malformed identities are refused, not matched loosely. */
	ck_assert_int_eq(acl_check_peer(acl, &d, "", why, sizeof(why)), -EACCES);
	ck_assert_int_eq(acl_check_peer(acl, &d, "a@@example.test", why, sizeof(why)), -EACCES);
	ck_assert_int_eq(acl_check_peer(acl, &d, "partner.example.org.", why, sizeof(why)),
			 -EACCES);
	ck_assert_int_eq(acl_check_peer(acl, &d, "alice@example.test", NULL, 0), 0);
	ck_assert_int_eq(acl_check_peer(acl, &d, "evil.test", NULL, 0), -EACCES);

	/* No peers=: any authenticated peer. */
	d = check(acl, &s, "open.example.test", ACL_ROLE_SERVER, 0);
	ck_assert_int_eq(acl_check_peer(acl, &d, "anyone.anywhere", why, sizeof(why)), 0);
	ck_assert_int_eq(acl_check_peer(acl, &d, "bob@anywhere", why, sizeof(why)), 0);

	/* A deny decision admits no peer. */
	d = check(acl, &s, "other.test", ACL_ROLE_SERVER, 0);
	ck_assert_int_eq(d.allowed, 0);
	ck_assert_int_eq(acl_check_peer(acl, &d, "anyone.anywhere", why, sizeof(why)), -EACCES);
	ck_assert_msg(strstr(why, "not admitted") != NULL, "%s", why);
	s.uid = 5;
	d = check(acl, &s, "other.test", ACL_ROLE_SERVER, 0);
	ck_assert_ptr_null(d.rule);
	ck_assert_int_eq(acl_check_peer(acl, &d, "anyone.anywhere", why, sizeof(why)), -EACCES);

	/* A decision of another ACL is a caller bug. */
	s.uid = 1000;
	other = check(acl2, &s, "www.example.test", ACL_ROLE_SERVER, 0);
	ck_assert_int_eq(other.allowed, 1);
	ck_assert_int_eq(acl_check_peer(acl, &other, "x.test", why, sizeof(why)), -EINVAL);
	ck_assert_int_eq(acl_check_peer(acl2, &other, "x.test", why, sizeof(why)), 0);
	ck_assert_int_eq(acl_check_peer(NULL, &other, "x.test", why, sizeof(why)), -EINVAL);
	ck_assert_int_eq(acl_check_peer(acl2, &other, NULL, why, sizeof(why)), -EINVAL);
	acl_unref(acl2);
	acl_unref(acl);
}
END_TEST

START_TEST(map_user)
{
	struct acl_subject s = subj(1000, 1000);
	struct acl_decision d;
	char user[64], why[256], tiny[4];
	struct acl *acl = load_ok("allow uid:1000 www.example.test server map-user\n"
				  "allow uid:1000 plain.example.test server\n"
				  "map root@example.test -\n"
				  "map alice@example.test daemon\n"
				  "map *@example.test %u\n"
				  "map @*.corp.test nobody\n"
				  "map host.example.test root\n");

	ck_assert_int_eq(acl_map_user(acl, "alice@example.test", user, sizeof(user)), 0);
	ck_assert_str_eq(user, "daemon");
	ck_assert_int_eq(acl_map_user(acl, "bob@example.test", user, sizeof(user)), 0);
	ck_assert_str_eq(user, "bob");
	ck_assert_int_eq(acl_map_user(acl, "Bob.Smith@EXAMPLE.test", user, sizeof(user)), 0);
	ck_assert_str_eq(user, "Bob.Smith");
	ck_assert_int_eq(acl_map_user(acl, "x@a.corp.test", user, sizeof(user)), 0);
	ck_assert_str_eq(user, "nobody");
	ck_assert_int_eq(acl_map_user(acl, "host.example.test", user, sizeof(user)), 0);
	ck_assert_str_eq(user, "root");
	/* "-" stops the search: no fall-through to %u. */
	strcpy(user, "keep");
	ck_assert_int_eq(acl_map_user(acl, "root@example.test", user, sizeof(user)), -ENOENT);
	ck_assert_str_eq(user, "keep");
	ck_assert_int_eq(acl_map_user(acl, "bob@sub.example.test", user, sizeof(user)), -ENOENT);
	ck_assert_int_eq(acl_map_user(acl, "x@corp.test", user, sizeof(user)), -ENOENT);
	ck_assert_int_eq(acl_map_user(acl, "other.example.test", user, sizeof(user)), -ENOENT);
	/* %u never yields an unsafe name. */
	ck_assert_int_eq(acl_map_user(acl, "../etc@example.test", user, sizeof(user)), -EINVAL);
	ck_assert_int_eq(acl_map_user(acl, "-rf@example.test", user, sizeof(user)), -EINVAL);
	ck_assert_int_eq(acl_map_user(acl, "1000@example.test", user, sizeof(user)), -EINVAL);
	ck_assert_int_eq(acl_map_user(acl, "a/b@example.test", user, sizeof(user)), -EINVAL);
	ck_assert_int_eq(acl_map_user(acl, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.test", user,
				      sizeof(user)),
			 -EINVAL);
	ck_assert_int_eq(acl_map_user(acl, "a@@example.test", user, sizeof(user)), -EINVAL);
	/* Too small a buffer. */
	strcpy(tiny, "abc");
	ck_assert_int_eq(acl_map_user(acl, "alice@example.test", tiny, sizeof(tiny)), -ERANGE);
	ck_assert_str_eq(tiny, "abc");
	ck_assert_int_eq(acl_map_user(acl, "bob@example.test", tiny, sizeof(tiny)), 0);
	ck_assert_str_eq(tiny, "bob");

	/* The decision says mapping is required, and check_peer enforces it. */
	d = check(acl, &s, "www.example.test", ACL_ROLE_SERVER, 0);
	ck_assert_int_eq(d.allowed, 1);
	ck_assert_int_eq(d.map_user, 1);
	ck_assert_int_eq(acl_check_peer(acl, &d, "bob@example.test", why, sizeof(why)), 0);
	ck_assert_int_eq(acl_check_peer(acl, &d, "root@example.test", why, sizeof(why)), -EACCES);
	ck_assert_msg(strstr(why, "map") != NULL, "%s", why);
	ck_assert_int_eq(acl_check_peer(acl, &d, "unknown.test", why, sizeof(why)), -EACCES);
	d = check(acl, &s, "plain.example.test", ACL_ROLE_SERVER, 0);
	ck_assert_int_eq(d.map_user, 0);
	ck_assert_int_eq(acl_check_peer(acl, &d, "unknown.test", why, sizeof(why)), 0);
	acl_unref(acl);

	/* No map lines at all: nothing maps. */
	acl = load_ok("allow any * any\n");
	ck_assert_int_eq(acl_map_user(acl, "bob@example.test", user, sizeof(user)), -ENOENT);
	acl_unref(acl);
}
END_TEST

START_TEST(check_bad_arguments)
{
	struct acl_subject s = subj(1000, 1000);
	struct acl_request req = { .subject = &s, .myname = "a.test", .role = ACL_ROLE_CLIENT };
	struct acl_decision d, orig;
	struct acl *acl = load_ok("allow any * any\n");
	char longname[300];

	memset(&d, 0x5a, sizeof(d));
	orig = d;
	ck_assert_int_eq(acl_check(NULL, &req, &d), -EINVAL);
	ck_assert_int_eq(acl_check(acl, NULL, &d), -EINVAL);
	ck_assert_int_eq(acl_check(acl, &req, NULL), -EINVAL);
	req.role = 0;
	ck_assert_int_eq(acl_check(acl, &req, &d), -EINVAL);
	req.role = ACL_ROLE_CLIENT | ACL_ROLE_SERVER;
	ck_assert_int_eq(acl_check(acl, &req, &d), -EINVAL);
	req.role = ACL_ROLE_CLIENT;
	req.myname = "a@@b";
	ck_assert_int_eq(acl_check(acl, &req, &d), -EINVAL);
	req.myname = "";
	ck_assert_int_eq(acl_check(acl, &req, &d), -EINVAL);
	req.myname = "*.a.test";
	ck_assert_int_eq(acl_check(acl, &req, &d), -EINVAL);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	req.myname = longname;
	ck_assert_int_eq(acl_check(acl, &req, &d), -EINVAL);
	req.myname = NULL;
	ck_assert_int_eq(acl_check(acl, &req, &d), -EINVAL);
	req.myname = "a.test";
	s.n_groups = 2;
	ck_assert_int_eq(acl_check(acl, &req, &d), -EINVAL);
	s.n_groups = 0;
	req.subject = NULL;
	ck_assert_int_eq(acl_check(acl, &req, &d), -EINVAL);
	ck_assert_int_eq(memcmp(&d, &orig, sizeof(d)), 0); /* untouched on failure */
	req.subject = &s;
	ck_assert_int_eq(acl_check(acl, &req, &d), 0);
	ck_assert_int_eq(d.allowed, 1);
	acl_unref(acl);
}
END_TEST

START_TEST(refcount_and_reload)
{
	struct acl_subject s = subj(1000, 1000);
	struct acl *old = load_ok("allow uid:1000 a.test any peers=p.test\n");
	struct acl *held = acl_ref(old), *cur;
	struct acl_decision d = check(held, &s, "a.test", ACL_ROLE_CLIENT, 0);

	ck_assert_ptr_eq(held, old);
	/* The daemon swaps in a new ACL and drops its own reference... */
	cur = load_ok("deny any * any\n");
	acl_unref(old);
	/* ...the in-flight request's decision still works on its ACL. */
	ck_assert_int_eq(d.allowed, 1);
	ck_assert_int_eq(acl_check_peer(held, &d, "p.test", NULL, 0), 0);
	ck_assert_int_eq(acl_check_peer(held, &d, "q.test", NULL, 0), -EACCES);
	ck_assert_int_eq(allowed(cur, &s, "a.test", ACL_ROLE_CLIENT, 0), 0);
	acl_unref(held);
	acl_unref(cur);
}
END_TEST

START_TEST(long_name)
{
	char name[600];
	struct acl *acl = NULL;
	struct acl_subject s = subj(1000, 1000);
	struct acl_decision d;

	memset(name, 'n', sizeof(name));
	strcpy(name + sizeof(name) - 10, "/tail.acl");
	ck_assert_int_eq(acl_load_buffer(name, "allow any * any\n", 16, &acl, err, sizeof(err)), 0);
	d = check(acl, &s, "a.test", ACL_ROLE_CLIENT, 0);
	ck_assert_int_eq(strncmp(d.where, "...", 3), 0);
	ck_assert_msg(strstr(d.where, "/tail.acl:1") != NULL, "%s", d.where);
	ck_assert_uint_lt(strlen(d.where), ACL_WHERE_MAX);
	acl_unref(acl);
}
END_TEST

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	ck_assert_int_eq(fchmod(fd, mode), 0);
	ck_assert_int_eq(close(fd), 0);
}

START_TEST(load_file)
{
	char dir[] = "/tmp/test_acl.XXXXXX", path[128], where[160];
	struct acl_subject s = subj(1000, 1000);
	struct acl_decision d;
	struct acl *acl = NULL;
	char *big;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/acl.conf", dir);

	write_file(path, "# test\nallow uid:1000 a.test any\n", 0644);
	ck_assert_int_eq(acl_load_file(path, &acl, err, sizeof(err)), 0);
	d = check(acl, &s, "a.test", ACL_ROLE_CLIENT, 0);
	snprintf(where, sizeof(where), "%s:2", path);
	ck_assert_str_eq(d.where, where);
	acl_unref(acl);
	acl = NULL;

	write_file(path, "allow uid:1000 a.test any\nallow bogus\n", 0644);
	ck_assert_int_eq(acl_load_file(path, &acl, err, sizeof(err)), -EINVAL);
	snprintf(where, sizeof(where), "%s:2: ", path);
	ck_assert_msg(!strncmp(err, where, strlen(where)), "%s", err);

	write_file(path, "allow uid:1000 a.test any\n", 0666);
	ck_assert_int_eq(acl_load_file(path, &acl, err, sizeof(err)), -EPERM);
	ck_assert_msg(strstr(err, "writable") != NULL, "%s", err);
	write_file(path, "allow uid:1000 a.test any\n", 0664);
	ck_assert_int_eq(acl_load_file(path, &acl, err, sizeof(err)), -EPERM);

	/* Over the size limit. */
	big = malloc(ACL_FILE_MAX + 2);
	ck_assert_ptr_nonnull(big);
	memset(big, '#', ACL_FILE_MAX + 1);
	big[ACL_FILE_MAX + 1] = '\0';
	write_file(path, big, 0644);
	free(big);
	ck_assert_int_eq(acl_load_file(path, &acl, err, sizeof(err)), -EFBIG);

	ck_assert_int_eq(acl_load_file(dir, &acl, err, sizeof(err)), -EPERM);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(acl_load_file(path, &acl, err, sizeof(err)), -ENOENT);
	ck_assert_msg(strstr(err, path) != NULL, "%s", err);
	ck_assert_ptr_null(acl);

	/* A FIFO must not hang the loader. */
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_eq(acl_load_file(path, &acl, err, sizeof(err)), -EPERM);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

START_TEST(example_fixture)
{
	/* The example in doc/acl.md, kept as a fixture so it cannot rot. */
	const char *srcdir = getenv("top_srcdir");
	char path[4096];
	struct acl *acl = NULL;
	struct acl_subject s = subj(0, 0);
	struct acl_decision d;

	snprintf(path, sizeof(path), "%s/test/unit/acl-example.conf", srcdir ? srcdir : ".");
	ck_assert_msg(acl_load_file(path, &acl, err, sizeof(err)) == 0, "%s", err);
	/* The example shows good practice: no exe:/unit: rule without a uid. */
	ck_assert_msg(err[0] == '\0', "the example draws warnings: %s", err);
	ck_assert_uint_gt(acl_rule_count(acl), 0);
	d = check(acl, &s, "server.example.test", ACL_ROLE_SERVER, 0);
	ck_assert_int_eq(d.allowed, 1);
	acl_unref(acl);
}
END_TEST

/* acl_rule_line()/acl_map_line(): the source lines, past comments, blank
 * and CRLF lines, in evaluation order; 0 past the end and for NULL. */
START_TEST(entry_lines)
{
	struct acl *acl = load_ok("# head\n"
				  "\n"
				  "allow uid:1000 a.test any\r\n"
				  "map *@example.test %u\n"
				  "   # indented comment\n"
				  "deny any b.test client\n"
				  "\n"
				  "map * -\n"
				  "allow uid:1000 c.test server map-user");

	ck_assert_uint_eq(acl_rule_count(acl), 3);
	ck_assert_uint_eq(acl_rule_line(acl, 0), 3);
	ck_assert_uint_eq(acl_rule_line(acl, 1), 6);
	ck_assert_uint_eq(acl_rule_line(acl, 2), 9);
	ck_assert_uint_eq(acl_rule_line(acl, 3), 0);
	ck_assert_uint_eq(acl_rule_line(acl, (size_t)-1), 0);
	ck_assert_uint_eq(acl_map_count(acl), 2);
	ck_assert_uint_eq(acl_map_line(acl, 0), 4);
	ck_assert_uint_eq(acl_map_line(acl, 1), 8);
	ck_assert_uint_eq(acl_map_line(acl, 2), 0);
	ck_assert_str_eq(acl_name(acl), NAME);
	/* The accessors agree with the "name:line" the formatters print. */
	for (size_t i = 0; i < acl_rule_count(acl); i++) {
		char buf[512], want[64];

		ck_assert_int_eq(acl_rule_format(acl, i, buf, sizeof(buf)), 0);
		(void)snprintf(want, sizeof(want), NAME ":%u: ", acl_rule_line(acl, i));
		ck_assert_msg(!strncmp(buf, want, strlen(want)), "%s", buf);
	}
	acl_unref(acl);
	ck_assert_uint_eq(acl_rule_line(NULL, 0), 0);
	ck_assert_uint_eq(acl_map_line(NULL, 0), 0);
	ck_assert_ptr_null(acl_name(NULL));

	/* An empty ACL has no lines at all. */
	acl = load_ok("# nothing\n");
	ck_assert_uint_eq(acl_rule_line(acl, 0), 0);
	ck_assert_uint_eq(acl_map_line(acl, 0), 0);
	acl_unref(acl);
}
END_TEST

/* SPIFFE IDs and addresses in peers= and map lines (doc/acl.md): each
 * form matches only its own patterns; "*" matches every valid form. */
START_TEST(peer_forms)
{
	struct acl_subject s = subj(1000, 1000);
	struct acl_decision d;
	char why[256], user[64];
	struct acl *acl = load_ok("allow uid:1000 www.example.test server "
				  "peers=spiffe://td/*,spiffe://other/app,192.0.2.0/24,2001:db8::/32,"
				  "198.51.100.7,*.example.test\n"
				  "allow uid:1000 any.example.test server peers=*\n"
				  "map spiffe://td/web/* daemon\n"
				  "map 192.0.2.9 root\n"
				  "map spiffe://td/* -\n");

	d = check(acl, &s, "www.example.test", ACL_ROLE_SERVER, 0);
	ck_assert_int_eq(d.allowed, 1);
	ck_assert_int_eq(acl_check_peer(acl, &d, "spiffe://td/a", why, sizeof(why)), 0);
	ck_assert_int_eq(acl_check_peer(acl, &d, "spiffe://td/a/b", why, sizeof(why)), 0);
	ck_assert_int_eq(acl_check_peer(acl, &d, "spiffe://other/app", why, sizeof(why)), 0);
	ck_assert_int_eq(acl_check_peer(acl, &d, "192.0.2.200", why, sizeof(why)), 0);
	ck_assert_int_eq(acl_check_peer(acl, &d, "198.51.100.7", why, sizeof(why)), 0);
	ck_assert_int_eq(acl_check_peer(acl, &d, "2001:db8:1::5", why, sizeof(why)), 0);
	/* Another trust domain, the trust domain itself, a prefix that is not
	 * a whole segment, another path; other networks, other families. */
	ck_assert_int_eq(acl_check_peer(acl, &d, "spiffe://td2/x", why, sizeof(why)), -EACCES);
	ck_assert_int_eq(acl_check_peer(acl, &d, "spiffe://td", why, sizeof(why)), -EACCES);
	ck_assert_int_eq(acl_check_peer(acl, &d, "spiffe://tdx/a", why, sizeof(why)), -EACCES);
	ck_assert_int_eq(acl_check_peer(acl, &d, "spiffe://other/app2", why, sizeof(why)), -EACCES);
	ck_assert_int_eq(acl_check_peer(acl, &d, "spiffe://other/app/x", why, sizeof(why)), -EACCES);
	ck_assert_int_eq(acl_check_peer(acl, &d, "192.0.3.1", why, sizeof(why)), -EACCES);
	ck_assert_int_eq(acl_check_peer(acl, &d, "198.51.100.8", why, sizeof(why)), -EACCES);
	ck_assert_int_eq(acl_check_peer(acl, &d, "2001:db9::1", why, sizeof(why)), -EACCES);
	ck_assert_int_eq(acl_check_peer(acl, &d, "::ffff:192.0.2.1", why, sizeof(why)), -EACCES);
	/* A name pattern covers no SPIFFE ID or address that ends alike. */
	ck_assert_int_eq(acl_check_peer(acl, &d, "spiffe://x.example.test", why, sizeof(why)), -EACCES);
	/* Malformed: not matched loosely. */
	ck_assert_int_eq(acl_check_peer(acl, &d, "spiffe://td/../a", why, sizeof(why)), -EACCES);
	ck_assert_int_eq(acl_check_peer(acl, &d, "spiffe://td//a", why, sizeof(why)), -EACCES);
	ck_assert_int_eq(acl_check_peer(acl, &d, "spiffe://td/a?q", why, sizeof(why)), -EACCES);
	ck_assert_int_eq(acl_check_peer(acl, &d, "spiffe://TD/a", why, sizeof(why)), -EACCES);
	ck_assert_int_eq(acl_check_peer(acl, &d, "2001:DB8::1", why, sizeof(why)), -EACCES);
	d = check(acl, &s, "any.example.test", ACL_ROLE_SERVER, 0);
	ck_assert_int_eq(acl_check_peer(acl, &d, "spiffe://any/x", why, sizeof(why)), 0);
	ck_assert_int_eq(acl_check_peer(acl, &d, "::1", why, sizeof(why)), 0);

	ck_assert_int_eq(acl_map_user(acl, "spiffe://td/web/1", user, sizeof(user)), 0);
	ck_assert_str_eq(user, "daemon");
	ck_assert_int_eq(acl_map_user(acl, "192.0.2.9", user, sizeof(user)), 0);
	ck_assert_str_eq(user, "root");
	ck_assert_int_eq(acl_map_user(acl, "spiffe://td/db", user, sizeof(user)), -ENOENT);
	ck_assert_int_eq(acl_map_user(acl, "192.0.2.10", user, sizeof(user)), -ENOENT);
	acl_unref(acl);

	load_bad("map spiffe://td/* %u\n", 1, "needs a user pattern");
	load_bad("allow any spiffe://td/a server\n", 1, "not a SPIFFE ID or address");
	load_bad("allow any 192.0.2.1 server\n", 1, "not a SPIFFE ID or address");
	load_bad("allow any * any peers=spiffe://td/*/x\n", 1, "SPIFFE");
	load_bad("allow any * any peers=spiffe://td/a*\n", 1, "SPIFFE");
	load_bad("allow any * any peers=spiffe:///a\n", 1, "SPIFFE");
	load_bad("allow any * any peers=192.0.2.1/33\n", 1, "prefix length");
	load_bad("allow any * any peers=192.0.2.1/24\n", 1, "beyond the prefix");
	load_bad("allow any * any peers=2001:db8::/\n", 1, "prefix length");
	load_bad("allow any * any peers=1.2.3\n", 1, "IPv4 or IPv6");
}
END_TEST

static void add(Suite *s, const char *name, const TTest *t)
{
	TCase *tc = tcase_create(name);

	tcase_add_test(tc, t);
	suite_add_tcase(s, tc);
}

/* acl_explain(): allow rules that miss the request on exactly one count,
 * before the deciding rule; two misses are no near miss; deny rules and
 * rules after the decision are never reported. */
START_TEST(explain_near_misses)
{
	struct acl *acl = load_ok("allow uid:42 a.test server\n"           /* subject */
				  "allow uid:1000 a.test client\n"         /* role */
				  "allow uid:1000 *.b.test server\n"       /* myname */
				  "allow uid:42 b.test client\n"           /* two misses */
				  "deny uid:1000 other.test server\n"      /* deny: never */
				  "allow uid:1000 a.test server flags=no-cache-read\n" /* flags */
				  "deny any * any\n"
				  "allow uid:42 a.test server\n");         /* after the decision */
	struct acl_subject subj = { .uid = 1000, .gid = 1000 };
	struct acl_request req = { .subject = &subj, .myname = "a.test", .role = ACL_ROLE_SERVER };
	struct acl_near_miss nm[8];
	int n = acl_explain(acl, &req, nm, 8);

	/* Rule 6 allows; rules 1-3 miss on one count each, rule 4 on two. */
	ck_assert_int_eq(n, 3);
	ck_assert_uint_eq(nm[0].index, 0);
	ck_assert_int_eq(nm[0].what, ACL_MISS_SUBJECT);
	ck_assert_uint_eq(nm[1].line, 2);
	ck_assert_int_eq(nm[1].what, ACL_MISS_ROLE);
	ck_assert_int_eq(nm[2].what, ACL_MISS_MYNAME);
	ck_assert_str_eq(acl_miss_name(ACL_MISS_ROLE), "role");
	ck_assert_int_eq(acl_explain(acl, &req, nm, 2), 2); /* max bounds the output */
	/* A privileged flag no rule grants: rules 1-3 now miss on two
	 * counts; rule 6 lacks only the flag; the default deny decides. */
	req.flags = ACL_FLAG_SKIP_AUTHORIZATION;
	n = acl_explain(acl, &req, nm, 8);
	ck_assert_int_eq(n, 1);
	ck_assert_uint_eq(nm[0].index, 5);
	ck_assert_int_eq(nm[0].what, ACL_MISS_FLAGS);
	ck_assert_uint_eq(nm[0].flags, ACL_FLAG_SKIP_AUTHORIZATION);
	/* Bad arguments, as acl_check(). */
	req.myname = "not a name";
	ck_assert_int_eq(acl_explain(acl, &req, nm, 8), -EINVAL);
	req.myname = "a.test";
	ck_assert_int_eq(acl_explain(acl, &req, NULL, 8), -EINVAL);
	ck_assert_int_eq(acl_explain(NULL, &req, nm, 8), -EINVAL);
	acl_unref(acl);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("acl");
	TCase *tc;

	add(s, "/policy/acl/empty-default-deny", empty_default_deny);
	add(s, "/policy/acl/parse-example", parse_example);
	tc = tcase_create("/policy/acl/parse-errors");
	tcase_add_loop_test(tc, parse_errors, 0, (int)(sizeof(bad) / sizeof(bad[0])));
	suite_add_tcase(s, tc);
	add(s, "/policy/acl/parse-every-error", parse_error_every_line_reported);
	add(s, "/policy/acl/parse-nul-byte", parse_nul_byte);
	add(s, "/policy/acl/parse-line-length", parse_line_length);
	add(s, "/policy/acl/parse-crlf", parse_crlf_and_no_final_newline);
	add(s, "/policy/acl/parse-limits", parse_limits);
	add(s, "/policy/acl/parse-peers-limit", parse_peers_limit);
	add(s, "/policy/acl/bad-arguments", bad_arguments);
	add(s, "/policy/acl/exact-name", pattern_exact);
	add(s, "/policy/acl/wildcard-domain", pattern_wildcard_domain);
	add(s, "/policy/acl/users-at-domain", pattern_users_at_domain);
	add(s, "/policy/acl/users-below-domain", pattern_users_below_domain);
	add(s, "/policy/acl/any-name", pattern_any);
	add(s, "/policy/acl/pattern-direct", pattern_direct);
	add(s, "/policy/acl/first-match", first_match_order);
	add(s, "/policy/acl/roles", roles);
	add(s, "/policy/acl/subject-user-group", subject_user_and_group);
	add(s, "/policy/acl/subject-unit-exe", subject_unit_and_exe);
	add(s, "/policy/acl/subject-combined", subject_combined);
	add(s, "/policy/acl/subject-deny-fail-closed", subject_deny_fail_closed);
	add(s, "/policy/acl/subject-process-only-warns", subject_process_only_warns);
	add(s, "/policy/acl/case-rule-shared", case_rule_shared);
	add(s, "/policy/acl/restricts-peers", restricts_peers);
	add(s, "/policy/acl/flags", flags_permission);
	add(s, "/policy/acl/peers", peers);
	add(s, "/policy/acl/map-user", map_user);
	add(s, "/policy/acl/check-bad-arguments", check_bad_arguments);
	add(s, "/policy/acl/refcount-reload", refcount_and_reload);
	add(s, "/policy/acl/long-name", long_name);
	add(s, "/policy/acl/load-file", load_file);
	add(s, "/policy/acl/example-fixture", example_fixture);
	add(s, "/policy/acl/entry-lines", entry_lines);
	add(s, "/policy/acl/explain-near-misses", explain_near_misses);
	add(s, "/policy/acl/peer-forms", peer_forms);

	return tkt_suite_run(s);
}
