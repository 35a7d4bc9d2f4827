#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <gnutls/gnutls.h>

#include "common/namelist.h"
#include "common/util.h"
#include "keyd/conn.h"
#include "keyd/gen.h"
#include "keyd/keys.h"
#include "keyd/quota.h"
#include "keyd/ocsp.h"
#include "keyd/vhost.h"

static int cand_add(struct vhost_set *s, size_t idx)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->cand[i].id_index == idx)
			return 0;
	if (s->n >= KEYD_VHOST_MAX)
		return -E2BIG;
	s->cand[s->n++].id_index = idx;
	return 1;
}

/* One list entry: an exact name must be configured (a typo in a list is
 * refused, as a single unknown myname is); a pattern adds what it covers. */
static int entry_add(struct vhost_set *s, const struct keyd_conf *conf, const char *entry, char *why,
		     size_t len)
{
	int r = 0;

	if (entry[0] != '*') {
		const struct keyd_identity *id = keyd_conf_identity(conf, entry);

		if (!id) {
			(void)snprintf(why, len, "no key configured for %s", entry);
			return -ENOKEY;
		}
		r = cand_add(s, (size_t)(id - conf->ids));
		if (s->dflt == KEYD_VHOST_MAX + 1 && r >= 0)
			s->dflt = (size_t)(id - conf->ids);
	} else {
		for (size_t j = 0; j < conf->n_ids && r >= 0; j++)
			if (tk_namelist_entry_match(entry, conf->ids[j].name) == 1)
				r = cand_add(s, j);
	}
	if (r == -E2BIG)
		(void)snprintf(why, len, "the list names more than %u identities", KEYD_VHOST_MAX);
	return r < 0 ? r : 0;
}

/* The candidates of spec; s->dflt is an identity index until resolved. */
static int collect(struct vhost_set *s, const struct keyd_conf *conf, const char *spec, char *why,
		   size_t len)
{
	char entry[TK_NAME_MAX + 1];
	int r;

	s->dflt = KEYD_VHOST_MAX + 1;
	for (size_t i = 0; tk_namelist_entry(spec, i, entry, sizeof(entry)) == 0; i++) {
		r = entry_add(s, conf, entry, why, len);
		if (r < 0)
			return r;
	}
	if (s->n == 0) {
		(void)snprintf(why, len, "no key configured for any name of %s", spec);
		return -ENOKEY;
	}
	{
		size_t d = s->n;

		for (size_t i = 0; i < s->n; i++)
			if (s->cand[i].id_index == s->dflt)
				d = i;
		s->dflt = d;
	}
	return 0;
}

int vhost_admit(const struct keyd_conf *conf, const struct acl *acl, struct acl_request *areq,
		const char *spec, struct vhost_set **ret_set, size_t *ret_index,
		struct acl_decision *ret_decision, char *why, size_t len)
{
	struct vhost_set *s = calloc(1, sizeof(*s));
	size_t first = KEYD_VHOST_MAX;
	int r;

	if (!s) {
		(void)snprintf(why, len, "out of memory");
		return -ENOMEM;
	}
	r = collect(s, conf, spec, why, len);
	if (r < 0)
		goto fail;
	for (size_t i = 0; i < s->n; i++) {
		struct vhost_cand *v = &s->cand[i];

		areq->myname = conf->ids[v->id_index].name;
		if (!acl || acl_check(acl, areq, &v->decision) < 0)
			v->decision = (struct acl_decision){ .allowed = 0 };
		if (v->decision.allowed && first == KEYD_VHOST_MAX)
			first = i;
	}
	if (first == KEYD_VHOST_MAX) {
		/* Refused for the first candidate, as if it had been asked for
		 * alone: nothing about the others is revealed. */
		*ret_index = s->cand[0].id_index;
		*ret_decision = s->cand[0].decision;
		(void)snprintf(why, len, "access to %s as server denied by tlskeyd policy", spec);
		r = -EACCES;
		goto fail;
	}
	if (s->dflt < s->n && s->cand[s->dflt].decision.allowed)
		first = s->dflt;
	*ret_index = s->cand[first].id_index;
	*ret_decision = s->cand[first].decision;
	*ret_set = s;
	return 0;
fail:
	free(s);
	return r;
}

