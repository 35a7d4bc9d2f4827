/* Wire protocol between libtlskey and tlskeyd (see doc/protocol.md).
 *
 * Every message is one SOCK_SEQPACKET record: an 8-byte header followed by
 * TLV items.  All integers are big-endian.  The same table-driven codec is
 * used by both ends, so there is exactly one parser for untrusted bytes. */
#ifndef TLSKEY_COMMON_WIRE_H
#define TLSKEY_COMMON_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "common/alpn.h"

#define TK_WIRE_MAGIC 0x544bu /* "TK" */
#define TK_WIRE_VERSION 1u
#define TK_WIRE_HDR_LEN 8u
#define TK_WIRE_MAX_MSG 12288u
#define TK_NAME_MAX 255u /* local names (myname, sniname) */
#define TK_ID_MAX 320u   /* authenticated identities (user@domain) */
#define TK_MESSAGE_MAX 512u
#define TK_ERRNO_MAX 4095u /* the largest ERRNO item a decoder takes (Linux errnos are < 4096) */
#define TK_CERT_MAX 8192u /* DER certificate in a query answer */
#define TK_SHORT_MAX 63u  /* version and cipher suite names, user names */
#define TK_LABEL_MAX 255u   /* exporter label */
#define TK_CONTEXT_MAX 255u /* exporter context (RFC 8446 allows 2^16-1; nobody needs that) */
#define TK_EXPORT_MAX 1024u /* keying material per request */

enum tk_msg_type {
	TK_MSG_START = 1,      /* lib -> daemon, carries the fd */
	TK_MSG_SNI_QUERY = 2,  /* daemon -> lib: may this SNI be served? */
	TK_MSG_SNI_ANSWER = 3, /* lib -> daemon */
	TK_MSG_RESULT = 4,     /* daemon -> lib, carries the protected fd on success */
	TK_MSG_QUERY = 5,      /* lib -> daemon, carries a protected fd */
	TK_MSG_QUERY_RESULT = 6, /* daemon -> lib */
	TK_MSG_RELOAD = 7,     /* admin -> daemon: re-read the configuration and ACL; answered by RESULT */
	TK_MSG_STATUS = 8,     /* operator -> daemon: counters; RESULT carries a sealed memfd */
	TK_MSG_CHECK = 9,      /* anyone -> daemon: may I use myname in role?  RESULT, no fd */
	TK_MSG_KEYS = 10,      /* admin -> daemon: what is served; answered by KEY_INFOs, then RESULT */
	TK_MSG_KEY_INFO = 11,  /* daemon -> admin: one identity in force and its certificate */
	TK_MSG_UPGRADE = 12,   /* admin -> daemon: start the new binary, hand over; answered by RESULT */
	TK_MSG_QUERY_FULL = 13, /* lib -> daemon, carries a protected fd; QUERY_RESULT carries a sealed memfd */
	TK_MSG_SESSION_CTL = 14, /* lib -> daemon, carries a protected fd: exporter, KeyUpdate, close_notify */
	TK_MSG_TYPE_MAX
};

