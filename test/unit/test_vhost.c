/* Unit tests for keyd/vhost.c's admission half (vhost_admit(), pure): a
 * server myname list resolved to configured identities, each with its
 * ACL decision, the default and the stand-in identity; negatives. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keyd/conf.h"
#include "keyd/vhost.h"
#include "policy/acl.h"
#include "test/unit/check-main.h"

static struct keyd_conf *conf;

/* n host identities h0.example.test ... plus a user and another domain. */
static struct keyd_conf *make_conf(unsigned n)
{
	size_t cap = 200 + (size_t)n * 120, len = 0;
	char *buf = malloc(cap), err[256] = "";
	struct keyd_conf *c = NULL;
	static const char sect[] = "[identity %s]\nkey = pkcs11:token=t;object=o;type=private\n"
				   "cert = /etc/x.pem\n";

	ck_assert_ptr_nonnull(buf);
	for (unsigned i = 0; i < n; i++) {
		char name[32];

		(void)snprintf(name, sizeof(name), "h%u.example.test", i);
		len += (size_t)snprintf(buf + len, cap - len, sect, name);
	}
	len += (size_t)snprintf(buf + len, cap - len, sect, "alice@example.test");
	len += (size_t)snprintf(buf + len, cap - len, sect, "other.test");
	ck_assert_int_eq(keyd_conf_parse("t.conf", buf, len, &c, err, sizeof(err)), 0);
	free(buf);
	return c;
}

static struct acl *make_acl(const char *text)
{
	struct acl *acl = NULL;
	char err[512] = "";

	ck_assert_msg(acl_load_buffer("t.acl", text, strlen(text), &acl, err, sizeof(err)) == 0, "%s",
		      err);
	return acl;
}

/* vhost_admit for uid 1000 in the server role. */
static int admit(const struct acl *acl, const char *spec, struct vhost_set **ret, size_t *idx,
		 char *why, size_t len)
{
	struct acl_subject s = { .uid = 1000, .gid = 1000 };
	struct acl_request areq = { .subject = &s, .role = ACL_ROLE_SERVER };
	struct acl_decision d;

	*ret = NULL;
	return vhost_admit(conf, acl, &areq, spec, ret, idx, &d, why, len);
}

static const char *name_of(size_t idx)
{
	return conf->ids[idx].name;
}

START_TEST(list_and_default)
{
	struct acl *acl = make_acl("allow uid:1000 * server\n");
	struct vhost_set *s;
	size_t idx = 99;
	char why[256];

	conf = make_conf(3);
	ck_assert_int_eq(admit(acl, "h1.example.test,H0.Example.test", &s, &idx, why, sizeof(why)), 0);
	ck_assert_uint_eq(s->n, 2);
	ck_assert_str_eq(name_of(s->cand[0].id_index), "h1.example.test");
	ck_assert_str_eq(name_of(s->cand[s->dflt].id_index), "h1.example.test");
	ck_assert_str_eq(name_of(idx), "h1.example.test");
	vhost_free(s);
	/* A pattern: every host below, never the user nor another domain;
	 * the exact name listed too is kept once; no default without one. */
	ck_assert_int_eq(admit(acl, "*.example.test", &s, &idx, why, sizeof(why)), 0);
	ck_assert_uint_eq(s->n, 3);
	ck_assert_uint_eq(s->dflt, s->n);
	vhost_free(s);
	ck_assert_int_eq(admit(acl, "*.example.test,h2.example.test", &s, &idx, why, sizeof(why)), 0);
	ck_assert_uint_eq(s->n, 3);
	ck_assert_str_eq(name_of(s->cand[s->dflt].id_index), "h2.example.test");
	vhost_free(s);
	acl_unref(acl);
	keyd_conf_free(conf);
}
END_TEST

START_TEST(acl_per_identity)
{
	struct acl *acl = make_acl("allow uid:1000 h1.example.test server\n");
	struct vhost_set *s;
	size_t idx = 99;
	char why[256];

	conf = make_conf(3);
	/* The default is not allowed: the first allowed stands in, and the
	 * default keeps its refusal for the pick. */
	ck_assert_int_eq(admit(acl, "h0.example.test,h1.example.test", &s, &idx, why, sizeof(why)), 0);
	ck_assert_str_eq(name_of(idx), "h1.example.test");
	ck_assert_int_eq(s->cand[0].decision.allowed, 0);
	ck_assert_int_eq(s->cand[1].decision.allowed, 1);
	vhost_free(s);
	/* None allowed: EACCES naming the list, the first for the record. */
	ck_assert_int_eq(admit(acl, "h0.example.test,h2.example.test", &s, &idx, why, sizeof(why)),
			 -EACCES);
	ck_assert_ptr_null(s);
	ck_assert_str_eq(name_of(idx), "h0.example.test");
	ck_assert_ptr_nonnull(strstr(why, "h0.example.test,h2.example.test"));
	/* No ACL: nothing is allowed. */
	ck_assert_int_eq(admit(NULL, "h1.example.test,h2.example.test", &s, &idx, why, sizeof(why)),
			 -EACCES);
	acl_unref(acl);
	keyd_conf_free(conf);
}
END_TEST

START_TEST(refusals)
{
	struct acl *acl = make_acl("allow uid:1000 * server\n");
	struct vhost_set *s;
	size_t idx = 99;
	char why[256];

	conf = make_conf(33);
	ck_assert_int_eq(admit(acl, "h0.example.test,nokey.example.test", &s, &idx, why, sizeof(why)),
			 -ENOKEY);
	ck_assert_ptr_nonnull(strstr(why, "nokey.example.test"));
	ck_assert_int_eq(admit(acl, "*.nothing.test", &s, &idx, why, sizeof(why)), -ENOKEY);
	ck_assert_int_eq(admit(acl, "*.test", &s, &idx, why, sizeof(why)), -E2BIG);
	ck_assert_int_eq(admit(acl, "*.example.test", &s, &idx, why, sizeof(why)), -E2BIG);
	ck_assert_ptr_null(s);
	ck_assert_uint_eq(idx, 99);
	acl_unref(acl);
	keyd_conf_free(conf);
}
END_TEST

int main(void)
{
	const TTest *tests[] = { list_and_default, acl_per_identity, refusals, NULL };

	return tkt_run("vhost", "/keyd/vhost", NULL, NULL, 0, tests);
}
