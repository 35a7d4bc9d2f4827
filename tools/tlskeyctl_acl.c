/* tlskeyctl acl list | check | test, and the "acl" dispatch.  These only
 * read the ACL; edits are in tlskeyctl_edit.c. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/flags.h"
#include "common/util.h"
#include "tools/tlskeyctl.h"

/* How many groups --group may give and getgrouplist() may return here.
 * (The daemon reads all of a caller's groups, keyd/control.c; a user in
 * more than this is refused by "acl test" rather than judged on a part.) */
#define CTL_GROUPS_MAX 256

/* Name the index-only parse uses (only acl_rule_line/acl_map_line are read). */
#define INDEX_NAME "-"

static void acl_usage(FILE *f)
{
	(void)fprintf(f, "Usage: tlskeyctl [--acl FILE] acl list|check|add|remove|test ...\n"
			 "'tlskeyctl acl COMMAND --help' shows the options of each.\n");
}

static const struct {
	const char *name;
	ctl_cmd_fn fn;
} acl_commands[] = {
	{ "list", ctl_acl_list },   { "check", ctl_acl_check },   { "test", ctl_acl_test },
	{ "add", ctl_acl_add },     { "remove", ctl_acl_remove },
};

int ctl_acl_main(struct ctl *ctl, int argc, char **argv)
{
	if (argc < 2) {
		acl_usage(stderr);
		return CTL_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		acl_usage(stdout);
		return CTL_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(acl_commands) / sizeof(acl_commands[0]); i++)
		if (!strcmp(argv[1], acl_commands[i].name))
			return acl_commands[i].fn(ctl, argc - 1, argv + 1);
	ctl_err("unknown acl command '%s' (list, check, add, remove, test)", argv[1]);
	return CTL_EXIT_USAGE;
}

/* The source lines of n entries; line is acl_rule_line or acl_map_line. */
static int entry_lines(const struct acl *acl, size_t n, unsigned (*line)(const struct acl *, size_t),
		       unsigned **ret)
{
	unsigned *lines = calloc(n ? n : 1, sizeof(*lines));

	if (!lines)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		lines[i] = line(acl, i);
	*ret = lines; /* now the caller's */
	return 0;
}

int ctl_acl_entry_lines(const char *buf, size_t len, unsigned **ret_rules, size_t *ret_n_rules,
			unsigned **ret_maps, size_t *ret_n_maps)
{
	struct acl *acl = NULL;
	unsigned *rules = NULL, *maps = NULL;
	int r;

	r = acl_load_buffer(INDEX_NAME, buf, len, &acl, NULL, 0);
	if (r < 0)
		return r;
	r = entry_lines(acl, acl_rule_count(acl), acl_rule_line, &rules);
	if (r == 0)
		r = entry_lines(acl, acl_map_count(acl), acl_map_line, &maps);
	if (r == 0) {
		*ret_rules = rules; /* both arrays now the caller's */
		*ret_n_rules = acl_rule_count(acl);
		*ret_maps = maps;
		*ret_n_maps = acl_map_count(acl);
		rules = maps = NULL;
	}
	free(rules);
	free(maps);
	acl_unref(acl);
	return r;
}

/* Load the ACL at path with the daemon's checks; print every error. */
static int load_reporting(const char *path, struct acl **ret_acl)
{
	char *err = malloc(CTL_ERR_MAX);
	int r;

	if (!err) {
		ctl_err("out of memory");
		return -ENOMEM;
	}
	r = acl_load_file(path, ret_acl, err, CTL_ERR_MAX);
	/* On success err holds the loader's warnings: show them like errors,
	 * as the daemon logs them. */
	if (r < 0)
		ctl_err_lines(err[0] ? err : strerror(-r));
	else if (err[0])
		ctl_err_lines(err);
	free(err);
	return r;
}

