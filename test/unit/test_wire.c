/* Unit tests for the wire codec (common/wire.c). */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/sessdoc.h"
#include "common/util.h"
#include "common/wire.h"
#include "test/unit/check-main.h"

static struct tk_msg start_msg(void)
{
	struct tk_msg m = { .type = TK_MSG_START, .role = TK_ROLE_SERVER, .proto = IPPROTO_TCP,
			    .flags = 0x81, .peername_max = 64, .checksni = 1 };
	m.present = (1u << TK_TAG_ROLE) | (1u << TK_TAG_PROTO) | (1u << TK_TAG_FLAGS) |
		    (1u << TK_TAG_PEERNAME_MAX) | (1u << TK_TAG_CHECKSNI);
	ck_assert_int_eq(tk_msg_set_str(&m, TK_TAG_MYNAME, "server.example.test"), 0);
	return m;
}

START_TEST(roundtrip)
{
	struct tk_msg m = start_msg(), d;
	uint8_t buf[TK_WIRE_MAX_MSG];
	size_t len;

	ck_assert_int_eq(tk_msg_encode(&m, buf, sizeof(buf), &len), 0);
	ck_assert_int_eq(tk_msg_decode(buf, len, &d), 0);
	ck_assert_uint_eq(d.type, TK_MSG_START);
	ck_assert_uint_eq(d.role, TK_ROLE_SERVER);
	ck_assert_uint_eq(d.flags, 0x81);
	ck_assert_uint_eq(d.peername_max, 64);
	ck_assert_str_eq(d.myname, "server.example.test");
	ck_assert(!TK_HAS(&d, TK_TAG_SNINAME));
}
END_TEST

START_TEST(bad_header)
{
	struct tk_msg m = start_msg(), d;
	uint8_t buf[TK_WIRE_MAX_MSG];
	size_t len;

	ck_assert_int_eq(tk_msg_encode(&m, buf, sizeof(buf), &len), 0);
	buf[0] ^= 0xff; /* magic */
	ck_assert_int_eq(tk_msg_decode(buf, len, &d), -EPROTO);
	buf[0] ^= 0xff;
	buf[2] = 2; /* version */
	ck_assert_int_eq(tk_msg_decode(buf, len, &d), -EPROTO);
	buf[2] = TK_WIRE_VERSION;
	buf[3] = 0; /* type */
	ck_assert_int_eq(tk_msg_decode(buf, len, &d), -EBADMSG);
	buf[3] = TK_MSG_START;
	buf[7] ^= 1; /* body length */
	ck_assert_int_eq(tk_msg_decode(buf, len, &d), -EBADMSG);
	buf[7] ^= 1;
	ck_assert_int_eq(tk_msg_decode(buf, len - 1, &d), -EBADMSG); /* truncated */
	ck_assert_int_eq(tk_msg_decode(buf, 3, &d), -EBADMSG);
	ck_assert_int_eq(tk_msg_decode(buf, len, &d), 0);
}
END_TEST

static size_t put_item(uint8_t *b, uint16_t tag, const void *v, uint16_t n)
{
	b[0] = (uint8_t)(tag >> 8);
	b[1] = (uint8_t)tag;
	b[2] = (uint8_t)(n >> 8);
	b[3] = (uint8_t)n;
	memcpy(b + 4, v, n);
	return 4u + n;
}

static size_t hdr(uint8_t *b, uint8_t type, size_t body)
{
	b[0] = 0x54, b[1] = 0x4b, b[2] = TK_WIRE_VERSION, b[3] = type;
	b[4] = (uint8_t)(body >> 24), b[5] = (uint8_t)(body >> 16);
	b[6] = (uint8_t)(body >> 8), b[7] = (uint8_t)body;
	return 8;
}

