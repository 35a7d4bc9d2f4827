/* The ACL file parser (format: doc/acl.md).
 *
 * The whole source is parsed before anything is returned: one bad line
 * rejects the file, so a half-understood policy is never applied.  Every
 * size is bounded before it is used (file, line, entry count, list length)
 * and every error is reported as "name:line: message" so the operator can
 * fix all of them in one go (up to ACL_ERRORS_MAX). */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>

#include "common/flags.h"
#include "common/util.h"
#include "policy/acl_parser.h"

#define ACL_TOKENS_MAX 16u

/* Contract in acl_parser.h.  Messages stop when the buffer is full; the
 * count goes on, so the caller knows how many there were. */
void acl_parser_error(struct parser *p, int error, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (p->first_error == 0)
		p->first_error = error;
	p->n_errors++;
	if (!p->err || p->errlen == 0 || p->err_used + 1 >= p->errlen)
		return;
	if (p->err_used > 0)
		p->err[p->err_used++] = '\n';
	n = snprintf(p->err + p->err_used, p->errlen - p->err_used, "%s:%u: ", p->acl->name,
		     p->line);
	if (n < 0 || (size_t)n >= p->errlen - p->err_used) {
		p->err_used = p->errlen - 1;
		return;
	}
	p->err_used += (size_t)n;
	va_start(ap, fmt);
	n = vsnprintf(p->err + p->err_used, p->errlen - p->err_used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= p->errlen - p->err_used)
		p->err_used = p->errlen - 1;
	else
		p->err_used += (size_t)n;
}

/* Split s at commas into items, calling fn for each; empty items are errors. */
static int split_list(struct parser *p, const char *what, char *s,
		      int (*fn)(struct parser *, const char *, void *), void *userdata)
{
	char *item = s;

	for (;;) {
		char *comma = strchr(item, ',');
		int r;

		if (comma)
			*comma = '\0';
		if (!*item) {
			acl_parser_error(p, -EINVAL, "empty item in %s list", what);
			return -EINVAL;
		}
		r = fn(p, item, userdata);
		if (r < 0)
			return r;
		if (!comma)
			return 0;
		item = comma + 1;
	}
}

/* Add one named bit of a list to *set: unknown (bit 0) and repeated names
 * are errors, the message naming what the list holds and what it takes. */
static int add_named_bit(struct parser *p, const char *what, const char *item, uint32_t bit,
			 const char *expected, uint32_t *set)
{
	if (!bit) {
		acl_parser_error(p, -EINVAL, "unknown %s '%s' (expected %s)", what, item, expected);
		return -EINVAL;
	}
	if (*set & bit) {
		acl_parser_error(p, -EINVAL, "duplicate %s '%s'", what, item);
		return -EINVAL;
	}
	*set |= bit;
	return 0;
}

static int role_item(struct parser *p, const char *item, void *userdata)
{
	uint32_t bit = !strcmp(item, "client") ? ACL_ROLE_CLIENT
		       : !strcmp(item, "server") ? ACL_ROLE_SERVER
						 : 0;

	return add_named_bit(p, "role", item, bit, "client, server, client,server, both or any",
			     userdata);
}

static int parse_roles(struct parser *p, char *tok, unsigned *ret_roles)
{
	uint32_t roles = 0;
	int r;

	if (!strcmp(tok, "both") || !strcmp(tok, "any")) {
		*ret_roles = ACL_ROLE_CLIENT | ACL_ROLE_SERVER;
		return 0;
	}
	r = split_list(p, "role", tok, role_item, &roles);
	if (r < 0)
		return r;
	*ret_roles = roles;
	return 0;
}

/* One flag name of a flags= list.  The names are common/flags.c's; the
 * ACL grants only the privileged ones, any other name is unknown here. */
static int flag_item(struct parser *p, const char *item, void *userdata)
{
	return add_named_bit(p, "flag", item, tk_flag_bit(item) & ACL_FLAGS_PRIVILEGED,
			     "skip-authorization, no-cache-read, no-cache-write", userdata);
}