int ctl_acl_list(struct ctl *ctl, int argc, char **argv)
{
	static const char usage_text[] =
		"Usage: tlskeyctl [--acl FILE] acl list\n"
		"Show the rules in evaluation order, numbered (the numbers 'acl remove' and\n"
		"'acl add --before' take), then the map lines, each with its file:line.\n"
		"User and group names show the id they resolved to.\n";
	struct acl *acl = NULL;
	const char *path;
	char *text;
	int r;

	r = ctl_only_help(argc, argv, usage_text, 0);
	if (r >= 0)
		return r;
	if (ctl_acl_path(ctl, &path) < 0 || load_reporting(path, &acl) < 0)
		return CTL_EXIT_FAIL;
	text = malloc(CTL_LINE_MAX);
	if (!text) {
		acl_unref(acl);
		ctl_err("out of memory");
		return CTL_EXIT_FAIL;
	}
	for (size_t i = 0; i < acl_rule_count(acl); i++) {
		(void)acl_rule_format(acl, i, text, CTL_LINE_MAX);
		(void)printf("%4zu  %s\n", i + 1, text);
	}
	for (size_t i = 0; i < acl_map_count(acl); i++) {
		(void)acl_map_format(acl, i, text, CTL_LINE_MAX);
		(void)printf(" map  %s\n", text);
	}
	if (acl_rule_count(acl) == 0)
		(void)printf("# %s has no rules: tlskeyd denies every request\n", path);
	free(text);
	acl_unref(acl);
	return CTL_EXIT_OK;
}

int ctl_acl_check(struct ctl *ctl, int argc, char **argv)
{
	static const char usage_text[] =
		"Usage: tlskeyctl [--acl FILE] acl check [FILE]\n"
		"Parse FILE (default: the configured ACL) as the daemon would, with its\n"
		"owner and mode checks; print every error as file:line: message (exit 1)\n"
		"or \"OK: N rules, M map lines\" (exit 0).\n";
	struct acl *acl = NULL;
	const char *path;
	int r;

	r = ctl_only_help(argc, argv, usage_text, 1);
	if (r >= 0)
		return r;
	if (optind < argc)
		path = argv[optind];
	else if (ctl_acl_path(ctl, &path) < 0)
		return CTL_EXIT_FAIL;
	if (load_reporting(path, &acl) < 0)
		return CTL_EXIT_FAIL;
	(void)printf("OK: %zu rules, %zu map lines in %s\n", acl_rule_count(acl), acl_map_count(acl),
		     path);
	acl_unref(acl);
	return CTL_EXIT_OK;
}

/* ---- acl test ----------------------------------------------------------- */

/* "skip-authorization,no-cache-read" (names: common/flags.c) or a number
 * ("0x80"). */
static int parse_flags(const char *s, uint32_t *ret)
{
	char *end;

	if (s[0] >= '0' && s[0] <= '9') {
		unsigned long v;

		errno = 0;
		v = strtoul(s, &end, 0);
		if (errno || *end || v > 0xffu)
			return -EINVAL;
		*ret = (uint32_t)v;
		return 0;
	}
	return tk_flags_parse(s, ret);
}

static int parse_id(const char *s, unsigned long *ret)
{
	return tk_parse_ulong(s, 0, UINT_MAX - 1, ret);
}

/* A group name or number. */
static int resolve_group(const char *s, gid_t *ret)
{
	struct group *gr;
	unsigned long v;

	if (parse_id(s, &v) == 0) {
		*ret = (gid_t)v;
		return 0;
	}
	gr = getgrnam(s);
	if (!gr)
		return -ENOENT;
	*ret = gr->gr_gid;
	return 0;
}

struct test_args {
	const char *user, *unit, *exe, *myname, *role, *peer;
	const char *groups[CTL_GROUPS_MAX];
	size_t n_groups;
	uint32_t flags;
};

/* Fill subj from the arguments: the user's passwd entry gives the primary
 * group and getgrouplist() the supplementary ones, unless --group says. */
static int resolve_subject(const struct test_args *a, struct acl_subject *subj, gid_t *groups)
{
	struct passwd *pw;
	unsigned long v;
	int n = CTL_GROUPS_MAX;

	memset(subj, 0, sizeof(*subj));
	if (parse_id(a->user, &v) == 0) {
		subj->uid = (uid_t)v;
		pw = getpwuid(subj->uid);
	} else {
		pw = getpwnam(a->user);
		if (!pw) {
			ctl_err("acl test: no such user '%s'", a->user);
			return -ENOENT;
		}
		subj->uid = pw->pw_uid;
	}
	if (a->n_groups > 0) {
		for (size_t i = 0; i < a->n_groups; i++) {
			if (resolve_group(a->groups[i], &groups[i]) < 0) {
				ctl_err("acl test: no such group '%s'", a->groups[i]);
				return -ENOENT;
			}
		}
		subj->gid = groups[0];
		subj->n_groups = a->n_groups;
	} else {
		if (!pw) {
			ctl_err("acl test: uid %s has no passwd entry: give its groups with --group",
				a->user);
			return -ENOENT;
		}
		subj->gid = pw->pw_gid;
		/* Like initgroups(): the primary group is in the list as well. */
		if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0) {
			ctl_err("acl test: user %s is in more than %d groups", pw->pw_name,
				CTL_GROUPS_MAX);
			return -E2BIG;
		}
		subj->n_groups = (size_t)n;
	}
	subj->groups = groups;
	subj->unit = a->unit;
	subj->exe = a->exe;
	return 0;
}

