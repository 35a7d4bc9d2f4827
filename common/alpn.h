/* ALPN protocol lists (RFC 7301) as the library sends them and the daemon
 * reads them: the ProtocolNameList body, each id a length byte then its
 * bytes.  Shared by both ends so that the bounds are the same. */
#ifndef TLSKEY_COMMON_ALPN_H
#define TLSKEY_COMMON_ALPN_H

#include <stddef.h>
#include <stdint.h>

/* GnuTLS 3.7.9 takes at most 8 ids of at most 31 bytes
 * (gnutls_alpn_set_protocols() refuses more); RFC 7301 allows 255. */
#define TK_ALPN_MAX_IDS 8u
#define TK_ALPN_ID_MAX 31u
#define TK_ALPN_LIST_MAX (TK_ALPN_MAX_IDS * (TK_ALPN_ID_MAX + 1u))

/* Encode n ids (NUL-terminated strings) into buf (cap bytes).  Returns 0
 * and the length in *ret_len, or -EINVAL (n is 0 or over TK_ALPN_MAX_IDS, an
 * id is NULL, empty or longer than TK_ALPN_ID_MAX) or -EMSGSIZE (buf too
 * small).  *ret_bad is the index of the offending id on -EINVAL (n for a bad
 * count); it may be NULL. */
int tk_alpn_list_encode(const char *const *ids, size_t n, uint8_t *buf, size_t cap,
			size_t *ret_bad, size_t *ret_len);

/* Check an encoded list from an untrusted sender: 1..TK_ALPN_MAX_IDS ids,
 * each 1..TK_ALPN_ID_MAX bytes, no NUL byte, nothing left over.  Returns 0
 * or -EBADMSG. */
int tk_alpn_list_check(const uint8_t *p, size_t len);

/* Iterate over a checked list: the id at *off (its bytes in *ret_id, its
 * length returned), advancing *off; 0 at the end. */
size_t tk_alpn_list_next(const uint8_t *p, size_t len, size_t *off, const uint8_t **ret_id);

#endif
