#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "keyd/registry.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct session_info *live;
static struct session_info *failed_head, *failed_tail;
static size_t n_failed;

static void unlink_from(struct session_info **head, struct session_info *i)
{
	if (i->prev)
		i->prev->next = i->next;
	else
		*head = i->next;
	if (i->next)
		i->next->prev = i->prev;
	i->prev = i->next = NULL;
}

/* How many of the n pieces fit the bounds (count and size each). */
static size_t pieces_kept(const struct registry_piece *v, size_t n, size_t max_n, size_t max_len,
			  size_t *ret_bytes)
{
	size_t k = 0, bytes = 0;

	for (; k < n && k < max_n && v[k].len > 0 && v[k].len <= max_len; k++)
		bytes += v[k].len;
	*ret_bytes = bytes;
	return k;
}

struct session_info *registry_info_new(const struct registry_piece *certs, size_t n_certs,
				       const struct registry_piece *ids, size_t n_ids)
{
	struct session_info *i;
	size_t cb, ib, off = 0;

	n_certs = pieces_kept(certs, n_certs, TK_DOC_CERTS_MAX, TK_DOC_CERT_MAX, &cb);
	n_ids = pieces_kept(ids, n_ids, TK_DOC_IDS_MAX, TK_DOC_ID_MAX, &ib);
	i = calloc(1, sizeof(*i) + cb + ib);
	if (!i)
		return NULL;
	for (size_t k = 0; k < n_certs; k++) {
		memcpy(i->data + off, certs[k].p, certs[k].len);
		i->cert_len[k] = certs[k].len;
		off += certs[k].len;
	}
	for (size_t k = 0; k < n_ids; k++) {
		memcpy(i->data + off, ids[k].p, ids[k].len);
		i->id_len[k] = ids[k].len;
		off += ids[k].len;
	}
	i->n_certs = n_certs;
	i->n_ids = n_ids;
	i->data_len = off;
	return i;
}

/* SO_COOKIE of a socket; 0 if the kernel cannot say (then only another
 * such socket matches, as before the cookie existed). */
static uint64_t socket_cookie(int fd)
{
	uint64_t cookie = 0;
	socklen_t len = sizeof(cookie);

	if (getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len) < 0 || len != sizeof(cookie))
		return 0;
	return cookie;
}

int registry_add(struct session_info *info, int fd)
{
	static uint64_t next_serial;
	struct stat st;

	/* The cookie alone names the socket where there is one (it is never
	 * reused); (dev, inode) only without it. */
	info->cookie = socket_cookie(fd);
	if (!info->cookie) {
		if (fstat(fd, &st) < 0)
			return -errno;
		info->dev = st.st_dev;
		info->ino = st.st_ino;
	}
	pthread_mutex_lock(&lock);
	info->serial = ++next_serial;
	info->next = live;
	if (live)
		live->prev = info;
	live = info;
	pthread_mutex_unlock(&lock);
	return 0;
}

void registry_remove(struct session_info *info)
{
	if (!info)
		return;
	pthread_mutex_lock(&lock);
	unlink_from(&live, info);
	pthread_mutex_unlock(&lock);
	free(info);
}

/* Under lock: unlink i from the failed list. */
static void failed_unlink(struct session_info *i)
{
	if (i == failed_tail)
		failed_tail = i->prev;
	unlink_from(&failed_head, i);
	n_failed--;
}

void registry_fail(struct session_info *info)
{
	struct session_info *old = NULL, *own = NULL;
	size_t n_own = 0;

	if (!info)
		return;
	pthread_mutex_lock(&lock);
	unlink_from(&live, info);
	info->state = TK_STATE_FAILED;
	/* The oldest of this uid's, and how many it has (the list is short). */
	for (struct session_info *i = failed_head; i; i = i->next)
		if (i->uid == info->uid && n_own++ == 0)
			own = i;
	/* Append to the failed FIFO, then evict: the uid's own oldest when it
	 * is at its share, else the oldest of all beyond the bound.  So the
	 * bound is reached only when several uids fail, and a uid's entries
	 * go only for a newer failure of its own or when others hold more
	 * than REGISTRY_FAILED_KEEP - REGISTRY_FAILED_PER_UID. */
	info->next = NULL;
	info->prev = failed_tail;
	if (failed_tail)
		failed_tail->next = info;
	else
		failed_head = info;
	failed_tail = info;
	n_failed++;
	if (n_own >= REGISTRY_FAILED_PER_UID)
		old = own;
	else if (n_failed > REGISTRY_FAILED_KEEP)
		old = failed_head;
	if (old)
		failed_unlink(old);
	pthread_mutex_unlock(&lock);
	free(old);
}

static const struct session_info *find(const struct session_info *list, const struct stat *st,
					uint64_t cookie)
{
	for (; list; list = list->next)
		if (list->cookie == cookie &&
		    (cookie || (list->ino == st->st_ino && list->dev == st->st_dev)))
			return list;
	return NULL;
}

/* Under lock: the entry behind fd, live or failed.  *ret_live says which. */
static const struct session_info *lookup_locked(const struct stat *st, uint64_t cookie, int *ret_live)
{
	const struct session_info *i = find(live, st, cookie);

	*ret_live = i != NULL;
	return i ? i : find(failed_head, st, cookie);
}

/* The entry behind the socket fd, live or failed (*ret_info NULL if
 * none; *ret_live says which), found with the lock taken: on 0 the caller
 * holds the lock and releases it.  -ENOTSOCK or another negative errno
 * (lock not taken) if fd is no socket. */
