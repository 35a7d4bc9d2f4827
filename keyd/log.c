#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <systemd/sd-journal.h>

#include "keyd/log.h"

static int log_max = LOG_INFO;
static int use_journal;

void keyd_log_set_level(int max_prio)
{
	log_max = max_prio;
}

void keyd_log_init(int max_prio)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	log_max = max_prio;
	/* systemd sets JOURNAL_STREAM to the device and inode of the stream
	 * it connected to stderr; if ours still matches, talk to journald
	 * natively so that records keep their fields. */
	if (js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
	    (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino)
		use_journal = 1;
}

void keyd_log(int prio, const char *fmt, ...)
{
	static const char *const names[] = { "emerg", "alert", "crit", "error", "warning",
					     "notice", "info", "debug" };
	char line[2048];
	va_list ap;
	int n;

	if (prio > log_max)
		return;
	if (use_journal) {
		va_start(ap, fmt);
		(void)sd_journal_printv(prio, fmt, ap);
		va_end(ap);
		return;
	}
	/* Format into one buffer so that lines from several threads never
	 * interleave. */
	n = snprintf(line, sizeof(line), "tlskeyd: %s: ", names[prio & 7]);
	va_start(ap, fmt);
	(void)vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	(void)strcat(line, "\n");
	(void)fputs(line, stderr);
}

static const char *nz(const char *s)
{
	return s && *s ? s : "-";
}

void keyd_audit(const struct keyd_audit *a)
{
	char detail[1024];
	int prio = a->err ? LOG_WARNING : LOG_INFO;
	const char *result = a->err ? strerrorname_np(a->err) : "ok";
	char sign[32] = "-", hs[32] = "-";

	if (!result)
		result = "error";
	/* One record, one line: multi-line details (several parse errors)
	 * are joined. */
	if (a->detail) {
		size_t o = 0;
		for (const char *p = a->detail; *p && o + 3 < sizeof(detail); p++) {
			if (*p == '\n') {
				if (p[1]) {
					detail[o++] = ';';
					detail[o++] = ' ';
				}
			} else {
				detail[o++] = *p;
			}
		}
		detail[o] = '\0';
	}
	if (a->sign_us >= 0)
		(void)snprintf(sign, sizeof(sign), "%ld.%03ld", a->sign_us / 1000, a->sign_us % 1000);
	if (a->handshake_ms >= 0)
		(void)snprintf(hs, sizeof(hs), "%ld", a->handshake_ms);
	if (use_journal) {
		(void)sd_journal_send(
			"MESSAGE=audit: %s uid=%u pid=%d myname=%s role=%s peer=%s result=%s%s%s",
			a->event, (unsigned)a->cred->uid, (int)a->cred->pid, nz(a->myname), nz(a->role),
			nz(a->peer), result, a->detail ? ": " : "", a->detail ? detail : "",
			"PRIORITY=%d", prio, "TLSKEY_EVENT=%s", a->event, "TLSKEY_UID=%u",
			(unsigned)a->cred->uid, "TLSKEY_GID=%u", (unsigned)a->cred->gid, "TLSKEY_PID=%d",
			(int)a->cred->pid, "TLSKEY_UNIT=%s", nz(a->unit), "TLSKEY_MYNAME=%s", nz(a->myname),
			"TLSKEY_ROLE=%s", nz(a->role), "TLSKEY_KEY_URI=%s", nz(a->key_uri),
			"TLSKEY_PEER=%s", nz(a->peer), "TLSKEY_RESULT=%s", result, "TLSKEY_RULE=%s",
			nz(a->rule), "TLSKEY_SIGN_MS=%s", sign, "TLSKEY_HANDSHAKE_MS=%s", hs,
			"TLSKEY_DETAIL=%s", a->detail ? detail : "-", NULL);
		return;
	}
	if (prio > log_max)
		return;
	keyd_log(prio,
		 "audit: event=%s uid=%u gid=%u pid=%d unit=%s myname=%s role=%s key=%s peer=%s "
		 "result=%s rule=%s sign_ms=%s handshake_ms=%s%s%s",
		 a->event, (unsigned)a->cred->uid, (unsigned)a->cred->gid, (int)a->cred->pid, nz(a->unit),
		 nz(a->myname), nz(a->role), nz(a->key_uri), nz(a->peer), result, nz(a->rule), sign, hs,
		 a->detail ? " detail=" : "", a->detail ? detail : "");
}
