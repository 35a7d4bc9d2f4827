/* ACL lifetime and decisions: reference counting, acl_check() for local
 * callers, acl_check_peer()/acl_map_user() for the remote side, and the
 * formatting a CLI uses to list what was parsed.  Pure functions of the
 * parsed ACL and their arguments: no I/O here. */
#include "config.h"

#include <fnmatch.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>

#include "common/buf.h"
#include "common/flags.h"
#include "common/peerid.h"
#include "common/util.h"
#include "lib/tlskey/starttls.h"
#include "policy/acl_internal.h"

/* The ACL names the wire flags itself so that policy/ does not depend on
 * the public header's evolution, but they must stay the same bits. */
_Static_assert(ACL_FLAG_NO_CACHE_READ == TLSKEY_FLAG_NO_CACHE_READ, "flag drift");
_Static_assert(ACL_FLAG_NO_CACHE_WRITE == TLSKEY_FLAG_NO_CACHE_WRITE, "flag drift");
_Static_assert(ACL_FLAG_SKIP_AUTHORIZATION == TLSKEY_FLAG_SKIP_AUTHORIZATION, "flag drift");

struct acl *acl_new(const char *name)
{
	struct acl *acl = calloc(1, sizeof(*acl));
	size_t len = strlen(name);

	if (!acl)
		return NULL;
	atomic_init(&acl->refcount, 1);
	/* Keep the tail of a long path: that is the part that tells files apart. */
	if (len < sizeof(acl->name))
		memcpy(acl->name, name, len + 1);
	else
		(void)snprintf(acl->name, sizeof(acl->name), "...%s",
			       name + len - (sizeof(acl->name) - 4));
	return acl;
}

void acl_rule_done(struct acl_rule *rule)
{
	if (!rule)
		return;
	free(rule->subject_text);
	free(rule->parts_buf);
	acl_pattern_done(&rule->myname);
	for (size_t j = 0; j < rule->n_peers; j++)
		acl_pattern_done(&rule->peers[j]);
	free(rule->peers);
}

static void acl_free(struct acl *acl)
{
	for (size_t i = 0; i < acl->n_rules; i++)
		acl_rule_done(&acl->rules[i]);
	free(acl->rules);
	for (size_t i = 0; i < acl->n_maps; i++) {
		acl_pattern_done(&acl->maps[i].pattern);
		free(acl->maps[i].target);
	}
	free(acl->maps);
	free(acl);
}

struct acl *acl_ref(struct acl *acl)
{
	if (acl) {
		unsigned old = atomic_fetch_add_explicit(&acl->refcount, 1, memory_order_relaxed);

		/* A wrapped or resurrected count means a use after free somewhere. */
		if (old == 0 || old == UINT_MAX)
			abort();
	}
	return acl;
}

void acl_unref(struct acl *acl)
{
	unsigned old;

	if (!acl)
		return;
	old = atomic_fetch_sub_explicit(&acl->refcount, 1, memory_order_acq_rel);
	if (old == 0)
		abort();
	if (old == 1)
		acl_free(acl);
}

const char *acl_role_name(enum acl_role role)
{
	switch (role) {
	case ACL_ROLE_CLIENT:
		return "client";
	case ACL_ROLE_SERVER:
		return "server";
	}
	return "invalid";
}

size_t acl_rule_count(const struct acl *acl)
{
	return acl ? acl->n_rules : 0;
}

size_t acl_map_count(const struct acl *acl)
{
	return acl ? acl->n_maps : 0;
}

unsigned acl_rule_line(const struct acl *acl, size_t i)
{
	return acl && i < acl->n_rules ? acl->rules[i].line : 0;
}

unsigned acl_map_line(const struct acl *acl, size_t i)
{
	return acl && i < acl->n_maps ? acl->maps[i].line : 0;
}

const char *acl_name(const struct acl *acl)
{
	return acl ? acl->name : NULL;
}

/* A valid identity: what tk_name_validate() accepts, read at most 256 bytes
 * far so that an unterminated string cannot run us off the end. */
static int identity_valid(const char *id)
{
	size_t len = strnlen(id, 256);

	return len < 256 && tk_name_validate(id, len) == 0;
}

