/* ACL subjects (the SUBJECT field of allow and deny lines, doc/acl.md
 * "Subjects"): any, uid:/user:, gid:/group:, unit:, exe: and their
 * '+' combinations, with user and group names resolved through NSS while
 * the file is parsed.  Split from acl_parse.c, which calls
 * acl_subject_parse() for each rule. */
#include "config.h"

#include <grp.h>
#include <pwd.h>
#include <stdio.h>

#include "common/util.h"
#include "policy/acl_parser.h"

/* getpwnam_r/getgrnam_r buffers grow up to this before we give up. */
#define ACL_NSS_BUF_MAX (1024u * 1024u)

/* Strict decimal id: digits only, no sign, and never (uid_t)-1, which the
 * kernel uses for "no id". */
static int parse_id(const char *s, uint32_t *ret)
{
	uint64_t v = 0;
	size_t i;

	if (!s[0])
		return -EINVAL;
	for (i = 0; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v >= UINT32_MAX)
		return -EINVAL;
	*ret = (uint32_t)v;
	return 0;
}

static int all_digits(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/* Contract in acl_parser.h.  Returns 0,
 * -ENOENT if there is no such name, or another negative errno if the
 * lookup itself failed (NSS backend down: not the same as "no such user"). */
int acl_name_resolve(const char *name, int is_group, uint32_t *ret_id)
{
	char *buf = NULL;
	size_t size = 4096;
	int r;

	for (;;) {
		struct passwd pw, *pwres = NULL;
		struct group gr, *grres = NULL;

		buf = malloc(size);
		if (!buf)
			return -ENOMEM;
		if (is_group)
			r = getgrnam_r(name, &gr, buf, size, &grres);
		else
			r = getpwnam_r(name, &pw, buf, size, &pwres);
		if (r == ERANGE && size < ACL_NSS_BUF_MAX) {
			free(buf);
			buf = NULL;
			size *= 2;
			continue;
		}
		if (r != 0) {
			r = -r;
		} else if (is_group ? !grres : !pwres) {
			r = -ENOENT;
		} else {
			*ret_id = is_group ? (uint32_t)grres->gr_gid : (uint32_t)pwres->pw_uid;
			r = 0;
		}
		break;
	}
	free(buf);
	return r;
}

/* A systemd unit name or a glob of one.  Only '*' and '?' are offered as
 * wildcards: '[' classes would be another little language to get wrong.  An
 * exact name must carry a type suffix, or it could never match. */
static const char *unit_validate(const char *s)
{
	size_t len = strlen(s);
	int glob = 0;

	if (len == 0 || len > 255)
		return "unit name must be 1 to 255 bytes";
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '*' || c == '?') {
			glob = 1;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == ':' || c == '-' || c == '_' || c == '.' || c == '\\' || c == '@'))
			return "invalid character in unit name (allowed: letters, digits, "
			       "\":-_.\\@\" and the wildcards '*' '?')";
	}
	if (!glob) {
		const char *dot = strrchr(s, '.');

		if (!dot || dot == s || dot[1] == '\0')
			return "unit name needs a type suffix such as \".service\"";
	}
	return NULL;
}

/* The daemon compares against the kernel's /proc/PID/exe, which is always
 * absolute and canonical, so any other spelling could never match. */
static const char *exe_validate(const char *s)
{
	size_t len = strlen(s);

	if (s[0] != '/')
		return "executable path must be absolute";
	if (len < 2 || s[len - 1] == '/')
		return "executable path must name a file, not a directory";
	if (strstr(s, "//") || strstr(s, "/./") || strstr(s, "/../") ||
	    (len >= 2 && !strcmp(s + len - 2, "/.")) || (len >= 3 && !strcmp(s + len - 3, "/..")))
		return "executable path must be canonical (no \"//\", \".\" or \"..\" components)";
	return NULL;
}

/* One part of a subject ("user:alice", "exe:/usr/bin/x"), NUL-terminated
 * at tok, which lives in rule->parts_buf. */
