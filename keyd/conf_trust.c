/* The trust settings of tlskeyd.conf, global and per [identity]: trust
 * anchors, CRLs, the CA names a server asks client certificates from,
 * and the priority string (doc/config.md, "Validation"). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyd/conf.h"

static int set(char **dst, const char *val)
{
	/* check_once() in conf.c already refused a second one. */
	free(*dst);
	*dst = strdup(val);
	return *dst ? 0 : -ENOMEM;
}

static int set_abs(char **dst, const char *key, const char *val, char *why, size_t len)
{
	if (val[0] != '/') {
		(void)snprintf(why, len, "'%s' must be an absolute path, got '%s'", key, val);
		return -EINVAL;
	}
	return set(dst, val);
}

int keyd_conf_trust_setting(struct keyd_trustconf *t, const char *key, const char *val, char *why,
			    size_t len)
{
	if (!strcmp(key, "ca-file"))
		return strcmp(val, "system") ? set_abs(&t->ca_file, key, val, why, len)
					     : set(&t->ca_file, val);
	if (!strcmp(key, "ca-dir"))
		return set_abs(&t->ca_dir, key, val, why, len);
	if (!strcmp(key, "crl-file"))
		return set_abs(&t->crl_file, key, val, why, len);
	if (!strcmp(key, "crl-dir"))
		return set_abs(&t->crl_dir, key, val, why, len);
	if (!strcmp(key, "priority"))
		return set(&t->priority, val);
	if (!strcmp(key, "client-ca-names")) {
		if (strcmp(val, "anchors") && strcmp(val, "none") && val[0] != '/') {
			(void)snprintf(why, len,
				       "'client-ca-names' must be anchors, none or an absolute path, not '%s'", val);
			return -EINVAL;
		}
		return set(&t->client_ca_names, val);
	}
	if (!strcmp(key, "crl-expired")) {
		if (strcmp(val, "refuse") && strcmp(val, "accept")) {
			(void)snprintf(why, len, "'crl-expired' must be refuse or accept, not '%s'", val);
			return -EINVAL;
		}
		t->crl_expired = !strcmp(val, "accept") ? KEYD_CRL_EXPIRED_ACCEPT : KEYD_CRL_EXPIRED_REFUSE;
		return 0;
	}
	return 1;
}

struct keyd_trustconf keyd_conf_trust_of(const struct keyd_conf *conf, const struct keyd_identity *id)
{
	const struct keyd_trustconf *g = &conf->trust, *o = id ? &id->trust : NULL;
	struct keyd_trustconf t = *g;

	if (!o)
		return t;
	/* The anchors are one setting: an identity naming its own ca-file
	 * or ca-dir does not also trust the global ones. */
	if (o->ca_file || o->ca_dir) {
		t.ca_file = o->ca_file;
		t.ca_dir = o->ca_dir;
		/* CRLs go with their anchors: the global ones are signed by
		 * the global CAs, not by this identity's. */
		t.crl_file = o->crl_file;
		t.crl_dir = o->crl_dir;
	} else {
		/* Under the global anchors each CRL setting stands alone: a
		 * crl-dir of the identity's must not drop the global crl-file
		 * (its revocations would stop counting here). */
		if (o->crl_file)
			t.crl_file = o->crl_file;
		if (o->crl_dir)
			t.crl_dir = o->crl_dir;
	}
	if (o->client_ca_names)
		t.client_ca_names = o->client_ca_names;
	if (o->priority)
		t.priority = o->priority;
	if (o->crl_expired)
		t.crl_expired = o->crl_expired;
	return t;
}

static int str_eq(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

int keyd_conf_trust_equal(const struct keyd_trustconf *a, const struct keyd_trustconf *b)
{
	return str_eq(a->ca_file, b->ca_file) && str_eq(a->ca_dir, b->ca_dir) &&
	       str_eq(a->crl_file, b->crl_file) && str_eq(a->crl_dir, b->crl_dir) &&
	       str_eq(a->client_ca_names, b->client_ca_names) && str_eq(a->priority, b->priority) &&
	       a->crl_expired == b->crl_expired;
}

void keyd_conf_trust_free(struct keyd_trustconf *t)
{
	free(t->ca_file);
	free(t->ca_dir);
	free(t->crl_file);
	free(t->crl_dir);
	free(t->client_ca_names);
	free(t->priority);
}

int keyd_conf_reeval_parse(const char *val, enum keyd_reeval *ret)
{
	if (!strcmp(val, "end"))
		*ret = KEYD_REEVAL_END;
	else if (!strcmp(val, "log"))
		*ret = KEYD_REEVAL_LOG;
	else if (!strcmp(val, "off"))
		*ret = KEYD_REEVAL_OFF;
	else
		return -EINVAL;
	return 0;
}
