/* A small HTTP/1.0 OCSP client (RFC 6960 appendix A, POST), shared by
 * tlskeyctl ocsp-fetch and the daemon's OCSP fetch thread.  Small on
 * purpose: one request, every step bounded by a deadline (non-blocking
 * connect, poll) and the answer by OCSP_MAX_RESPONSE.  Only http:// URLs;
 * it connects wherever the URL says (a loopback address too): the daemon
 * only asks for a certificate whose chain validated. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"
#include "keyd/ocsp.h"
#include "keyd/ocsp_http.h"
#include "keyd/resolve.h"

#define HTTP_HEAD_MAX 8192

struct http_url {
	char host[256];
	char port[8];
	char path[512];
};

/* http://HOST[:PORT][/PATH]; anything else (https, user info) is refused. */
static int url_parse(const char *url, struct http_url *u)
{
	const char *h, *end, *colon, *slash;
	size_t hl;

	if (strncasecmp(url, "http://", 7))
		return -EPROTONOSUPPORT;
	h = url + 7;
	slash = strchr(h, '/');
	end = slash ? slash : h + strlen(h);
	if (memchr(h, '@', (size_t)(end - h)) || h[0] == '[')
		return -EINVAL;
	colon = memchr(h, ':', (size_t)(end - h));
	hl = (size_t)((colon ? colon : end) - h);
	if (hl == 0 || hl >= sizeof(u->host))
		return -EINVAL;
	memcpy(u->host, h, hl);
	u->host[hl] = '\0';
	/* At most 5 digits, 1 to 65535: a longer port is refused, never cut
	 * to another one. */
	if (colon && (end - colon - 1 < 1 || end - colon - 1 > 5))
		return -EINVAL;
	(void)snprintf(u->port, sizeof(u->port), "%.*s", colon ? (int)(end - colon - 1) : 2,
		       colon ? colon + 1 : "80");
	if (!u->port[0] || strspn(u->port, "0123456789") != strlen(u->port) || atoi(u->port) < 1 ||
	    atoi(u->port) > 65535)
		return -EINVAL;
	if (snprintf(u->path, sizeof(u->path), "%s", slash ? slash : "/") >= (int)sizeof(u->path) ||
	    strpbrk(u->path, " \r\n"))
		return -EINVAL;
	return 0;
}

/* Wait until fd is ready for events or the deadline passes. */
static int wait_fd(int fd, short events, unsigned long long deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	unsigned long long now = tk_now_ms();
	int r;

	if (now >= deadline)
		return -ETIMEDOUT;
	do
		r = poll(&p, 1, (int)(deadline - now));
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r == 0 ? -ETIMEDOUT : 0;
}

/* Connect to the responder; a name lookup that fails or runs out of time
 * says why in rwhy. */
static int http_connect(const struct http_url *u, unsigned long long deadline, int *ret_fd,
			char *rwhy, size_t rwhylen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL, *ai;
	int fd = -1, r;

	/* getaddrinfo() alone would wait as long as the resolver does. */
	r = tk_resolve(u->host, u->port, &hints, deadline, &res, rwhy, rwhylen);
	if (r < 0)
		return r;
	r = -EHOSTUNREACH;
	for (ai = res; ai && fd < 0; ai = ai->ai_next) {
		int err = 0;
		socklen_t el = sizeof(err);

		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0) {
			r = -errno;
			continue;
		}
		r = 0;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
			r = errno == EINPROGRESS ? wait_fd(fd, POLLOUT, deadline) : -errno;
			if (r == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
				r = -errno;
			else if (r == 0 && err)
				r = -err;
		}
		if (r < 0) {
			(void)close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd < 0)
		return r;
	*ret_fd = fd;
	return 0;
}

