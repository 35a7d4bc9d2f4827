#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "common/buf.h"
#include "common/util.h"
#include "common/wire.h"

enum item_kind { KIND_U8, KIND_U32, KIND_STR, KIND_BLOB };

#define T(t) (1u << (t))

/* One row per tag: how it is encoded, where it lives in struct tk_msg, in
 * which message types it may appear and in which it must appear. */
static const struct item_def {
	enum item_kind kind;
	size_t offset;
	size_t max; /* strings: max length without NUL; blobs: max length */
	uint32_t allowed;
	uint32_t required;
	size_t len_offset; /* blobs: where their uint16_t length lives */
	int (*check)(const uint8_t *p, size_t len); /* blobs: content check on decode */
} items[TK_TAG_MAX] = {
	[TK_TAG_ROLE] = { KIND_U8, offsetof(struct tk_msg, role), 0, T(TK_MSG_START) | T(TK_MSG_CHECK),
			  T(TK_MSG_START) | T(TK_MSG_CHECK) },
	[TK_TAG_PROTO] = { KIND_U8, offsetof(struct tk_msg, proto), 0, T(TK_MSG_START), T(TK_MSG_START) },
	[TK_TAG_FLAGS] = { KIND_U32, offsetof(struct tk_msg, flags), 0, T(TK_MSG_START) | T(TK_MSG_CHECK),
			   T(TK_MSG_START) },
	[TK_TAG_MYNAME] = { KIND_STR, offsetof(struct tk_msg, myname), TK_NAME_MAX,
			    T(TK_MSG_START) | T(TK_MSG_CHECK), T(TK_MSG_START) | T(TK_MSG_CHECK) },
	[TK_TAG_SNINAME] = { KIND_STR, offsetof(struct tk_msg, sniname), TK_NAME_MAX,
			     T(TK_MSG_START) | T(TK_MSG_SNI_QUERY), T(TK_MSG_SNI_QUERY) },
	[TK_TAG_PEERNAME_MAX] = { KIND_U32, offsetof(struct tk_msg, peername_max), 0, T(TK_MSG_START), 0 },
	[TK_TAG_CHECKSNI] = { KIND_U8, offsetof(struct tk_msg, checksni), 0, T(TK_MSG_START), 0 },
	[TK_TAG_TIMEOUT_MS] = { KIND_U32, offsetof(struct tk_msg, timeout_ms), 0, T(TK_MSG_START), 0 },
	[TK_TAG_ACCEPT] = { KIND_U8, offsetof(struct tk_msg, accept), 0, T(TK_MSG_SNI_ANSWER),
			    T(TK_MSG_SNI_ANSWER) },
	[TK_TAG_ERRNO] = { KIND_U32, offsetof(struct tk_msg, err), 0,
			   T(TK_MSG_RESULT) | T(TK_MSG_QUERY_RESULT),
			   T(TK_MSG_RESULT) | T(TK_MSG_QUERY_RESULT) },
	[TK_TAG_PEERNAME] = { KIND_STR, offsetof(struct tk_msg, peername), TK_ID_MAX,
			      T(TK_MSG_RESULT) | T(TK_MSG_QUERY_RESULT), 0 },
	[TK_TAG_MESSAGE] = { KIND_STR, offsetof(struct tk_msg, message), TK_MESSAGE_MAX,
			     T(TK_MSG_RESULT) | T(TK_MSG_QUERY_RESULT) | T(TK_MSG_KEY_INFO), 0 },
	[TK_TAG_ALLOW_HS_TIMEOUT] = { KIND_U8, offsetof(struct tk_msg, allow_hs_timeout), 0,
				      T(TK_MSG_START), 0 },
	[TK_TAG_STATE] = { KIND_U8, offsetof(struct tk_msg, state), 0,
			   T(TK_MSG_RESULT) | T(TK_MSG_QUERY_RESULT), 0 },
	[TK_TAG_VERSION] = { KIND_STR, offsetof(struct tk_msg, version), TK_SHORT_MAX,
			     T(TK_MSG_QUERY_RESULT), 0 },
	[TK_TAG_CIPHER] = { KIND_STR, offsetof(struct tk_msg, cipher), TK_SHORT_MAX,
			    T(TK_MSG_QUERY_RESULT), 0 },
	[TK_TAG_LOCALNAME] = { KIND_STR, offsetof(struct tk_msg, localname), TK_NAME_MAX,
			       T(TK_MSG_QUERY_RESULT) | T(TK_MSG_KEY_INFO), T(TK_MSG_KEY_INFO) },
	[TK_TAG_MAPPED_USER] = { KIND_STR, offsetof(struct tk_msg, mapped_user), TK_SHORT_MAX,
				 T(TK_MSG_RESULT) | T(TK_MSG_QUERY_RESULT), 0 },
	[TK_TAG_HS_MS] = { KIND_U32, offsetof(struct tk_msg, hs_ms), 0, T(TK_MSG_QUERY_RESULT), 0 },
	[TK_TAG_INFO_FLAGS] = { KIND_U32, offsetof(struct tk_msg, info_flags), 0,
				T(TK_MSG_RESULT) | T(TK_MSG_QUERY_RESULT), 0 },
	[TK_TAG_FORMAT] = { KIND_U8, offsetof(struct tk_msg, format), 0, T(TK_MSG_STATUS),
			    T(TK_MSG_STATUS) },
	/* In a KEY_INFO: the leaf certificate the daemon serves. */
	[TK_TAG_PEER_CERT] = { KIND_BLOB, offsetof(struct tk_msg, peer_cert), TK_CERT_MAX,
			       T(TK_MSG_QUERY_RESULT) | T(TK_MSG_KEY_INFO), 0,
			       offsetof(struct tk_msg, peer_cert_len), NULL },
	/* A malformed list is refused here, before the daemon looks at it. */
	[TK_TAG_ALPN] = { KIND_BLOB, offsetof(struct tk_msg, alpn), TK_ALPN_LIST_MAX, T(TK_MSG_START), 0,
			  offsetof(struct tk_msg, alpn_len), tk_alpn_list_check },
	[TK_TAG_ALPN_STRICT] = { KIND_U8, offsetof(struct tk_msg, alpn_strict), 0, T(TK_MSG_START), 0 },
	[TK_TAG_ALPN_SELECTED] = { KIND_STR, offsetof(struct tk_msg, alpn_selected), TK_ALPN_ID_MAX,
				   T(TK_MSG_RESULT) | T(TK_MSG_QUERY_RESULT), 0 },
	[TK_TAG_CTL_OP] = { KIND_U8, offsetof(struct tk_msg, ctl_op), 0, T(TK_MSG_SESSION_CTL),
			    T(TK_MSG_SESSION_CTL) },
	[TK_TAG_LABEL] = { KIND_STR, offsetof(struct tk_msg, label), TK_LABEL_MAX, T(TK_MSG_SESSION_CTL),
			   0 },
	[TK_TAG_CONTEXT] = { KIND_BLOB, offsetof(struct tk_msg, context), TK_CONTEXT_MAX,
			     T(TK_MSG_SESSION_CTL), 0, offsetof(struct tk_msg, context_len) },
	[TK_TAG_EXPORT_LEN] = { KIND_U32, offsetof(struct tk_msg, export_len), 0, T(TK_MSG_SESSION_CTL),
				0 },
	[TK_TAG_EXPORTED] = { KIND_BLOB, offsetof(struct tk_msg, exported), TK_EXPORT_MAX,
			      T(TK_MSG_RESULT), 0, offsetof(struct tk_msg, exported_len) },
	[TK_TAG_KEEP] = { KIND_U8, offsetof(struct tk_msg, keep), 0, T(TK_MSG_RESULT), 0 },
};

