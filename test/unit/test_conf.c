/* Unit tests for the daemon configuration parser (keyd/conf.c). */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keyd/conf.h"
#include "keyd/tickets.h"
#include "test/unit/check-main.h"

static const char good[] =
	"# comment\n"
	"socket = /run/t/tlskeyd.sock\n"
	"acl = /etc/tlskeyd/acl.conf\n"
	"pkcs11-module = /usr/lib/softhsm/libsofthsm2.so\n"
	"ca-file = system\n"
	"workers = 3\n"
	"handshake-timeout = 1500\n"
	"\n"
	"[identity server.example.test]\n"
	"key = pkcs11:token=t;object=server-ec;type=private\n"
	"cert = /etc/tlskeyd/server.pem\n"
	"pin-file = /etc/tlskeyd/pin\n"
	"[ identity alice@example.test ]\n"
	"  key = pkcs11:token=t;object=alice;type=private;pin-source=/etc/tlskeyd/alice.pin\n"
	"cert = pkcs11:token=t;object=alice;type=cert\n";

START_TEST(parse_good)
{
	struct keyd_conf *c = NULL;
	const struct keyd_identity *id;
	char err[256] = "";

	ck_assert_int_eq(keyd_conf_parse("t.conf", good, strlen(good), &c, err, sizeof(err)), 0);
	ck_assert_str_eq(c->socket_path, "/run/t/tlskeyd.sock");
	ck_assert_str_eq(c->trust.ca_file, "system");
	ck_assert_uint_eq(c->workers, 3);
	ck_assert_uint_eq(c->handshake_timeout_ms, 1500);
	ck_assert_uint_eq(c->max_handshakes, 256); /* default */
	ck_assert_int_eq(c->protected_unix, 0);      /* default: loopback TCP */
	ck_assert_uint_eq(c->cert_expiry_warning_days, 14); /* default */
	ck_assert_uint_eq(c->n_ids, 2);
	id = keyd_conf_identity(c, "SERVER.example.test");
	ck_assert_ptr_nonnull(id);
	ck_assert_str_eq(id->pin_file, "/etc/tlskeyd/pin");
	id = keyd_conf_identity(c, "alice@example.test");
	ck_assert_ptr_nonnull(id);
	/* The PIN source moved out of the URI. */
	ck_assert_ptr_null(strstr(id->key_uri, "pin-source"));
	ck_assert_str_eq(id->pin_file, "/etc/tlskeyd/alice.pin");
	ck_assert_ptr_null(keyd_conf_identity(c, "bob@example.test"));
	keyd_conf_free(c);
}
END_TEST

/* Finding 1: the lookup follows the ACL's case rule (local part exact,
 * domain case-insensitive) and hands back the canonical configured name. */
START_TEST(identity_case_rule)
{
	static const char text[] = "[identity Server.EXAMPLE.test]\n"
				   "key = pkcs11:token=t;object=s;type=private\n"
				   "cert = /etc/s.pem\n"
				   "[identity alice@Example.TEST]\n"
				   "key = pkcs11:token=t;object=a;type=private\n"
				   "cert = /etc/a.pem\n"
				   "[identity Bob@example.test]\n"
				   "key = pkcs11:token=t;object=b;type=private\n"
				   "cert = /etc/b.pem\n";
	struct keyd_conf *c = NULL;
	const struct keyd_identity *id;
	char err[256] = "";

	ck_assert_int_eq(keyd_conf_parse("t.conf", text, strlen(text), &c, err, sizeof(err)), 0);
	ck_assert_str_eq(c->ids[0].name, "server.example.test");
	ck_assert_str_eq(c->ids[1].name, "alice@example.test");
	ck_assert_str_eq(c->ids[2].name, "Bob@example.test");
	id = keyd_conf_identity(c, "SERVER.example.TEST");
	ck_assert_ptr_eq(id, &c->ids[0]);
	id = keyd_conf_identity(c, "alice@EXAMPLE.TEST");
	ck_assert_ptr_eq(id, &c->ids[1]);
	ck_assert_ptr_null(keyd_conf_identity(c, "ALICE@example.test"));
	ck_assert_ptr_null(keyd_conf_identity(c, "Alice@example.test"));
	ck_assert_ptr_null(keyd_conf_identity(c, "bob@example.test"));
	ck_assert_ptr_eq(keyd_conf_identity(c, "Bob@EXAMPLE.test"), &c->ids[2]);
	ck_assert_ptr_null(keyd_conf_identity(c, "alice@example.test.x"));
	ck_assert_ptr_null(keyd_conf_identity(c, "alice@example"));
	keyd_conf_free(c);
}
END_TEST