/* A peer may also be a SPIFFE ID or an address (common/peerid.h). */
static int peer_valid(const char *id)
{
	return tk_peer_kind(id) != TK_PEER_INVALID;
}

/* One part of a rule's subject.  unit and exe may be unknown (NULL): the
 * daemon could not read them, or could not tie them to the process that
 * connected.  Unknown never satisfies an allow rule (it cannot vouch for
 * the caller) and always satisfies a deny rule: a deny must not be
 * escaped by being unreadable. */
static int part_match(const struct acl_subject_part *pt, enum acl_action action,
		      const struct acl_subject *s)
{
	switch (pt->kind) {
	case ACL_SUBJECT_ANY:
		return 1;
	case ACL_SUBJECT_UID:
		return s->uid == pt->uid;
	case ACL_SUBJECT_GID:
		if (s->gid == pt->gid)
			return 1;
		for (size_t i = 0; i < s->n_groups; i++)
			if (s->groups[i] == pt->gid)
				return 1;
		return 0;
	case ACL_SUBJECT_UNIT:
		if (!s->unit)
			return action == ACL_ACTION_DENY;
		/* FNM_NOESCAPE: '\' is part of systemd's escaping ("a\x2db.service"),
		 * not a glob escape. */
		return fnmatch(pt->str, s->unit, FNM_NOESCAPE) == 0;
	case ACL_SUBJECT_EXE:
		if (!s->exe)
			return action == ACL_ACTION_DENY;
		return strcmp(pt->str, s->exe) == 0;
	}
	return 0;
}

/* All parts must match. */
static int subject_match(const struct acl_rule *rule, const struct acl_subject *s)
{
	for (size_t i = 0; i < rule->n_parts; i++)
		if (!part_match(&rule->parts[i], rule->action, s))
			return 0;
	return rule->n_parts > 0;
}

int acl_check(const struct acl *acl, const struct acl_request *req, struct acl_decision *ret)
{
	struct acl_decision d = { 0 };
	const struct acl_subject *s;
	uint32_t priv;

	if (!acl || !req || !ret || !req->subject || !req->myname)
		return -EINVAL;
	s = req->subject;
	if (req->role != ACL_ROLE_CLIENT && req->role != ACL_ROLE_SERVER)
		return -EINVAL;
	if (!s->groups && s->n_groups > 0)
		return -EINVAL;
	if (!identity_valid(req->myname))
		return -EINVAL;
	priv = req->flags & ACL_FLAGS_PRIVILEGED;

	for (size_t i = 0; i < acl->n_rules; i++) {
		const struct acl_rule *rule = &acl->rules[i];

		if (!(rule->roles & (unsigned)req->role) || !subject_match(rule, s) ||
		    !acl_pattern_match(&rule->myname, req->myname))
			continue;
		if (rule->action == ACL_ACTION_ALLOW && (priv & ~rule->flags)) {
			/* This rule allows the use but not these flags: a later rule
			 * may grant them; remember the first refusal for the log. */
			if (!d.denied_flags)
				d.denied_flags = priv & ~rule->flags;
			continue;
		}
		d.allowed = rule->action == ACL_ACTION_ALLOW;
		d.action = rule->action;
		d.rule = rule;
		d.line = rule->line;
		d.map_user = d.allowed && rule->map_user;
		(void)snprintf(d.where, sizeof(d.where), "%s:%u", acl->name, rule->line);
		*ret = d;
		return 0;
	}

	d.allowed = 0;
	d.action = ACL_ACTION_DENY;
	(void)snprintf(d.where, sizeof(d.where), "default deny");
	*ret = d;
	return 0;
}

