#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-journal.h>

#include "common/flags.h"
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

/* The local time of one second, "2026-12-01T23:59:59" and "+01:00",
 * kept per thread: localtime_r() takes glibc's time zone lock, which the
 * workers would contend for at every record.  A zone change (DST) takes
 * effect at a second's boundary, where the text is made afresh. */
struct stamp_cache {
	time_t sec;
	int valid;
	size_t len; /* of text; 0 if localtime_r failed */
	char text[32];
	char zone[8]; /* "+01:00", "" if strftime gave no %z */
};

/* "2026-12-01T23:59:59.123+01:00 " into buf (len >= 40); its length. */
static int stamp(char *buf, size_t len)
{
	static _Thread_local struct stamp_cache c;
	struct timespec ts;
	long ms;
	size_t n;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	if (!c.valid || c.sec != ts.tv_sec) {
		struct tm tm;
		char z[8];

		c.sec = ts.tv_sec;
		c.valid = 1;
		c.len = 0;
		c.zone[0] = '\0';
		if (localtime_r(&ts.tv_sec, &tm)) {
			c.len = strftime(c.text, sizeof(c.text), "%Y-%m-%dT%H:%M:%S", &tm);
			if (c.len && strftime(z, sizeof(z), "%z", &tm) == 5) {
				memcpy(c.zone, z, 3); /* "+0100" -> "+01:00" */
				c.zone[3] = ':';
				memcpy(c.zone + 4, z + 3, 2);
				c.zone[6] = '\0';
			}
		}
	}
	if (!c.len || len < c.len + 16)
		return 0;
	memcpy(buf, c.text, c.len);
	n = c.len;
	ms = ts.tv_nsec / 1000000;
	buf[n++] = '.';
	buf[n++] = (char)('0' + ms / 100);
	buf[n++] = (char)('0' + ms / 10 % 10);
	buf[n++] = (char)('0' + ms % 10);
	memcpy(buf + n, c.zone, strlen(c.zone));
	n += strlen(c.zone);
	buf[n++] = ' ';
	return (int)n;
}

/* One line to stderr in one write() where the kernel takes it whole,
 * under stderr's own lock (as fputs() would take it) so that lines from
 * several threads, or from a library writing through stdio, never
 * interleave. */