int tk_msg_set_str(struct tk_msg *m, enum tk_tag tag, const char *s)
{
	size_t n;

	if (tag <= 0 || tag >= TK_TAG_MAX || items[tag].kind != KIND_STR || !s)
		return -EINVAL;
	n = strlen(s);
	if (n > items[tag].max)
		return -ENAMETOOLONG;
	memcpy((char *)m + items[tag].offset, s, n + 1);
	m->present |= T(tag);
	return 0;
}

static int set_blob(struct tk_msg *m, enum tk_tag tag, const uint8_t *p, size_t len)
{
	const struct item_def *d = &items[tag];

	if (len > d->max)
		return -EMSGSIZE;
	memcpy((uint8_t *)m + d->offset, p, len);
	*(uint16_t *)(void *)((uint8_t *)m + d->len_offset) = (uint16_t)len;
	m->present |= T(tag);
	return 0;
}

int tk_msg_set_cert(struct tk_msg *m, const uint8_t *der, size_t len)
{
	return set_blob(m, TK_TAG_PEER_CERT, der, len);
}

int tk_msg_set_alpn(struct tk_msg *m, const uint8_t *list, size_t len)
{
	return set_blob(m, TK_TAG_ALPN, list, len);
}

int tk_msg_encode(const struct tk_msg *m, uint8_t *buf, size_t cap, size_t *ret_len)
{
	struct tk_wbuf w;
	int r;

	if (!m || m->type == 0 || m->type >= TK_MSG_TYPE_MAX)
		return -EINVAL;
	tk_wbuf_init(&w, buf, cap);
	tk_wbuf_put_u16(&w, TK_WIRE_MAGIC);
	tk_wbuf_put_u8(&w, TK_WIRE_VERSION);
	tk_wbuf_put_u8(&w, m->type);
	tk_wbuf_put_u32(&w, 0); /* body length, patched below */
	for (unsigned tag = 1; tag < TK_TAG_MAX; tag++) {
		const struct item_def *d = &items[tag];
		const char *p = (const char *)m + d->offset;

		if (!(m->present & T(tag)))
			continue;
		if (!(d->allowed & T(m->type)))
			return -EINVAL;
		tk_wbuf_put_u16(&w, (uint16_t)tag);
		switch (d->kind) {
		case KIND_U8:
			tk_wbuf_put_u16(&w, 1);
			tk_wbuf_put_u8(&w, *(const uint8_t *)p);
			break;
		case KIND_U32:
			tk_wbuf_put_u16(&w, 4);
			tk_wbuf_put_u32(&w, *(const uint32_t *)p);
			break;
		case KIND_STR: {
			size_t n = strnlen(p, d->max + 1);
			if (n > d->max)
				return -EINVAL;
			tk_wbuf_put_u16(&w, (uint16_t)n);
			tk_wbuf_put_bytes(&w, p, n);
			break;
		}
		case KIND_BLOB: {
			uint16_t n;

			memcpy(&n, (const char *)m + d->len_offset, sizeof(n));
			if (n > d->max)
				return -EINVAL;
			tk_wbuf_put_u16(&w, n);
			tk_wbuf_put_bytes(&w, p, n);
			break;
		}
		}
	}
	r = tk_wbuf_error(&w);
	if (r < 0)
		return r;
	tk_wbuf_patch_u32(&w, 4, (uint32_t)(w.len - TK_WIRE_HDR_LEN));
	*ret_len = w.len;
	return 0;
}