START_TEST(bad_items)
{
	uint8_t b[TK_WIRE_MAX_MSG + 16];
	struct tk_msg d;
	size_t n;
	uint8_t one = 1;
	uint32_t four = 0;

	/* An answer without its required item. */
	n = hdr(b, TK_MSG_SNI_ANSWER, 0);
	ck_assert_int_eq(tk_msg_decode(b, n, &d), -EBADMSG);
	/* The right item: accepted. */
	n = put_item(b + 8, TK_TAG_ACCEPT, &one, 1);
	hdr(b, TK_MSG_SNI_ANSWER, n);
	ck_assert_int_eq(tk_msg_decode(b, 8 + n, &d), 0);
	ck_assert_uint_eq(d.accept, 1);
	/* Same item twice. */
	n += put_item(b + 8 + n, TK_TAG_ACCEPT, &one, 1);
	hdr(b, TK_MSG_SNI_ANSWER, n);
	ck_assert_int_eq(tk_msg_decode(b, 8 + n, &d), -EBADMSG);
	/* Wrong size for a u8. */
	n = put_item(b + 8, TK_TAG_ACCEPT, &four, 4);
	hdr(b, TK_MSG_SNI_ANSWER, n);
	ck_assert_int_eq(tk_msg_decode(b, 8 + n, &d), -EBADMSG);
	/* An item not allowed in this type. */
	n = put_item(b + 8, TK_TAG_ACCEPT, &one, 1);
	n += put_item(b + 8 + n, TK_TAG_ERRNO, &four, 4);
	hdr(b, TK_MSG_SNI_ANSWER, n);
	ck_assert_int_eq(tk_msg_decode(b, 8 + n, &d), -EBADMSG);
	/* Unknown tag. */
	n = put_item(b + 8, TK_TAG_ACCEPT, &one, 1);
	n += put_item(b + 8 + n, 999, &one, 1);
	hdr(b, TK_MSG_SNI_ANSWER, n);
	ck_assert_int_eq(tk_msg_decode(b, 8 + n, &d), -EBADMSG);
	/* Item length running past the end. */
	n = put_item(b + 8, TK_TAG_ACCEPT, &one, 1);
	b[8 + 3] = 200;
	hdr(b, TK_MSG_SNI_ANSWER, n);
	ck_assert_int_eq(tk_msg_decode(b, 8 + n, &d), -EBADMSG);
	/* Oversized message. */
	memset(b, 0, sizeof(b));
	hdr(b, TK_MSG_SNI_ANSWER, TK_WIRE_MAX_MSG + 1 - 8);
	ck_assert_int_eq(tk_msg_decode(b, TK_WIRE_MAX_MSG + 1, &d), -EBADMSG);
}
END_TEST

/* An ERRNO item must be an errno (< 4096): 0xffffffff, negated as an int
 * by its reader, made +1, a failure taken for success (tlskeyctl exited
 * 0 on "reload failed"). */
START_TEST(errno_range)
{
	static const uint32_t ok[] = { 0, EPERM, 4095 }, bad[] = { 4096, 0x7fffffff, 0xffffffff };
	struct tk_msg m = { .type = TK_MSG_RESULT, .present = 1u << TK_TAG_ERRNO }, d;
	uint8_t buf[TK_WIRE_MAX_MSG];
	size_t len;

	for (size_t i = 0; i < 3; i++) {
		m.err = ok[i];
		ck_assert_int_eq(tk_msg_encode(&m, buf, sizeof(buf), &len), 0);
		ck_assert_int_eq(tk_msg_decode(buf, len, &d), 0);
		ck_assert_uint_eq(d.err, ok[i]);
		m.err = bad[i];
		ck_assert_int_eq(tk_msg_encode(&m, buf, sizeof(buf), &len), 0);
		ck_assert_msg(tk_msg_decode(buf, len, &d) == -EBADMSG, "ERRNO %u decoded", (unsigned)bad[i]);
	}
}
END_TEST

