/* Daemon logging.  Under systemd (stderr connected to the journal) records
 * go to journald with structured fields; otherwise one line per record on
 * stderr.  Never log secrets. */
#ifndef TLSKEY_KEYD_LOG_H
#define TLSKEY_KEYD_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <syslog.h>

/* Detect journald on stderr (JOURNAL_STREAM) and set the verbosity. */
void keyd_log_init(int max_prio);
void keyd_log_set_level(int max_prio);
void keyd_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One audit record per key use or refusal. */
struct keyd_audit {
	const char *event;   /* "established", "handshake-failed", "acl-denied", "refused", ... */
	const struct ucred *cred;
	const char *unit;    /* caller's systemd unit or NULL */
	const char *myname;
	const char *role;    /* "client" / "server" */
	const char *key_uri; /* NULL if no key was involved */
	const char *peer;    /* authenticated peer identity or NULL */
	int err;             /* 0 or a positive errno */
	const char *rule;    /* ACL rule that decided ("file:line") or NULL */
	long sign_us;        /* time the token took to sign, -1 if no signature */
	long handshake_ms;   /* -1 if not applicable */
	const char *detail;  /* human readable reason or NULL */
	const char *reason;  /* a word for the cause ("revoked", "crl-expired", "acl") or NULL */
	const char *remote;  /* the network peer's address:port or NULL */
	uint32_t flags;      /* TLSKEY_FLAG_* of the request, if has_flags */
	int has_flags;
	const char *end;     /* session-end: how it ended (stats_end_name) */
	long long bytes_in, bytes_out, duration_ms; /* session-end only */
	int prio;            /* 0: LOG_WARNING for failures, LOG_INFO else */
};

/* Write one audit record: one line, fields in a fixed order, "-" for
 * absent ones; a value with anything but [A-Za-z0-9._:/@+,*~%-] is
 * quoted ("..."), with \" \\ and \xHH (control characters, bytes
 * >= 0x7f) escaped.  LOG_WARNING for failures, LOG_INFO for successes,
 * unless a->prio says otherwise.  Never fails. */
void keyd_audit(const struct keyd_audit *a);

/* One audit value as keyd_audit() writes it (see there) into out
 * (always NUL-terminated; a value that does not fit is cut, and "..."
 * ends it).  Returns out. */
char *keyd_audit_quote(const char *v, char *out, size_t len);

#endif
