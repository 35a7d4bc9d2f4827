/* Sessions by protected descriptor, for tlskey_query().  A session is found
 * by the socket of the application's end of its socket pair: only a
 * process holding that descriptor can pass it to us, so holding it is the
 * credential.  The socket is named by (dev, inode, SO_COOKIE): socket
 * inode numbers come from a 32-bit counter that a patient local user can
 * wrap, so the inode alone could name another user's session; the cookie
 * is 64 bits and never reused while the system runs.  Thread-safe: workers publish, the accept loop answers. */
#ifndef TLSKEY_KEYD_REGISTRY_H
#define TLSKEY_KEYD_REGISTRY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/wire.h"

struct session_info {
	struct session_info *prev, *next;
	dev_t dev;
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
	char alpn[TK_ALPN_ID_MAX + 1]; /* negotiated ALPN id, "" for none */
	size_t cert_len;
	size_t ids_len; /* bytes of the peer's identities, stored after cert */
	uint8_t cert[]; /* peer certificate, DER; then the identities, each NUL-terminated */
};

/* Room for the peer's identities of one session (8 of 255 bytes). */
#define REGISTRY_IDS_MAX 2048u

/* Allocate an entry with room for a certificate of cert_len bytes. */
struct session_info *registry_info_new(const uint8_t *cert, size_t cert_len);

/* Attach the n identities the peer's certificate proves (in the order of
 * doc/identities.md) to *info before it is published: *info is
 * reallocated.  Returns 0, -E2BIG over REGISTRY_IDS_MAX bytes or -ENOMEM
 * (then *info is unchanged and keeps no list). */
int registry_info_set_ids(struct session_info **info, const char *const *ids, size_t n);

/* Identity i (0-based) of the session's peer, in that order; NULL past
 * the last (or without a certificate).  info->peer is the one the ACL
 * admitted.  For the session query (QUERY_RESULT). */
const char *registry_identity_list(const struct session_info *info, size_t i);

/* Publish info under the identity of fd (the application's end). */
int registry_add(struct session_info *info, int fd);

/* The session ended: drop and free it.  NULL is fine. */
void registry_remove(struct session_info *info);

/* The session failed: keep answering queries with state FAILED for a while
 * (the oldest failed entries are dropped beyond a fixed number). */
void registry_fail(struct session_info *info);

/* Fill a QUERY_RESULT for the session behind fd.  -ENOENT if unknown. */
int registry_query(int fd, struct tk_msg *ret);

#endif
