/* Access control list: which local process may use which local identity
 * (myname) in which TLS role, with which privileged flags, and which remote
 * peers it may then talk to.  Format and semantics: doc/acl.md.
 *
 * This layer only decides.  It does no network or token I/O; the only
 * outside lookups are user and group names (getpwnam_r/getgrnam_r) while a
 * file is parsed.  The daemon gathers the caller's credentials and hands
 * them in.
 *
 * A parsed ACL is immutable and reference counted, so one thread may swap
 * in a reloaded ACL while others are still deciding with the old one.  All
 * functions are thread-safe. */
#ifndef TLSKEY_POLICY_ACL_H
#define TLSKEY_POLICY_ACL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Bounds of an ACL source.  Anything larger is refused as a whole. */
#define ACL_FILE_MAX (1024u * 1024u)  /* bytes */
#define ACL_LINE_MAX 4096u            /* bytes per line, without the newline */
#define ACL_ENTRIES_MAX 65536u        /* allow, deny and map lines together */
#define ACL_PEERS_MAX 64u             /* patterns in one peers= list */

/* Request flags whose use the ACL must grant (same bits as TLSKEY_FLAG_*). */
#define ACL_FLAG_NO_CACHE_READ 0x0020u
#define ACL_FLAG_NO_CACHE_WRITE 0x0040u
#define ACL_FLAG_SKIP_AUTHORIZATION 0x0080u
#define ACL_FLAGS_PRIVILEGED \
	(ACL_FLAG_NO_CACHE_READ | ACL_FLAG_NO_CACHE_WRITE | ACL_FLAG_SKIP_AUTHORIZATION)

/* Source names longer than this are shortened to their tail ("...tail"). */
#define ACL_NAME_MAX 256u
/* Room for "name:line" or "default deny". */
#define ACL_WHERE_MAX (ACL_NAME_MAX + 16u)

enum acl_role { ACL_ROLE_CLIENT = 1, ACL_ROLE_SERVER = 2 };

enum acl_action { ACL_ACTION_DENY = 0, ACL_ACTION_ALLOW = 1 };

struct acl;
struct acl_rule;

/* Who is asking.  Filled by the daemon: uid and gid from SO_PEERCRED,
 * groups from SO_PEERGROUPS (all of them), unit from the cgroup, exe from
 * /proc/PID/exe.  unit and exe are NULL when unknown (unreadable, or not
 * provably the process that connected); then allow rules naming them do
 * not match and deny rules naming them do (fail closed). */
struct acl_subject {
	uid_t uid;
	gid_t gid;
	const gid_t *groups; /* supplementary groups; NULL only if n_groups == 0 */
	size_t n_groups;
	const char *unit; /* may be NULL */
	const char *exe;  /* may be NULL */
};

struct acl_request {
	const struct acl_subject *subject;
	const char *myname; /* "example.test" or "alice@example.test" */
	enum acl_role role;
	uint32_t flags; /* TLSKEY_FLAG_*; only ACL_FLAGS_PRIVILEGED matter here */
};

/* The outcome of acl_check().  rule points into the ACL it came from and
 * stays valid as long as the caller holds a reference on that ACL. */
struct acl_decision {
	int allowed;                /* 1 allow, 0 deny */
	enum acl_action action;     /* action of the deciding rule, DENY for default deny */
	const struct acl_rule *rule; /* NULL = default deny */
	unsigned line;              /* line of the deciding rule, 0 for default deny */
	char where[ACL_WHERE_MAX];  /* "path:line" or "default deny" */
	int map_user;               /* the rule requires the peer to map to a local user */
	uint32_t denied_flags;      /* privileged flags the request asked for that made an
				     * otherwise matching allow rule not match (first such
				     * rule), for the operator's log; 0 if none */
};

/* Parse the ACL file at path.  The file is opened with O_CLOEXEC and must be
 * a regular file of at most ACL_FILE_MAX bytes, owned by root or the
 * effective uid and not writable by others.  User and group names are
 * resolved now; a name that does not exist is an error.
 *
 * On success stores a new ACL with one reference in *ret_acl and returns 0;
 * err (if errlen > 0) then holds the warnings, one "path:line: warning:
 * message" per line, or "" if there are none.  A warning is a rule that
 * is valid but weaker than it looks (an allow rule whose subject is only
 * exe: and/or unit:, which any local user can satisfy): the loader's
 * caller shows them (daemon log, tlskeyctl acl check).
 * On failure *ret_acl is untouched and returns:
 *   -EINVAL  bad arguments, or the file is not a valid ACL: err holds one
 *            "path:line: message" per error found (newline separated)
 *   -EFBIG   larger than ACL_FILE_MAX
 *   -E2BIG   more than ACL_ENTRIES_MAX entries
 *   -EPERM   not a regular file, wrong owner or world-writable
 *   -ENOMEM, or the negative errno of open()/read()
 * err (errlen bytes, NUL-terminated when errlen > 0) is written in all
 * failure cases and may be NULL if errlen is 0. */
int acl_load_file(const char *path, struct acl **ret_acl, char *err, size_t errlen);

/* Like acl_load_file() but parse len bytes at buf; name is used in error
 * messages and decisions (e.g. "<test>").  buf need not be NUL-terminated
 * and may contain any bytes.  Same return values except -EPERM. */
int acl_load_buffer(const char *name, const char *buf, size_t len, struct acl **ret_acl, char *err,
		    size_t errlen);