enum tk_tag {
	TK_TAG_ROLE = 1,         /* u8: TK_ROLE_* */
	TK_TAG_PROTO = 2,        /* u8: IPPROTO_TCP / IPPROTO_UDP */
	TK_TAG_FLAGS = 3,        /* u32: TLSKEY_FLAG_* */
	TK_TAG_MYNAME = 4,       /* string */
	TK_TAG_SNINAME = 5,      /* string */
	TK_TAG_PEERNAME_MAX = 6, /* u32: size of the caller's peername buffer incl. NUL */
	TK_TAG_CHECKSNI = 7,     /* u8: 1 if the caller wants SNI queries */
	TK_TAG_TIMEOUT_MS = 8,   /* u32: handshake timer, 0 = daemon default */
	TK_TAG_ACCEPT = 9,       /* u8: SNI answer */
	TK_TAG_ERRNO = 10,       /* u32: 0 or a positive errno value */
	TK_TAG_PEERNAME = 11,    /* string: authenticated peer identity */
	TK_TAG_MESSAGE = 12,     /* string: human readable error */
	TK_TAG_ALLOW_HS_TIMEOUT = 13, /* u8: fall back to cleartext if the peer stays silent */
	TK_TAG_STATE = 14,       /* u8: TK_STATE_* */
	TK_TAG_VERSION = 15,     /* string: "TLS1.3" */
	TK_TAG_CIPHER = 16,      /* string: cipher suite name */
	TK_TAG_LOCALNAME = 17,   /* string: local identity used */
	TK_TAG_MAPPED_USER = 18, /* string: local account the peer maps to */
	TK_TAG_HS_MS = 19,       /* u32: handshake duration */
	TK_TAG_PEER_CERT = 20,   /* bytes: peer certificate, DER */
	TK_TAG_INFO_FLAGS = 21,  /* u32: TLSKEY_INFO_* about the protected descriptor */
	TK_TAG_FORMAT = 22,      /* u8: TK_FORMAT_* of a STATUS answer */
	TK_TAG_ALPN = 23,        /* bytes: ALPN ids offered or accepted (common/alpn.h) */
	TK_TAG_ALPN_STRICT = 24, /* u8: 1 = fail the start unless an ALPN id is agreed */
	TK_TAG_ALPN_SELECTED = 25, /* string: the negotiated ALPN id, "" for none */
	TK_TAG_CTL_OP = 26,      /* u8: TK_CTL_* of a SESSION_CTL */
	TK_TAG_LABEL = 27,       /* string: exporter label */
	TK_TAG_CONTEXT = 28,     /* bytes: exporter context (absent: no context) */
	TK_TAG_EXPORT_LEN = 29,  /* u32: bytes of keying material wanted */
	TK_TAG_EXPORTED = 30,    /* bytes: keying material, in the RESULT of a SESSION_CTL */
	TK_TAG_KEEP = 31,        /* u8: 1 = the daemon keeps this control connection for the next START */
	TK_TAG_MAX
};

/* `present` below is a 32-bit mask of tags. */
_Static_assert(TK_TAG_MAX <= 32, "struct tk_msg.present has a bit per tag");

enum tk_role { TK_ROLE_CLIENT = 1, TK_ROLE_SERVER = 2 };
enum tk_format { TK_FORMAT_TEXT = 1, TK_FORMAT_JSON = 2, TK_FORMAT_PROMETHEUS = 3 };
enum tk_state { TK_STATE_SECURE = 1, TK_STATE_CLEARTEXT = 2, TK_STATE_FAILED = 3 };
/* SESSION_CTL operations (the values of TLSKEY_CTL_* and TLSKEY_CTL_EXPORT). */
enum tk_ctl { TK_CTL_KEY_UPDATE = 1, TK_CTL_CLOSE_NOTIFY = 2, TK_CTL_EXPORT = 3, TK_CTL_MAX };

/* A decoded message.  Strings are NUL-terminated and never contain NUL.
 * `present` has bit (1 << tag) set for every item seen. */
struct tk_msg {
	uint8_t type;
	uint32_t present;
	uint8_t role;
	uint8_t proto;
	uint8_t checksni;
	uint8_t accept;
	uint8_t allow_hs_timeout;
	uint8_t state;
	uint8_t format;
	uint32_t flags;
	uint32_t hs_ms;
	uint32_t info_flags;
	uint32_t peername_max;
	uint32_t timeout_ms;
	uint32_t err;
	char myname[TK_NAME_MAX + 1];
	char sniname[TK_NAME_MAX + 1];
	char peername[TK_ID_MAX + 1];
	char message[TK_MESSAGE_MAX + 1];
	char version[TK_SHORT_MAX + 1];
	char cipher[TK_SHORT_MAX + 1];
	char localname[TK_NAME_MAX + 1];
	char mapped_user[TK_SHORT_MAX + 1];
	uint8_t ctl_op;
	uint32_t export_len;
	char label[TK_LABEL_MAX + 1];
	uint16_t context_len;
	uint8_t context[TK_CONTEXT_MAX];
	uint16_t exported_len;
	uint8_t exported[TK_EXPORT_MAX];
	uint16_t peer_cert_len;
	uint8_t peer_cert[TK_CERT_MAX];
	uint8_t alpn_strict;
	uint16_t alpn_len;
	uint8_t alpn[TK_ALPN_LIST_MAX]; /* checked by tk_alpn_list_check() on decode */
	char alpn_selected[TK_ALPN_ID_MAX + 1];
	uint8_t keep;
};