static int peer_item(struct parser *p, const char *item, void *userdata)
{
	struct acl_rule *rule = userdata;
	const char *reason = NULL;
	int r;

	/* The array was sized by counting commas, so n_peers stays in bounds. */
	r = acl_pattern_parse(item, strlen(item), &rule->peers[rule->n_peers], &reason);
	if (r == -EINVAL) {
		acl_parser_error(p, r, "invalid peer pattern '%s': %s", item, reason);
		return r;
	}
	if (r < 0)
		return r;
	rule->n_peers++;
	return 0;
}

static int parse_option(struct parser *p, char *tok, struct acl_rule *rule, unsigned *seen)
{
	enum { SEEN_FLAGS = 1, SEEN_PEERS = 2, SEEN_MAP_USER = 4 };
	size_t n;
	char *eq;

	if (!strcmp(tok, "map-user")) {
		if (*seen & SEEN_MAP_USER)
			goto duplicate;
		*seen |= SEEN_MAP_USER;
		rule->map_user = 1;
		return 0;
	}
	eq = strchr(tok, '=');
	if (eq) {
		*eq = '\0';
		if (!strcmp(tok, "flags")) {
			if (*seen & SEEN_FLAGS)
				goto duplicate;
			*seen |= SEEN_FLAGS;
			return split_list(p, "flags", eq + 1, flag_item, &rule->flags);
		}
		if (!strcmp(tok, "peers")) {
			if (*seen & SEEN_PEERS)
				goto duplicate;
			*seen |= SEEN_PEERS;
			/* Size the array by the list, not by ACL_PEERS_MAX: 65536 rules
			 * must not each cost the maximum. */
			n = 1;
			for (const char *c = eq + 1; *c; c++)
				n += *c == ',';
			if (n > ACL_PEERS_MAX) {
				acl_parser_error(p, -EINVAL, "more than %u patterns in peers=",
					         ACL_PEERS_MAX);
				return -EINVAL;
			}
			rule->peers = calloc(n, sizeof(*rule->peers));
			if (!rule->peers)
				return -ENOMEM;
			return split_list(p, "peers", eq + 1, peer_item, rule);
		}
	}
	acl_parser_error(p, -EINVAL, "unknown option '%s' (expected flags=, peers= or map-user)", tok);
	return -EINVAL;

duplicate:
	acl_parser_error(p, -EINVAL, "duplicate option '%s'", tok);
	return -EINVAL;
}

/* Make room for one more entry of size sz in array (n used, *cap
 * allocated).  Returns the (possibly moved) array, or NULL with array
 * untouched when out of memory. */
/* Append the item of sz bytes to array (*n of them, room for *cap),
 * growing it up to ACL_ENTRIES_MAX.  Returns the array, which may have
 * moved, with *n one more; NULL (out of memory, array unchanged). */
static void *append(void *array, size_t *n, size_t *cap, const void *item, size_t sz)
{
	void *a = array;
	size_t ncap;

	if (*n >= *cap) {
		ncap = *cap ? *cap * 2 : 16;
		if (ncap > ACL_ENTRIES_MAX)
			ncap = ACL_ENTRIES_MAX;
		if (ncap <= *n) /* full; the caller's entry limit keeps it from here */
			return NULL;
		a = realloc(array, ncap * sz);
		if (!a)
			return NULL;
		*cap = ncap;
	}
	memcpy((char *)a + *n * sz, item, sz);
	(*n)++;
	return a;
}