static void set_why(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

int acl_explain(const struct acl *acl, const struct acl_request *req, struct acl_near_miss *ret, size_t max)
{
	struct acl_decision d;
	uint32_t priv;
	size_t n = 0;

	if (!ret || acl_check(acl, req, &d) < 0)
		return -EINVAL;
	priv = req->flags & ACL_FLAGS_PRIVILEGED;
	for (size_t i = 0; i < acl->n_rules && n < max; i++) {
		const struct acl_rule *rule = &acl->rules[i];
		int role = (rule->roles & (unsigned)req->role) != 0, subj = subject_match(rule, req->subject);
		int name = acl_pattern_match(&rule->myname, req->myname), flags = !(priv & ~rule->flags);
		enum acl_miss what;

		if (rule == d.rule)
			break;
		if (rule->action != ACL_ACTION_ALLOW || role + subj + name + flags != 3)
			continue;
		what = !role ? ACL_MISS_ROLE : !subj ? ACL_MISS_SUBJECT : !name ? ACL_MISS_MYNAME : ACL_MISS_FLAGS;
		ret[n++] = (struct acl_near_miss){ .index = i, .line = rule->line, .what = what,
						   .flags = what == ACL_MISS_FLAGS ? priv & ~rule->flags : 0 };
	}
	return (int)n;
}

const char *acl_miss_name(enum acl_miss what)
{
	switch (what) {
	case ACL_MISS_ROLE: return "role";
	case ACL_MISS_SUBJECT: return "subject";
	case ACL_MISS_MYNAME: return "myname";
	case ACL_MISS_FLAGS: return "flags";
	}
	return "?";
}

static void set_why(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (!why || whylen == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

/* Does d->rule point at one of acl's rules?  Compared as integers: the
 * decision may come from a different (reloaded) ACL. */
static int rule_belongs(const struct acl *acl, const struct acl_rule *rule)
{
	uintptr_t base = (uintptr_t)acl->rules, p = (uintptr_t)rule;

	return acl->n_rules > 0 && p >= base && p < base + acl->n_rules * sizeof(*rule) &&
	       (p - base) % sizeof(*rule) == 0;
}

int acl_check_peer(const struct acl *acl, const struct acl_decision *d, const char *peer_identity,
		   char *why, size_t whylen)
{
	const struct acl_rule *rule;
	char user[64];
	int r;

	if (why && whylen > 0)
		why[0] = '\0';
	if (!acl || !d || !peer_identity || (!why && whylen > 0))
		return -EINVAL;
	if (d->rule && !rule_belongs(acl, d->rule))
		return -EINVAL;
	if (!d->allowed || !d->rule) {
		set_why(why, whylen, "request was not admitted by the ACL (%s)", d->where);
		return -EACCES;
	}
	rule = d->rule;
	if (!peer_valid(peer_identity)) {
		set_why(why, whylen, "peer identity is not a valid domain, user@domain, SPIFFE ID "
				     "or address");
		return -EACCES;
	}

	if (rule->peers) {
		size_t i;

		for (i = 0; i < rule->n_peers; i++)
			if (acl_pattern_match(&rule->peers[i], peer_identity))
				break;
		if (i == rule->n_peers) {
			set_why(why, whylen, "peer not listed in peers= of %s", d->where);
			return -EACCES;
		}
	}
	if (rule->map_user) {
		r = acl_map_user(acl, peer_identity, user, sizeof(user));
		if (r < 0) {
			set_why(why, whylen, "peer maps to no local user (map-user at %s)", d->where);
			return -EACCES;
		}
	}
	return 0;
}

int acl_decision_restricts_peers(const struct acl_decision *d)
{
	return d && d->allowed && d->rule && (d->rule->peers || d->rule->map_user);
}

int acl_map_user(const struct acl *acl, const char *peer_identity, char *ret_user, size_t len)
{
	const char *name;
	size_t nlen;

	if (!acl || !peer_identity || !ret_user)
		return -EINVAL;
	if (!peer_valid(peer_identity))
		return -EINVAL;

	for (size_t i = 0; i < acl->n_maps; i++) {
		const struct acl_map *m = &acl->maps[i];

		if (!acl_pattern_match(&m->pattern, peer_identity))
			continue;
		if (!strcmp(m->target, "-"))
			return -ENOENT;
		if (!strcmp(m->target, "%u")) {
			/* Parse time guaranteed a user-only pattern, so '@' is there. */
			name = peer_identity;
			nlen = (size_t)(strchr(peer_identity, '@') - peer_identity);
			if (!acl_user_name_valid(name, nlen))
				return -EINVAL;
		} else {
			name = m->target;
			nlen = strlen(name);
		}
		if (nlen + 1 > len)
			return -ERANGE;
		memcpy(ret_user, name, nlen);
		ret_user[nlen] = '\0';
		return 0;
	}
	return -ENOENT;
}

static void put_str(struct tk_wbuf *w, const char *s)
{
	tk_wbuf_put_bytes(w, s, strlen(s));
}

static void put_patterns(struct tk_wbuf *w, const struct acl_pattern *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			put_str(w, ",");
		put_str(w, p[i].text);
	}
}

/* Finish a formatted line: NUL-terminate within len (the writer was given
 * len - 1 bytes) and report overflow. */
static int put_end(struct tk_wbuf *w, char *buf)
{
	buf[w->len] = '\0';
	return tk_wbuf_error(w) < 0 ? -ENOBUFS : 0;
}

static void put_where(struct tk_wbuf *w, const struct acl *acl, unsigned line)
{
	char num[16];

	(void)snprintf(num, sizeof(num), ":%u: ", line);
	put_str(w, acl->name);
	put_str(w, num);
}

int acl_rule_format(const struct acl *acl, size_t i, char *buf, size_t len)
{
	const struct acl_rule *rule;
	struct tk_wbuf w;
	char num[32];

	if (!acl || !buf || len == 0)
		return -EINVAL;
	if (i >= acl->n_rules)
		return -ENOENT;
	rule = &acl->rules[i];
	tk_wbuf_init(&w, (uint8_t *)buf, len - 1);

	put_where(&w, acl, rule->line);
	put_str(&w, rule->action == ACL_ACTION_ALLOW ? "allow " : "deny ");
	put_str(&w, rule->subject_text);
	put_str(&w, " ");
	put_str(&w, rule->myname.text);
	put_str(&w, " ");
	if (rule->roles == (ACL_ROLE_CLIENT | ACL_ROLE_SERVER))
		put_str(&w, "client,server");
	else
		put_str(&w, acl_role_name((enum acl_role)rule->roles));
	if (rule->flags) {
		/* The ACL's own order (as doc/acl.md writes them), names from
		 * common/flags.c. */
		static const uint32_t order[] = { ACL_FLAG_SKIP_AUTHORIZATION, ACL_FLAG_NO_CACHE_READ,
						  ACL_FLAG_NO_CACHE_WRITE };
		const char *sep = " flags=";

		for (size_t k = 0; k < TK_ARRAY_SIZE(order); k++) {
			if (!(rule->flags & order[k]))
				continue;
			put_str(&w, sep);
			put_str(&w, tk_flag_name(order[k]));
			sep = ",";
		}
	}
	if (rule->peers) {
		put_str(&w, " peers=");
		put_patterns(&w, rule->peers, rule->n_peers);
	}
	if (rule->map_user)
		put_str(&w, " map-user");
	{
		/* Show what names meant at load time: ids outlive renames. */
		const char *sep = " # ";

		for (size_t j = 0; j < rule->n_parts; j++) {
			const struct acl_subject_part *pt = &rule->parts[j];

			if (!pt->name_resolved)
				continue;
			(void)snprintf(num, sizeof(num), "%s%s=%u", sep,
				       pt->kind == ACL_SUBJECT_GID ? "gid" : "uid",
				       pt->kind == ACL_SUBJECT_GID ? (unsigned)pt->gid
								   : (unsigned)pt->uid);
			put_str(&w, num);
			sep = " ";
		}
	}
	return put_end(&w, buf);
}

int acl_map_format(const struct acl *acl, size_t i, char *buf, size_t len)
{
	const struct acl_map *m;
	struct tk_wbuf w;

	if (!acl || !buf || len == 0)
		return -EINVAL;
	if (i >= acl->n_maps)
		return -ENOENT;
	m = &acl->maps[i];
	tk_wbuf_init(&w, (uint8_t *)buf, len - 1);
	put_where(&w, acl, m->line);
	put_str(&w, "map ");
	put_str(&w, m->pattern.text);
	put_str(&w, " ");
	put_str(&w, m->target);
	return put_end(&w, buf);
}
