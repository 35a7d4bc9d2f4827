/* tlskeyctl ocsp-fetch: for each identity with an ocsp-response file, ask
 * the OCSP responder its certificate names (AIA, plain HTTP as OCSP is),
 * check the answer as the daemon will (keyd/ocsp.c) and replace the file
 * atomically; --reload then tells the daemon.  Run by tlskeyd-ocsp.timer.
 *
 * The HTTP client is small on purpose: one POST, HTTP/1.0, every step
 * bounded in time (--timeout) and size (OCSP_MAX_RESPONSE). */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/ocsp.h>
#include <gnutls/x509.h>

#include "common/file.h"
#include "common/util.h"
#include "keyd/ocsp.h"
#include "keyd/trust.h"
#include "pkcs11/p11.h"
#include "tools/tlskeyctl.h"

#define HTTP_HEAD_MAX 8192

struct http_url {
	char host[256];
	char port[8];
	char path[512];
};

/* http://HOST[:PORT][/PATH]; anything else (https, user info) is refused. */
static int url_parse(const char *url, struct http_url *u)
{
	const char *h = url + 7, *end, *colon, *slash;
	size_t hl;

	if (strncasecmp(url, "http://", 7))
		return -EPROTONOSUPPORT;
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
	(void)snprintf(u->port, sizeof(u->port), "%.*s", colon ? (int)(end - colon - 1) : 2,
		       colon ? colon + 1 : "80");
	if (!u->port[0] || strspn(u->port, "0123456789") != strlen(u->port))
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

static int http_connect(const struct http_url *u, unsigned long long deadline, int *ret_fd)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL, *ai;
	int fd = -1, r = -EHOSTUNREACH;

	/* XXX: getaddrinfo() has no timeout of its own; the timer unit's
	 * TimeoutStartSec bounds the whole run. */
	if (getaddrinfo(u->host, u->port, &hints, &res) != 0)
		return -EHOSTUNREACH;
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

static int send_all(int fd, const void *buf, size_t len, unsigned long long deadline)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
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

/* Read the whole answer (the server closes: HTTP/1.0) into buf. */
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

/* POST req to url; the body of a 200 answer of type
 * application/ocsp-response into *ret (gnutls_malloc). */
static int http_post(const char *url, const gnutls_datum_t *req, unsigned timeout_s,
		     gnutls_datum_t *ret, char *err, size_t len)
{
	unsigned long long deadline = tk_now_ms() + timeout_s * 1000ull;
	struct http_url u;
	char head[1024], *buf, *body;
	size_t got = 0, max = OCSP_MAX_RESPONSE + HTTP_HEAD_MAX;
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
	r = http_connect(&u, deadline, &fd);
	if (r == 0)
		r = send_all(fd, head, (size_t)n, deadline);
	if (r == 0)
		r = send_all(fd, req->data, req->size, deadline);
	if (r == 0)
		r = recv_all(fd, buf, max - 1, &got, deadline);
	if (fd >= 0)
		(void)close(fd);
	if (r < 0) {
		tk_errf(err, len, "responder %s: %s", url,
			r == -EFBIG ? "answer too large" : strerror(-r));
		goto out;
	}
	buf[got] = '\0';
	body = memmem(buf, got, "\r\n\r\n", 4);
	r = -EPROTO;
	if (!body || (strncmp(buf, "HTTP/1.0 200", 12) && strncmp(buf, "HTTP/1.1 200", 12))) {
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

/* The first OCSP URI of the certificate's Authority Information Access. */
static int aia_ocsp_url(gnutls_x509_crt_t crt, char *url, size_t len)
{
	for (unsigned seq = 0; seq < 16; seq++) {
		gnutls_datum_t d = { NULL, 0 };
		int r = gnutls_x509_crt_get_authority_info_access(crt, seq, GNUTLS_IA_OCSP_URI, &d,
								    NULL);

		if (r == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			return -ENOENT;
		if (r < 0)
			continue;
		r = snprintf(url, len, "%.*s", (int)d.size, (const char *)d.data);
		gnutls_free(d.data);
		if (r > 0 && (size_t)r < len)
			return 0;
	}
	return -ENOENT;
}

static void format_utc(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm))
		(void)snprintf(buf, len, "%lld", (long long)t);
}

struct fetch_ctx {
	gnutls_certificate_credentials_t anchors;
	unsigned timeout_s;
};

/* Ask, check and store one identity's response; prints the outcome. */
static int fetch_one(struct fetch_ctx *fx, const struct keyd_identity *id)
{
	gnutls_pcert_st *chain = NULL;
	gnutls_x509_crt_t leaf = NULL, issuer = NULL;
	gnutls_ocsp_req_t req = NULL;
	gnutls_datum_t der = { NULL, 0 }, resp = { NULL, 0 };
	char err[512] = "", url[512] = "", when[32];
	unsigned n = 0;
	time_t next = 0;
	int r, revoked = 0;

	r = p11_chain_load(id->cert_src, &chain, &n, err, sizeof(err));
	if (r == 0 && (gnutls_x509_crt_init(&leaf) < 0 ||
		       gnutls_x509_crt_import(leaf, &chain[0].cert, GNUTLS_X509_FMT_DER) < 0))
		r = -EINVAL, tk_errf(err, sizeof(err), "cannot parse %s", id->cert_src);
	if (r == 0)
		r = ocsp_find_issuer(chain, n, fx->anchors, &issuer, err, sizeof(err));
	if (r == 0 && aia_ocsp_url(leaf, url, sizeof(url)) < 0)
		r = -ENOENT, tk_errf(err, sizeof(err), "the certificate names no OCSP responder (AIA)");
	if (r == 0 && (gnutls_ocsp_req_init(&req) < 0 ||
		       gnutls_ocsp_req_add_cert(req, GNUTLS_DIG_SHA1, issuer, leaf) < 0 ||
		       gnutls_ocsp_req_export(req, &der) < 0))
		r = -ENOMEM, tk_errf(err, sizeof(err), "cannot build the OCSP request");
	if (r == 0)
		r = http_post(url, &der, fx->timeout_s, &resp, err, sizeof(err));
	if (r == 0)
		r = ocsp_resp_check(&resp, leaf, issuer, time(NULL), &revoked, &next, err, sizeof(err));
	if (r == 0)
		r = tk_file_replace(id->ocsp_file, resp.data, resp.size, err, sizeof(err));
	if (r == 0) {
		format_utc(next, when, sizeof(when));
		(void)printf("%s: %s (next update %s) from %s -> %s\n", id->name,
			     revoked ? "REVOKED" : "good", when, url, id->ocsp_file);
		if (revoked)
			ctl_err("%s: the responder says the certificate is revoked", id->name);
	} else {
		ctl_err("%s: %s (the file is left as it was)", id->name, err);
	}
	gnutls_free(der.data);
	gnutls_free(resp.data);
	if (req)
		gnutls_ocsp_req_deinit(req);
	if (issuer)
		gnutls_x509_crt_deinit(issuer);
	if (leaf)
		gnutls_x509_crt_deinit(leaf);
	for (unsigned i = 0; i < n; i++)
		gnutls_pcert_deinit(&chain[i]);
	free(chain);
	return r;
}

void ctl_ocsp_show(const struct keyd_conf *conf, const struct keyd_identity *id)
{
	gnutls_certificate_credentials_t anchors = NULL;
	gnutls_pcert_st *chain = NULL;
	gnutls_x509_crt_t leaf = NULL, issuer = NULL;
	char err[512] = "", *buf = NULL, when[32];
	size_t blen = 0;
	unsigned n = 0;
	time_t next = 0;
	struct keyd_trustconf t;
	int r, revoked = 0;

	if (!id->ocsp_file)
		return;
	r = tk_file_read("ocsp-response", id->ocsp_file, OCSP_MAX_RESPONSE, 0, &buf, &blen, NULL, err,
			 sizeof(err));
	if (r == 0)
		r = p11_chain_load(id->cert_src, &chain, &n, err, sizeof(err));
	if (r == 0 && (gnutls_x509_crt_init(&leaf) < 0 ||
		       gnutls_x509_crt_import(leaf, &chain[0].cert, GNUTLS_X509_FMT_DER) < 0))
		r = -EINVAL, tk_errf(err, sizeof(err), "cannot parse %s", id->cert_src);
	/* The identity's own anchors if it sets them (per-identity trust). */
	t = keyd_conf_trust_of(conf, id);
	if (r == 0 && (gnutls_certificate_allocate_credentials(&anchors) < 0 ||
		       trust_anchors_load(&t, anchors, err, sizeof(err)) < 0))
		r = -EINVAL;
	if (r == 0)
		r = ocsp_find_issuer(chain, n, anchors, &issuer, err, sizeof(err));
	if (r == 0) {
		gnutls_datum_t der = { (unsigned char *)buf, (unsigned)blen };

		r = ocsp_resp_check(&der, leaf, issuer, time(NULL), &revoked, &next, err, sizeof(err));
	}
	if (r == 0) {
		format_utc(next, when, sizeof(when));
		(void)printf("  %-12s %s, next update %s (%s)\n", "ocsp:", revoked ? "REVOKED" : "good",
			     when, id->ocsp_file);
	} else {
		(void)printf("  %-12s not stapled: %s\n", "ocsp:", err);
	}
	tk_file_free(buf, blen);
	if (issuer)
		gnutls_x509_crt_deinit(issuer);
	if (leaf)
		gnutls_x509_crt_deinit(leaf);
	if (anchors)
		gnutls_certificate_free_credentials(anchors);
	for (unsigned i = 0; i < n; i++)
		gnutls_pcert_deinit(&chain[i]);
	free(chain);
}

static const char fetch_usage[] =
	"Usage: tlskeyctl [-c CONFIG] ocsp-fetch [--timeout SEC] [--reload] [IDENTITY]\n"
	"For each identity with an ocsp-response file (or only IDENTITY), ask the OCSP\n"
	"responder named in its certificate (Authority Information Access, http://),\n"
	"check the answer (about this certificate, signed by its issuer or a delegated\n"
	"responder, nextUpdate ahead, good or revoked) and replace the file atomically.\n"
	"A revoked status is written too (the daemon staples it) and reported.\n"
	"--timeout: per responder, default 10 s.  --reload: then ask the daemon to\n"
	"reload, if any file was written.  Exit status 1 if any identity failed.\n";

static int fetch_opts(int argc, char **argv, unsigned *timeout_s, int *reload)
{
	static const struct option opts[] = { { "timeout", required_argument, NULL, 't' },
					      { "reload", no_argument, NULL, 'r' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		char *end;
		unsigned long v;

		switch (c) {
		case 't':
			v = strtoul(optarg, &end, 10);
			if (*end || v == 0 || v > 300) {
				ctl_err("--timeout: 1 to 300 seconds, not '%s'", optarg);
				return CTL_EXIT_USAGE;
			}
			*timeout_s = (unsigned)v;
			break;
		case 'r':
			*reload = 1;
			break;
		case 'h':
			(void)fputs(fetch_usage, stdout);
			return CTL_EXIT_OK;
		default:
			(void)fputs(fetch_usage, stderr);
			return CTL_EXIT_USAGE;
		}
	}
	if (argc - optind > 1) {
		(void)fputs(fetch_usage, stderr);
		return CTL_EXIT_USAGE;
	}
	return -1;
}

int ctl_ocsp_fetch(struct ctl *ctl, int argc, char **argv)
{
	const struct keyd_conf *conf;
	struct fetch_ctx fx = { .timeout_s = 10 };
	const char *only;
	char err[512] = "";
	unsigned done = 0, bad = 0;
	int r, reload = 0;

	r = fetch_opts(argc, argv, &fx.timeout_s, &reload);
	if (r >= 0)
		return r;
	only = optind < argc ? argv[optind] : NULL;
	if (ctl_conf(ctl, &conf) < 0)
		return CTL_EXIT_FAIL;
	if (only && (!keyd_conf_identity(conf, only) || !keyd_conf_identity(conf, only)->ocsp_file)) {
		ctl_err("%s: no such identity with an ocsp-response in %s", only, ctl->conf_path);
		return CTL_EXIT_FAIL;
	}
	r = p11_init(conf->module_path, err, sizeof(err));
	if (r == 0 && gnutls_certificate_allocate_credentials(&fx.anchors) < 0)
		r = -ENOMEM, tk_errf(err, sizeof(err), "out of memory");
	if (r == 0 && trust_anchors_load(&conf->trust, fx.anchors, err, sizeof(err)) < 0)
		r = -EINVAL;
	for (size_t i = 0; r == 0 && i < conf->n_ids; i++) {
		const struct keyd_identity *id = &conf->ids[i];

		if (!id->ocsp_file || (only && id != keyd_conf_identity(conf, only)))
			continue;
		if (fetch_one(&fx, id) < 0)
			bad++;
		else
			done++;
	}
	if (r < 0)
		ctl_err("%s", err);
	if (fx.anchors)
		gnutls_certificate_free_credentials(fx.anchors);
	p11_done();
	if (r == 0 && reload && done && ctl_reload_send(ctl) < 0)
		bad++;
	return r < 0 || bad ? CTL_EXIT_FAIL : CTL_EXIT_OK;
}
