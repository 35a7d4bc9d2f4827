/* Sessions by protected descriptor, for tlskey_query().  A session is found
 * by the socket of the application's end of its socket pair: only a
 * process holding that descriptor can pass it to us, so holding it is the
 * credential.  The socket is named by its SO_COOKIE: socket inode
 * numbers come from a 32-bit counter that a patient local user can wrap,
 * so the inode alone could name another user's session; the cookie is 64
 * bits and never reused while the system runs.  Only on a kernel without
 * cookies (0) is it named by (dev, inode).  Thread-safe: workers publish, the accept loop answers. */
#ifndef TLSKEY_KEYD_REGISTRY_H
#define TLSKEY_KEYD_REGISTRY_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/sessdoc.h"
#include "common/wire.h"

/* Failed sessions kept, in all and per uid. */
#define REGISTRY_FAILED_KEEP 256
#define REGISTRY_FAILED_PER_UID 64

struct session_info {
	struct session_info *prev, *next;
	dev_t dev; /* (dev, ino) only when cookie is 0 */
	ino_t ino;
	uint64_t cookie; /* SO_COOKIE, 0 where the kernel has none */
	uint8_t state; /* TK_STATE_* */
	uint32_t info_flags; /* TLSKEY_INFO_* */
	uint32_t hs_ms;
	char version[TK_SHORT_MAX + 1];
	char cipher[TK_SHORT_MAX + 1];
	char peer[TK_ID_MAX + 1];
	char local[TK_NAME_MAX + 1];
	char mapped_user[TK_SHORT_MAX + 1];
	/* For tlskey_query_session() (common/sessdoc.h). */
	uint64_t serial; /* set by registry_add(): names the session for SESSION_CTL */
	void *owner;     /* the struct worker relaying it (never dereferenced here) */
	uint8_t role, client_auth, resumed;
	uid_t uid; /* the caller's: bounds its share of the failed list */
	char sni[TK_NAME_MAX + 1];
	char alpn[TK_NAME_MAX + 1];
	char group[TK_SHORT_MAX + 1];
	char sign[TK_SHORT_MAX + 1];
	char client_sign[TK_SHORT_MAX + 1];
	char acl_rule[TK_DOC_RULE_MAX + 1];
	/* Written by the relaying worker, read by the accept thread. */
	_Atomic unsigned long long bytes_in, bytes_out;
	size_t n_certs, n_ids;
	size_t cert_len[TK_DOC_CERTS_MAX];
	size_t id_len[TK_DOC_IDS_MAX];
	size_t data_len;
	uint8_t data[]; /* the certificates (leaf first), then the identities */
};

/* One piece of data for registry_info_new(). */
struct registry_piece {
	const void *p;
	size_t len;
};

/* Allocate an entry holding copies of the peer's chain (certs, n_certs,
 * leaf first; beyond TK_DOC_CERTS_MAX, or a certificate over
 * TK_DOC_CERT_MAX, the chain is cut there) and its identities (ids,
 * n_ids, strings without NUL; the same bounds).  NULL on ENOMEM. */
struct session_info *registry_info_new(const struct registry_piece *certs, size_t n_certs,
				       const struct registry_piece *ids, size_t n_ids);

/* Publish info under the identity of fd (the application's end). */
int registry_add(struct session_info *info, int fd);

/* The session ended: drop and free it.  NULL is fine. */
void registry_remove(struct session_info *info);

/* The session failed: keep answering queries with state FAILED for a while
 * (the oldest failed entries are dropped beyond a fixed number; a uid
 * that holds REGISTRY_FAILED_PER_UID of them drops its own oldest, so
 * that one caller's failures cannot push out everyone else's). */
void registry_fail(struct session_info *info);

/* Fill a QUERY_RESULT for the session behind fd.  -ENOENT if unknown,
 * -ENOBUFS (ret->message says how large) if the peer's certificate does
 * not fit in TK_CERT_MAX, the legacy struct's buffer. */
int registry_query(int fd, struct tk_msg *ret);

/* The session document (common/sessdoc.h) of the session behind fd, in a
 * malloc'ed buffer the caller frees.  -ENOTSOCK, -ENOENT or -ENOMEM. */
int registry_query_doc(int fd, uint8_t **ret, size_t *ret_len);

/* The live session behind fd: its owner and serial.  -ENOTSOCK, -ENOENT
 * (unknown), -ENOTCONN (it failed). */
int registry_lookup(int fd, void **ret_owner, uint64_t *ret_serial);

#endif