/* Print the verdict and the deciding rule; with --peer, the peer checks
 * the daemon makes after the handshake.  Returns the exit code. */
static int report_decision(const struct acl *acl, const struct acl_decision *d,
			   const struct test_args *a)
{
	char *text = malloc(CTL_LINE_MAX), why[512] = "", user[64];
	int rc = d->allowed ? CTL_EXIT_OK : CTL_EXIT_FAIL;

	if (!text) {
		ctl_err("out of memory");
		return CTL_EXIT_FAIL;
	}
	(void)printf("%s\n", d->allowed ? "allow" : "deny");
	if (!d->rule) {
		(void)printf("rule: default deny (no rule matched)\n");
	} else {
		/* One rule per line: the deciding rule is the one on d->line. */
		for (size_t i = 0; i < acl_rule_count(acl); i++) {
			if (acl_rule_line(acl, i) != d->line)
				continue;
			(void)acl_rule_format(acl, i, text, CTL_LINE_MAX);
			(void)printf("rule: %zu %s\n", i + 1, text);
			break;
		}
	}
	if (d->denied_flags) {
		(void)printf("note: an allow rule matched but does not grant the requested flags");
		for (uint32_t b = 1; b; b <<= 1)
			if (d->denied_flags & b)
				(void)printf(" %s", tk_flag_name(b) ? tk_flag_name(b) : "?");
		(void)printf("\n");
	}
	if (d->allowed && a->peer && !a->peer[0]) {
		/* --peer "": a peer that sent no certificate (NO_REQUIRE/
		 * NO_REQUEST_PEER_CERT), judged as keyd/handshake.c finish() does. */
		if (!(a->flags & ACL_FLAG_SKIP_AUTHORIZATION) && acl_decision_restricts_peers(d)) {
			(void)printf("peer: none refused: %s admits only certain peers (peers= or "
				     "map-user)\n", d->where);
			rc = CTL_EXIT_FAIL;
		} else {
			(void)printf("peer: none allowed\n");
		}
	} else if (d->allowed && a->peer) {
		/* Same order as the daemon (keyd/handshake.c): peers= unless the
		 * request skips authorization, then map-user. */
		if (a->flags & ACL_FLAG_SKIP_AUTHORIZATION) {
			(void)printf("peer: %s not checked against peers= (skip-authorization)\n",
				     a->peer);
		} else if (acl_check_peer(acl, d, a->peer, why, sizeof(why)) < 0) {
			(void)printf("peer: %s refused: %s\n", a->peer, why);
			rc = CTL_EXIT_FAIL;
		} else {
			(void)printf("peer: %s allowed\n", a->peer);
		}
		if (rc == CTL_EXIT_OK && d->map_user) {
			if (acl_map_user(acl, a->peer, user, sizeof(user)) < 0) {
				(void)printf("mapped-user: none (refused: no map line gives a user)\n");
				rc = CTL_EXIT_FAIL;
			} else if (!getpwnam(user)) {
				(void)printf("mapped-user: %s (refused: no such local account)\n", user);
				rc = CTL_EXIT_FAIL;
			} else {
				(void)printf("mapped-user: %s\n", user);
			}
		}
	}
	free(text);
	return rc;
}

/* For a denial: the allow rules that came closest (acl_explain()), so
 * that "rule 3 matched but for the role" replaces guessing. */
static void report_near_misses(const struct acl *acl, const struct acl_request *req)
{
	struct acl_near_miss nm[8];
	char text[512];
	int n = acl_explain(acl, req, nm, TK_ARRAY_SIZE(nm));

	for (int i = 0; i < n; i++) {
		if (acl_rule_format(acl, nm[i].index, text, sizeof(text)) < 0)
			text[0] = '\0';
		(void)printf("near miss: rule %zu matched but for the %s", nm[i].index + 1,
			     acl_miss_name(nm[i].what));
		if (nm[i].what == ACL_MISS_FLAGS) {
			(void)printf(" (it does not grant");
			for (uint32_t b = 1; b; b <<= 1)
				if (nm[i].flags & b)
					(void)printf(" %s", tk_flag_name(b) ? tk_flag_name(b) : "?");
			(void)printf(")");
		}
		(void)printf(": %s\n", text);
	}
}

