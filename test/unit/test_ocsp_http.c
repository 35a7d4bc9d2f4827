/* Unit tests for the OCSP responder URLs keyd/ocsp_http.c accepts: a URL
 * it refuses is never connected to (no listener is needed to tell). */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <string.h>
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

int main(void)
{
	const TTest *tests[] = { port_bounds, NULL };

	return tkt_run("ocsp_http", "/keyd/ocsp_http", NULL, NULL, 30, tests);
}
