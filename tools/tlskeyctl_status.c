/* tlskeyctl status and tlskeyctl metrics (a STATUS request on the daemon
 * socket, doc/status.md), and metrics --http: one HTTP request on stdin
 * answered on stdout, for tlskeyd-metrics@.service (Accept=yes), so that
 * the daemon itself never speaks HTTP. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/file.h"
#include "common/util.h"
#include "common/wire.h"
#include "tools/tlskeyctl.h"

/* The daemon's bound on a STATUS document (keyd/status.h), checked again
 * here: the answer is read whole into memory. */
#define STATUS_DOC_MAX (8u * 1024 * 1024)
/* Rendering is quick; a daemon that does not answer in this time is stuck. */
#define STATUS_TIMEOUT_S 10
/* metrics --http: the request line and headers, and the time to send them. */
#define HTTP_REQ_MAX 8192
#define HTTP_TIMEOUT_MS 5000

int ctl_status_fetch(struct ctl *ctl, unsigned format, char **ret, size_t *ret_len)
{
	struct tk_msg req = { .type = TK_MSG_STATUS, .present = 1u << TK_TAG_FORMAT }, *ans;
	const char *path;
	int fd = -1, doc = -1, r;

	req.format = (uint8_t)format;
	ans = calloc(1, sizeof(*ans));
	if (!ans) {
		ctl_err("status: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	r = ctl_daemon_connect(ctl, 0, STATUS_TIMEOUT_S, &fd, &path);
	if (r < 0)
		goto out;
	r = tk_msg_send(fd, &req, -1);
	if (r == 0)
		r = tk_msg_recv(fd, ans, &doc);
	if (r == 0 && ans->type != TK_MSG_RESULT)
		r = -EBADMSG;
	if (r < 0) {
		ctl_err("status: no answer from tlskeyd at %s: %s", path,
			r == -EAGAIN ? "timed out" : strerror(-r));
		goto out;
	}
	if (ans->err) {
		r = -(int)ans->err;
		ctl_err("status refused: %s", ans->message[0] ? ans->message : strerror((int)ans->err));
		goto out;
	}
	if (doc < 0) {
		r = -EBADMSG;
		ctl_err("status: the daemon's answer carries no document");
		goto out;
	}
	r = tk_file_read_doc(doc, 0, STATUS_DOC_MAX, ret, ret_len);
	if (r < 0)
		ctl_err("status: unreadable document: %s", strerror(-r));
out:
	(void)tk_close(doc);
	(void)tk_close(fd);
	free(ans);
	return r;
}

static int print_doc(struct ctl *ctl, unsigned format)
{
	char *doc = NULL;
	size_t len = 0;

	if (ctl_status_fetch(ctl, format, &doc, &len) < 0)
		return CTL_EXIT_FAIL;
	(void)fwrite(doc, 1, len, stdout);
	free(doc);
	return CTL_EXIT_OK;
}

int ctl_status(struct ctl *ctl, int argc, char **argv)
{
	static const char usage_text[] =
		"Usage: tlskeyctl [-c CONFIG] [-s SOCKET] status [--json]\n"
		"Show the running daemon's version, configuration and ACL, uptime,\n"
		"sessions, handshakes in flight and queue; per identity its key URI, token\n"
		"state, signatures and their latency, certificate expiry; handshakes by\n"
		"outcome and cause; ACL denials (doc/status.md).  Root, the daemon's user\n"
		"and members of its admin-group may ask.\n"
		"  --json   one JSON object instead of text\n";
	static const struct option opts[] = { { "json", no_argument, NULL, 'j' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	unsigned format = TK_FORMAT_TEXT;
	int opt;

	while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (opt) {
		case 'j': format = TK_FORMAT_JSON; break;
		case 'h': (void)fputs(usage_text, stdout); return CTL_EXIT_OK;
		default: (void)fputs(usage_text, stderr); return CTL_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		(void)fputs(usage_text, stderr);
		return CTL_EXIT_USAGE;
	}
	return print_doc(ctl, format);
}

/* ---- metrics --http ------------------------------------------------------ */

static void http_answer(int code, const char *reason, const char *extra, const char *body,
			size_t len, int head_only)
{
	(void)printf("HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		     "Cache-Control: no-store\r\nConnection: close\r\n%s\r\n",
		     code, reason, code == 200 ? "text/plain; version=0.0.4; charset=utf-8"
					       : "text/plain; charset=utf-8",
		     len, extra ? extra : "");
	if (!head_only)
		(void)fwrite(body, 1, len, stdout);
}

static void http_error(int code, const char *reason, const char *extra)
{
	char body[128];
	int n = snprintf(body, sizeof(body), "%d %s\n", code, reason);

	http_answer(code, reason, extra, body, (size_t)n, 0);
}

/* Read the request head (up to the blank line) from fd 0 within
 * HTTP_TIMEOUT_MS and HTTP_REQ_MAX bytes.  Returns its length, 0 on EOF
 * before it ended, -ETIMEDOUT or -E2BIG. */
static ssize_t http_read_head(char *buf, size_t cap)
{
	unsigned long long deadline = tk_now_ms() + HTTP_TIMEOUT_MS;
	size_t len = 0;

	while (len < cap - 1) {
		struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
		unsigned long long now = tk_now_ms();
		ssize_t n;
		int r;

		if (now >= deadline)
			return -ETIMEDOUT;
		r = poll(&p, 1, (int)(deadline - now));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -ETIMEDOUT;
		n = read(STDIN_FILENO, buf + len, cap - 1 - len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return 0;
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
			return (ssize_t)len;
	}
	return -E2BIG;
}

static int metrics_http(struct ctl *ctl)
{
	char req[HTTP_REQ_MAX + 1], method[16], target[1024], version[16];
	ssize_t n = http_read_head(req, sizeof(req));
	char *doc = NULL;
	size_t len = 0;
	int head;

	if (n == -ETIMEDOUT) {
		http_error(408, "Request Timeout", NULL);
		return CTL_EXIT_FAIL;
	}
	if (n == -E2BIG) {
		http_error(431, "Request Header Fields Too Large", NULL);
		return CTL_EXIT_FAIL;
	}
	if (n <= 0 || sscanf(req, "%15s %1023s %15s", method, target, version) != 3 ||
	    strncmp(version, "HTTP/1.", 7)) {
		http_error(400, "Bad Request", NULL);
		return CTL_EXIT_FAIL;
	}
	head = !strcmp(method, "HEAD");
	if (strcmp(method, "GET") && !head) {
		http_error(405, "Method Not Allowed", "Allow: GET, HEAD\r\n");
		return CTL_EXIT_FAIL;
	}
	if (strcmp(target, "/metrics") && strncmp(target, "/metrics?", 9) && strcmp(target, "/")) {
		http_error(404, "Not Found", NULL);
		return CTL_EXIT_FAIL;
	}
	if (ctl_status_fetch(ctl, TK_FORMAT_PROMETHEUS, &doc, &len) < 0) {
		http_error(503, "Service Unavailable", NULL);
		return CTL_EXIT_FAIL;
	}
	http_answer(200, "OK", NULL, doc, len, head);
	free(doc);
	return CTL_EXIT_OK;
}

int ctl_metrics(struct ctl *ctl, int argc, char **argv)
{
	static const char usage_text[] =
		"Usage: tlskeyctl [-c CONFIG] [-s SOCKET] metrics [--http]\n"
		"Print the daemon's counters in the Prometheus text exposition format\n"
		"(doc/status.md).  With --http, read one HTTP request on standard input\n"
		"and answer it on standard output (GET /metrics or /: 200 with the metrics;\n"
		"other paths 404, other methods 405), as tlskeyd-metrics@.service does.\n";
	static const struct option opts[] = { { "http", no_argument, NULL, 'H' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	int opt, http = 0;

	while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (opt) {
		case 'H': http = 1; break;
		case 'h': (void)fputs(usage_text, stdout); return CTL_EXIT_OK;
		default: (void)fputs(usage_text, stderr); return CTL_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		(void)fputs(usage_text, stderr);
		return CTL_EXIT_USAGE;
	}
	return http ? metrics_http(ctl) : print_doc(ctl, TK_FORMAT_PROMETHEUS);
}
