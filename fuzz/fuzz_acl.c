/* libFuzzer harness for the ACL parser (policy/acl_parse.c) and, when the
 * input parses, for the matcher and the formatting code on a fixed set of
 * requests.  Built by ./configure --enable-fuzzing (fuzz/local.mk), linked
 * with libtlskey-policy.la; fuzz/run.sh builds and runs it. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/acl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(struct acl *acl)
{
	static const char *const names[] = {
		"example.test", "www.example.test", "alice@example.test", "alice@sub.example.test",
		"evil-example.test", "partner.example.org", "root@example.test",
	};
	static const gid_t groups[] = { 0, 10, 1000 };
	struct acl_subject subj[] = {
		{ .uid = 0, .gid = 0 },
		{ .uid = 1000, .gid = 1000, .groups = groups, .n_groups = 3,
		  .unit = "nginx.service", .exe = "/usr/bin/myapp" },
	};
	char buf[8192], user[64], why[256];

	for (size_t i = 0; i < acl_rule_count(acl); i++)
		(void)acl_rule_format(acl, i, buf, sizeof(buf));
	for (size_t i = 0; i < acl_map_count(acl); i++)
		(void)acl_map_format(acl, i, buf, sizeof(buf));

	for (size_t s = 0; s < sizeof(subj) / sizeof(subj[0]); s++)
		for (size_t n = 0; n < sizeof(names) / sizeof(names[0]); n++) {
			struct acl_request req = { .subject = &subj[s], .myname = names[n],
						   .role = (n & 1) ? ACL_ROLE_CLIENT : ACL_ROLE_SERVER,
						   .flags = (n & 2) ? 0x00e0u : 0 };
			struct acl_decision d;

			if (acl_check(acl, &req, &d) < 0)
				abort(); /* valid arguments must always decide */
			for (size_t p = 0; p < sizeof(names) / sizeof(names[0]); p++)
				(void)acl_check_peer(acl, &d, names[p], why, sizeof(why));
		}
	for (size_t n = 0; n < sizeof(names) / sizeof(names[0]); n++)
		(void)acl_map_user(acl, names[n], user, sizeof(user));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct acl *acl = NULL;
	char err[1024];
	int r;

	r = acl_load_buffer("fuzz", (const char *)data, size, &acl, err, sizeof(err));
	if (r == 0) {
		exercise(acl);
		acl_unref(acl);
	} else if (acl || strlen(err) >= sizeof(err) || (size > 0 && r != -EFBIG && !err[0])) {
		abort(); /* a failure must leave ret_acl alone and say why */
	}
	return 0;
}