int ctl_acl_test(struct ctl *ctl, int argc, char **argv)
{
	static const char usage_text[] =
		"Usage: tlskeyctl [--acl FILE] acl test --user U --myname N --role client|server\n"
		"          [--group G]... [--unit UNIT] [--exe PATH] [--flags LIST] [--peer P]\n"
		"Evaluate the ACL for a request as the daemon would and print \"allow\" or\n"
		"\"deny\", then the deciding rule (number and file:line) or \"default deny\".\n"
		"  --user U      caller's user name or uid\n"
		"  --group G     caller's group (name or gid), repeatable; the first is the\n"
		"                primary group.  Default: U's groups from the user database\n"
		"  --unit UNIT   caller's systemd unit (default: none)\n"
		"  --exe PATH    caller's executable (default: none)\n"
		"  --myname N    local identity asked for\n"
		"  --role R      client or server\n"
		"  --flags LIST  skip-authorization,no-cache-read,no-cache-write or a number\n"
		"  --peer P      also check this authenticated remote identity (peers=,\n"
		"                map-user) and show the local user it maps to; \"\" for a\n"
		"                peer without a certificate\n"
		"Exit status: 0 allow (and the peer passes), 1 deny, 2 usage error.\n";
	static const struct option opts[] = {
		{ "user", required_argument, NULL, 'u' },  { "group", required_argument, NULL, 'g' },
		{ "unit", required_argument, NULL, 'U' },  { "exe", required_argument, NULL, 'e' },
		{ "myname", required_argument, NULL, 'm' }, { "role", required_argument, NULL, 'r' },
		{ "flags", required_argument, NULL, 'f' }, { "peer", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },        { NULL, 0, NULL, 0 }
	};
	struct test_args a = { 0 };
	gid_t groups[CTL_GROUPS_MAX];
	struct acl_subject subj;
	struct acl_request req;
	struct acl_decision d;
	struct acl *acl = NULL;
	const char *path;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (opt) {
		case 'u': a.user = optarg; break;
		case 'g':
			if (a.n_groups == CTL_GROUPS_MAX) {
				ctl_err("acl test: more than %d --group options", CTL_GROUPS_MAX);
				return CTL_EXIT_USAGE;
			}
			a.groups[a.n_groups++] = optarg;
			break;
		case 'U': a.unit = optarg; break;
		case 'e': a.exe = optarg; break;
		case 'm': a.myname = optarg; break;
		case 'r': a.role = optarg; break;
		case 'p': a.peer = optarg; break;
		case 'f':
			if (parse_flags(optarg, &a.flags) < 0) {
				ctl_err("acl test: bad --flags '%s' (skip-authorization, no-cache-read, "
					"no-cache-write, or a number up to 0xff)", optarg);
				return CTL_EXIT_USAGE;
			}
			break;
		case 'h': (void)fputs(usage_text, stdout); return CTL_EXIT_OK;
		default: (void)fputs(usage_text, stderr); return CTL_EXIT_USAGE;
		}
	}
	if (optind != argc || !a.user || !a.myname || !a.role) {
		ctl_err("acl test: --user, --myname and --role are required");
		(void)fputs(usage_text, stderr);
		return CTL_EXIT_USAGE;
	}
	if (strcmp(a.role, "client") && strcmp(a.role, "server")) {
		ctl_err("acl test: --role must be client or server, not '%s'", a.role);
		return CTL_EXIT_USAGE;
	}
	if (resolve_subject(&a, &subj, groups) < 0)
		return CTL_EXIT_USAGE;
	if (ctl_acl_path(ctl, &path) < 0 || load_reporting(path, &acl) < 0)
		return CTL_EXIT_FAIL;
	req = (struct acl_request){ .subject = &subj,
				    .myname = a.myname,
				    .role = strcmp(a.role, "server") ? ACL_ROLE_CLIENT : ACL_ROLE_SERVER,
				    .flags = a.flags };
	if (acl_check(acl, &req, &d) < 0) {
		ctl_err("acl test: '%s' is not a valid local identity name", a.myname);
		rc = CTL_EXIT_USAGE;
	} else {
		rc = report_decision(acl, &d, &a);
		if (!d.allowed)
			report_near_misses(acl, &req);
	}
	acl_unref(acl);
	return rc;
}