static int decode(const uint8_t *buf, size_t len, struct tk_msg *ret);

/* Messages carry secrets (exported keying material): the copy decoded on
 * the stack is wiped, whatever the outcome. */
int tk_msg_decode(const uint8_t *buf, size_t len, struct tk_msg *ret)
{
	struct tk_msg m;
	int r = decode(buf, len, &m);

	if (r == 0)
		*ret = m;
	tk_wipe(&m, sizeof(m));
	return r;
}

static int decode(const uint8_t *buf, size_t len, struct tk_msg *ret)
{
	struct tk_rbuf r;
	uint16_t magic;
	uint8_t version, type;
	uint32_t body;

	if (len < TK_WIRE_HDR_LEN || len > TK_WIRE_MAX_MSG)
		return -EBADMSG;
	memset(ret, 0, sizeof(*ret));
	tk_rbuf_init(&r, buf, len);
	(void)tk_rbuf_get_u16(&r, &magic);
	(void)tk_rbuf_get_u8(&r, &version);
	(void)tk_rbuf_get_u8(&r, &type);
	(void)tk_rbuf_get_u32(&r, &body);
	if (magic != TK_WIRE_MAGIC || version != TK_WIRE_VERSION)
		return -EPROTO;
	if (type == 0 || type >= TK_MSG_TYPE_MAX || body != len - TK_WIRE_HDR_LEN)
		return -EBADMSG;
	ret->type = type;

	while (tk_rbuf_remaining(&r) > 0) {
		uint16_t tag, ilen;
		const struct item_def *d;
		char *p;

		if (tk_rbuf_get_u16(&r, &tag) < 0 || tk_rbuf_get_u16(&r, &ilen) < 0)
			return -EBADMSG;
		if (tag == 0 || tag >= TK_TAG_MAX)
			return -EBADMSG;
		d = &items[tag];
		if (!(d->allowed & T(type)) || (ret->present & T(tag)))
			return -EBADMSG;
		p = (char *)ret + d->offset;
		switch (d->kind) {
		case KIND_U8:
			if (ilen != 1 || tk_rbuf_get_u8(&r, (uint8_t *)p) < 0)
				return -EBADMSG;
			break;
		case KIND_U32:
			if (ilen != 4 || tk_rbuf_get_u32(&r, (uint32_t *)p) < 0)
				return -EBADMSG;
			/* An errno is small and positive as an int: a reader
			 * negates it (-(int)err), and 0xffffffff made +1, a
			 * failure read as success. */
			if (tag == TK_TAG_ERRNO && *(uint32_t *)p > TK_ERRNO_MAX)
				return -EBADMSG;
			break;
		case KIND_STR: {
			const uint8_t *s;
			if (ilen > d->max || tk_rbuf_get_bytes(&r, ilen, &s) < 0)
				return -EBADMSG;
			if (memchr(s, '\0', ilen))
				return -EBADMSG;
			memcpy(p, s, ilen);
			p[ilen] = '\0';
			break;
		}
		case KIND_BLOB: {
			const uint8_t *s;
			if (ilen > d->max || tk_rbuf_get_bytes(&r, ilen, &s) < 0)
				return -EBADMSG;
			if (d->check && d->check(s, ilen) < 0)
				return -EBADMSG;
			memcpy(p, s, ilen);
			memcpy((char *)ret + d->len_offset, &ilen, sizeof(ilen));
			break;
		}
		}
		ret->present |= T(tag);
	}
	for (unsigned tag = 1; tag < TK_TAG_MAX; tag++)
		if ((items[tag].required & T(type)) && !(ret->present & T(tag)))
			return -EBADMSG;
	return 0;
}