static int send_all(int fd, const void *buf, size_t len, int more, unsigned long long deadline)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT | (more ? MSG_MORE : 0));
		int r;

		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		if (n < 0) {
			r = wait_fd(fd, POLLOUT, deadline);
			if (r < 0)
				return r;
			continue;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* 1 if buf holds a whole answer by its Content-Length (a server that
 * keeps the connection open after it need not be waited for); 0 if not,
 * or if it gives none (then the answer ends where the server closes). */
static int answer_complete(const char *buf, size_t got)
{
	const char *end = memmem(buf, got, "\r\n\r\n", 4), *line;

	if (!end)
		return 0;
	for (line = memmem(buf, (size_t)(end - buf), "\r\n", 2); line && line < end;
	     line = memmem(line + 2, (size_t)(end - line - 2), "\r\n", 2)) {
		const char *v = line + 2;
		unsigned long long cl = 0;
		int digits = 0;

		if ((size_t)(end - v) < 15 || strncasecmp(v, "content-length:", 15))
			continue;
		for (v += 15; v < end && (*v == ' ' || *v == '\t'); v++)
			;
		for (; v < end && *v >= '0' && *v <= '9' && digits < 12; v++, digits++)
			cl = cl * 10 + (unsigned long long)(*v - '0');
		return digits > 0 && (size_t)(buf + got - (end + 4)) >= cl;
	}
	return 0;
}

/* Read the whole answer (the server closes: HTTP/1.0, or its
 * Content-Length is in) into buf. */
static int recv_all(int fd, char *buf, size_t max, size_t *ret_len, unsigned long long deadline)
{
	size_t got = 0;

	for (;;) {
		ssize_t n;
		int r;

		if (got == max)
			return -EFBIG;
		n = recv(fd, buf + got, max - got, MSG_DONTWAIT);
		if (n == 0)
			break;
		if (n > 0) {
			got += (size_t)n;
			if (answer_complete(buf, got))
				break;
			continue;
		}
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		r = wait_fd(fd, POLLIN, deadline);
		if (r < 0)
			return r;
	}
	*ret_len = got;
	return 0;
}

int ocsp_http_post(const char *url, const gnutls_datum_t *req, unsigned long long deadline,
		   gnutls_datum_t *ret, char *err, size_t len)
{
	struct http_url u;
	char head[1024], *buf, *body;
	size_t got = 0, max = OCSP_MAX_RESPONSE + HTTP_HEAD_MAX;
	char rwhy[128] = "";
	int fd = -1, r, n;

	r = url_parse(url, &u);
	if (r < 0) {
		tk_errf(err, len, "responder URL %s: only http://host[:port]/path is supported", url);
		return r;
	}
	n = snprintf(head, sizeof(head), "POST %s HTTP/1.0\r\nHost: %s:%s\r\nContent-Type: "
		     "application/ocsp-request\r\nContent-Length: %u\r\nConnection: close\r\n\r\n",
		     u.path, u.host, u.port, req->size);
	buf = malloc(max);
	if (!buf)
		return -ENOMEM;
	r = http_connect(&u, deadline, &fd, rwhy, sizeof(rwhy));
	/* Head and body in one segment (MSG_MORE): sent apart, Nagle held
	 * the body until the responder acknowledged the head. */
	if (r == 0)
		r = send_all(fd, head, (size_t)n, 1, deadline);
	if (r == 0)
		r = send_all(fd, req->data, req->size, 0, deadline);
	if (r == 0)
		r = recv_all(fd, buf, max - 1, &got, deadline);
	if (fd >= 0)
		(void)close(fd);
	if (r < 0 && rwhy[0]) {
		tk_errf(err, len, "responder %s: looking up %s: %s", url, u.host, rwhy);
		goto out;
	}
	if (r < 0) {
		tk_errf(err, len, "responder %s: %s", url,
			r == -EFBIG ? "answer too large" : strerror(-r));
		goto out;
	}
	buf[got] = '\0';
	body = memmem(buf, got, "\r\n\r\n", 4);
	r = -EPROTO;
	if (!body || (strncmp(buf, "HTTP/1.0 200", 12) && strncmp(buf, "HTTP/1.1 200", 12)) ||
	    (buf[12] != ' ' && buf[12] != '\r')) {
		/* Only the status line, cut short and printable: the answer
		 * is the peer's and goes to a terminal or the journal. */
		size_t line = strcspn(buf, "\r\n");

		for (size_t i = 0; i < line; i++)
			if (!isprint((unsigned char)buf[i]))
				buf[i] = '?';

		tk_errf(err, len, "responder %s: not an HTTP 200 answer: %.*s", url,
			(int)(line < 60 ? line : 60), buf);
		goto out;
	}
	body += 4;
	if (got - (size_t)(body - buf) > OCSP_MAX_RESPONSE) {
		tk_errf(err, len, "responder %s: answer too large", url);
		r = -EFBIG;
		goto out;
	}
	ret->size = (unsigned)(got - (size_t)(body - buf));
	ret->data = gnutls_malloc(ret->size ? ret->size : 1);
	if (!ret->data) {
		r = -ENOMEM;
		goto out;
	}
	memcpy(ret->data, body, ret->size);
	r = 0;
out:
	free(buf);
	return r;
}

int ocsp_aia_url(gnutls_x509_crt_t crt, char *url, size_t len)
{
	int found = 0;

	for (unsigned seq = 0; seq < 16; seq++) {
		gnutls_datum_t d = { NULL, 0 };
		int ok, r = gnutls_x509_crt_get_authority_info_access(crt, seq, GNUTLS_IA_OCSP_URI, &d,
									NULL);

		if (r == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (r < 0)
			continue;
		/* The URL goes into logs and audit records: printable ASCII
		 * only, no NUL cutting it short. */
		ok = d.size > 0 && d.size < len;
		for (unsigned i = 0; ok && i < d.size; i++)
			ok = isgraph(d.data[i]) != 0;
		/* The first http:// one; else the first one, which the caller
		 * then refuses by its scheme. */
		if (ok && (!found || (d.size >= 7 && !strncasecmp((const char *)d.data, "http://", 7)))) {
			memcpy(url, d.data, d.size);
			url[d.size] = '\0';
			found = 1;
		}
		gnutls_free(d.data);
		if (found && !strncasecmp(url, "http://", 7))
			return 0;
	}
	return found ? 0 : -ENOENT;
}