START_TEST(bad_strings)
{
	uint8_t b[TK_WIRE_MAX_MSG];
	char name[TK_NAME_MAX + 2];
	struct tk_msg d, m = { .type = TK_MSG_SNI_QUERY };
	size_t n;

	/* NUL inside a string. */
	n = put_item(b + 8, TK_TAG_SNINAME, "a\0b", 3);
	hdr(b, TK_MSG_SNI_QUERY, n);
	ck_assert_int_eq(tk_msg_decode(b, 8 + n, &d), -EBADMSG);
	/* Longer than the bound. */
	memset(name, 'a', sizeof(name));
	n = put_item(b + 8, TK_TAG_SNINAME, name, TK_NAME_MAX + 1);
	hdr(b, TK_MSG_SNI_QUERY, n);
	ck_assert_int_eq(tk_msg_decode(b, 8 + n, &d), -EBADMSG);
	/* Exactly at the bound. */
	n = put_item(b + 8, TK_TAG_SNINAME, name, TK_NAME_MAX);
	hdr(b, TK_MSG_SNI_QUERY, n);
	ck_assert_int_eq(tk_msg_decode(b, 8 + n, &d), 0);
	ck_assert_uint_eq(strlen(d.sniname), TK_NAME_MAX);
	/* The encoder refuses what the decoder would refuse. */
	name[TK_NAME_MAX + 1] = '\0';
	ck_assert_int_eq(tk_msg_set_str(&m, TK_TAG_SNINAME, name), -ENAMETOOLONG);
	ck_assert_int_eq(tk_msg_set_str(&m, TK_TAG_ROLE, "x"), -EINVAL);
}
END_TEST