#define TK_HAS(m, tag) (((m)->present >> (tag)) & 1u)

/* Encode m (items whose bit is set in m->present) into buf.
 * Returns 0 and the length in *ret_len, or -EINVAL / -EMSGSIZE. */
int tk_msg_encode(const struct tk_msg *m, uint8_t *buf, size_t cap, size_t *ret_len);

/* Decode one message.  Checks magic, version, length, that each item is
 * allowed in this message type, has the right size and appears once, and
 * that required items are present.  Returns 0, -EPROTO (bad magic or
 * version) or -EBADMSG (anything else malformed). */
int tk_msg_decode(const uint8_t *buf, size_t len, struct tk_msg *ret);

/* Set a string item; returns -ENAMETOOLONG if it does not fit. */
int tk_msg_set_str(struct tk_msg *m, enum tk_tag tag, const char *s);

/* Set the peer certificate item; -EMSGSIZE if longer than TK_CERT_MAX. */
int tk_msg_set_cert(struct tk_msg *m, const uint8_t *der, size_t len);

/* Set the ALPN list item (encoded as common/alpn.h says); -EMSGSIZE if
 * longer than TK_ALPN_LIST_MAX. */
int tk_msg_set_alpn(struct tk_msg *m, const uint8_t *list, size_t len);

/* Send one message with an optional fd (passfd < 0: none).
 * Returns 0 or a negative errno. */
int tk_msg_send(int sock, const struct tk_msg *m, int passfd);

/* tk_msg_send(), with the credentials the message speaks for attached
 * (SCM_CREDENTIALS; NULL: none, then the kernel records the sender's
 * real uid and gid where the receiver asks).  The kernel accepts only the
 * sender's own pid and one of its real, effective or saved ids: -EPERM
 * otherwise. */
struct ucred;
int tk_msg_send_cred(int sock, const struct tk_msg *m, int passfd, const struct ucred *cred);

/* Send a RESULT with err (a positive errno, 0 for success) and message
 * (may be NULL), no descriptor; best effort (the peer may be gone). */
void tk_msg_send_result(int sock, int err, const char *message);

/* Receive and decode one message.  At most one fd is accepted; it is
 * returned in *ret_fd (or -1).  Extra fds are closed and yield -EBADMSG.
 * Returns 0, -ECONNRESET on orderly EOF, or a negative errno. */
int tk_msg_recv(int sock, struct tk_msg *ret, int *ret_fd);

/* tk_msg_recv(), and the sender's credentials as the kernel recorded them
 * when it sent the message (SCM_CREDENTIALS: needs SO_PASSCRED on sock,
 * or on the listener it was accepted from), in *ret_cred; pid 0 if none
 * came with it.  ret_cred may be NULL. */
struct ucred;
int tk_msg_recv_cred(int sock, struct tk_msg *ret, int *ret_fd, struct ucred *ret_cred);

/* Make tk_msg_recv() close the descriptors it refuses with close_fd (NULL:
 * plain close).  The daemon sets its bounded close (keyd/passclose.h): a
 * refused descriptor is the sender's, which may make a plain close wait.
 * Set once, before any thread receives. */
void tk_msg_set_closer(int (*close_fd)(int fd));

#endif