int tk_msg_send(int sock, const struct tk_msg *m, int passfd)
{
	return tk_msg_send_cred(sock, m, passfd, NULL);
}

int tk_msg_send_cred(int sock, const struct tk_msg *m, int passfd, const struct ucred *cred)
{
	uint8_t buf[TK_WIRE_MAX_MSG];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(struct ucred))];
	} control;
	struct iovec iov;
	struct msghdr mh;
	size_t len;
	ssize_t n;
	int r;

	r = tk_msg_encode(m, buf, sizeof(buf), &len);
	if (r < 0) {
		tk_wipe(buf, sizeof(buf)); /* what it wrote before it failed */
		return r;
	}
	iov.iov_base = buf;
	iov.iov_len = len;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (passfd >= 0 || cred) {
		struct cmsghdr *c;

		memset(&control, 0, sizeof(control));
		mh.msg_control = control.buf;
		mh.msg_controllen = (passfd >= 0 ? CMSG_SPACE(sizeof(int)) : 0) +
				    (cred ? CMSG_SPACE(sizeof(*cred)) : 0);
		c = CMSG_FIRSTHDR(&mh);
		if (passfd >= 0) {
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(c), &passfd, sizeof(int));
			c = CMSG_NXTHDR(&mh, c);
		}
		if (cred) {
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_CREDENTIALS;
			c->cmsg_len = CMSG_LEN(sizeof(*cred));
			memcpy(CMSG_DATA(c), cred, sizeof(*cred));
		}
	}
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	r = n < 0 ? -errno : (size_t)n != len ? -EMSGSIZE : 0;
	tk_wipe(buf, len); /* it may hold exported keying material */
	return r;
}

