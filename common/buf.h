/* Bounded readers and writers for untrusted bytes.  Every access is checked
 * against the buffer's size; a writer remembers the first overflow so that
 * callers check once at the end. */
#ifndef TLSKEY_COMMON_BUF_H
#define TLSKEY_COMMON_BUF_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct tk_rbuf {
	const uint8_t *p;
	size_t len;
	size_t off;
};

static inline void tk_rbuf_init(struct tk_rbuf *r, const uint8_t *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->off = 0;
}

static inline size_t tk_rbuf_remaining(const struct tk_rbuf *r)
{
	return r->len - r->off;
}

static inline int tk_rbuf_get_bytes(struct tk_rbuf *r, size_t n, const uint8_t **ret)
{
	if (n > tk_rbuf_remaining(r))
		return -EBADMSG;
	*ret = r->p + r->off;
	r->off += n;
	return 0;
}

static inline int tk_rbuf_get_u8(struct tk_rbuf *r, uint8_t *ret)
{
	const uint8_t *b;
	if (tk_rbuf_get_bytes(r, 1, &b) < 0)
		return -EBADMSG;
	*ret = b[0];
	return 0;
}

static inline int tk_rbuf_get_u16(struct tk_rbuf *r, uint16_t *ret)
{
	const uint8_t *b;
	if (tk_rbuf_get_bytes(r, 2, &b) < 0)
		return -EBADMSG;
	*ret = (uint16_t)((b[0] << 8) | b[1]);
	return 0;
}

static inline int tk_rbuf_get_u32(struct tk_rbuf *r, uint32_t *ret)
{
	const uint8_t *b;
	if (tk_rbuf_get_bytes(r, 4, &b) < 0)
		return -EBADMSG;
	*ret = ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
	return 0;
}

struct tk_wbuf {
	uint8_t *p;
	size_t cap;
	size_t len;
	int overflow;
};

static inline void tk_wbuf_init(struct tk_wbuf *w, uint8_t *p, size_t cap)
{
	w->p = p;
	w->cap = cap;
	w->len = 0;
	w->overflow = 0;
}

static inline void tk_wbuf_put_bytes(struct tk_wbuf *w, const void *b, size_t n)
{
	if (w->overflow || n > w->cap - w->len) {
		w->overflow = 1;
		return;
	}
	memcpy(w->p + w->len, b, n);
	w->len += n;
}

static inline void tk_wbuf_put_u8(struct tk_wbuf *w, uint8_t v)
{
	tk_wbuf_put_bytes(w, &v, 1);
}

static inline void tk_wbuf_put_u16(struct tk_wbuf *w, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	tk_wbuf_put_bytes(w, b, 2);
}

static inline void tk_wbuf_put_u32(struct tk_wbuf *w, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	tk_wbuf_put_bytes(w, b, 4);
}

/* Overwrite 4 bytes already written at `at`. */
static inline void tk_wbuf_patch_u32(struct tk_wbuf *w, size_t at, uint32_t v)
{
	if (w->overflow || at + 4 > w->len)
		return;
	w->p[at] = (uint8_t)(v >> 24);
	w->p[at + 1] = (uint8_t)(v >> 16);
	w->p[at + 2] = (uint8_t)(v >> 8);
	w->p[at + 3] = (uint8_t)v;
}

static inline int tk_wbuf_error(const struct tk_wbuf *w)
{
	return w->overflow ? -EMSGSIZE : 0;
}

#endif
