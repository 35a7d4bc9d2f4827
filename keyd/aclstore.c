/* The ACL store: the rules in force, their generation, loading and
 * replacing them (a reload, keyd/reload.c).  Thread-safe: readers take a
 * reference under k->acl_lock and keep it for the life of a request. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "keyd/aclstore.h"
#include "keyd/notify.h"
#include "keyd/gen.h"
#include "keyd/log.h"

/* What acl_load_file() leaves in err on success: one warning per line. */
static void log_warnings(const char *warnings)
{
	const char *p = warnings;

	while (p && *p) {
		const char *nl = strchr(p, '\n');
		int n = nl ? (int)(nl - p) : (int)strlen(p);

		keyd_log(LOG_WARNING, "ACL: %.*s", n, p);
		p = nl ? nl + 1 : NULL;
	}
}

int aclstore_load(struct keyd *k)
{
	char err[1024] = "";
	int r;

	if (!k->conf->acl_path) {
		keyd_log(LOG_WARNING, "no 'acl' file configured: every request will be denied");
		return 0;
	}
	r = acl_load_file(k->conf->acl_path, &k->acl, err, sizeof(err));
	if (r < 0) {
		keyd_log(LOG_ERR, "ACL: %s", err);
		return r;
	}
	log_warnings(err);
	return 0;
}

struct acl *aclstore_current(struct keyd *k, unsigned *ret_gen)
{
	struct acl *a;

	pthread_mutex_lock(&k->acl_lock);
	a = acl_ref(k->acl);
	*ret_gen = k->acl_gen;
	pthread_mutex_unlock(&k->acl_lock);
	return a;
}

int aclstore_parse(const char *path, struct acl **ret_acl, struct gen_errors *errs)
{
	struct acl *fresh = NULL;
	char err[1024] = "";
	int r;

	if (!path) {
		*ret_acl = NULL;
		return 0;
	}
	r = acl_load_file(path, &fresh, err, sizeof(err));
	if (r < 0) {
		gen_error(errs, "%s", err);
		return r;
	}
	log_warnings(err);
	*ret_acl = fresh;
	return 0;
}

void aclstore_publish(struct keyd *k, struct acl *fresh)
{
	struct acl *old;

	pthread_mutex_lock(&k->acl_lock);
	old = k->acl;
	k->acl = fresh;
	/* Also for the same rules: the validation cache keys on it. */
	k->acl_gen++;
	pthread_mutex_unlock(&k->acl_lock);
	/* Requests in flight and sessions hold their own references. */
	acl_unref(old);
}

void aclstore_audit_reload(struct keyd *k, const struct ucred *cred, const char *unit, int r,
		       const char *detail)
{
	struct keyd_audit a = { .event = "acl-reload",
				.cred = cred,
				.unit = unit,
				.err = r < 0 ? -r : 0,
				.rule = k->conf->acl_path,
				.sign_us = -1,
				.handshake_ms = -1,
				.detail = detail };

	keyd_audit(&a);
}