static int lookup_lock(int fd, const struct session_info **ret_info, int *ret_live)
{
	struct stat st = { 0 };
	uint64_t cookie;
	int type;
	socklen_t len = sizeof(type);

	/* A socket first, asked of the socket layer alone: fstat() of a file
	 * a caller passed can wait on whoever serves it (a FUSE mount). */
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		/* An O_PATH descriptor is EBADF to it, and no socket either. */
		return errno == EBADF && fcntl(fd, F_GETFD) >= 0 ? -ENOTSOCK : -errno;
	cookie = socket_cookie(fd);
	if (!cookie && fstat(fd, &st) < 0)
		return -errno;
	pthread_mutex_lock(&lock);
	*ret_info = lookup_locked(&st, cookie, ret_live);
	return 0;
}

int registry_query(int fd, struct tk_msg *ret)
{
	const struct session_info *i;
	size_t big = 0;
	int r, is_live;

	r = lookup_lock(fd, &i, &is_live);
	if (r < 0)
		return r;
	if (i) {
		ret->state = i->state;
		ret->hs_ms = i->hs_ms;
		ret->info_flags = i->info_flags;
		ret->present |= (1u << TK_TAG_STATE) | (1u << TK_TAG_HS_MS) | (1u << TK_TAG_INFO_FLAGS);
		(void)tk_msg_set_str(ret, TK_TAG_VERSION, i->version);
		(void)tk_msg_set_str(ret, TK_TAG_CIPHER, i->cipher);
		(void)tk_msg_set_str(ret, TK_TAG_PEERNAME, i->peer);
		(void)tk_msg_set_str(ret, TK_TAG_LOCALNAME, i->local);
		(void)tk_msg_set_str(ret, TK_TAG_MAPPED_USER, i->mapped_user);
		(void)tk_msg_set_str(ret, TK_TAG_ALPN_SELECTED, i->alpn);
		if (i->n_certs && i->cert_len[0] <= TK_CERT_MAX)
			(void)tk_msg_set_cert(ret, i->data, i->cert_len[0]);
		else if (i->n_certs)
			big = i->cert_len[0];
	}
	pthread_mutex_unlock(&lock);
	if (big) {
		/* Length 0 would mean "no certificate": say it does not fit. */
		(void)snprintf(ret->message, sizeof(ret->message),
			       "the peer certificate is %zu bytes, more than struct tlskey_info holds "
			       "(%u): use tlskey_query_session()", big, TK_CERT_MAX);
		ret->present |= 1u << TK_TAG_MESSAGE;
		return -ENOBUFS;
	}
	return i ? 0 : -ENOENT;
}

/* The document of i (lock held). */
static int doc_build(const struct session_info *i, uint8_t **ret, size_t *ret_len)
{
	struct tk_sessdoc *d = calloc(1, sizeof(*d));
	size_t off = 0, need;
	uint8_t *buf;
	int r;

	if (!d)
		return -ENOMEM;
	d->role = i->role;
	d->client_auth = i->client_auth;
	d->state = i->state;
	d->resumed = i->resumed;
	d->flags = i->info_flags;
	d->hs_ms = i->hs_ms;
	d->bytes_in = atomic_load_explicit(&i->bytes_in, memory_order_relaxed);
	d->bytes_out = atomic_load_explicit(&i->bytes_out, memory_order_relaxed);
	memcpy(d->version, i->version, sizeof(d->version));
	memcpy(d->cipher, i->cipher, sizeof(d->cipher));
	memcpy(d->sni, i->sni, sizeof(d->sni));
	memcpy(d->alpn, i->alpn, sizeof(d->alpn));
	memcpy(d->group, i->group, sizeof(d->group));
	memcpy(d->sign, i->sign, sizeof(d->sign));
	memcpy(d->client_sign, i->client_sign, sizeof(d->client_sign));
	memcpy(d->local, i->local, sizeof(d->local));
	memcpy(d->peer, i->peer, sizeof(d->peer));
	memcpy(d->mapped, i->mapped_user, sizeof(d->mapped));
	memcpy(d->acl_rule, i->acl_rule, sizeof(d->acl_rule));
	d->n_certs = i->n_certs;
	for (size_t k = 0; k < i->n_certs; off += i->cert_len[k++]) {
		d->cert[k] = i->data + off;
		d->cert_len[k] = i->cert_len[k];
	}
	d->n_ids = i->n_ids;
	for (size_t k = 0; k < i->n_ids; off += i->id_len[k++]) {
		d->id[k] = (const char *)i->data + off;
		d->id_len[k] = i->id_len[k];
	}
	need = tk_sessdoc_size(d);
	buf = need <= TK_DOC_MAX ? malloc(need) : NULL;
	r = buf ? tk_sessdoc_encode(d, buf, need, ret_len) : -ENOMEM;
	free(d);
	if (r < 0) {
		free(buf);
		return r;
	}
	*ret = buf;
	return 0;
}

int registry_query_doc(int fd, uint8_t **ret, size_t *ret_len)
{
	const struct session_info *i;
	int r, is_live;

	r = lookup_lock(fd, &i, &is_live);
	if (r < 0)
		return r;
	r = i ? doc_build(i, ret, ret_len) : -ENOENT;
	pthread_mutex_unlock(&lock);
	return r;
}

int registry_lookup(int fd, void **ret_owner, uint64_t *ret_serial)
{
	const struct session_info *i;
	int r, is_live;

	r = lookup_lock(fd, &i, &is_live);
	if (r < 0)
		return r;
	if (i && is_live) {
		*ret_owner = i->owner;
		*ret_serial = i->serial;
	}
	pthread_mutex_unlock(&lock);
	return !i ? -ENOENT : is_live ? 0 : -ENOTCONN;
}
