/* The session document: what tlskey_query_session() learns about a
 * session, sent by the daemon in a sealed memfd attached to the
 * QUERY_RESULT of a QUERY_FULL request (a peer chain does not fit in one
 * wire message).  Items are u16 tag, u32 length, value (big-endian); a
 * certificate and an identity item may repeat, in order (the chain leaf
 * first).  One table-driven codec for both ends (doc/protocol.md). */
#ifndef TLSKEY_COMMON_SESSDOC_H
#define TLSKEY_COMMON_SESSDOC_H

#include <stddef.h>
#include <stdint.h>

#include "common/wire.h"

#define TK_DOC_MAX (256u * 1024u)   /* a whole document */
#define TK_DOC_CERT_MAX (64u * 1024u) /* one DER certificate */
#define TK_DOC_CERTS_MAX 16u          /* certificates in the chain */
#define TK_DOC_IDS_MAX 16u            /* peer identities */
#define TK_DOC_ID_MAX 1024u           /* one identity (URIs are long) */
#define TK_DOC_RULE_MAX 511u          /* the admitting ACL rule, "path:line" */

enum tk_doc_tag {
	TK_DOC_ROLE = 1,        /* u8 TK_ROLE_* */
	TK_DOC_CLIENT_AUTH = 2, /* u8 TLSKEY_CLIENT_AUTH_* */
	TK_DOC_STATE = 3,       /* u8 TK_STATE_* */
	TK_DOC_RESUMED = 4,     /* u8 0/1 */
	TK_DOC_FLAGS = 5,       /* u32 TLSKEY_INFO_* */
	TK_DOC_HS_MS = 6,       /* u32 */
	TK_DOC_BYTES_IN = 7,    /* u64: plaintext bytes from the peer so far */
	TK_DOC_BYTES_OUT = 8,   /* u64: plaintext bytes to the peer so far */
	TK_DOC_VERSION = 9,     /* strings from here */
	TK_DOC_CIPHER = 10,
	TK_DOC_SNI = 11,
	TK_DOC_ALPN = 12,
	TK_DOC_GROUP = 13,
	TK_DOC_SIGN = 14,        /* the server's handshake signature algorithm */
	TK_DOC_CLIENT_SIGN = 15, /* the client's, "" without a client certificate */
	TK_DOC_LOCAL = 16,
	TK_DOC_PEER = 17,
	TK_DOC_MAPPED = 18,
	TK_DOC_ACL_RULE = 19,
	TK_DOC_CERT = 20,     /* bytes, repeated: the peer chain as sent, leaf first */
	TK_DOC_IDENTITY = 21, /* string, repeated: every identity the peer proved */
	TK_DOC_TAG_MAX
};

/* A decoded (or to be encoded) document.  Certificates and identities
 * point into the decoded buffer (or the encoder's source). */
struct tk_sessdoc {
	uint8_t role, client_auth, state, resumed;
	uint32_t flags, hs_ms;
	uint64_t bytes_in, bytes_out;
	char version[TK_SHORT_MAX + 1];
	char cipher[TK_SHORT_MAX + 1];
	char sni[TK_NAME_MAX + 1];
	char alpn[TK_NAME_MAX + 1];
	char group[TK_SHORT_MAX + 1];
	char sign[TK_SHORT_MAX + 1];
	char client_sign[TK_SHORT_MAX + 1];
	char local[TK_NAME_MAX + 1];
	char peer[TK_ID_MAX + 1];
	char mapped[TK_SHORT_MAX + 1];
	char acl_rule[TK_DOC_RULE_MAX + 1];
	size_t n_certs;
	const uint8_t *cert[TK_DOC_CERTS_MAX];
	size_t cert_len[TK_DOC_CERTS_MAX];
	size_t n_ids;
	const char *id[TK_DOC_IDS_MAX]; /* not NUL-terminated: see id_len */
	size_t id_len[TK_DOC_IDS_MAX];
};

/* Bytes tk_sessdoc_encode() needs for d. */
size_t tk_sessdoc_size(const struct tk_sessdoc *d);

/* Encode d into buf (cap bytes).  Returns 0 and the length in *ret_len,
 * -EMSGSIZE if it does not fit or exceeds a bound. */
int tk_sessdoc_encode(const struct tk_sessdoc *d, uint8_t *buf, size_t cap, size_t *ret_len);

/* Decode len bytes (at most TK_DOC_MAX).  Checks every length against its
 * bound, strings for NUL, that a single item appears once.  *ret points
 * into buf, which must outlive it.  Returns 0 or -EBADMSG. */
int tk_sessdoc_decode(const uint8_t *buf, size_t len, struct tk_sessdoc *ret);

#endif
