#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "keyd/registry.h"

/* Failed sessions stay queryable until this many newer ones failed. */
#define FAILED_KEEP 256

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

struct session_info *registry_info_new(const uint8_t *cert, size_t cert_len)
{
	struct session_info *i;

	if (cert_len > TK_CERT_MAX)
		cert_len = 0; /* too large to report; the identity still is */
	i = calloc(1, sizeof(*i) + cert_len);
	if (!i)
		return NULL;
	if (cert_len)
		memcpy(i->cert, cert, cert_len);
	i->cert_len = cert_len;
	return i;
}

int registry_info_set_ids(struct session_info **info, const char *const *ids, size_t n)
{
	struct session_info *i;
	size_t len = 0, pos;

	for (size_t k = 0; k < n; k++)
		len += strlen(ids[k]) + 1;
	if (len > REGISTRY_IDS_MAX)
		return -E2BIG;
	i = realloc(*info, sizeof(*i) + (*info)->cert_len + len);
	if (!i)
		return -ENOMEM;
	pos = i->cert_len;
	for (size_t k = 0; k < n; k++) {
		size_t l = strlen(ids[k]) + 1;

		memcpy(i->cert + pos, ids[k], l);
		pos += l;
	}
	i->ids_len = len;
	*info = i;
	return 0;
}

const char *registry_identity_list(const struct session_info *info, size_t i)
{
	const char *p = (const char *)info->cert + info->cert_len;
	const char *end = p + info->ids_len;

	for (; p < end; p += strlen(p) + 1, i--)
		if (i == 0)
			return p;
	return NULL;
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
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	info->dev = st.st_dev;
	info->ino = st.st_ino;
	info->cookie = socket_cookie(fd);
	pthread_mutex_lock(&lock);
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

void registry_fail(struct session_info *info)
{
	struct session_info *old = NULL;

	if (!info)
		return;
	pthread_mutex_lock(&lock);
	unlink_from(&live, info);
	info->state = TK_STATE_FAILED;
	/* Append to the failed FIFO; evict the oldest beyond the bound. */
	info->prev = failed_tail;
	if (failed_tail)
		failed_tail->next = info;
	else
		failed_head = info;
	failed_tail = info;
	if (++n_failed > FAILED_KEEP) {
		old = failed_head;
		failed_head = old->next;
		if (failed_head)
			failed_head->prev = NULL;
		else
			failed_tail = NULL;
		n_failed--;
	}
	pthread_mutex_unlock(&lock);
	free(old);
}

static const struct session_info *find(const struct session_info *list, const struct stat *st,
					uint64_t cookie)
{
	for (; list; list = list->next)
		if (list->ino == st->st_ino && list->dev == st->st_dev && list->cookie == cookie)
			return list;
	return NULL;
}

int registry_query(int fd, struct tk_msg *ret)
{
	const struct session_info *i;
	struct stat st;
	uint64_t cookie;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISSOCK(st.st_mode))
		return -ENOTSOCK;
	cookie = socket_cookie(fd);
	pthread_mutex_lock(&lock);
	i = find(live, &st, cookie);
	if (!i)
		i = find(failed_head, &st, cookie);
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
		if (i->cert_len)
			(void)tk_msg_set_cert(ret, i->cert, i->cert_len);
	}
	pthread_mutex_unlock(&lock);
	return i ? 0 : -ENOENT;
}