/* How tk_msg_recv() closes descriptors it does not hand out. */
static int (*msg_closer)(int fd) = tk_close;

void tk_msg_set_closer(int (*close_fd)(int fd))
{
	msg_closer = close_fd ? close_fd : tk_close;
}

int tk_msg_recv(int sock, struct tk_msg *ret, int *ret_fd)
{
	return tk_msg_recv_cred(sock, ret, ret_fd, NULL);
}

int tk_msg_recv_cred(int sock, struct tk_msg *ret, int *ret_fd, struct ucred *ret_cred)
{
	uint8_t buf[TK_WIRE_MAX_MSG + 1];
	union {
		struct cmsghdr align;
		/* Room for the most one message can carry (the kernel's
		 * SCM_MAX_FD, 253), and credentials: a cut (MSG_CTRUNC) would
		 * have the kernel close the rest here, and one close of a
		 * sender's socket can wait as long as the sender's SO_LINGER.
		 * Every one of them is closed through msg_closer. */
		char buf[CMSG_SPACE(253 * sizeof(int)) + CMSG_SPACE(sizeof(struct ucred))];
	} control;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr mh;
	struct cmsghdr *c;
	int fd = -1, nfds = 0, r;
	ssize_t n;

	if (ret_cred)
		memset(ret_cred, 0, sizeof(*ret_cred));
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = control.buf;
	mh.msg_controllen = sizeof(control.buf);
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;

	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		int *fds;
		size_t k;

		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct ucred)) && ret_cred)
			memcpy(ret_cred, CMSG_DATA(c), sizeof(*ret_cred));
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		fds = (int *)CMSG_DATA(c);
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int one;
			memcpy(&one, &fds[i], sizeof(int));
			if (nfds++ == 0)
				fd = one;
			else
				(void)msg_closer(one);
		}
	}
	if (n == 0 && nfds == 0)
		return -ECONNRESET;
	/* A descriptor that could not be installed (we are at our open file
	 * limit) also shows up as MSG_CTRUNC: say so rather than blame the
	 * sender. */
	if ((mh.msg_flags & MSG_CTRUNC) && nfds == 0) {
		r = -EMFILE;
		goto fail;
	}
	if (nfds > 1 || (mh.msg_flags & (MSG_CTRUNC | MSG_TRUNC))) {
		r = -EBADMSG;
		goto fail;
	}
	r = tk_msg_decode(buf, (size_t)n, ret);
	if (r < 0)
		goto fail;
	tk_wipe(buf, (size_t)n); /* as tk_msg_decode() wipes its copy */
	if (ret_fd)
		*ret_fd = fd;
	else if (fd >= 0)
		(void)msg_closer(fd), fd = -1;
	return 0;
fail:
	tk_wipe(buf, (size_t)n);
	(void)msg_closer(fd);
	return r;
}

void tk_msg_send_result(int sock, int err, const char *message)
{
	struct tk_msg m = { .type = TK_MSG_RESULT };

	m.err = (uint32_t)err;
	m.present = 1u << TK_TAG_ERRNO;
	if (message)
		(void)tk_msg_set_str(&m, TK_TAG_MESSAGE, message);
	(void)tk_msg_send(sock, &m, -1);
}
