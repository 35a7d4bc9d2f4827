/* Unit tests for tools/tunnel/source.c (--max-conns-per-source): what
 * counts as one source (an IPv4 address, also IPv4-mapped; an IPv6 /64;
 * nothing for UNIX clients), the counts as connections come and go, and
 * the default share. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "test/unit/check-main.h"
#include "tools/tunnel/tunnel.h"

static struct tunnel_source_key key_of(const char *text, unsigned port)
{
	struct sockaddr_storage ss;
	struct tunnel_source_key k;
	socklen_t len;

	memset(&ss, 0, sizeof(ss));
	if (strchr(text, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		ck_assert_int_eq(inet_pton(AF_INET6, text, &s6->sin6_addr), 1);
		len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		ck_assert_int_eq(inet_pton(AF_INET, text, &s4->sin_addr), 1);
		len = sizeof(*s4);
	}
	ck_assert_int_eq(tunnel_source_key((struct sockaddr *)&ss, len, &k), 0);
	return k;
}

/* Source i of many: 10.x.y.z. */
static struct tunnel_source_key key_n(unsigned i)
{
	char text[64];

	(void)snprintf(text, sizeof(text), "10.%u.%u.%u", i >> 16, (i >> 8) & 255, i & 255);
	return key_of(text, 1);
}

static int same_key(struct tunnel_source_key a, struct tunnel_source_key b)
{
	return a.family == b.family && !memcmp(a.addr, b.addr, sizeof(a.addr));
}

START_TEST(what_is_one_source)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	struct sockaddr_in short4 = { .sin_family = AF_INET };
	struct tunnel_source_key k;

	/* The port does not matter; the address does. */
	ck_assert(same_key(key_of("192.0.2.1", 1), key_of("192.0.2.1", 2)));
	ck_assert(!same_key(key_of("192.0.2.1", 1), key_of("192.0.2.2", 1)));
	/* A listener on [::] sees IPv4 clients IPv4-mapped. */
	ck_assert(same_key(key_of("::ffff:192.0.2.1", 1), key_of("192.0.2.1", 9)));
	/* One IPv6 /64 is one source; the next /64 is another. */
	ck_assert(same_key(key_of("2001:db8:1:2::1", 1), key_of("2001:db8:1:2:ffff:1:2:3", 1)));
	ck_assert(!same_key(key_of("2001:db8:1:2::1", 1), key_of("2001:db8:1:3::1", 1)));
	/* An IPv6 /64 whose first bytes equal an IPv4 address is not it. */
	ck_assert(!same_key(key_of("c000:201::", 1), key_of("192.0.2.1", 1)));
	/* UNIX clients, and truncated addresses, have no source. */
	ck_assert_int_eq(tunnel_source_key((struct sockaddr *)&un, sizeof(un), &k), -EAFNOSUPPORT);
	ck_assert_int_eq(tunnel_source_key((struct sockaddr *)&short4, 4, &k), -EAFNOSUPPORT);
}
END_TEST

START_TEST(counts_come_and_go)
{
	struct tunnel_sources s;
	struct tunnel_source_key a = key_of("192.0.2.1", 1), b = key_of("2001:db8::1", 1);

	tunnel_sources_init(&s);
	ck_assert_uint_eq(tunnel_sources_count(&s, &a), 0);
	ck_assert_int_eq(tunnel_sources_add(&s, &a), 0);
	ck_assert_int_eq(tunnel_sources_add(&s, &a), 0);
	ck_assert_int_eq(tunnel_sources_add(&s, &b), 0);
	ck_assert_uint_eq(tunnel_sources_count(&s, &a), 2);
	ck_assert_uint_eq(tunnel_sources_count(&s, &b), 1);
	ck_assert_uint_eq(s.n, 2);
	tunnel_sources_del(&s, &a);
	ck_assert_uint_eq(tunnel_sources_count(&s, &a), 1);
	tunnel_sources_del(&s, &a);
	tunnel_sources_del(&s, &b);
	/* Sources without connections are not kept. */
	ck_assert_uint_eq(s.n, 0);
	ck_assert_uint_eq(tunnel_sources_count(&s, &a), 0);
	/* Many sources, many collisions in 1024 buckets: each keeps its own. */
	for (unsigned i = 0; i < 5000; i++) {
		struct tunnel_source_key k = key_n(i);

		for (unsigned j = 0; j <= i % 3; j++)
			ck_assert_int_eq(tunnel_sources_add(&s, &k), 0);
	}
	ck_assert_uint_eq(s.n, 5000);
	for (unsigned i = 0; i < 5000; i++) {
		struct tunnel_source_key k = key_n(i);

		ck_assert_uint_eq(tunnel_sources_count(&s, &k), i % 3 + 1);
	}
	tunnel_sources_free(&s);
	ck_assert_uint_eq(s.n, 0);
	ck_assert_uint_eq(tunnel_sources_count(&s, &a), 0);
}
END_TEST

START_TEST(default_share)
{
	struct tunnel_conf c;

	memset(&c, 0, sizeof(c));
	c.mode = TUNNEL_MODE_SERVER;
	c.max_conns_per_source = TUNNEL_PER_SOURCE_DEFAULT;
	c.max_conns = 256;
	ck_assert_uint_eq(tunnel_conf_per_source(&c), 64);
	c.max_conns = 8;
	ck_assert_uint_eq(tunnel_conf_per_source(&c), 2);
	c.max_conns = 1;
	ck_assert_uint_eq(tunnel_conf_per_source(&c), 1);
	c.max_conns = 5;
	ck_assert_uint_eq(tunnel_conf_per_source(&c), 2);
	/* Given: as given, 0 included (no cap). */
	c.max_conns_per_source = 0;
	ck_assert_uint_eq(tunnel_conf_per_source(&c), 0);
	c.max_conns_per_source = 300;
	ck_assert_uint_eq(tunnel_conf_per_source(&c), 300);
	/* Client mode: local programs, all from loopback: no default cap. */
	c.mode = TUNNEL_MODE_CLIENT;
	c.max_conns_per_source = TUNNEL_PER_SOURCE_DEFAULT;
	ck_assert_uint_eq(tunnel_conf_per_source(&c), 0);
}
END_TEST

int main(void)
{
	const TTest *tests[] = { what_is_one_source, counts_come_and_go, default_share, NULL };

	return tkt_run("tunnel_source", "/tunnel/source", NULL, NULL, 0, tests);
}
