/* ALPN protocol lists: one encoder for the library, one checker for the
 * daemon (see common/alpn.h). */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "common/alpn.h"
#include "common/buf.h"

int tk_alpn_list_encode(const char *const *ids, size_t n, uint8_t *buf, size_t cap,
			size_t *ret_bad, size_t *ret_len)
{
	struct tk_wbuf w;

	if (!ids || n == 0 || n > TK_ALPN_MAX_IDS) {
		if (ret_bad)
			*ret_bad = n;
		return -EINVAL;
	}
	tk_wbuf_init(&w, buf, cap);
	for (size_t i = 0; i < n; i++) {
		size_t len = ids[i] ? strnlen(ids[i], TK_ALPN_ID_MAX + 1) : 0;

		if (len == 0 || len > TK_ALPN_ID_MAX) {
			if (ret_bad)
				*ret_bad = i;
			return -EINVAL;
		}
		tk_wbuf_put_u8(&w, (uint8_t)len);
		tk_wbuf_put_bytes(&w, ids[i], len);
	}
	if (tk_wbuf_error(&w) < 0)
		return -EMSGSIZE;
	*ret_len = w.len;
	return 0;
}

int tk_alpn_list_check(const uint8_t *p, size_t len)
{
	struct tk_rbuf r;
	size_t n = 0;

	if (len == 0 || len > TK_ALPN_LIST_MAX)
		return -EBADMSG;
	tk_rbuf_init(&r, p, len);
	while (tk_rbuf_remaining(&r) > 0) {
		const uint8_t *id;
		uint8_t idlen;

		if (++n > TK_ALPN_MAX_IDS || tk_rbuf_get_u8(&r, &idlen) < 0)
			return -EBADMSG;
		if (idlen == 0 || idlen > TK_ALPN_ID_MAX || tk_rbuf_get_bytes(&r, idlen, &id) < 0)
			return -EBADMSG;
		/* Ids travel on as C strings (the negotiated one in a result). */
		if (memchr(id, '\0', idlen))
			return -EBADMSG;
	}
	return 0;
}

size_t tk_alpn_list_next(const uint8_t *p, size_t len, size_t *off, const uint8_t **ret_id)
{
	struct tk_rbuf r;
	const uint8_t *id;
	uint8_t idlen;

	if (*off >= len)
		return 0;
	tk_rbuf_init(&r, p + *off, len - *off);
	if (tk_rbuf_get_u8(&r, &idlen) < 0 || idlen == 0 || tk_rbuf_get_bytes(&r, idlen, &id) < 0)
		return 0;
	*off += 1u + idlen;
	*ret_id = id;
	return idlen;
}
