#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"
#include "common/util.h"

int tk_file_open_regular(const char *what, const char *path, int extra, int *ret_fd,
			 struct stat *ret_st, char *err, size_t errlen)
{
	struct stat st;
	int fd, r, fl;

	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY | extra);
	if (fd < 0) {
		r = -errno;
		if (r == -ELOOP && (extra & O_NOFOLLOW))
			tk_errf(err, errlen, "%s %s is a symbolic link: refused", what, path);
		else
			tk_errf(err, errlen, "%s %s: %s", what, path, strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		tk_errf(err, errlen, "%s %s: fstat: %s", what, path, strerror(-r));
		(void)tk_close(fd);
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		tk_errf(err, errlen, "%s %s is not a regular file (a %s): refused", what, path,
			S_ISFIFO(st.st_mode)  ? "FIFO"
			: S_ISCHR(st.st_mode) ? "character device"
			: S_ISBLK(st.st_mode) ? "block device"
			: S_ISDIR(st.st_mode) ? "directory"
			: S_ISSOCK(st.st_mode) ? "socket"
					       : "special file");
		(void)tk_close(fd);
		return -EINVAL;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		(void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	*ret_fd = fd;
	if (ret_st)
		*ret_st = st;
	return 0;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int tk_file_replace(const char *path, const void *data, size_t len, char *err, size_t errlen)
{
	char tmp[PATH_MAX];
	struct stat st;
	int fd, r;

	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		tk_errf(err, errlen, "%s exists and is not a regular file: not replacing it", path);
		return -EEXIST;
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= sizeof(tmp)) {
		tk_errf(err, errlen, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	/* mkostemp: a fresh name that nobody else can have prepared. */
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		tk_errf(err, errlen, "%s: cannot create a temporary file: %s", path, strerror(-r));
		return r;
	}
	r = write_all(fd, data, len);
	if (r == 0 && fchmod(fd, 0644) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0) {
		tk_errf(err, errlen, "%s: %s", tmp, strerror(-r));
		goto fail;
	}
	/* Between the lstat() and here the path could have become something
	 * else; look again as late as possible (a race remains only with
	 * whoever may write to this directory anyway). */
	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		tk_errf(err, errlen, "%s exists and is not a regular file: not replacing it", path);
		r = -EEXIST;
		goto fail;
	}
	if (rename(tmp, path) < 0) {
		r = -errno;
		tk_errf(err, errlen, "%s: %s", path, strerror(-r));
		goto fail;
	}
	return 0;
fail:
	(void)unlink(tmp);
	return r;
}

int tk_file_read(const char *what, const char *path, size_t max, int extra, char **ret_buf,
		 size_t *ret_len, struct stat *ret_st, char *err, size_t errlen)
{
	struct stat st;
	size_t cap, len = 0;
	char *buf;
	int fd, r;

	r = tk_file_open_regular(what, path, extra, &fd, &st, err, errlen);
	if (r < 0)
		return r;
	if ((unsigned long long)st.st_size > max) {
		tk_errf(err, errlen, "%s %s is larger than %zu bytes: refused", what, path, max);
		(void)tk_close(fd);
		return -EFBIG;
	}
	/* One byte more than max, so that growth past it is seen. */
	cap = (size_t)st.st_size + 1 < max + 1 ? (size_t)st.st_size + 1 : max + 1;
	buf = malloc(cap + 1);
	if (!buf) {
		(void)tk_close(fd);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *bigger;
			size_t ncap = cap * 2 < max + 1 ? cap * 2 : max + 1;

			if (cap == max + 1) {
				tk_errf(err, errlen, "%s %s grew past %zu bytes while read: refused", what,
					path, max);
				r = -EFBIG;
				goto fail;
			}
			bigger = malloc(ncap + 1);
			if (!bigger) {
				r = -ENOMEM;
				goto fail;
			}
			memcpy(bigger, buf, len);
			tk_wipe(buf, len);
			free(buf);
			buf = bigger;
			cap = ncap;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			tk_errf(err, errlen, "%s %s: read: %s", what, path, strerror(-r));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max) {
		tk_errf(err, errlen, "%s %s grew past %zu bytes while read: refused", what, path, max);
		r = -EFBIG;
		goto fail;
	}
	(void)tk_close(fd);
	buf[len] = '\0';
	*ret_buf = buf;
	*ret_len = len;
	if (ret_st)
		*ret_st = st;
	return 0;
fail:
	(void)tk_close(fd);
	tk_wipe(buf, len);
	free(buf);
	return r;
}

void tk_file_free(char *buf, size_t len)
{
	if (!buf)
		return;
	tk_wipe(buf, len);
	free(buf);
}

int tk_file_trusted(const char *path, const struct stat *st, char *err, size_t errlen)
{
	if (st->st_uid != 0 && st->st_uid != geteuid()) {
		tk_errf(err, errlen, "%s: owned by uid %u, expected root or uid %u", path,
			(unsigned)st->st_uid, (unsigned)geteuid());
		return -EPERM;
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		tk_errf(err, errlen, "%s: writable by group or others (mode %04o)", path,
			(unsigned)(st->st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

/* Contract in file.h.  pread() from offset 0: the descriptor's own offset
 * is left alone and is no business of the sender. */
int tk_file_read_doc(int fd, size_t min, size_t max, char **ret_buf, size_t *ret_len)
{
	struct stat st;
	size_t off = 0;
	char *buf;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size < 0 || (unsigned long long)st.st_size < min ||
	    (unsigned long long)st.st_size > max)
		return -EBADMSG;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	while (off < (size_t)st.st_size) {
		ssize_t n = pread(fd, buf + off, (size_t)st.st_size - off, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(buf);
			return n < 0 ? -errno : -EBADMSG;
		}
		off += (size_t)n;
	}
	buf[off] = '\0';
	*ret_buf = buf;
	*ret_len = off;
	return 0;
}
