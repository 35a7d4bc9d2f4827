/* Shared by the ACL parser's sources only (acl_parse.c: lines, rules, map
 * lines, options; acl_subject.c: subjects): the parser state and how an
 * error is recorded.  Nothing outside policy/ may include this. */
#ifndef TLSKEY_POLICY_ACL_PARSER_H
#define TLSKEY_POLICY_ACL_PARSER_H

#include <stdint.h>

#include "policy/acl_internal.h"

#define ACL_ERRORS_MAX 20u

struct parser {
	struct acl *acl;
	unsigned line;
	char *err;
	size_t errlen;
	size_t err_used;
	unsigned n_errors;
	int first_error; /* negative errno of the first error, 0 if none */
	size_t rules_cap;
	size_t maps_cap;
	unsigned warn_lines[ACL_ERRORS_MAX]; /* lines of the first warnings */
	unsigned n_warnings;                 /* all of them */
};

/* Record one error on the current line.  The first error's code becomes
 * the parse's return value; the messages are appended to the caller's
 * buffer ("name:line: message", newline separated) while they fit. */
void acl_parser_error(struct parser *p, int error, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Parse SUBJECT token tok into rule (parts, subject_text and parts_buf,
 * which the rule owns from then on, also on failure: the caller frees
 * them with the rule).  User and group names are resolved now.  Returns
 * 0 or a negative errno; a bad subject is recorded with
 * acl_parser_error(). */
int acl_subject_parse(struct parser *p, const char *tok, struct acl_rule *rule);

/* 1 if rule's subject is only exe: and/or unit: parts (valid but weak:
 * any local user who can run the program or enter the unit matches). */
int acl_subject_process_only(const struct acl_rule *rule);

/* Resolve a user (is_group = 0) or group name through NSS.  Returns 0 and
 * *ret_id, -ENOENT if there is no such name, or another negative errno if
 * the lookup itself failed (NSS backend down). */
int acl_name_resolve(const char *name, int is_group, uint32_t *ret_id);

#endif