static void expect_error(const char *text, const char *where)
{
	struct keyd_conf *c = NULL;
	char err[256] = "";

	ck_assert_int_eq(keyd_conf_parse("t.conf", text, strlen(text), &c, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(err, where) != NULL, "error '%s' should mention '%s'", err, where);
}

/* Every error is reported, one line each, not only the first; a section
 * whose header is bad is skipped whole (no spurious errors from its
 * settings). */
START_TEST(every_error_reported)
{
	const char *text = "workers = 0\n"
			   "bogus = 1\n"
			   "[identity bad..name]\n"
			   "key = pkcs11:object=k\n"
			   "key = pkcs11:object=k\n"
			   "[identity a.test]\n"
			   "cert = /c\n";
	struct keyd_conf *c = NULL;
	char err[1024] = "";
	unsigned lines = 1;

	ck_assert_int_eq(keyd_conf_parse("t.conf", text, strlen(text), &c, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(c);
	ck_assert_msg(!strncmp(err, "t.conf:1: ", 10), "%s", err);
	ck_assert_msg(strstr(err, "\nt.conf:2: unknown setting 'bogus'"), "%s", err);
	ck_assert_msg(strstr(err, "\nt.conf:3: invalid identity name"), "%s", err);
	ck_assert_msg(strstr(err, "\nt.conf:6: identity 'a.test' has no 'key'"), "%s", err);
	ck_assert_msg(!strstr(err, "t.conf:5:"), "the bad section's settings were read: %s", err);
	for (const char *q = err; (q = strchr(q, '\n')); q++)
		lines++;
	ck_assert_uint_eq(lines, 4);
}
END_TEST

/* pin-sha256: 64 hex digits or 44 base64 characters, exactly 32 bytes. */
START_TEST(pin_encodings)
{
	static const char *const pins_good[] = {
		"[peer p.test]\npin-sha256 = "
		"00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF\n",
		"[peer p.test]\npin-sha256 = ABEiM0RVZneImaq7zN3u/wARIjNEVWZ3iJmqu8zd7v8=\n",
	};
	static const char *const pins_bad[] = {
		"[peer p.test]\npin-sha256 = "
		"00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFG\n",
		"[peer p.test]\npin-sha256 = ABEiM0RVZneImaq7zN3u/wARIjNEVWZ3iJmqu8zd7v8\n",
		"[peer p.test]\npin-sha256 = ABEiM0RVZneImaq7zN3u/wARIjNEVWZ3iJmqu8zd7v*=\n",
		"[peer p.test]\npin-sha256 = 0011\n",
	};
	static const unsigned char want[4] = { 0x00, 0x11, 0x22, 0x33 };

	for (size_t i = 0; i < 2; i++) {
		struct keyd_conf *c = NULL;
		char err[256] = "";

		ck_assert_msg(keyd_conf_parse("t", pins_good[i], strlen(pins_good[i]), &c, err, sizeof(err)) == 0,
			      "%s", err);
		ck_assert_uint_eq(c->n_peers, 1);
		ck_assert_uint_eq(c->peers[0].n_pins, 1);
		ck_assert_int_eq(memcmp(c->peers[0].pins[0].sha256, want, sizeof(want)), 0);
		ck_assert_uint_eq(c->peers[0].pins[0].sha256[31], 0xff);
		keyd_conf_free(c);
	}
	for (size_t i = 0; i < sizeof(pins_bad) / sizeof(pins_bad[0]); i++)
		expect_error(pins_bad[i], "t.conf:2:");
}
END_TEST

START_TEST(parse_errors)
{
	expect_error("bogus = 1\n", "t.conf:1: unknown setting 'bogus'");
	{
		struct keyd_conf *c = NULL;
		char err[256] = "";
		const char *u = "protected-socket = unix\n";

		ck_assert_int_eq(keyd_conf_parse("t.conf", u, strlen(u), &c, err, sizeof(err)), 0);
		ck_assert_int_eq(c->protected_unix, 1);
		keyd_conf_free(c);
	}
	expect_error("protected-socket = udp\n", "t.conf:1: 'protected-socket' must be tcp or unix, not 'udp'");
	expect_error("\n\nworkers = 0\n", "t.conf:3:");
	expect_error("workers = 12x\n", "t.conf:1:");
	expect_error("workers = -1\n", "t.conf:1:");
	expect_error("socket = relative/path\n", "absolute path");
	expect_error("socket = /a\nsocket = /b\n", "t.conf:2: duplicate");
	expect_error("no equals sign\n", "expected 'key = value'");
	expect_error("[identity bad..name]\n", "invalid identity name");
	expect_error("[identity a.test]\ncert = /x\n", "t.conf:1: identity 'a.test' has no 'key'");
	expect_error("[identity a.test]\nkey = pkcs11:object=k\n", "has no 'cert'");
	expect_error("[identity a.test]\nkey = /not/a/uri\n", "PKCS#11 URI");
	expect_error("[identity a.test]\nkey=pkcs11:object=k\ncert=/c\n[identity A.test]\n", "t.conf:4: duplicate identity");
	expect_error("[section]\n", "unknown section");
	expect_error("[identity a.test\n", "malformed section");
	expect_error("[identity a.test]\nkey = pkcs11:object=k;pin-source=/p\npin-file = /q\ncert = /c\n",
		     "duplicate PIN source");
	expect_error("[identity a.test]\nfoo = bar\n", "unknown identity setting");
	expect_error("acl =\n", "empty key or value");
	/* Every setting may appear once, numbers too (they used to repeat
	 * silently, the last one winning). */
	expect_error("workers = 2\nworkers = 3\n", "t.conf:2: duplicate setting 'workers'");
	expect_error("protected-socket = unix\nprotected-socket = tcp\n", "t.conf:2: duplicate");
	expect_error("[identity a.test]\nkey=pkcs11:object=k\ncert=/c\noptional = yes\noptional = no\n",
		     "t.conf:5: duplicate setting 'optional'");
	expect_error("[identity a.test]\nkey=pkcs11:object=k\ncert = pkcs11:objekt=c\n",
		     "t.conf:3: 'cert': unknown PKCS#11 URI attribute 'objekt'");
	expect_error("[identity a.test]\noptional = maybe\n", "'optional' must be yes or no");
	expect_error("cert-expiry-warning = -1\n", "cert-expiry-warning");
	expect_error("peer-ocsp = yes\n", "t.conf:1: 'peer-ocsp' must be off, if-stapled or require, not 'yes'");
	expect_error("peer-ocsp = off\npeer-ocsp = off\n", "t.conf:2: duplicate setting 'peer-ocsp'");
	expect_error("[identity a.test]\nocsp-response = resp.der\n",
		     "t.conf:2: 'ocsp-response' must be an absolute path");
	expect_error("[identity a.test]\npeer-ocsp = REQUIRE\n", "'peer-ocsp' must be off, if-stapled or require");
	/* A PIN in the key's URI would live in the configuration file:
	 * refused, without repeating it; pin-source is taken as the PIN file. */
	{
		static const char bad[] = "[identity a.test]\nkey = pkcs11:object=k?pin-value=918273\ncert = /c.pem\n";
		static const char srcpin[] = "[identity a.test]\nkey = pkcs11:object=k?pin-source=/etc/p\ncert = /c.pem\n";
		struct keyd_conf *c = NULL;
		char err[512] = "";

		ck_assert_int_lt(keyd_conf_parse("t.conf", bad, strlen(bad), &c, err, sizeof(err)), 0);
		ck_assert_msg(strstr(err, "t.conf:2: 'key' must not carry pin-value"), "%s", err);
		ck_assert_ptr_null(strstr(err, "918273"));
		ck_assert_ptr_null(c);
		/* p11-kit skips whitespace: a pin-value behind a blank is one
		 * too.  Any whitespace makes the URI malformed, said without it. */
		{
			static const char *const hidden[] = {
				"[identity a.test]\nkey = pkcs11:object=k; pin-value=918273\ncert = /c.pem\n",
				"[identity a.test]\nkey = pkcs11:object=k?pin-value =918273\ncert = /c.pem\n",
				"[identity a.test]\nkey = pkcs11:object=k?\tpin-value=918273\ncert = /c.pem\n",
				"[identity a.test]\nkey = pkcs11:object=k\ncert = pkcs11:object=c; pin-value=918273\n",
			};

			for (size_t i = 0; i < sizeof(hidden) / sizeof(hidden[0]); i++) {
				ck_assert_int_lt(keyd_conf_parse("t.conf", hidden[i], strlen(hidden[i]), &c, err,
								 sizeof(err)), 0);
				ck_assert_msg(strstr(err, "malformed PKCS#11 URI in '"), "%zu: %s", i, err);
				ck_assert_msg(!strstr(err, "918273"), "the PIN is in the message: %s", err);
				ck_assert_ptr_null(c);
			}
		}
		ck_assert_int_eq(keyd_conf_parse("t.conf", srcpin, strlen(srcpin), &c, err, sizeof(err)), 0);
		ck_assert_str_eq(c->ids[0].key_uri, "pkcs11:object=k");
		ck_assert_str_eq(c->ids[0].pin_file, "/etc/p");
		keyd_conf_free(c);
	}
	/* A PIN in the certificate's URI would be printed with it (logs,
	 * tlskeyctl keys): refused, and the message does not repeat it. */
	{
		static const char *const bad[] = {
			"[identity a.test]\nkey=pkcs11:object=k\ncert = pkcs11:object=c;type=cert?pin-value=918273\n",
			"[identity a.test]\nkey=pkcs11:object=k\ncert = pkcs11:object=c;type=cert?pin-source=/p918273\n",
			/* An unknown attribute too: the PIN is judged first. */
			"[identity a.test]\nkey=pkcs11:object=k\ncert = pkcs11:object=c;bogus-attr=1?pin-value=918273\n",
		};

		for (size_t i = 0; i < 3; i++) {
			struct keyd_conf *c = NULL;
			char err[512] = "";

			ck_assert_int_lt(keyd_conf_parse("t.conf", bad[i], strlen(bad[i]), &c, err, sizeof(err)), 0);
			ck_assert_msg(strstr(err, "t.conf:3: 'cert' must not carry a PIN"), "%s", err);
			ck_assert_msg(!strstr(err, "918273"), "the PIN is in the message: %s", err);
		}
	}
	/* Empty parts are no PIN (they were refused as one). */
	{
		static const char *const empty_parts[] = {
			"[identity a.test]\nkey=pkcs11:object=k\ncert = pkcs11:object=c;type=cert;\n",
			"[identity a.test]\nkey=pkcs11:object=k\ncert = pkcs11:object=c;type=cert?\n",
		};

		for (size_t i = 0; i < 2; i++) {
			struct keyd_conf *c = NULL;
			char err[512] = "";

			ck_assert_msg(keyd_conf_parse("t.conf", empty_parts[i], strlen(empty_parts[i]), &c, err,
						      sizeof(err)) == 0, "%s: %s", empty_parts[i], err);
			keyd_conf_free(c);
		}
	}
}
END_TEST

/* peer-ocsp: if-stapled by default, an identity's own value wins. */
START_TEST(ocsp_settings)
{
	static const char conf[] = "peer-ocsp = off\n"
				   "[identity a.test]\nkey = pkcs11:object=k\ncert = /c.pem\n"
				   "ocsp-response = /var/lib/tlskeyd/a.der\npeer-ocsp = require\n"
				   "[identity b.test]\nkey = pkcs11:object=k\ncert = /c.pem\n";
	struct keyd_conf *c = NULL;
	char err[256] = "";

	ck_assert_int_eq(keyd_conf_parse("t.conf", good, strlen(good), &c, err, sizeof(err)), 0);
	ck_assert_int_eq(c->peer_ocsp, KEYD_OCSP_IF_STAPLED);
	ck_assert_ptr_null(c->ids[0].ocsp_file);
	keyd_conf_free(c);
	c = NULL;
	ck_assert_msg(keyd_conf_parse("t.conf", conf, strlen(conf), &c, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(c->peer_ocsp, KEYD_OCSP_OFF);
	ck_assert_str_eq(c->ids[0].ocsp_file, "/var/lib/tlskeyd/a.der");
	ck_assert_int_eq(c->ids[0].peer_ocsp, KEYD_OCSP_REQUIRE);
	ck_assert_int_eq(c->ids[1].peer_ocsp, KEYD_OCSP_INHERIT);
	keyd_conf_free(c);
}
END_TEST

/* peer-ocsp-online globally and per identity; ocsp-timeout, -cache-size,
 * -max-ttl; defaults (0: the built-in ones) and mistakes. */
START_TEST(ocsp_online_settings)
{
	static const char conf[] = "peer-ocsp-online = soft\nocsp-timeout = 1500\n"
				   "ocsp-cache-size = 16\nocsp-max-ttl = 60\n"
				   "[identity a.test]\nkey = pkcs11:object=k\ncert = /c.pem\n"
				   "peer-ocsp-online = hard\n"
				   "[identity b.test]\nkey = pkcs11:object=k\ncert = /c.pem\n";
	struct keyd_conf *c = NULL;
	char err[256] = "";

	ck_assert_int_eq(keyd_conf_parse("t.conf", good, strlen(good), &c, err, sizeof(err)), 0);
	ck_assert_int_eq(c->peer_ocsp_online, 0);
	ck_assert_uint_eq(c->ocsp_timeout_ms, 0);
	keyd_conf_free(c);
	c = NULL;
	ck_assert_msg(keyd_conf_parse("t.conf", conf, strlen(conf), &c, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(c->peer_ocsp_online, KEYD_OCSP_ONLINE_SOFT);
	ck_assert_uint_eq(c->ocsp_timeout_ms, 1500);
	ck_assert_uint_eq(c->ocsp_cache_size, 16);
	ck_assert_uint_eq(c->ocsp_max_ttl_s, 60);
	ck_assert_int_eq(c->ids[0].peer_ocsp_online, KEYD_OCSP_ONLINE_HARD);
	ck_assert_int_eq(c->ids[1].peer_ocsp_online, KEYD_OCSP_ONLINE_INHERIT);
	keyd_conf_free(c);
	expect_error("peer-ocsp-online = yes\n", "t.conf:1: 'peer-ocsp-online' must be off, soft or hard");
	expect_error("ocsp-timeout = 0\n", "'ocsp-timeout' must be an integer from 1 to 60000");
	expect_error("ocsp-timeout = 60001\n", "'ocsp-timeout' must be an integer from 1 to 60000");
	expect_error("ocsp-cache-size = 0\n", "'ocsp-cache-size' must be an integer from 1 to 65536");
	expect_error("ocsp-max-ttl = 0\n", "'ocsp-max-ttl' must be an integer");
	expect_error("[identity a.test]\nkey = pkcs11:object=k\ncert = /c.pem\nocsp-timeout = 5\n",
		     "t.conf:4: unknown identity setting 'ocsp-timeout'");
}
END_TEST

/* resumption = on|off globally and per identity, ticket-rotation. */
START_TEST(resumption_settings)
{
	struct keyd_conf *c = NULL;
	char err[256] = "";
	const char *txt = "resumption = on\nticket-rotation = 600\n"
			  "[identity a.test]\nkey=pkcs11:object=k\ncert=/c\nresumption = off\n"
			  "[identity b.test]\nkey=pkcs11:object=k\ncert=/c\n";

	ck_assert_int_eq(keyd_conf_parse("t.conf", good, strlen(good), &c, err, sizeof(err)), 0);
	ck_assert_int_eq(c->resumption, 0); /* default off */
	ck_assert_uint_eq(c->ticket_rotation_s, 3600);
	ck_assert_int_eq(c->ids[0].resumption, -1); /* the global setting */
	ck_assert_int_eq(tickets_enabled(c, &c->ids[0]), 0);
	keyd_conf_free(c);
	ck_assert_int_eq(keyd_conf_parse("t.conf", txt, strlen(txt), &c, err, sizeof(err)), 0);
	ck_assert_int_eq(c->resumption, 1);
	ck_assert_uint_eq(c->ticket_rotation_s, 600);
	ck_assert_int_eq(tickets_enabled(c, keyd_conf_identity(c, "a.test")), 0);
	ck_assert_int_eq(tickets_enabled(c, keyd_conf_identity(c, "b.test")), 1);
	keyd_conf_free(c);
	expect_error("resumption = yes\n", "t.conf:1: 'resumption' must be off or on, not 'yes'");
	expect_error("resumption = on\nresumption = off\n", "t.conf:2: duplicate setting 'resumption'");
	expect_error("ticket-rotation = 0\n", "'ticket-rotation' must be an integer from 1 to 604800");
	expect_error("ticket-rotation = 604801\n", "ticket-rotation");
	expect_error("[identity a.test]\nkey=pkcs11:object=k\ncert=/c\nresumption = 1\n",
		     "t.conf:4: 'resumption' must be off or on");
	expect_error("[identity a.test]\nticket-rotation = 5\n", "unknown identity setting 'ticket-rotation'");
	/* The client role's own settings. */
	{
		const char *cl = "client-resumption = on\nclient-session-cache = 9\n"
				 "[identity a.test]\nkey=pkcs11:object=k\ncert=/c\nclient-resumption = off\n"
				 "[identity b.test]\nkey=pkcs11:object=k\ncert=/c\n";

		ck_assert_int_eq(keyd_conf_parse("t.conf", cl, strlen(cl), &c, err, sizeof(err)), 0);
		ck_assert_uint_eq(c->client_session_cache, 9);
		ck_assert_int_eq(tickets_client_enabled(c, keyd_conf_identity(c, "a.test")), 0);
		ck_assert_int_eq(tickets_client_enabled(c, keyd_conf_identity(c, "b.test")), 1);
		/* One does not imply the other. */
		ck_assert_int_eq(tickets_enabled(c, keyd_conf_identity(c, "b.test")), 0);
		keyd_conf_free(c);
	}
	ck_assert_int_eq(keyd_conf_parse("t.conf", good, strlen(good), &c, err, sizeof(err)), 0);
	ck_assert_int_eq(c->client_resumption, 0);
	ck_assert_uint_eq(c->client_session_cache, 256);
	keyd_conf_free(c);
	expect_error("client-resumption = yes\n", "'client-resumption' must be off or on");
	expect_error("client-session-cache = 0\n", "'client-session-cache' must be an integer from 1 to 16384");
	expect_error("client-session-cache = 16385\n", "client-session-cache");
}
END_TEST

START_TEST(parse_limits)
{
	char big[5000];
	char nul[] = "workers = 2\0\n";
	struct keyd_conf *c = NULL;
	char err[256];

	memset(big, 'a', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	expect_error(big, "longer than");
	ck_assert_int_eq(keyd_conf_parse("t", nul, sizeof(nul) - 1, &c, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "NUL"));
	/* Empty file: valid, no identities. */
	ck_assert_int_eq(keyd_conf_parse("t", "", 0, &c, err, sizeof(err)), 0);
	ck_assert_uint_eq(c->n_ids, 0);
	keyd_conf_free(c);
	ck_assert_int_eq(keyd_conf_load("/nonexistent/tlskeyd.conf", &c, err, sizeof(err)), -ENOENT);
	ck_assert_int_eq(keyd_conf_load("/", &c, err, sizeof(err)), -EINVAL);
}
END_TEST

static void write_conf(const char *path, const char *head, size_t pad)
{
	FILE *f = fopen(path, "we");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(head, f), 0);
	/* Comment lines of 64 bytes: under the line limit. */
	for (size_t i = 0; i < pad; i++)
		ck_assert_int_ne(fputc(i % 64 == 63 ? '\n' : '#', f), EOF);
	ck_assert_int_eq(fclose(f), 0);
}

/* keyd_conf_load() reads with tk_file_read(): a file over 1 MiB is refused
 * as a whole with a message naming it (it used to be refused with another
 * message, never parsed in part), a file just at the limit is read, a
 * FIFO is refused without blocking. */
START_TEST(load_limits)
{
	char dir[] = "/tmp/test_conf.XXXXXX", path[128];
	struct keyd_conf *c = NULL;
	char err[512];

	ck_assert_ptr_nonnull(mkdtemp(dir));
	(void)snprintf(path, sizeof(path), "%s/tlskeyd.conf", dir);

	/* At the limit: "workers = 2\n" plus comment bytes up to 1 MiB. */
	write_conf(path, "workers = 2\n#", 1024 * 1024 - 13);
	ck_assert_msg(keyd_conf_load(path, &c, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(c->workers, 2);
	keyd_conf_free(c);
	c = NULL;

	/* One byte over: refused, c untouched. */
	write_conf(path, "workers = 2\n#", 1024 * 1024 - 12);
	ck_assert_int_eq(keyd_conf_load(path, &c, err, sizeof(err)), -EFBIG);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(err, path) && strstr(err, "larger than 1048576 bytes"), "%s", err);

	/* Writable by others: it names the module the daemon loads. */
	write_conf(path, "workers = 2\n", 0);
	ck_assert_int_eq(chmod(path, 0666), 0);
	ck_assert_int_eq(keyd_conf_load(path, &c, err, sizeof(err)), -EPERM);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(err, "writable by group or others (mode 0666)"), "%s", err);

	/* A FIFO: refused at once (O_NONBLOCK open), not waited on. */
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_eq(keyd_conf_load(path, &c, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(err, "not a regular file (a FIFO)"), "%s", err);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/* Trust settings: global defaults, per-identity overrides (anchors carry
 * their CRLs with them), sharing, reevaluate; and their mistakes. */
START_TEST(trust_settings)
{
	static const char text[] =
		"ca-file = /etc/ca.pem\ncrl-file = /etc/ca.crl\ncrl-expired = accept\n"
		"priority = NORMAL\nreevaluate = log\n"
		"[identity a.example.test]\nkey = pkcs11:object=a\ncert = /a.pem\n"
		"[identity b.example.test]\nkey = pkcs11:object=b\ncert = /b.pem\n"
		"ca-file = /etc/b.pem\npriority = NORMAL:-VERS-ALL:+VERS-TLS1.3\nclient-ca-names = none\n"
		"[identity c.example.test]\nkey = pkcs11:object=c\ncert = /c.pem\ncrl-dir = /etc/crls\n"
		"crl-expired = refuse\n";
	struct keyd_conf *c = NULL;
	struct keyd_trustconf a, b, cc;
	char err[512] = "";

	ck_assert_int_eq(keyd_conf_parse("t.conf", text, strlen(text), &c, err, sizeof(err)), 0);
	ck_assert_int_eq(c->reevaluate, KEYD_REEVAL_LOG);
	a = keyd_conf_trust_of(c, &c->ids[0]);
	b = keyd_conf_trust_of(c, &c->ids[1]);
	cc = keyd_conf_trust_of(c, &c->ids[2]);
	ck_assert(keyd_conf_trust_equal(&a, &c->trust));
	ck_assert_str_eq(b.ca_file, "/etc/b.pem");
	ck_assert_ptr_null(b.crl_file); /* the global CRL is the global CA's */
	ck_assert_str_eq(b.client_ca_names, "none");
	ck_assert_int_eq(b.crl_expired, KEYD_CRL_EXPIRED_ACCEPT);
	ck_assert_str_eq(cc.ca_file, "/etc/ca.pem");
	/* Global anchors: the global crl-file still counts next to its own
	 * crl-dir (dropping it would accept what it revokes). */
	ck_assert_str_eq(cc.crl_file, "/etc/ca.crl");
	ck_assert_str_eq(cc.crl_dir, "/etc/crls");
	ck_assert_int_eq(cc.crl_expired, KEYD_CRL_EXPIRED_REFUSE);
	ck_assert(!keyd_conf_trust_equal(&b, &cc));
	keyd_conf_free(c);
	/* The default is end. */
	ck_assert_int_eq(keyd_conf_parse("t.conf", "workers = 1\n", 12, &c, err, sizeof(err)), 0);
	ck_assert_int_eq(c->reevaluate, KEYD_REEVAL_END);
	keyd_conf_free(c);

	expect_error("crl-file = relative.crl\n", "t.conf:1: 'crl-file' must be an absolute path");
	expect_error("crl-expired = maybe\n", "t.conf:1: 'crl-expired' must be refuse or accept");
	expect_error("reevaluate = sometimes\n", "t.conf:1: 'reevaluate' must be end, log or off");
	expect_error("client-ca-names = all\n", "t.conf:1: 'client-ca-names' must be anchors, none or an absolute path");
	expect_error("[identity a.example.test]\nkey = pkcs11:object=a\ncert = /a.pem\n"
		     "crl-dir = /x\ncrl-dir = /y\n", "t.conf:5: duplicate setting 'crl-dir'");
	expect_error("[identity a.example.test]\nkey = pkcs11:object=a\ncert = /a.pem\n"
		     "reevaluate = off\n", "t.conf:4: unknown identity setting 'reevaluate'");
}
END_TEST

/* peer-cn: global, per identity (which wins), default off; bad values. */
START_TEST(peer_cn)
{
	static const char text[] = "peer-cn = email\n"
				   "[identity a.example.test]\n"
				   "key = pkcs11:token=t;object=a;type=private\n"
				   "cert = /etc/a.pem\n"
				   "peer-cn = off\n"
				   "[identity b.example.test]\n"
				   "key = pkcs11:token=t;object=b;type=private\n"
				   "cert = /etc/b.pem\n"
				   "[identity c.example.test]\n"
				   "key = pkcs11:token=t;object=c;type=private\n"
				   "cert = /etc/c.pem\n"
				   "peer-cn = both\n";
	struct keyd_conf *c = NULL;
	char err[256] = "";

	ck_assert_int_eq(keyd_conf_parse("t.conf", text, strlen(text), &c, err, sizeof(err)), 0);
	ck_assert_uint_eq(keyd_conf_peer_cn(c, &c->ids[0]), 0);
	ck_assert_uint_eq(keyd_conf_peer_cn(c, &c->ids[1]), 2);
	ck_assert_uint_eq(keyd_conf_peer_cn(c, &c->ids[2]), 3);
	ck_assert_uint_eq(keyd_conf_peer_cn(c, NULL), 2);
	keyd_conf_free(c);
	ck_assert_int_eq(keyd_conf_parse("t.conf", "", 0, &c, err, sizeof(err)), 0);
	ck_assert_uint_eq(keyd_conf_peer_cn(c, NULL), 0);
	keyd_conf_free(c);
	expect_error("peer-cn = yes\n", "t.conf:1: 'peer-cn' must be off, hostname, email or both");
	expect_error("[identity a.example.test]\nkey = pkcs11:token=t;object=a;type=private\n"
		     "cert = /etc/a.pem\npeer-cn = HOSTNAME\n", "t.conf:4: 'peer-cn' must be");
}
END_TEST

/* DANE settings: three levels, defaults, and every mistake refused. */
START_TEST(dane_settings)
{
	static const char ok[] = "dane = opportunistic\n"
				 "dns-resolver = ::1@5353\n"
				 "dns-trust-anchor = /etc/tlskeyd/root.ds\n"
				 "[identity a.test]\nkey = pkcs11:object=k\ncert = /c\ndane = require\n"
				 "[identity b.test]\nkey = pkcs11:object=k\ncert = /c\n"
				 "[peer www.example.test]\ndane = off\n";
	struct keyd_conf *c = NULL;
	char err[512] = "";

	ck_assert_int_eq(keyd_conf_parse("t.conf", ok, strlen(ok), &c, err, sizeof(err)), 0);
	ck_assert_int_eq(c->dane, KEYD_DANE_OPPORTUNISTIC);
	ck_assert_str_eq(c->dns_resolver, "::1@5353");
	ck_assert_str_eq(c->dns_trust_anchor, "/etc/tlskeyd/root.ds");
	ck_assert_int_eq(keyd_conf_identity(c, "a.test")->dane, KEYD_DANE_REQUIRE);
	ck_assert_int_eq(keyd_conf_identity(c, "b.test")->dane, KEYD_DANE_INHERIT);
	ck_assert_int_eq(keyd_conf_peer(c, "www.example.test")->dane, KEYD_DANE_OFF);
	keyd_conf_free(c);
	c = NULL;
	/* Off by default, and off needs no resolver. */
	ck_assert_int_eq(keyd_conf_parse("t.conf", "workers = 1\n", 12, &c, err, sizeof(err)), 0);
	ck_assert_int_eq(c->dane, KEYD_DANE_OFF);
	ck_assert_ptr_null(c->dns_resolver);
	keyd_conf_free(c);
	c = NULL;
	ck_assert_int_eq(keyd_conf_parse("t.conf", "dane = off\n", 11, &c, err, sizeof(err)), 0);
	keyd_conf_free(c);
	expect_error("dane = yes\n", "t.conf:1: 'dane' must be require, opportunistic or off, not 'yes'");
	expect_error("dane = require\n", "t.conf:1: 'dane' needs both 'dns-resolver' and 'dns-trust-anchor'");
	expect_error("dns-trust-anchor = /a\n[peer x.test]\ndane = require\n",
		     "t.conf:3: 'dane' needs both");
	expect_error("dns-resolver = 127.0.0.1\ndane = opportunistic\n", "needs both");
	expect_error("dns-resolver = resolver.test\n", "'dns-resolver' must be an IP address");
	expect_error("dns-resolver = 127.0.0.1@0\n", "'dns-resolver' must be an IP address");
	expect_error("dns-resolver = 127.0.0.1@\n", "'dns-resolver' must be an IP address");
	expect_error("dns-resolver = @53\n", "'dns-resolver' must be ADDRESS");
	expect_error("dns-trust-anchor = root.ds\n", "absolute path");
	expect_error("[peer x.test]\ndane = off\ndane = require\n", "t.conf:3: duplicate setting 'dane'");
	expect_error("[identity a.test]\nkey=pkcs11:object=k\ncert=/c\ndane = on\n", "t.conf:4: 'dane' must be");
}
END_TEST

int main(void)
{
	const TTest *tests[] = { parse_good,   every_error_reported, pin_encodings, identity_case_rule,
				 parse_errors, parse_limits,	     load_limits,   ocsp_settings, ocsp_online_settings,
				 trust_settings, peer_cn,     dane_settings, resumption_settings,
				 NULL };

	/* load_limits writes and parses 1 MiB files: slow under sanitizers. */
	return tkt_run("conf", "/keyd/conf", NULL, NULL, 30, tests);
}
