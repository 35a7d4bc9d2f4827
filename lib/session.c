/* libtlskey: the calls about an established session, which pass its
 * protected descriptor as the credential: tlskey_query(),
 * tlskey_query_session(), tlskey_export_keying_material() and
 * tlskey_control(). */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"
#include "common/sessdoc.h"
#include "common/util.h"
#include "common/wire.h"
#include "lib/client.h"
#include "tlskey/starttls.h"

/* The size of the first version of struct tlskey_session_info. */
#define SESSION_INFO_V1 (offsetof(struct tlskey_session_info, peer_ids_count) + sizeof(unsigned int))

/* Send q with fd to the daemon and receive its answer of type want into
 * *ans (allocated, the caller frees it), with the descriptor it carries
 * in *ret_extra (may be NULL: then none is accepted).  An answer with an
 * errno is returned as that negative errno, its message as the error
 * text.  0 or a negative errno. */
static int ask(const struct tk_msg *q, int fd, unsigned want, struct tk_msg **ret, int *ret_extra)
{
	struct tk_msg *m = NULL;
	unsigned budget = lib_wait_budget_ms(0);
	int sock = -1, extra = -1, r;

	r = lib_daemon_connect(&sock, budget);
	if (r < 0)
		goto out;
	r = lib_send(sock, q, fd, NULL);
	if (r < 0) {
		lib_set_error("sending the request to tlskeyd: %s", strerror(-r));
		goto out;
	}
	r = lib_wait_readable(sock, lib_wait_deadline(budget), budget);
	if (r < 0)
		goto out;
	m = malloc(sizeof(*m));
	if (!m) {
		r = -ENOMEM;
		goto out;
	}
	r = tk_msg_recv(sock, m, &extra);
	if (r == 0 && (m->type != want || (extra >= 0 && !ret_extra)))
		r = -EBADMSG;
	if (r < 0) {
		lib_set_error("bad answer from tlskeyd: %s", strerror(-r));
		goto out;
	}
	if (m->err) {
		lib_set_error("%s", TK_HAS(m, TK_TAG_MESSAGE) ? m->message : strerror((int)m->err));
		r = m->err < 4096 ? -(int)m->err : -EPROTO;
		goto out;
	}
	*ret = m;
	m = NULL;
	if (ret_extra) {
		*ret_extra = extra;
		extra = -1;
	}
out:
	(void)tk_close(extra);
	(void)tk_close(sock);
	free(m);
	return r;
}

static int fail(int r)
{
	errno = -r;
	return -1;
}

int tlskey_query(int fd, struct tlskey_info *ret)
{
	struct tk_msg q = { .type = TK_MSG_QUERY };
	struct tk_msg *m = NULL;
	int r;

	lib_error_clear();
	if (!ret)
		return fail(-EINVAL);
	r = ask(&q, fd, TK_MSG_QUERY_RESULT, &m, NULL);
	if (r < 0)
		return fail(r);
	memset(ret, 0, sizeof(*ret));
	ret->state = m->state;
	(void)snprintf(ret->version, sizeof(ret->version), "%s", m->version);
	(void)snprintf(ret->cipher_suite, sizeof(ret->cipher_suite), "%s", m->cipher);
	(void)snprintf(ret->peer, sizeof(ret->peer), "%s", m->peername);
	(void)snprintf(ret->local, sizeof(ret->local), "%s", m->localname);
	(void)snprintf(ret->mapped_user, sizeof(ret->mapped_user), "%s", m->mapped_user);
	ret->handshake_ms = m->hs_ms;
	ret->flags = m->info_flags;
	ret->peer_cert_len = m->peer_cert_len;
	memcpy(ret->peer_cert, m->peer_cert, m->peer_cert_len);
	free(m);
	return 0;
}

/* The chain and identities into the caller's buffers; -ENOBUFS (the sizes
 * needed still written) if either does not fit. */
static int fill_lists(const struct tk_sessdoc *d, struct tlskey_session_info *info)
{
	size_t chain = 0, ids = 0, off = 0;
	int r = 0;

	for (size_t k = 0; k < d->n_certs; k++)
		chain += d->cert_len[k];
	for (size_t k = 0; k < d->n_ids; k++)
		ids += d->id_len[k] + 1;
	info->peer_chain_len = chain;
	info->peer_chain_count = (unsigned)d->n_certs;
	info->peer_ids_len = ids;
	info->peer_ids_count = (unsigned)d->n_ids;
	if (chain > info->peer_chain_cap || ids > info->peer_ids_cap) {
		lib_set_error("the peer chain needs %zu bytes (buffer %zu), its identities %zu (buffer %zu)",
			      chain, info->peer_chain_cap, ids, info->peer_ids_cap);
		r = -ENOBUFS;
	}
	if (chain <= info->peer_chain_cap)
		for (size_t k = 0; k < d->n_certs; off += d->cert_len[k++])
			memcpy(info->peer_chain + off, d->cert[k], d->cert_len[k]);
	off = 0;
	if (ids <= info->peer_ids_cap)
		for (size_t k = 0; k < d->n_ids; k++) {
			memcpy(info->peer_ids + off, d->id[k], d->id_len[k]);
			off += d->id_len[k];
			info->peer_ids[off++] = '\0';
		}
	return r;
}

#define COPY(field, from) (void)snprintf(info->field, sizeof(info->field), "%s", from)

