#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "common/buf.h"
#include "common/sessdoc.h"

enum doc_kind { DOC_U8, DOC_U32, DOC_U64, DOC_STR, DOC_CERT, DOC_ID };

/* Where each tag lives in struct tk_sessdoc and how large it may be. */
static const struct doc_def {
	enum doc_kind kind;
	size_t offset;
	size_t max; /* strings: without NUL */
} defs[TK_DOC_TAG_MAX] = {
	[TK_DOC_ROLE] = { DOC_U8, offsetof(struct tk_sessdoc, role), 0 },
	[TK_DOC_CLIENT_AUTH] = { DOC_U8, offsetof(struct tk_sessdoc, client_auth), 0 },
	[TK_DOC_STATE] = { DOC_U8, offsetof(struct tk_sessdoc, state), 0 },
	[TK_DOC_RESUMED] = { DOC_U8, offsetof(struct tk_sessdoc, resumed), 0 },
	[TK_DOC_FLAGS] = { DOC_U32, offsetof(struct tk_sessdoc, flags), 0 },
	[TK_DOC_HS_MS] = { DOC_U32, offsetof(struct tk_sessdoc, hs_ms), 0 },
	[TK_DOC_BYTES_IN] = { DOC_U64, offsetof(struct tk_sessdoc, bytes_in), 0 },
	[TK_DOC_BYTES_OUT] = { DOC_U64, offsetof(struct tk_sessdoc, bytes_out), 0 },
	[TK_DOC_VERSION] = { DOC_STR, offsetof(struct tk_sessdoc, version), TK_SHORT_MAX },
	[TK_DOC_CIPHER] = { DOC_STR, offsetof(struct tk_sessdoc, cipher), TK_SHORT_MAX },
	[TK_DOC_SNI] = { DOC_STR, offsetof(struct tk_sessdoc, sni), TK_NAME_MAX },
	[TK_DOC_ALPN] = { DOC_STR, offsetof(struct tk_sessdoc, alpn), TK_NAME_MAX },
	[TK_DOC_GROUP] = { DOC_STR, offsetof(struct tk_sessdoc, group), TK_SHORT_MAX },
	[TK_DOC_SIGN] = { DOC_STR, offsetof(struct tk_sessdoc, sign), TK_SHORT_MAX },
	[TK_DOC_CLIENT_SIGN] = { DOC_STR, offsetof(struct tk_sessdoc, client_sign), TK_SHORT_MAX },
	[TK_DOC_LOCAL] = { DOC_STR, offsetof(struct tk_sessdoc, local), TK_NAME_MAX },
	[TK_DOC_PEER] = { DOC_STR, offsetof(struct tk_sessdoc, peer), TK_ID_MAX },
	[TK_DOC_MAPPED] = { DOC_STR, offsetof(struct tk_sessdoc, mapped), TK_SHORT_MAX },
	[TK_DOC_ACL_RULE] = { DOC_STR, offsetof(struct tk_sessdoc, acl_rule), TK_DOC_RULE_MAX },
	[TK_DOC_CERT] = { DOC_CERT, 0, TK_DOC_CERT_MAX },
	[TK_DOC_IDENTITY] = { DOC_ID, 0, TK_DOC_ID_MAX },
};

#define ITEM_HDR 6u

static void put_u64(struct tk_wbuf *w, uint64_t v)
{
	tk_wbuf_put_u32(w, (uint32_t)(v >> 32));
	tk_wbuf_put_u32(w, (uint32_t)v);
}

static void put_item(struct tk_wbuf *w, unsigned tag, const void *p, size_t n)
{
	tk_wbuf_put_u16(w, (uint16_t)tag);
	tk_wbuf_put_u32(w, (uint32_t)n);
	tk_wbuf_put_bytes(w, p, n);
}

size_t tk_sessdoc_size(const struct tk_sessdoc *d)
{
	size_t n = 0;

	for (unsigned tag = 1; tag < TK_DOC_TAG_MAX; tag++) {
		const char *p = (const char *)d + defs[tag].offset;

		switch (defs[tag].kind) {
		case DOC_U8: n += ITEM_HDR + 1; break;
		case DOC_U32: n += ITEM_HDR + 4; break;
		case DOC_U64: n += ITEM_HDR + 8; break;
		case DOC_STR: n += ITEM_HDR + strnlen(p, defs[tag].max + 1); break;
		case DOC_CERT:
			for (size_t i = 0; i < d->n_certs && i < TK_DOC_CERTS_MAX; i++)
				n += ITEM_HDR + d->cert_len[i];
			break;
		case DOC_ID:
			for (size_t i = 0; i < d->n_ids && i < TK_DOC_IDS_MAX; i++)
				n += ITEM_HDR + d->id_len[i];
			break;
		}
	}
	return n;
}

