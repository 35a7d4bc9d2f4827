/* Unit tests for keyd/ocsp_http.c: the responder URLs it accepts (a URL
 * it refuses is never connected to: no listener is needed to tell), and
 * how it reads answers from a responder on 127.0.0.1 (a thread here). */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <gnutls/gnutls.h>

#include "common/util.h"
#include "keyd/ocsp_http.h"
#include "test/unit/check-main.h"

static int post(const char *url)
{
	static unsigned char body[1] = { 0 };
	gnutls_datum_t req = { body, sizeof(body) }, ans = { NULL, 0 };
	char err[256] = "";
	int r = ocsp_http_post(url, &req, tk_now_ms() + 200, &ans, err, sizeof(err));

	gnutls_free(ans.data);
	return r;
}

/* A port is 1 to 65535 in at most 5 digits: never cut to another one. */
START_TEST(port_bounds)
{
	ck_assert_int_eq(post("http://127.0.0.1:100000080/"), -EINVAL);
	ck_assert_int_eq(post("http://127.0.0.1:65536/"), -EINVAL);
	ck_assert_int_eq(post("http://127.0.0.1:0/"), -EINVAL);
	ck_assert_int_eq(post("http://127.0.0.1:/"), -EINVAL);
	ck_assert_int_eq(post("http://127.0.0.1:8x/"), -EINVAL);
	ck_assert_int_eq(post("https://127.0.0.1/"), -EPROTONOSUPPORT);
	ck_assert_int_eq(post("http://user@127.0.0.1/"), -EINVAL);
}
END_TEST

/* A responder that answers one request with answer (len bytes), then
 * closes, or (hold) keeps the connection open until the test closes it. */
struct responder {
	int ls, conn, hold;
	const char *answer;
	size_t len;
	pthread_t t;
	char url[64];
};

static void *respond(void *arg)
{
	struct responder *x = arg;
	struct pollfd p;
	char req[4096];
	size_t off = 0;

	x->conn = accept(x->ls, NULL, NULL);
	if (x->conn < 0)
		return NULL;
	p = (struct pollfd){ .fd = x->conn, .events = POLLIN };
	if (poll(&p, 1, 2000) == 1)
		(void)recv(x->conn, req, sizeof(req), 0);
	while (off < x->len) {
		ssize_t n = send(x->conn, x->answer + off, x->len - off, MSG_NOSIGNAL);

		if (n <= 0)
			break;
		off += (size_t)n;
	}
	if (!x->hold) {
		/* Read what is left of the request before closing: a close with
		 * unread bytes sends a reset, which can reach the client before
		 * it read the answer (ECONNRESET, seen in a loaded distcheck). */
		(void)shutdown(x->conn, SHUT_WR);
		for (int i = 0; i < 100; i++) {
			p = (struct pollfd){ .fd = x->conn, .events = POLLIN };
			if (poll(&p, 1, 2000) != 1 || recv(x->conn, req, sizeof(req), 0) <= 0)
				break;
		}
		(void)close(x->conn);
		x->conn = -1;
	}
	return NULL;
}

static void responder_start(struct responder *x, const char *answer, size_t len, int hold)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);

	x->ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(x->ls, 0);
	ck_assert_int_eq(bind(x->ls, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(x->ls, 1), 0);
	ck_assert_int_eq(getsockname(x->ls, (struct sockaddr *)&a, &al), 0);
	(void)snprintf(x->url, sizeof(x->url), "http://127.0.0.1:%u/", ntohs(a.sin_port));
	x->conn = -1;
	x->answer = answer;
	x->len = len;
	x->hold = hold;
	ck_assert_int_eq(pthread_create(&x->t, NULL, respond, x), 0);
}

/* Post to x; the errno, the body in *ret (free with gnutls_free), the
 * time it took in *ms. */
static int post_to(struct responder *x, gnutls_datum_t *ret, unsigned long long *ms)
{
	static unsigned char body[1] = { 0 };
	gnutls_datum_t req = { body, sizeof(body) };
	unsigned long long t0 = tk_now_ms();
	char err[256] = "";
	int r = ocsp_http_post(x->url, &req, t0 + 3000, ret, err, sizeof(err));

	*ms = tk_now_ms() - t0;
	ck_assert_int_eq(pthread_join(x->t, NULL), 0);
	if (x->conn >= 0)
		(void)close(x->conn);
	(void)close(x->ls);
	return r;
}

/* A responder that keeps the connection open after a whole answer by its
 * Content-Length is not waited for. */
START_TEST(content_length_ends_the_answer)
{
	static const char a[] = "HTTP/1.1 200 OK\r\nContent-Type: application/ocsp-response\r\n"
				"content-length:  3\r\n\r\nabc";
	struct responder x;
	gnutls_datum_t ans = { NULL, 0 };
	unsigned long long ms;

	responder_start(&x, a, sizeof(a) - 1, 1);
	ck_assert_int_eq(post_to(&x, &ans, &ms), 0);
	ck_assert_uint_eq(ans.size, 3);
	ck_assert_int_eq(memcmp(ans.data, "abc", 3), 0);
	ck_assert_msg(ms < 2000, "waited %llu ms for a connection the responder kept", ms);
	gnutls_free(ans.data);
}
END_TEST

/* Without a Content-Length the answer ends where the responder closes. */
START_TEST(close_ends_the_answer)
{
	static const char a[] = "HTTP/1.0 200 OK\r\n\r\nxyz!";
	struct responder x;
	gnutls_datum_t ans = { NULL, 0 };
	unsigned long long ms;

	responder_start(&x, a, sizeof(a) - 1, 0);
	ck_assert_int_eq(post_to(&x, &ans, &ms), 0);
	ck_assert_uint_eq(ans.size, 4);
	gnutls_free(ans.data);
}
END_TEST

/* "200" must be the whole status code. */
START_TEST(status_2000_refused)
{
	static const char a[] = "HTTP/1.1 2000 OK\r\n\r\nabc";
	struct responder x;
	gnutls_datum_t ans = { NULL, 0 };
	unsigned long long ms;

	responder_start(&x, a, sizeof(a) - 1, 0);
	ck_assert_int_eq(post_to(&x, &ans, &ms), -EPROTO);
	ck_assert_ptr_null(ans.data);
}
END_TEST

/* A body over OCSP_MAX_RESPONSE is refused even when the head was short
 * (the read buffer holds both). */
START_TEST(body_bounded)
{
	static const char head[] = "HTTP/1.1 200 OK\r\n\r\n";
	size_t n = sizeof(head) - 1 + 64 * 1024 + 1;
	char *a = malloc(n);
	struct responder x;
	gnutls_datum_t ans = { NULL, 0 };
	unsigned long long ms;

	ck_assert_ptr_nonnull(a);
	memcpy(a, head, sizeof(head) - 1);
	memset(a + sizeof(head) - 1, 'b', n - (sizeof(head) - 1));
	responder_start(&x, a, n, 0);
	ck_assert_int_eq(post_to(&x, &ans, &ms), -EFBIG);
	ck_assert_ptr_null(ans.data);
	free(a);
}
END_TEST

int main(void)
{
	const TTest *tests[] = { port_bounds, content_length_ends_the_answer, close_ends_the_answer,
				 status_2000_refused, body_bounded, NULL };

	return tkt_run("ocsp_http", "/keyd/ocsp_http", NULL, NULL, 30, tests);
}