static void put_line(const char *s, size_t n)
{
	flockfile(stderr);
	while (n) {
		ssize_t w = write(STDERR_FILENO, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		s += w;
		n -= (size_t)w;
	}
	funlockfile(stderr);
}

void keyd_log(int prio, const char *fmt, ...)
{
	static const char *const names[] = { "emerg", "alert", "crit", "error", "warning",
					     "notice", "info", "debug" };
	char line[9216]; /* an audit record (keyd_audit: 8192) plus the prefix */
	va_list ap;
	int n, m;

	if (prio > log_max)
		return;
	if (use_journal) {
		va_start(ap, fmt);
		(void)sd_journal_printv(prio, fmt, ap);
		va_end(ap);
		return;
	}
	/* Format into one buffer so that lines from several threads never
	 * interleave.  Outside journald (which stamps records itself) each
	 * line starts with the local time, ISO 8601 with milliseconds. */
	n = stamp(line, sizeof(line));
	n += snprintf(line + n, sizeof(line) - (size_t)n, "tlskeyd: %s: ", names[prio & 7]);
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += m < (int)(sizeof(line) - (size_t)n - 1) ? m : (int)(sizeof(line) - (size_t)n - 2);
	line[n++] = '\n';
	put_line(line, (size_t)n);
}

/* Characters an audit value may hold unquoted: none that a key=value
 * reader could take for a separator or an escape. */
static int bare(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       (ch && strchr("._:/@+,*~%-[]", ch));
}

char *keyd_audit_quote(const char *v, char *out, size_t len)
{
	size_t o = 0;
	const char *p;

	if (!v || !*v) {
		(void)snprintf(out, len, "-");
		return out;
	}
	for (p = v; *p && bare((unsigned char)*p); p++)
		;
	if (!*p && strcmp(v, "-")) {
		(void)snprintf(out, len, "%s", v);
		if (strlen(v) >= len && len > 4)
			memcpy(out + len - 4, "...", 4);
		return out;
	}
	out[o++] = '"';
	for (p = v; *p && o + 9 < len; p++) {
		unsigned char ch = (unsigned char)*p;

		if (ch == '"' || ch == '\\') {
			out[o++] = '\\';
			out[o++] = (char)ch;
		} else if (ch < 0x20 || ch >= 0x7f) {
			o += (size_t)snprintf(out + o, len - o, "\\x%02x", ch);
		} else {
			out[o++] = (char)ch;
		}
	}
	if (*p) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}

static const char *nz(const char *s)
{
	return s && *s ? s : "-";
}

/* The session-end fields, "" for other records. */
static void end_fields(const struct keyd_audit *a, char *out, size_t len)
{
	out[0] = '\0';
	if (a->end)
		(void)snprintf(out, len, " end=%s bytes_in=%lld bytes_out=%lld duration_ms=%lld", a->end,
			       a->bytes_in, a->bytes_out, a->duration_ms);
}

/* One record, one line: multi-line details (several parse errors) are
 * joined with "; ". */
static void join_lines(const char *in, char *out, size_t len)
{
	size_t o = 0;

	for (const char *p = in; p && *p && o + 3 < len; p++) {
		if (*p == '\n') {
			if (p[1]) {
				out[o++] = ';';
				out[o++] = ' ';
			}
		} else {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
}

void keyd_audit(const struct keyd_audit *a)
{
	char detail[1024], q[9][1100], ends[160], flags[160] = "-", line[8192];
	int prio = a->prio ? a->prio : a->err ? LOG_WARNING : LOG_INFO;
	const char *result = a->err ? strerrorname_np(a->err) : "ok";
	char sign[32] = "-", hs[32] = "-";

	if (!result)
		result = "error";
	join_lines(a->detail, detail, sizeof(detail));
	if (a->sign_us >= 0)
		(void)snprintf(sign, sizeof(sign), "%ld.%03ld", a->sign_us / 1000, a->sign_us % 1000);
	if (a->handshake_ms >= 0)
		(void)snprintf(hs, sizeof(hs), "%ld", a->handshake_ms);
	if (a->has_flags)
		(void)tk_flags_format(a->flags, flags, sizeof(flags));
	end_fields(a, ends, sizeof(ends));
	(void)snprintf(line, sizeof(line),
		       "audit: event=%s uid=%u gid=%u pid=%d unit=%s myname=%s role=%s key=%s peer=%s "
		       "result=%s rule=%s remote=%s flags=%s sign_ms=%s handshake_ms=%s%s%s%s%s%s",
		       a->event, (unsigned)a->cred->uid, (unsigned)a->cred->gid, (int)a->cred->pid,
		       keyd_audit_quote(a->unit, q[0], sizeof(q[0])),
		       keyd_audit_quote(a->myname, q[1], sizeof(q[1])), nz(a->role),
		       keyd_audit_quote(a->key_uri, q[2], sizeof(q[2])),
		       keyd_audit_quote(a->peer, q[3], sizeof(q[3])), result,
		       keyd_audit_quote(a->rule, q[4], sizeof(q[4])),
		       keyd_audit_quote(a->remote, q[5], sizeof(q[5])), flags, sign, hs, ends,
		       a->reason ? " reason=" : "", a->reason ? a->reason : "", a->detail ? " detail=" : "",
		       a->detail ? keyd_audit_quote(detail, q[6], sizeof(q[6])) : "");
	if (use_journal) {
		(void)sd_journal_send(
			"MESSAGE=%s", line, "PRIORITY=%d", prio, "TLSKEY_EVENT=%s", a->event,
			"TLSKEY_UID=%u", (unsigned)a->cred->uid, "TLSKEY_GID=%u", (unsigned)a->cred->gid,
			"TLSKEY_PID=%d", (int)a->cred->pid, "TLSKEY_UNIT=%s", nz(a->unit),
			"TLSKEY_MYNAME=%s", nz(a->myname), "TLSKEY_ROLE=%s", nz(a->role),
			"TLSKEY_KEY_URI=%s", nz(a->key_uri), "TLSKEY_PEER=%s", nz(a->peer),
			"TLSKEY_RESULT=%s", result, "TLSKEY_RULE=%s", nz(a->rule), "TLSKEY_REMOTE=%s",
			nz(a->remote), "TLSKEY_FLAGS=%s", flags, "TLSKEY_SIGN_MS=%s", sign,
			"TLSKEY_HANDSHAKE_MS=%s", hs, "TLSKEY_END=%s", nz(a->end), "TLSKEY_BYTES_IN=%lld",
			a->end ? a->bytes_in : -1LL, "TLSKEY_BYTES_OUT=%lld", a->end ? a->bytes_out : -1LL,
			"TLSKEY_DURATION_MS=%lld", a->end ? a->duration_ms : -1LL, "TLSKEY_DETAIL=%s",
			a->detail ? detail : "-", "TLSKEY_REASON=%s", nz(a->reason), NULL);
		return;
	}
	if (prio > log_max)
		return;
	keyd_log(prio, "%s", line);
}