static int parse_rule(struct parser *p, char **tok, size_t n, enum acl_action action)
{
	struct acl_rule rule = { 0 }, *rules;
	const char *reason = NULL;
	unsigned seen = 0;
	int r;

	if (n < 4) {
		acl_parser_error(p, -EINVAL, "expected: %s SUBJECT MYNAME ROLES%s", tok[0],
			         action == ACL_ACTION_ALLOW ? " [OPTIONS...]" : "");
		return -EINVAL;
	}
	if (action == ACL_ACTION_DENY && n > 4) {
		acl_parser_error(p, -EINVAL, "deny rules take no options: '%s'", tok[4]);
		return -EINVAL;
	}
	rule.action = action;
	rule.line = p->line;

	r = acl_subject_parse(p, tok[1], &rule);
	if (r < 0)
		goto out;
	r = acl_pattern_parse(tok[2], strlen(tok[2]), &rule.myname, &reason);
	if (r == 0 && acl_pattern_is_peer_only(&rule.myname)) {
		reason = "a local identity is a domain or user@domain, not a SPIFFE ID or address";
		r = -EINVAL;
	}
	if (r == -EINVAL)
		acl_parser_error(p, r, "invalid myname pattern '%s': %s", tok[2], reason);
	if (r < 0)
		goto out;
	r = parse_roles(p, tok[3], &rule.roles);
	if (r < 0)
		goto out;
	for (size_t i = 4; i < n; i++) {
		r = parse_option(p, tok[i], &rule, &seen);
		if (r < 0)
			goto out;
	}

	if (action == ACL_ACTION_ALLOW && acl_subject_process_only(&rule)) {
		if (p->n_warnings < ACL_ERRORS_MAX)
			p->warn_lines[p->n_warnings] = p->line;
		p->n_warnings++;
	}

	/* On success the rule's allocations are the acl's. */
	rules = append(p->acl->rules, &p->acl->n_rules, &p->rules_cap, &rule, sizeof(rule));
	if (rules) {
		p->acl->rules = rules;
		return 0;
	}
	r = -ENOMEM;

out:
	acl_rule_done(&rule);
	return r;
}

static int parse_map(struct parser *p, char **tok, size_t n)
{
	struct acl_map map = { 0 }, *maps;
	const char *reason = NULL;
	uint32_t uid;
	int r;

	if (n != 3) {
		acl_parser_error(p, -EINVAL, "expected: map PATTERN USER|%%u|-");
		return -EINVAL;
	}
	map.line = p->line;
	r = acl_pattern_parse(tok[1], strlen(tok[1]), &map.pattern, &reason);
	if (r == -EINVAL)
		acl_parser_error(p, r, "invalid map pattern '%s': %s", tok[1], reason);
	if (r < 0)
		return r;

	if (!strcmp(tok[2], "%u")) {
		if (!acl_pattern_is_user_only(&map.pattern)) {
			acl_parser_error(p, -EINVAL,
				         "'%%u' needs a user pattern (LOCAL@DOMAIN, @DOMAIN, *@DOMAIN, "
				         "@*.DOMAIN or *@*.DOMAIN), not '%s'",
				         tok[1]);
			r = -EINVAL;
			goto out;
		}
	} else if (strcmp(tok[2], "-") != 0) {
		if (!acl_user_name_valid(tok[2], strlen(tok[2]))) {
			acl_parser_error(p, -EINVAL, "invalid local user name '%s'", tok[2]);
			r = -EINVAL;
			goto out;
		}
		r = acl_name_resolve(tok[2], 0, &uid);
		if (r == -ENOENT) {
			acl_parser_error(p, -EINVAL,
				         "unknown user '%s' (create it first, then reload the ACL)",
				         tok[2]);
			r = -EINVAL;
			goto out;
		}
		if (r < 0) {
			acl_parser_error(p, r, "cannot look up user '%s': %s", tok[2], strerror(-r));
			goto out;
		}
	}
	/* On success the map's allocations are the acl's. */
	map.target = strdup(tok[2]);
	maps = map.target ? append(p->acl->maps, &p->acl->n_maps, &p->maps_cap, &map, sizeof(map))
			  : NULL;
	if (maps) {
		p->acl->maps = maps;
		return 0;
	}
	r = -ENOMEM;

out:
	acl_pattern_done(&map.pattern);
	free(map.target);
	return r;
}

/* Parse one line (len bytes, no newline).  Returns 0 or a negative errno
 * that must stop the parse (-ENOMEM, -E2BIG); ordinary errors are recorded
 * in p and return 0 so the next lines still get checked. */