START_TEST(fd_passing)
{
	struct tk_msg m = start_msg(), d;
	int sv[2], p[2], fd = -1;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(tk_msg_send(sv[0], &m, p[0]), 0);
	ck_assert_int_eq(tk_msg_recv(sv[1], &d, &fd), 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_str_eq(d.myname, "server.example.test");
	close(fd);
	/* Orderly EOF. */
	close(sv[0]);
	ck_assert_int_eq(tk_msg_recv(sv[1], &d, &fd), -ECONNRESET);
	close(sv[1]);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(names)
{
	ck_assert_int_eq(tk_name_validate("example.test", 12), 0);
	ck_assert_int_eq(tk_name_validate("alice@example.test", 18), 0);
	ck_assert_int_eq(tk_name_validate("a-b.c_d.test", 12), 0);
	ck_assert_int_eq(tk_name_validate("", 0), -EINVAL);
	ck_assert_int_eq(tk_name_validate("@example.test", 13), -EINVAL);
	ck_assert_int_eq(tk_name_validate("alice@", 6), -EINVAL);
	ck_assert_int_eq(tk_name_validate("a@b@c", 5), -EINVAL);
	ck_assert_int_eq(tk_name_validate("example..test", 13), -EINVAL);
	ck_assert_int_eq(tk_name_validate(".example", 8), -EINVAL);
	ck_assert_int_eq(tk_name_validate("example.", 8), -EINVAL);
	ck_assert_int_eq(tk_name_validate("exa mple", 8), -EINVAL);
	ck_assert_int_eq(tk_name_validate("al ice@x.test", 13), -EINVAL);
	ck_assert_int_eq(tk_name_validate("a\0b", 3), -EINVAL);
}
END_TEST

/* A START carrying raw ALPN item bytes (as a hostile caller may send). */
static int decode_alpn(const void *list, uint16_t n, struct tk_msg *ret)
{
	static uint8_t b[TK_WIRE_MAX_MSG + 600];
	struct tk_msg m = start_msg();
	size_t len;

	ck_assert_int_eq(tk_msg_encode(&m, b, sizeof(b), &len), 0);
	len += put_item(b + len, TK_TAG_ALPN, list, n);
	hdr(b, TK_MSG_START, len - 8);
	return tk_msg_decode(b, len, ret);
}

START_TEST(alpn_list)
{
	static const char *const ids[] = { "h2", "http/1.1" };
	static const char *const nine[] = { "a", "b", "c", "d", "e", "f", "g", "h", "i" };
	const char *const bad_ids[] = { "h2", "" };
	const char *const null_id[] = { "h2", NULL };
	uint8_t list[TK_ALPN_LIST_MAX + 8], big[TK_ALPN_LIST_MAX + 8];
	struct tk_msg m = start_msg(), d;
	uint8_t buf[TK_WIRE_MAX_MSG];
	size_t len, bad = 99;
	char id32[33];
	const char *const long_id[] = { id32 };

	/* The library's encoder, and a round trip. */
	ck_assert_int_eq(tk_alpn_list_encode(ids, 2, list, sizeof(list), &bad, &len), 0);
	ck_assert_uint_eq(len, 12);
	ck_assert_int_eq(memcmp(list, "\2h2\10http/1.1", 12), 0);
	ck_assert_int_eq(tk_msg_set_alpn(&m, list, len), 0);
	ck_assert_int_eq(tk_msg_encode(&m, buf, sizeof(buf), &len), 0);
	ck_assert_int_eq(tk_msg_decode(buf, len, &d), 0);
	ck_assert(TK_HAS(&d, TK_TAG_ALPN));
	ck_assert_uint_eq(d.alpn_len, 12);
	ck_assert_int_eq(memcmp(d.alpn, "\2h2\10http/1.1", 12), 0);
	/* What the encoder refuses. */
	ck_assert_int_eq(tk_alpn_list_encode(nine, 9, list, sizeof(list), &bad, &len), -EINVAL);
	ck_assert_uint_eq(bad, 9);
	ck_assert_int_eq(tk_alpn_list_encode(ids, 0, list, sizeof(list), &bad, &len), -EINVAL);
	ck_assert_int_eq(tk_alpn_list_encode(NULL, 1, list, sizeof(list), &bad, &len), -EINVAL);
	ck_assert_int_eq(tk_alpn_list_encode(bad_ids, 2, list, sizeof(list), &bad, &len), -EINVAL);
	ck_assert_uint_eq(bad, 1);
	ck_assert_int_eq(tk_alpn_list_encode(null_id, 2, list, sizeof(list), &bad, &len), -EINVAL);
	memset(id32, 'x', 32);
	id32[32] = '\0';
	ck_assert_int_eq(tk_alpn_list_encode(long_id, 1, list, sizeof(list), &bad, &len), -EINVAL);
	id32[31] = '\0'; /* 31 bytes: the most */
	ck_assert_int_eq(tk_alpn_list_encode(long_id, 1, list, sizeof(list), &bad, &len), 0);
	ck_assert_int_eq(tk_alpn_list_encode(long_id, 1, list, 8, &bad, &len), -EMSGSIZE);

	/* What the daemon's decoder refuses from a hostile caller. */
	ck_assert_int_eq(decode_alpn("\2h2", 3, &d), 0);
	ck_assert_int_eq(decode_alpn("", 0, &d), -EBADMSG);          /* empty list */
	ck_assert_int_eq(decode_alpn("\0\2h2", 4, &d), -EBADMSG);   /* empty id */
	ck_assert_int_eq(decode_alpn("\3h2", 3, &d), -EBADMSG);      /* runs past the end */
	ck_assert_int_eq(decode_alpn("\3h\0x", 4, &d), -EBADMSG);   /* NUL in an id */
	memset(big, 'y', sizeof(big));
	big[0] = 32; /* a 32-byte id */
	ck_assert_int_eq(decode_alpn(big, 33, &d), -EBADMSG);
	big[0] = 255; /* a 255-byte id: legal in RFC 7301, over our bound */
	ck_assert_int_eq(decode_alpn(big, 256, &d), -EBADMSG);
	for (int i = 0; i < 9; i++)
		big[2 * i] = 1;
	ck_assert_int_eq(decode_alpn(big, 16, &d), 0);               /* 8 ids */
	ck_assert_int_eq(decode_alpn(big, 18, &d), -EBADMSG);        /* 9 ids */
	ck_assert_int_eq(decode_alpn(big, TK_ALPN_LIST_MAX + 1, &d), -EBADMSG); /* too long */
	/* Nowhere but in a START. */
	m = (struct tk_msg){ .type = TK_MSG_RESULT, .present = 1u << TK_TAG_ERRNO };
	ck_assert_int_eq(tk_msg_set_alpn(&m, (const uint8_t *)"\2h2", 3), 0);
	ck_assert_int_eq(tk_msg_encode(&m, buf, sizeof(buf), &len), -EINVAL);
	/* The negotiated id travels in RESULT and QUERY_RESULT, bounded. */
	m = (struct tk_msg){ .type = TK_MSG_RESULT, .present = 1u << TK_TAG_ERRNO };
	ck_assert_int_eq(tk_msg_set_str(&m, TK_TAG_ALPN_SELECTED, "h2"), 0);
	ck_assert_int_eq(tk_msg_encode(&m, buf, sizeof(buf), &len), 0);
	ck_assert_int_eq(tk_msg_decode(buf, len, &d), 0);
	ck_assert_str_eq(d.alpn_selected, "h2");
	id32[31] = 'x';
	ck_assert_int_eq(tk_msg_set_str(&m, TK_TAG_ALPN_SELECTED, id32), -ENAMETOOLONG);
}
END_TEST

/* SESSION_CTL: the exporter's items round-trip; a context present but
 * empty stays present (it is not "no context"); bounds hold both ways. */
START_TEST(session_ctl)
{
	struct tk_msg m = { .type = TK_MSG_SESSION_CTL, .ctl_op = TK_CTL_EXPORT, .export_len = 32 }, d;
	uint8_t buf[TK_WIRE_MAX_MSG];
	size_t len;

	m.present = (1u << TK_TAG_CTL_OP) | (1u << TK_TAG_EXPORT_LEN) | (1u << TK_TAG_CONTEXT);
	ck_assert_int_eq(tk_msg_set_str(&m, TK_TAG_LABEL, "EXPORTER-Channel-Binding"), 0);
	ck_assert_int_eq(tk_msg_encode(&m, buf, sizeof(buf), &len), 0);
	ck_assert_int_eq(tk_msg_decode(buf, len, &d), 0);
	ck_assert(TK_HAS(&d, TK_TAG_CONTEXT));
	ck_assert_uint_eq(d.context_len, 0);
	ck_assert_str_eq(d.label, "EXPORTER-Channel-Binding");
	/* A context over 255 bytes is not encoded... */
	m.context_len = TK_CONTEXT_MAX + 1;
	ck_assert_int_eq(tk_msg_encode(&m, buf, sizeof(buf), &len), -EINVAL);
	/* ...nor accepted: patch one in by hand (header, CTL_OP, then CONTEXT). */
	m.context_len = 0;
	m.present &= ~(1u << TK_TAG_CONTEXT);
	ck_assert_int_eq(tk_msg_encode(&m, buf, sizeof(buf) - 300, &len), 0);
	{
		struct tk_wbuf w;
		uint8_t big[300] = { 0 };

		tk_wbuf_init(&w, buf + len, 4 + sizeof(big));
		tk_wbuf_put_u16(&w, TK_TAG_CONTEXT);
		tk_wbuf_put_u16(&w, sizeof(big));
		tk_wbuf_put_bytes(&w, big, sizeof(big));
		len += w.len;
		buf[4] = buf[5] = 0;
		buf[6] = (uint8_t)((len - 8) >> 8);
		buf[7] = (uint8_t)(len - 8);
	}
	ck_assert_int_eq(tk_msg_decode(buf, len, &d), -EBADMSG);
	/* EXPORTED belongs in a RESULT only. */
	m.present |= 1u << TK_TAG_EXPORTED;
	ck_assert_int_eq(tk_msg_encode(&m, buf, sizeof(buf), &len), -EINVAL);
}
END_TEST

/* The session document: round trip with a chain and identities; every
 * malformation refused. */
START_TEST(sessdoc)
{
	static const uint8_t c1[] = { 0x30, 0x03, 1, 2, 3 }, c2[] = { 0x30, 0x01, 9 };
	struct tk_sessdoc d = { .role = TK_ROLE_SERVER, .bytes_in = 1ull << 40, .bytes_out = 7 }, e;
	uint8_t buf[4096];
	size_t len, n;

	(void)snprintf(d.group, sizeof(d.group), "X25519");
	(void)snprintf(d.acl_rule, sizeof(d.acl_rule), "/etc/tlskeyd/acl.conf:3");
	d.cert[0] = c1, d.cert_len[0] = sizeof(c1);
	d.cert[1] = c2, d.cert_len[1] = sizeof(c2);
	d.n_certs = 2;
	d.id[0] = "bob@example.test", d.id_len[0] = 16;
	d.n_ids = 1;
	n = tk_sessdoc_size(&d);
	ck_assert_int_eq(tk_sessdoc_encode(&d, buf, n, &len), 0);
	ck_assert_uint_eq(len, n);
	ck_assert_int_eq(tk_sessdoc_encode(&d, buf, n - 1, &len), -EMSGSIZE);
	ck_assert_int_eq(tk_sessdoc_decode(buf, n, &e), 0);
	ck_assert_uint_eq(e.role, TK_ROLE_SERVER);
	ck_assert(e.bytes_in == 1ull << 40 && e.bytes_out == 7);
	ck_assert_str_eq(e.group, "X25519");
	ck_assert_str_eq(e.acl_rule, "/etc/tlskeyd/acl.conf:3");
	ck_assert_uint_eq(e.n_certs, 2);
	ck_assert_mem_eq(e.cert[1], c2, sizeof(c2));
	ck_assert_uint_eq(e.n_ids, 1);
	ck_assert_int_eq(memcmp(e.id[0], "bob@example.test", 16), 0);
	/* Cut inside the last item (the identity, 6 + 16 bytes): refused. */
	for (size_t cut = 1; cut < 22; cut++)
		ck_assert_int_eq(tk_sessdoc_decode(buf, n - cut, &e), -EBADMSG);
	/* A single item twice (the first item, ROLE, appended again). */
	memcpy(buf + n, buf, 7);
	ck_assert_int_eq(tk_sessdoc_decode(buf, n + 7, &e), -EBADMSG);
	/* Unknown tag, wrong integer size, an empty certificate. */
	{
		static const uint8_t unknown[] = { 0, 99, 0, 0, 0, 0 }, wide[] = { 0, 1, 0, 0, 0, 2, 1, 1 },
				     empty[] = { 0, TK_DOC_CERT, 0, 0, 0, 0 };
		ck_assert_int_eq(tk_sessdoc_decode(unknown, sizeof(unknown), &e), -EBADMSG);
		ck_assert_int_eq(tk_sessdoc_decode(wide, sizeof(wide), &e), -EBADMSG);
		ck_assert_int_eq(tk_sessdoc_decode(empty, sizeof(empty), &e), -EBADMSG);
	}
	/* More than TK_DOC_CERTS_MAX certificates. */
	len = 0;
	for (unsigned i = 0; i <= TK_DOC_CERTS_MAX; i++) {
		static const uint8_t one[] = { 0, TK_DOC_CERT, 0, 0, 0, 1, 0x30 };
		memcpy(buf + len, one, sizeof(one));
		len += sizeof(one);
	}
	ck_assert_int_eq(tk_sessdoc_decode(buf, len, &e), -EBADMSG);
	ck_assert_int_eq(tk_sessdoc_decode(buf, len - 7, &e), 0);
	ck_assert_uint_eq(e.n_certs, TK_DOC_CERTS_MAX);
}
END_TEST

int main(void)
{
	const TTest *tests[] = { roundtrip, bad_header, bad_items, errno_range, bad_strings, fd_passing, names,
				alpn_list, session_ctl, sessdoc, NULL };

	return tkt_run("wire", "/common/wire", NULL, NULL, 0, tests);
}