static int parse_subject_part(struct parser *p, char *tok, struct acl_subject_part *pt)
{
	const char *colon, *val;
	size_t klen;
	uint32_t id = 0;
	int r = 0, is_group, numeric_only;

	colon = strchr(tok, ':');
	if (!colon)
		goto unknown;
	klen = (size_t)(colon - tok);
	val = tok + klen + 1;
	if (!*val) {
		acl_parser_error(p, -EINVAL, "empty value in subject '%s'", tok);
		return -EINVAL;
	}

	if ((klen == 4 && !memcmp(tok, "user", 4)) || (klen == 3 && !memcmp(tok, "uid", 3)) ||
	    (klen == 5 && !memcmp(tok, "group", 5)) || (klen == 3 && !memcmp(tok, "gid", 3))) {
		is_group = tok[0] == 'g';
		numeric_only = klen == 3; /* uid:, gid: */
		if (numeric_only || all_digits(val)) {
			/* user:/group: take a name or a number. */
			if (parse_id(val, &id) < 0) {
				acl_parser_error(p, -EINVAL, "invalid numeric %s id '%s'",
					         is_group ? "group" : "user", val);
				return -EINVAL;
			}
		} else {
			if (strlen(val) > 255) {
				acl_parser_error(p, -EINVAL, "%s name longer than 255 bytes",
					         is_group ? "group" : "user");
				return -EINVAL;
			}
			r = acl_name_resolve(val, is_group, &id);
			if (r == -ENOENT) {
				/* Never let a rule silently match nobody. */
				acl_parser_error(p, -EINVAL,
					         "unknown %s '%s' (create it first, then reload the ACL)",
					         is_group ? "group" : "user", val);
				return -EINVAL;
			}
			if (r < 0) {
				acl_parser_error(p, r, "cannot look up %s '%s': %s",
					         is_group ? "group" : "user", val, strerror(-r));
				return r;
			}
			pt->name_resolved = 1;
		}
		pt->kind = is_group ? ACL_SUBJECT_GID : ACL_SUBJECT_UID;
		if (is_group)
			pt->gid = (gid_t)id;
		else
			pt->uid = (uid_t)id;
		return 0;
	}
	if (klen == 4 && !memcmp(tok, "unit", 4)) {
		const char *why = unit_validate(val);

		if (why) {
			acl_parser_error(p, -EINVAL, "%s: '%s'", why, val);
			return -EINVAL;
		}
		pt->kind = ACL_SUBJECT_UNIT;
		pt->str = val;
		return 0;
	}
	if (klen == 3 && !memcmp(tok, "exe", 3)) {
		const char *why = exe_validate(val);

		if (why) {
			acl_parser_error(p, -EINVAL, "%s: '%s'", why, val);
			return -EINVAL;
		}
		pt->kind = ACL_SUBJECT_EXE;
		pt->str = val;
		return 0;
	}

unknown:
	acl_parser_error(p, -EINVAL,
		         "unknown subject '%s' (expected user:, uid:, group:, gid:, unit:, exe: or any)",
		         tok);
	return -EINVAL;
}

/* Is s (just after a '+') the start of another subject part?  Only then is
 * the '+' a separator, so that exe:/usr/bin/g++ stays one path. */
static int part_starts(const char *s)
{
	static const char *const kinds[] = { "user:", "uid:", "group:", "gid:", "unit:", "exe:" };

	for (size_t i = 0; i < TK_ARRAY_SIZE(kinds); i++)
		if (!strncmp(s, kinds[i], strlen(kinds[i])))
			return 1;
	return 0;
}

static const char *kind_name(enum acl_subject_kind k)
{
	switch (k) {
	case ACL_SUBJECT_UID:
		return "user:/uid:";
	case ACL_SUBJECT_GID:
		return "group:/gid:";
	case ACL_SUBJECT_UNIT:
		return "unit:";
	case ACL_SUBJECT_EXE:
		return "exe:";
	case ACL_SUBJECT_ANY:
		break;
	}
	return "any";
}

/* SUBJECT: "any", or PART[+PART...] with at most one part of each kind;
 * all parts must match (doc/acl.md, "Subjects"). */
int acl_subject_parse(struct parser *p, const char *tok, struct acl_rule *rule)
{
	char *part;
	unsigned seen = 0;
	int r;

	rule->subject_text = strdup(tok);
	rule->parts_buf = strdup(tok);
	if (!rule->subject_text || !rule->parts_buf)
		return -ENOMEM;
	if (!strcmp(tok, "any")) {
		rule->parts[0].kind = ACL_SUBJECT_ANY;
		rule->n_parts = 1;
		return 0;
	}
	if (!strncmp(tok, "any+", 4)) {
		acl_parser_error(p, -EINVAL, "'any' cannot be combined with other subjects: '%s'", tok);
		return -EINVAL;
	}
	for (part = rule->parts_buf; part;) {
		struct acl_subject_part *pt;
		char *next = NULL;

		for (char *c = strchr(part, '+'); c; c = strchr(c + 1, '+'))
			if (part_starts(c + 1)) {
				*c = '\0';
				next = c + 1;
				break;
			}
		if (rule->n_parts == ACL_SUBJECT_PARTS_MAX) {
			acl_parser_error(p, -EINVAL, "more than %u parts in subject '%s'",
				         ACL_SUBJECT_PARTS_MAX, tok);
			return -EINVAL;
		}
		pt = &rule->parts[rule->n_parts];
		r = parse_subject_part(p, part, pt);
		if (r < 0)
			return r;
		if (seen & (1u << pt->kind)) {
			acl_parser_error(p, -EINVAL, "more than one %s part in subject '%s'",
				         kind_name(pt->kind), tok);
			return -EINVAL;
		}
		seen |= 1u << pt->kind;
		rule->n_parts++;
		part = next;
	}
	return 0;
}

/* An allow rule whose subject is only exe: and/or unit: admits any local
 * user who can run that program (or LD_PRELOAD into it, or connect and
 * then exec it) or get into that unit: valid, but a warning. */
int acl_subject_process_only(const struct acl_rule *rule)
{
	for (size_t i = 0; i < rule->n_parts; i++)
		if (rule->parts[i].kind != ACL_SUBJECT_UNIT && rule->parts[i].kind != ACL_SUBJECT_EXE)
			return 0;
	return rule->n_parts > 0;
}
