/* Unit tests for keyd/authz.c: post-handshake authorization (peers=,
 * map-user, the identity-kind flags, a peer without a certificate). */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "keyd/authz.h"
#include "test/unit/keyd-unit.h"
#include "tlskey/starttls.h"

static const char rules[] =
	"allow uid:1000 server.example.test server peers=*@example.test,partner.example.org\n"
	"allow uid:1001 server.example.test server map-user\n"
	"allow uid:1002 server.example.test server\n"
	"allow uid:1003 server.example.test server peers=*@example.test flags=skip-authorization\n"
	"map alice@example.test daemon\n"
	"map *@example.test %u\n";

static struct acl *acl;

static void setup(void)
{
	char err[512] = "";

	ck_assert_msg(acl_load_buffer("authz-test", rules, strlen(rules), &acl, err, sizeof(err)) == 0,
		      "%s", err);
}

static void teardown(void)
{
	acl_unref(acl);
	acl = NULL;
}

/* A request of uid as admitted by the ACL, with flags. */
static struct keyd_request req(uid_t uid, uint32_t flags)
{
	struct keyd_request q;
	struct acl_subject subj = { .uid = uid, .gid = uid };
	struct acl_request areq = { .subject = &subj, .myname = "server.example.test",
				    .role = ACL_ROLE_SERVER, .flags = flags };

	memset(&q, 0, sizeof(q));
	(void)snprintf(q.msg.myname, sizeof(q.msg.myname), "server.example.test");
	q.msg.role = TK_ROLE_SERVER;
	q.msg.flags = flags;
	q.acl = acl;
	ck_assert_int_eq(acl_check(acl, &areq, &q.decision), 0);
	ck_assert(q.decision.allowed);
	return q;
}

START_TEST(peers_restriction)
{
	struct keyd_request q = req(1000, 0);
	char user[64] = "x", why[TK_MESSAGE_MAX] = "";

	ck_assert_int_eq(authz_peer(&q, "bob@example.test", user, sizeof(user), why, sizeof(why)), 0);
	ck_assert_str_eq(user, ""); /* no map-user: no account */
	ck_assert_int_eq(authz_peer(&q, "partner.example.org", user, sizeof(user), why, sizeof(why)), 0);
	strcpy(user, "untouched");
	ck_assert_int_eq(authz_peer(&q, "evil.example.org", user, sizeof(user), why, sizeof(why)),
			 -EACCES);
	ck_assert_ptr_nonnull(strstr(why, "peer evil.example.org not authorized for server.example.test"));
	ck_assert_str_eq(user, "untouched");
}
END_TEST

START_TEST(empty_peer)
{
	struct keyd_request q = req(1000, 0);
	char user[64], why[TK_MESSAGE_MAX] = "";

	/* peers= admits only certain peers: no identity admits nobody. */
	ck_assert_int_eq(authz_peer(&q, "", user, sizeof(user), why, sizeof(why)), -EACCES);
	ck_assert_ptr_nonnull(strstr(why, "peer sent no certificate"));
	ck_assert_ptr_nonnull(strstr(why, "peers= or map-user"));
	/* A rule without peers= lets an anonymous peer through. */
	q = req(1002, 0);
	ck_assert_int_eq(authz_peer(&q, "", user, sizeof(user), why, sizeof(why)), 0);
	/* map-user restricts peers too. */
	q = req(1001, 0);
	ck_assert_int_eq(authz_peer(&q, "", user, sizeof(user), why, sizeof(why)), -EACCES);
}
END_TEST

START_TEST(skip_authorization)
{
	struct keyd_request q = req(1003, TLSKEY_FLAG_SKIP_AUTHORIZATION);
	char user[64], why[TK_MESSAGE_MAX] = "";

	/* Without the flag the same rule restricts peers. */
	{
		struct keyd_request plain = req(1003, 0);

		ck_assert_int_eq(authz_peer(&plain, "evil.example.org", user, sizeof(user), why,
					    sizeof(why)), -EACCES);
	}
	ck_assert_int_eq(authz_peer(&q, "evil.example.org", user, sizeof(user), why, sizeof(why)), 0);
	ck_assert_int_eq(authz_peer(&q, "", user, sizeof(user), why, sizeof(why)), 0);
}
END_TEST

START_TEST(kind_flags)
{
	struct keyd_request q = req(1002, TLSKEY_FLAG_NO_REMOTE_USER_ID);
	char user[64], why[TK_MESSAGE_MAX] = "";

	ck_assert_int_eq(authz_peer(&q, "bob@example.test", user, sizeof(user), why, sizeof(why)),
			 -EACCES);
	ck_assert_ptr_nonnull(strstr(why, "is a user identity, refused by flags"));
	ck_assert_int_eq(authz_peer(&q, "host.example.test", user, sizeof(user), why, sizeof(why)), 0);
	q = req(1002, TLSKEY_FLAG_NO_REMOTE_DOMAIN_ID);
	ck_assert_int_eq(authz_peer(&q, "host.example.test", user, sizeof(user), why, sizeof(why)),
			 -EACCES);
	ck_assert_ptr_nonnull(strstr(why, "is a domain identity, refused by flags"));
	ck_assert_int_eq(authz_peer(&q, "bob@example.test", user, sizeof(user), why, sizeof(why)), 0);
}
END_TEST

START_TEST(map_user)
{
	struct keyd_request q = req(1001, 0);
	char user[64] = "", why[TK_MESSAGE_MAX] = "";

	ck_assert(q.decision.map_user);
	ck_assert_int_eq(authz_peer(&q, "alice@example.test", user, sizeof(user), why, sizeof(why)), 0);
	ck_assert_str_eq(user, "daemon");
	ck_assert_int_eq(authz_peer(&q, "bob@example.test", user, sizeof(user), why, sizeof(why)), 0);
	ck_assert_str_eq(user, "bob");
	strcpy(user, "untouched");
	ck_assert_int_eq(authz_peer(&q, "host.other.org", user, sizeof(user), why, sizeof(why)), -EACCES);
	ck_assert_msg(strstr(why, "peer host.other.org"), "why: %s", why);
	ck_assert_str_eq(user, "untouched");
}
END_TEST

int main(void)
{
	const TTest *tests[] = { peers_restriction, empty_peer, skip_authorization, kind_flags,
				map_user, NULL };

	return tkt_run("authz", "/keyd/authz", setup, teardown, 0, tests);
}