static int refuse(struct vhost_set *s, int err, int alert, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int refuse(struct vhost_set *s, int err, int alert, const char *fmt, ...)
{
	va_list ap;

	s->err = err;
	s->alert = alert;
	va_start(ap, fmt);
	(void)vsnprintf(s->why, sizeof(s->why), fmt, ap);
	va_end(ap);
	return -err;
}

/* Move c's identity (and its handshake share) to candidate v. */
static int switch_to(struct conn *c, const struct vhost_cand *v)
{
	struct keyd_request *q = &c->req;
	const struct keyd_identity *id = &q->gen->conf->ids[v->id_index];

	if (v->id_index != q->id_index) {
		int r = quota_handshake_take(q->gen->quota, q->cred.uid, v->id_index);

		if (r < 0)
			return r;
		quota_handshake_put(q->gen->quota, q->cred.uid, q->id_index);
	}
	q->id = id;
	q->id_index = v->id_index;
	q->decision = v->decision;
	(void)snprintf(q->msg.myname, sizeof(q->msg.myname), "%s", id->name);
	return 0;
}

int vhost_pick(struct conn *c, const char *sni)
{
	struct vhost_set *s = c->req.vhost;
	const struct keyd_conf *conf = c->req.gen->conf;
	const struct vhost_cand *v = NULL;
	char why[TK_MESSAGE_MAX];
	int r;

	if (s->picked)
		return s->err ? -s->err : 0;
	s->picked = 1;
	for (size_t i = 0; i < s->n && sni[0] && !v; i++) {
		const char *name = conf->ids[s->cand[i].id_index].name;

		if (tk_identity_equal(name, strlen(name), sni, strlen(sni)))
			v = &s->cand[i];
	}
	if (!sni[0] && s->dflt < s->n)
		v = &s->cand[s->dflt];
	if (!v)
		return refuse(s, EHOSTUNREACH, GNUTLS_A_UNRECOGNIZED_NAME,
			      "no identity of %s for server name %s", c->req.msg.myname,
			      sni[0] ? sni : "(none)");
	if (!v->decision.allowed) {
		/* Name it in the records (acl-denied names the rule); no share
		 * is taken and no key is touched for it. */
		c->req.id = &conf->ids[v->id_index];
		c->req.decision = v->decision;
		(void)snprintf(c->req.msg.myname, sizeof(c->req.msg.myname), "%s", c->req.id->name);
		return refuse(s, EACCES, GNUTLS_A_ACCESS_DENIED,
			      "access to %s as server denied by tlskeyd policy", c->req.id->name);
	}
	r = switch_to(c, v);
	if (r < 0)
		return refuse(s, -r, GNUTLS_A_INTERNAL_ERROR, "%s %s, try again later",
			      r == -EAGAIN ? "too many handshakes with" : "out of memory for",
			      conf->ids[v->id_index].name);
	/* As handshake_begin() does for a single name: a must-staple
	 * certificate without a current OCSP response is not served. */
	r = ocsp_server_check(&c->req.gen->ocsp[c->req.id_index], c->req.id->name, time(NULL), why,
			      sizeof(why));
	if (r == 0)
		r = keys_ensure(c, why, sizeof(why));
	if (r < 0)
		return refuse(s, -r, GNUTLS_A_INTERNAL_ERROR, "%s", why);
	s->signs0 = c->ks->keys[c->req.id_index].signs;
	s->sign_us0 = c->ks->keys[c->req.id_index].sign_us;
	return 0;
}

void vhost_free(struct vhost_set *set)
{
	free(set);
}
