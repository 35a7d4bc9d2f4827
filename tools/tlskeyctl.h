/* tlskeyctl: the administrator's tool for tlskeyd (doc/tlskeyctl.md).
 *
 * One file per concern: tlskeyctl.c (global options, dispatch),
 * tlskeyctl_acl.c (acl list/check/test), tlskeyctl_edit.c (acl add/remove:
 * locked, validated, atomic rewrites), tlskeyctl_daemon.c (reload, keys). */
#ifndef TLSKEY_TOOLS_TLSKEYCTL_H
#define TLSKEY_TOOLS_TLSKEYCTL_H

#include <stddef.h>

#include "keyd/conf.h"
#include "policy/acl.h"

/* Exit codes (documented in doc/tlskeyctl.md and tlskeyctl(8)). */
enum {
	CTL_EXIT_OK = 0,
	CTL_EXIT_FAIL = 1, /* the operation failed, or "acl test" decided deny */
	CTL_EXIT_USAGE = 2,
};

/* A formatted rule or map line: the longest ACL line plus "path:line: "
 * and the " # uid=N" note. */
#define CTL_LINE_MAX (ACL_LINE_MAX + ACL_WHERE_MAX + 64u)

/* Room for every "path:line: message" an ACL parse reports. */
#define CTL_ERR_MAX 65536u

/* Global options, and the configuration once loaded. */
struct ctl {
	const char *conf_path;
	int conf_explicit; /* -c given: a missing file is an error */
	const char *socket_path; /* -s, or NULL */
	const char *acl_path;    /* --acl, or NULL */
	struct keyd_conf *conf;  /* loaded on demand by ctl_conf() */
};

/* A subcommand: argv[0] is its name (e.g. "add" for "acl add"); getopt is
 * reset for it.  Returns the process exit status (CTL_EXIT_*), having
 * reported any failure on stderr. */
typedef int (*ctl_cmd_fn)(struct ctl *ctl, int argc, char **argv);

/* Load the configuration once.  Returns 0 and *ret_conf (owned by ctl), or
 * prints why it failed and returns -errno. */
int ctl_conf(struct ctl *ctl, const struct keyd_conf **ret_conf);

/* The ACL file to work on: --acl, else acl= from the configuration.
 * Returns 0 and the path (owned by ctl), or prints why not and returns
 * -errno. */
int ctl_acl_path(struct ctl *ctl, const char **ret_path);

/* Print "tlskeyctl: " and the message on stderr. */
void ctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print every line of a multi-line error text, each prefixed "tlskeyctl: ". */
void ctl_err_lines(const char *text);

/* Option parsing for commands whose only option is --help and that take at
 * most max_args arguments (left at argv[optind]).  Returns an exit status
 * if the command should end now (help shown: 0; usage error: 2), or -1 to
 * go on. */
int ctl_only_help(int argc, char **argv, const char *usage_text, int max_args);

/* Where the entries of an ACL are: parse len bytes at buf (errors are not
 * reported; validate with acl_load_buffer() under the real name for that)
 * and return malloc'd arrays of the lines of its rules, in evaluation order
 * (rule N is at (*ret_rules)[N - 1]), and of its map lines.
 * Returns 0 or -errno; the outputs are written only on success. */
int ctl_acl_entry_lines(const char *buf, size_t len, unsigned **ret_rules, size_t *ret_n_rules,
			unsigned **ret_maps, size_t *ret_n_maps);

/* Subcommands (ctl_cmd_fn). */
int ctl_acl_main(struct ctl *ctl, int argc, char **argv);   /* "acl ..." dispatch */
int ctl_acl_list(struct ctl *ctl, int argc, char **argv);
int ctl_acl_check(struct ctl *ctl, int argc, char **argv);
int ctl_acl_test(struct ctl *ctl, int argc, char **argv);
int ctl_acl_add(struct ctl *ctl, int argc, char **argv);
int ctl_acl_remove(struct ctl *ctl, int argc, char **argv);
int ctl_reload(struct ctl *ctl, int argc, char **argv);
int ctl_upgrade(struct ctl *ctl, int argc, char **argv);
int ctl_keys(struct ctl *ctl, int argc, char **argv);
int ctl_status(struct ctl *ctl, int argc, char **argv);  /* tlskeyctl_status.c */
int ctl_metrics(struct ctl *ctl, int argc, char **argv);
int ctl_ocsp_fetch(struct ctl *ctl, int argc, char **argv); /* tlskeyctl_ocsp.c */

/* For tlskeyctl keys: the "ocsp:" line of id (nothing without an
 * ocsp-response): good or REVOKED and the nextUpdate, or why the daemon
 * would not staple the file (the checks of keyd/ocsp.c). */
void ctl_ocsp_show(const struct keyd_conf *conf, const struct keyd_identity *id);

/* The daemon socket: -s, else socket= from the configuration, else
 * $TLSKEYD_SOCKET, else the default.  Returns 0 and the path, or -EINVAL
 * (an explicit configuration that cannot be loaded; reported). */
int ctl_socket_path(struct ctl *ctl, const char **ret);

/* A connection to the daemon's socket, with send and receive bounded to
 * timeout_s: a wedged daemon must not hang the administrator.  Returns 0
 * and *ret_fd (and the path in *ret_path), or a negative errno (printed
 * unless quiet). */
int ctl_daemon_connect(struct ctl *ctl, int quiet, int timeout_s, int *ret_fd, const char **ret_path);

/* Ask the daemon for its status in format (TK_FORMAT_*).  Returns 0 and
 * the document (malloc'd, NUL-terminated), or -errno (reported). */
int ctl_status_fetch(struct ctl *ctl, unsigned format, char **ret, size_t *ret_len);

/* Ask the daemon to reload its ACL and print its answer.  Returns 0 if
 * the new rules are in force, -errno otherwise (already reported). */
int ctl_reload_send(struct ctl *ctl);

#endif