static int parse_line(struct parser *p, const char *s, size_t len)
{
	char line[ACL_LINE_MAX + 1];
	char *tok[ACL_TOKENS_MAX];
	size_t n = 0;
	char *c;
	int r;

	if (len > ACL_LINE_MAX) {
		acl_parser_error(p, -EINVAL, "line longer than %u bytes", ACL_LINE_MAX);
		return 0;
	}
	if (len > 0 && s[len - 1] == '\r')
		len--; /* tolerate CRLF files */
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
			acl_parser_error(p, -EINVAL, "control character 0x%02x in line", ch);
			return 0;
		}
	}
	memcpy(line, s, len);
	line[len] = '\0';

	for (c = line;;) {
		while (*c == ' ' || *c == '\t')
			c++;
		if (!*c || *c == '#')
			break;
		if (n == ACL_TOKENS_MAX) {
			acl_parser_error(p, -EINVAL, "more than %u fields in line", ACL_TOKENS_MAX);
			return 0;
		}
		tok[n++] = c;
		while (*c && *c != ' ' && *c != '\t')
			c++;
		if (*c)
			*c++ = '\0';
	}
	if (n == 0)
		return 0;

	if (p->acl->n_rules + p->acl->n_maps >= ACL_ENTRIES_MAX) {
		acl_parser_error(p, -E2BIG, "more than %u entries", ACL_ENTRIES_MAX);
		return -E2BIG;
	}
	if (!strcmp(tok[0], "allow"))
		r = parse_rule(p, tok, n, ACL_ACTION_ALLOW);
	else if (!strcmp(tok[0], "deny"))
		r = parse_rule(p, tok, n, ACL_ACTION_DENY);
	else if (!strcmp(tok[0], "map"))
		r = parse_map(p, tok, n);
	else {
		acl_parser_error(p, -EINVAL, "unknown keyword '%s' (expected allow, deny or map)", tok[0]);
		r = 0;
	}
	if (r == -ENOMEM)
		return r;
	return 0;
}

/* On success the error buffer carries the warnings instead (acl.h). */
static void put_warnings(const struct parser *p)
{
	size_t used = 0;

	if (!p->err || p->errlen == 0)
		return;
	for (unsigned i = 0; i < p->n_warnings; i++) {
		int n;

		if (i == ACL_ERRORS_MAX)
			n = snprintf(p->err + used, p->errlen - used, "%s%s: %u more warnings",
				     used ? "\n" : "", p->acl->name, p->n_warnings - i);
		else
			n = snprintf(p->err + used, p->errlen - used,
				     "%s%s:%u: warning: allow rule on exe:/unit: alone admits any "
				     "local user who runs that program or gets into that unit; "
				     "combine it with a uid (user:NAME+exe:PATH)",
				     used ? "\n" : "", p->acl->name, p->warn_lines[i]);
		if (n < 0 || (size_t)n >= p->errlen - used)
			return; /* the buffer holds what fitted */
		used += (size_t)n;
		if (i == ACL_ERRORS_MAX)
			break;
	}
}

int acl_load_buffer(const char *name, const char *buf, size_t len, struct acl **ret_acl, char *err,
		    size_t errlen)
{
	struct parser p = { 0 };
	size_t pos = 0;
	int r = 0;

	if (err && errlen > 0)
		err[0] = '\0';
	if (!name || (!buf && len > 0) || !ret_acl || (!err && errlen > 0)) {
		tk_errf(err, errlen, "acl_load_buffer: invalid arguments");
		return -EINVAL;
	}
	if (len > ACL_FILE_MAX) {
		tk_errf(err, errlen, "%s: larger than %u bytes", name, ACL_FILE_MAX);
		return -EFBIG;
	}
	p.acl = acl_new(name);
	if (!p.acl) {
		tk_errf(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	p.err = err;
	p.errlen = errlen;

	while (pos < len && p.n_errors < ACL_ERRORS_MAX) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t llen = nl ? (size_t)(nl - (buf + pos)) : len - pos;

		p.line++;
		r = parse_line(&p, buf + pos, llen);
		if (r < 0)
			break;
		pos += llen + (nl ? 1 : 0);
	}

	/* A map-user rule with no map line could never admit a peer. */
	if (r == 0 && p.acl->n_maps == 0)
		for (size_t i = 0; i < p.acl->n_rules && p.n_errors < ACL_ERRORS_MAX; i++)
			if (p.acl->rules[i].map_user) {
				p.line = p.acl->rules[i].line;
				acl_parser_error(&p, -EINVAL, "map-user, but the ACL has no map lines");
			}

	if (r == -ENOMEM) {
		tk_errf(err, errlen, "%s:%u: out of memory", p.acl->name, p.line);
		goto out;
	}
	if (p.first_error < 0) {
		r = p.first_error;
		goto out;
	}
	put_warnings(&p);
	*ret_acl = p.acl;
	p.acl = NULL; /* reference now owned by the caller */
	r = 0;
out:
	acl_unref(p.acl);
	return r;
}