static int fill_info(const struct tk_sessdoc *d, struct tlskey_session_info *info)
{
	info->state = d->state;
	info->flags = d->flags;
	info->role = d->role;
	info->client_auth = d->client_auth;
	info->resumed = d->resumed;
	info->handshake_ms = d->hs_ms;
	COPY(version, d->version);
	COPY(cipher_suite, d->cipher);
	COPY(sni, d->sni);
	COPY(alpn, d->alpn);
	COPY(group, d->group);
	COPY(sign_algo, d->sign);
	COPY(client_sign_algo, d->client_sign);
	COPY(local, d->local);
	COPY(peer, d->peer);
	COPY(mapped_user, d->mapped);
	COPY(acl_rule, d->acl_rule);
	info->bytes_in = d->bytes_in;
	info->bytes_out = d->bytes_out;
	return fill_lists(d, info);
}

int tlskey_query_session(int fd, struct tlskey_session_info *info)
{
	struct tk_msg q = { .type = TK_MSG_QUERY_FULL };
	struct tk_msg *m = NULL;
	struct tk_sessdoc *d = NULL;
	char *buf = NULL;
	size_t len = 0;
	int doc = -1, r;

	lib_error_clear();
	if (!info || info->size < SESSION_INFO_V1 || (!info->peer_chain && info->peer_chain_cap) ||
	    (!info->peer_ids && info->peer_ids_cap)) {
		lib_set_error("struct tlskey_session_info: size not set, or a NULL buffer with a capacity");
		return fail(-EINVAL);
	}
	r = ask(&q, fd, TK_MSG_QUERY_RESULT, &m, &doc);
	if (r < 0)
		return fail(r);
	free(m);
	r = doc < 0 ? -EBADMSG : tk_file_read_doc(doc, 1, TK_DOC_MAX, &buf, &len);
	(void)tk_close(doc);
	d = r == 0 ? malloc(sizeof(*d)) : NULL;
	if (r == 0 && !d)
		r = -ENOMEM;
	if (r == 0)
		r = tk_sessdoc_decode((const uint8_t *)buf, len, d);
	if (r < 0)
		lib_set_error("bad session document from tlskeyd: %s", strerror(-r));
	else
		r = fill_info(d, info);
	free(d);
	free(buf);
	return r < 0 ? fail(r) : 0;
}

/* One SESSION_CTL request; its RESULT in *ret (may be NULL). */
static int session_ctl(int fd, const struct tk_msg *q, struct tk_msg **ret)
{
	struct tk_msg *m = NULL;
	int r = ask(q, fd, TK_MSG_RESULT, &m, NULL);

	if (r < 0)
		return r;
	if (ret)
		*ret = m;
	else
		free(m);
	return 0;
}

int tlskey_export_keying_material(int fd, const char *label, const unsigned char *context,
				  size_t context_len, unsigned char *out, size_t out_len)
{
	struct tk_msg *q, *m = NULL;
	int r;

	lib_error_clear();
	if (!label || !*label || strlen(label) > TLSKEY_EXPORT_LABEL_MAX || !out || out_len == 0 ||
	    out_len > TLSKEY_EXPORT_OUT_MAX || context_len > TLSKEY_EXPORT_CONTEXT_MAX ||
	    (!context && context_len)) {
		lib_set_error("exporter: label 1..%d bytes, context at most %d, output 1..%d",
			      TLSKEY_EXPORT_LABEL_MAX, TLSKEY_EXPORT_CONTEXT_MAX, TLSKEY_EXPORT_OUT_MAX);
		return fail(-EINVAL);
	}
	q = calloc(1, sizeof(*q));
	if (!q)
		return fail(-ENOMEM);
	q->type = TK_MSG_SESSION_CTL;
	q->ctl_op = TK_CTL_EXPORT;
	q->export_len = (uint32_t)out_len;
	q->present = (1u << TK_TAG_CTL_OP) | (1u << TK_TAG_EXPORT_LEN);
	(void)tk_msg_set_str(q, TK_TAG_LABEL, label);
	if (context) {
		memcpy(q->context, context, context_len);
		q->context_len = (uint16_t)context_len;
		q->present |= 1u << TK_TAG_CONTEXT;
	}
	r = session_ctl(fd, q, &m);
	free(q);
	if (r == 0 && m->exported_len != out_len) {
		lib_set_error("tlskeyd returned %u bytes of keying material, not %zu", m->exported_len, out_len);
		r = -EBADMSG;
	}
	if (r == 0)
		memcpy(out, m->exported, out_len);
	if (m) {
		tk_wipe(m->exported, sizeof(m->exported));
		free(m);
	}
	return r < 0 ? fail(r) : 0;
}

int tlskey_control(int fd, int op)
{
	struct tk_msg q = { .type = TK_MSG_SESSION_CTL, .present = 1u << TK_TAG_CTL_OP };
	int r;

	lib_error_clear();
	if (op != TLSKEY_CTL_KEY_UPDATE && op != TLSKEY_CTL_CLOSE_NOTIFY) {
		lib_set_error("unknown tlskey_control() operation %d", op);
		return fail(-EINVAL);
	}
	q.ctl_op = (uint8_t)op;
	r = session_ctl(fd, &q, NULL);
	return r < 0 ? fail(r) : 0;
}
