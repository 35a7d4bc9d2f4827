/* PROXY protocol v2 header encoder (HAProxy's proxy-protocol.txt, section
 * 2.2).  Pure: no I/O, so the tests and the relay share it.
 *
 * Layout we send:
 *   12-byte signature, 0x21 (v2, PROXY), family/transport, length,
 *   addresses (IPv4 12 bytes, IPv6 36 bytes, or none for AF_UNSPEC),
 *   PP2_TYPE_ALPN { the negotiated id } when there is one,
 *   PP2_TYPE_SSL { client, verify, sub-TLVs SSL_VERSION, SSL_CIPHER, SSL_CN }
 *   (client: CERT_CONN only when the certificate came on this connection,
 *   not on a resumed session's).
 *
 * The SSL_CN sub-TLV carries the identity tlskeyd authenticated (an
 * rfc822Name "user@domain", a dNSName or a dc=/uid= name, doc/identities.md)
 * rather than the literal subject CN: that is the name the ACL and the
 * application reason about, and HAProxy-aware backends already read this
 * TLV as "who the client certificate says it is". */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "tools/tunnel/tunnel.h"

#define PP2_SIGNATURE "\r\n\r\n\0\r\nQUIT\n"
#define PP2_SIG_LEN 12u
#define PP2_VERSION_PROXY 0x21u
#define PP2_FAM_UNSPEC 0x00u
#define PP2_FAM_TCP4 0x11u
#define PP2_FAM_TCP6 0x21u
#define PP2_TYPE_ALPN 0x01u
#define PP2_TYPE_SSL 0x20u
#define PP2_SUBTYPE_SSL_VERSION 0x21u
#define PP2_SUBTYPE_SSL_CN 0x22u
#define PP2_SUBTYPE_SSL_CIPHER 0x23u
#define PP2_CLIENT_SSL 0x01u
#define PP2_CLIENT_CERT_CONN 0x02u
#define PP2_CLIENT_CERT_SESS 0x04u

/* A bounded writer: every put checks the remaining space once. */
struct pp2_out {
	uint8_t *p;
	size_t len, cap;
	int overflow;
};

static void put(struct pp2_out *o, const void *data, size_t n)
{
	if (o->overflow || n > o->cap - o->len) {
		o->overflow = 1;
		return;
	}
	memcpy(o->p + o->len, data, n);
	o->len += n;
}

static void put_u8(struct pp2_out *o, unsigned v)
{
	uint8_t b = (uint8_t)v;

	put(o, &b, 1);
}

static void put_u16(struct pp2_out *o, unsigned v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	put(o, b, 2);
}

static void put_u32(struct pp2_out *o, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };

	put(o, b, 4);
}

static void put_tlv_str(struct pp2_out *o, unsigned type, const char *s)
{
	size_t n;

	if (!s || !*s)
		return;
	n = strlen(s);
	if (n > 0xffffu) {
		o->overflow = 1;
		return;
	}
	put_u8(o, type);
	put_u16(o, (unsigned)n);
	put(o, s, n);
}

/* Normalise to a plain IPv4 or IPv6 address and port.  Returns AF_INET,
 * AF_INET6 or AF_UNSPEC. */
static int pp2_addr(const struct sockaddr *sa, socklen_t len, uint8_t ret_ip[16], uint16_t *ret_port)
{
	if (sa && sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		memcpy(ret_ip, &in->sin_addr, 4);
		*ret_port = ntohs(in->sin_port);
		return AF_INET;
	}
	if (sa && sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		*ret_port = ntohs(in6->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			memcpy(ret_ip, in6->sin6_addr.s6_addr + 12, 4);
			return AF_INET;
		}
		memcpy(ret_ip, &in6->sin6_addr, 16);
		return AF_INET6;
	}
	return AF_UNSPEC;
}

/* Write `ip` (4 bytes) as an IPv4-mapped IPv6 address. */
static void pp2_map6(uint8_t ip[16])
{
	memmove(ip + 12, ip, 4);
	memset(ip, 0, 10);
	ip[10] = 0xff;
	ip[11] = 0xff;
}

int proxy_v2_encode(const struct sockaddr *src, socklen_t srclen, const struct sockaddr *dst,
		    socklen_t dstlen, const struct proxy_v2_tls *tls, uint8_t *out, size_t cap,
		    size_t *ret_len)
{
	struct pp2_out o = { .p = out, .cap = cap };
	uint8_t sip[16], dip[16];
	uint16_t sport = 0, dport = 0;
	int sfam, dfam;
	size_t len_at, ssl_len_at, body;

	if (!tls || !out || !ret_len)
		return -EINVAL;
	sfam = pp2_addr(src, srclen, sip, &sport);
	dfam = pp2_addr(dst, dstlen, dip, &dport);
	if (sfam != dfam && sfam != AF_UNSPEC && dfam != AF_UNSPEC) {
		/* One side IPv4, the other IPv6: send both as IPv6. */
		if (sfam == AF_INET)
			pp2_map6(sip);
		if (dfam == AF_INET)
			pp2_map6(dip);
		sfam = dfam = AF_INET6;
	}
	if (sfam != dfam)
		sfam = AF_UNSPEC;

	put(&o, PP2_SIGNATURE, PP2_SIG_LEN);
	put_u8(&o, PP2_VERSION_PROXY);
	put_u8(&o, sfam == AF_INET ? PP2_FAM_TCP4 : sfam == AF_INET6 ? PP2_FAM_TCP6 : PP2_FAM_UNSPEC);
	len_at = o.len;
	put_u16(&o, 0); /* patched below */
	if (sfam == AF_INET) {
		put(&o, sip, 4);
		put(&o, dip, 4);
	} else if (sfam == AF_INET6) {
		put(&o, sip, 16);
		put(&o, dip, 16);
	}
	if (sfam != AF_UNSPEC) {
		put_u16(&o, sport);
		put_u16(&o, dport);
	}

	put_tlv_str(&o, PP2_TYPE_ALPN, tls->alpn);
	put_u8(&o, PP2_TYPE_SSL);
	ssl_len_at = o.len;
	put_u16(&o, 0); /* patched below */
	if (tls->peer && *tls->peer) {
		/* tlskeyd verified the certificate behind the session (verify =
		 * 0 means "verified"); it was sent on this connection only in a
		 * full handshake: a resumed session carries the identity of an
		 * earlier one, and CERT_CONN would claim more than happened. */
		put_u8(&o, PP2_CLIENT_SSL | PP2_CLIENT_CERT_SESS |
				   (tls->cert_conn ? PP2_CLIENT_CERT_CONN : 0));
		put_u32(&o, 0);
	} else {
		put_u8(&o, PP2_CLIENT_SSL);
		put_u32(&o, 1);
	}
	put_tlv_str(&o, PP2_SUBTYPE_SSL_VERSION, tls->version);
	put_tlv_str(&o, PP2_SUBTYPE_SSL_CIPHER, tls->cipher);
	put_tlv_str(&o, PP2_SUBTYPE_SSL_CN, tls->peer);
	if (o.overflow)
		return -ENOSPC;

	body = o.len - ssl_len_at - 2;
	if (body > 0xffffu || o.len - len_at - 2 > 0xffffu)
		return -ENOSPC;
	out[ssl_len_at] = (uint8_t)(body >> 8);
	out[ssl_len_at + 1] = (uint8_t)body;
	body = o.len - len_at - 2;
	out[len_at] = (uint8_t)(body >> 8);
	out[len_at + 1] = (uint8_t)body;
	*ret_len = o.len;
	return 0;
}
