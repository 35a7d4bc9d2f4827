/* Shared by the policy/ sources only: the layout of a parsed ACL and the
 * identity pattern helpers.  Nothing outside policy/ may include this. */
#ifndef TLSKEY_POLICY_ACL_INTERNAL_H
#define TLSKEY_POLICY_ACL_INTERNAL_H

#include <stdatomic.h>

#include "policy/acl.h"

/* Identity patterns, shared by myname patterns, peers= and map lines. */
enum acl_pattern_kind {
	ACL_PATTERN_ANY,          /* "*": any domain or user */
	ACL_PATTERN_EXACT,        /* "a.example.test" or "alice@example.test" */
	ACL_PATTERN_SUBDOMAINS,   /* "*.example.test": domains one or more labels below */
	ACL_PATTERN_USERS_AT,     /* "@example.test", "*@example.test": users at exactly it */
	ACL_PATTERN_USERS_BELOW,  /* "*@*.example.test", "@*.example.test": users at any
				   * domain below it */
	ACL_PATTERN_URI,          /* "spiffe://td/path": that SPIFFE ID (peers, map only) */
	ACL_PATTERN_URI_BELOW,    /* "spiffe://td/ *", "spiffe://td/a/ *" (no space): SPIFFE IDs with one
				   * or more path segments after the text before '*' */
	ACL_PATTERN_IP,           /* "192.0.2.7", "192.0.2.0/24", "2001:db8::/32": addresses
				   * of that family in the prefix (peers, map only) */
};

struct acl_pattern {
	enum acl_pattern_kind kind;
	char *text;          /* as written, for formatting; owned */
	const char *domain;  /* points into text: the domain part to compare */
	size_t local_len;    /* EXACT user: bytes before '@'; 0 for a domain */
	unsigned char ip[16]; /* IP: the network address, */
	int family;           /* AF_INET or AF_INET6, */
	unsigned prefix_bits; /* and its prefix length (32 or 128 for one address) */
};

enum acl_subject_kind {
	ACL_SUBJECT_ANY,
	ACL_SUBJECT_UID,
	ACL_SUBJECT_GID,
	ACL_SUBJECT_UNIT,
	ACL_SUBJECT_EXE,
};

/* A subject is one part ("user:alice") or several joined by '+'
 * ("user:www-data+exe:/usr/sbin/nginx"), all of which must match; at most
 * one part of each kind (uid/gid/unit/exe). */
#define ACL_SUBJECT_PARTS_MAX 4u

struct acl_subject_part {
	enum acl_subject_kind kind;
	uid_t uid;
	gid_t gid;
	const char *str;   /* UNIT glob or EXE path (points into rule->parts_buf) */
	int name_resolved; /* a user/group name: show the id too */
};

struct acl_rule {
	enum acl_action action;
	unsigned line;
	char *subject_text;  /* the subject token as written; owned */
	char *parts_buf;     /* a copy cut at the '+' separators; owned */
	struct acl_subject_part parts[ACL_SUBJECT_PARTS_MAX];
	size_t n_parts;      /* >= 1 once parsed */
	struct acl_pattern myname;
	unsigned roles;      /* mask of enum acl_role bits */
	uint32_t flags;      /* ACL_FLAG_* granted */
	struct acl_pattern *peers; /* owned; NULL = any authenticated peer */
	size_t n_peers;
	int map_user;
};

struct acl_map {
	unsigned line;
	struct acl_pattern pattern;
	char *target;        /* user name, "%u" or "-"; owned */
};

struct acl {
	atomic_uint refcount;
	char name[ACL_NAME_MAX]; /* source name, tail kept if too long */
	struct acl_rule *rules;
	size_t n_rules;
	struct acl_map *maps;
	size_t n_maps;
};

/* Parse an identity pattern of len bytes.  Returns 0 and fills *ret_pattern
 * (text owned by it), -EINVAL with a short reason in *ret_reason if the
 * pattern is not valid, -ENOMEM. */
int acl_pattern_parse(const char *s, size_t len, struct acl_pattern *ret_pattern,
		      const char **ret_reason);

/* Free what a parsed pattern owns.  NULL ok. */
void acl_pattern_done(struct acl_pattern *p);

/* 1 if the valid identity id matches p, else 0. */
int acl_pattern_match(const struct acl_pattern *p, const char *id);

/* 1 if p matches only SPIFFE IDs or addresses, which no local identity
 * (myname) can be. */
int acl_pattern_is_peer_only(const struct acl_pattern *p);

/* 1 if p can only match user identities ("local@domain"). */
int acl_pattern_is_user_only(const struct acl_pattern *p);

/* 1 if s (len bytes) is a portable local user name: 1..32 bytes of
 * [A-Za-z0-9._-], not starting with '-' or '.', not all digits. */
int acl_user_name_valid(const char *s, size_t len);

/* Free what a rule owns (not the rule itself).  NULL ok. */
void acl_rule_done(struct acl_rule *rule);


/* Allocate an empty ACL with one reference, named after name. */
struct acl *acl_new(const char *name);

#endif