int tk_sessdoc_encode(const struct tk_sessdoc *d, uint8_t *buf, size_t cap, size_t *ret_len)
{
	struct tk_wbuf w;

	if (d->n_certs > TK_DOC_CERTS_MAX || d->n_ids > TK_DOC_IDS_MAX || cap > TK_DOC_MAX)
		return -EMSGSIZE;
	tk_wbuf_init(&w, buf, cap);
	for (unsigned tag = 1; tag < TK_DOC_TAG_MAX; tag++) {
		const struct doc_def *f = &defs[tag];
		const char *p = (const char *)d + f->offset;
		size_t n;

		switch (f->kind) {
		case DOC_U8:
			put_item(&w, tag, p, 1);
			break;
		case DOC_U32:
			tk_wbuf_put_u16(&w, (uint16_t)tag);
			tk_wbuf_put_u32(&w, 4);
			tk_wbuf_put_u32(&w, *(const uint32_t *)(const void *)p);
			break;
		case DOC_U64:
			tk_wbuf_put_u16(&w, (uint16_t)tag);
			tk_wbuf_put_u32(&w, 8);
			put_u64(&w, *(const uint64_t *)(const void *)p);
			break;
		case DOC_STR:
			n = strnlen(p, f->max + 1);
			if (n > f->max)
				return -EMSGSIZE;
			put_item(&w, tag, p, n);
			break;
		case DOC_CERT:
			for (size_t i = 0; i < d->n_certs; i++) {
				if (d->cert_len[i] > f->max)
					return -EMSGSIZE;
				put_item(&w, tag, d->cert[i], d->cert_len[i]);
			}
			break;
		case DOC_ID:
			for (size_t i = 0; i < d->n_ids; i++) {
				if (d->id_len[i] > f->max || memchr(d->id[i], '\0', d->id_len[i]))
					return -EMSGSIZE;
				put_item(&w, tag, d->id[i], d->id_len[i]);
			}
			break;
		}
	}
	if (tk_wbuf_error(&w) < 0)
		return -EMSGSIZE;
	*ret_len = w.len;
	return 0;
}

/* One item of kind f at s (n bytes) into d. */
static int decode_item(const struct doc_def *f, const uint8_t *s, uint32_t n, struct tk_sessdoc *d)
{
	char *p = (char *)d + f->offset;

	switch (f->kind) {
	case DOC_U8:
		if (n != 1)
			return -EBADMSG;
		*(uint8_t *)p = s[0];
		return 0;
	case DOC_U32:
		if (n != 4)
			return -EBADMSG;
		*(uint32_t *)(void *)p = ((uint32_t)s[0] << 24) | ((uint32_t)s[1] << 16) |
					 ((uint32_t)s[2] << 8) | s[3];
		return 0;
	case DOC_U64: {
		uint64_t v = 0;
		if (n != 8)
			return -EBADMSG;
		for (int i = 0; i < 8; i++)
			v = (v << 8) | s[i];
		*(uint64_t *)(void *)p = v;
		return 0;
	}
	case DOC_STR:
		if (n > f->max || memchr(s, '\0', n))
			return -EBADMSG;
		memcpy(p, s, n);
		p[n] = '\0';
		return 0;
	case DOC_CERT:
		if (n == 0 || n > f->max || d->n_certs >= TK_DOC_CERTS_MAX)
			return -EBADMSG;
		d->cert[d->n_certs] = s;
		d->cert_len[d->n_certs++] = n;
		return 0;
	case DOC_ID:
		if (n == 0 || n > f->max || d->n_ids >= TK_DOC_IDS_MAX || memchr(s, '\0', n))
			return -EBADMSG;
		d->id[d->n_ids] = (const char *)s;
		d->id_len[d->n_ids++] = n;
		return 0;
	}
	return -EBADMSG;
}

int tk_sessdoc_decode(const uint8_t *buf, size_t len, struct tk_sessdoc *ret)
{
	struct tk_rbuf r;
	uint32_t seen = 0;

	if (len > TK_DOC_MAX)
		return -EBADMSG;
	memset(ret, 0, sizeof(*ret));
	tk_rbuf_init(&r, buf, len);
	while (tk_rbuf_remaining(&r) > 0) {
		uint16_t tag;
		uint32_t n;
		const uint8_t *s;

		if (tk_rbuf_get_u16(&r, &tag) < 0 || tk_rbuf_get_u32(&r, &n) < 0 ||
		    tk_rbuf_get_bytes(&r, n, &s) < 0)
			return -EBADMSG;
		if (tag == 0 || tag >= TK_DOC_TAG_MAX)
			return -EBADMSG;
		if (defs[tag].kind != DOC_CERT && defs[tag].kind != DOC_ID) {
			if (seen & (1u << tag))
				return -EBADMSG;
			seen |= 1u << tag;
		}
		if (decode_item(&defs[tag], s, n, ret) < 0)
			return -EBADMSG;
	}
	return 0;
}