/* Take another reference on acl (atomic).  Returns acl; NULL is passed through. */
struct acl *acl_ref(struct acl *acl);

/* Drop a reference (atomic); the last one frees the ACL.  NULL is ok. */
void acl_unref(struct acl *acl);

/* Decide whether req may proceed.  Rules are tried top to bottom and the
 * first one whose subject, myname pattern and role match decides.  An allow
 * rule only matches if it grants every privileged flag in req->flags; if
 * not, evaluation continues with the next rule.  No match: default deny.
 *
 * Returns 0 and fills *ret when the arguments are valid (whether allowed or
 * not: read ret->allowed), -EINVAL otherwise (NULL pointers, role not
 * exactly one of ACL_ROLE_*, myname not a valid identity, groups NULL with
 * n_groups > 0); then *ret is untouched. */
int acl_check(const struct acl *acl, const struct acl_request *req, struct acl_decision *ret);

/* What an allow rule lacked to match req, for acl_explain(). */
enum acl_miss { ACL_MISS_ROLE = 1, ACL_MISS_SUBJECT, ACL_MISS_MYNAME, ACL_MISS_FLAGS };

/* A near miss: an allow rule that fails req on exactly one of role,
 * subject, myname pattern or granted flags ("rule 3 matched but for the
 * role"), for the operator (tlskeyctl acl test), never for the caller.
 * index is the rule's position (0-based, evaluation order), what the one
 * thing it lacked; for ACL_MISS_FLAGS, flags the privileged flags it does
 * not grant. */
struct acl_near_miss {
	size_t index;
	unsigned line;
	enum acl_miss what;
	uint32_t flags;
};

/* Fill up to max near misses of req, in rule order, among the rules that
 * come before the one that decided (all of them for a default deny).  A
 * pure function of acl and req.  Returns how many were written, or
 * -EINVAL for arguments acl_check() refuses. */
int acl_explain(const struct acl *acl, const struct acl_request *req, struct acl_near_miss *ret, size_t max);

/* "role", "subject", "myname" or "flags". */
const char *acl_miss_name(enum acl_miss what);

/* After the handshake: may the authenticated remote identity peer_identity
 * be on the other side of the connection admitted by decision d (which
 * must come from acl_check() on this same acl)?  Checks the rule's peers=
 * list (none: any authenticated peer) and, for map-user rules, that a map
 * line yields a local user name for the peer (the daemon still has to
 * check that this account exists, see acl_map_user()).
 *
 * Returns 0 if allowed, -EACCES if refused (why, if whylen > 0, says why),
 * -EINVAL on bad arguments or a decision from another ACL. */
int acl_check_peer(const struct acl *acl, const struct acl_decision *d, const char *peer_identity,
		   char *why, size_t whylen);

/* 1 if the decision admits the request only for certain peers: its rule
 * has a peers= list or map-user.  Then a connection with no authenticated
 * peer (the caller asked not to require or request a certificate) must be
 * refused: there is no identity to check.  0 otherwise (also for NULL and
 * for refusals).  Pure function of d. */
int acl_decision_restricts_peers(const struct acl_decision *d);

/* Map a remote identity to a local user name with the map lines (first
 * match wins).  The name is only a candidate: for "%u" targets it has not
 * been looked up, so the caller must check that the account exists.
 *
 * Returns 0 and the NUL-terminated name in ret_user, -ENOENT if no map line
 * matches or the matching line says "-", -EINVAL if peer_identity is not a
 * valid identity or the line's "%u" would give an unsafe user name,
 * -ERANGE if the name does not fit in len bytes (ret_user untouched on
 * failure). */
int acl_map_user(const struct acl *acl, const char *peer_identity, char *ret_user, size_t len);

/* "client" or "server"; "invalid" for anything else.  Never NULL. */
const char *acl_role_name(enum acl_role role);

/* Number of allow/deny rules, in evaluation order.  0 for NULL. */
size_t acl_rule_count(const struct acl *acl);

/* Write rule i (0-based) as "path:line: allow SUBJECT PATTERN ROLES [OPTIONS]"
 * into buf, NUL-terminated; SUBJECT as written (combined subjects with
 * their '+'), then " # uid=N gid=M" for the user and group names it
 * resolved, so the text parses back to the same rule.  Returns 0, -ENOENT if i >= acl_rule_count(),
 * -ENOBUFS if it does not fit (buf then holds a truncated string),
 * -EINVAL on bad arguments. */
int acl_rule_format(const struct acl *acl, size_t i, char *buf, size_t len);

/* Number of map lines, in evaluation order.  0 for NULL. */
size_t acl_map_count(const struct acl *acl);

/* Write map line i as "path:line: map PATTERN TARGET".  Same returns as
 * acl_rule_format(). */
int acl_map_format(const struct acl *acl, size_t i, char *buf, size_t len);

/* The source line (1-based) of rule i, or of map line i, as in the
 * "path:line" of acl_rule_format()/acl_map_format() and of a decision's
 * where: for editors that change the file the ACL was parsed from.
 * 0 if acl is NULL or i is not below acl_rule_count()/acl_map_count().
 * Pure functions of acl. */
unsigned acl_rule_line(const struct acl *acl, size_t i);
unsigned acl_map_line(const struct acl *acl, size_t i);

/* The source name the ACL was parsed under (a path, or acl_load_buffer()'s
 * name, only its tail if longer than ACL_NAME_MAX - 1 bytes).  Valid as
 * long as the caller holds a reference; NULL if acl is NULL. */
const char *acl_name(const struct acl *acl);

#endif
