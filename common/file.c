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

/* The rename itself on disk: fsync() of path's directory (best effort:
 * the new contents are in place either way). */
static void dir_sync(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd;

	if (!slash)
		(void)snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		(void)snprintf(dir, sizeof(dir), "/");
	else if ((size_t)(slash - path) < sizeof(dir))
		(void)snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	else
		return;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		(void)close(fd);
	}
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
	/* On disk before the name moves: after a crash the path holds the
	 * old contents or the new, not an empty file. */
	if (r == 0 && fsync(fd) < 0)
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
	dir_sync(path);
	return 0;
fail:
	(void)unlink(tmp);
	return r;
}

int tk_file_read(const char *what, const char *path, size_t max, int extra, char **ret_buf,
		 size_t *ret_len, struct stat *ret_st, char *err, size_t errlen)
{
	return tk_file_read_judged(what, path, max, extra, NULL, ret_buf, ret_len, ret_st, err, errlen);
}

int tk_file_read_judged(const char *what, const char *path, size_t max, int extra, tk_file_judge judge,
			char **ret_buf, size_t *ret_len, struct stat *ret_st, char *err, size_t errlen)
{
	struct stat st;
	size_t cap, len = 0;
	char *buf;
	int fd, r;

	r = tk_file_open_regular(what, path, extra, &fd, &st, err, errlen);
	if (r < 0)
		return r;
	if (judge && (r = judge(path, &st, err, errlen)) < 0) {
		(void)tk_close(fd);
		return r;
	}
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

/* May dir (its lstat() in st), which holds a name on the way to path, be
 * trusted with it: owned by root or us, and writable by nobody else, but
 * for a sticky one (/tmp), where others may add names but not take ours
 * away or rename over them. */
static int dir_ok(const char *path, const char *dir, const struct stat *st, char *err, size_t errlen)
{
	if (!S_ISDIR(st->st_mode)) {
		tk_errf(err, errlen, "%s: %s is not a directory", path, dir);
		return -ENOTDIR;
	}
	if (st->st_uid != 0 && st->st_uid != geteuid()) {
		tk_errf(err, errlen, "%s: its directory %s is owned by uid %u, expected root or uid %u", path,
			dir, (unsigned)st->st_uid, (unsigned)geteuid());
		return -EPERM;
	}
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) && !(st->st_mode & S_ISVTX)) {
		tk_errf(err, errlen, "%s: its directory %s is writable by group or others (mode %04o): "
			"they could put another file in its place", path, dir, (unsigned)(st->st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

/* dir (no symbolic links in it) and every directory above it. */
static int dirs_trusted(const char *path, const char *real, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	size_t len = strlen(real);

	if (len >= sizeof(dir)) {
		tk_errf(err, errlen, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	memcpy(dir, real, len + 1);
	for (;;) {
		struct stat st;
		char *slash;
		int r;

		if (lstat(dir, &st) < 0) {
			r = -errno;
			tk_errf(err, errlen, "%s: directory %s: %s", path, dir, strerror(-r));
			return r;
		}
		r = dir_ok(path, dir, &st, err, errlen);
		if (r < 0 || !strcmp(dir, "/"))
			return r;
		slash = strrchr(dir, '/');
		if (!slash)
			return 0;
		if (slash == dir)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
}

#define PATH_LINKS_MAX 40 /* as the kernel's MAXSYMLINKS */

/* 0 if a is the file want describes, else -EAGAIN: it was swapped. */
static int same_file(const char *path, const struct stat *a, const struct stat *want, char *err,
		     size_t errlen)
{
	if (a->st_dev == want->st_dev && a->st_ino == want->st_ino)
		return 0;
	tk_errf(err, errlen, "%s: changed while it was checked", path);
	return -EAGAIN;
}

/* path resolved name by name, as the kernel does: every directory that
 * holds a name on the way (above the file, above each symbolic link, a
 * link to a link included) must pass dir_ok(), and a link that lies in a
 * sticky directory must be ours or root's (another user could replace
 * it there).  What path finally names is judged by the caller from want
 * (its stat() of what it opened): the walk must end on that file. */
static int path_dirs_trusted(const char *path, const struct stat *want, char *err, size_t errlen)
{
	char cur[PATH_MAX], rest[PATH_MAX], next[PATH_MAX], target[PATH_MAX];
	struct stat cur_st, st;
	unsigned links = 0;
	size_t plen = strlen(path);
	int r;

	if (plen == 0 || plen >= sizeof(rest)) {
		tk_errf(err, errlen, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	if (path[0] == '/')
		(void)snprintf(cur, sizeof(cur), "/");
	else if (!getcwd(cur, sizeof(cur))) {
		r = -errno;
		tk_errf(err, errlen, "%s: the working directory: %s", path, strerror(-r));
		return r;
	}
	r = dirs_trusted(path, cur, err, errlen);
	if (r < 0)
		return r;
	if (lstat(cur, &cur_st) < 0) {
		r = -errno;
		tk_errf(err, errlen, "%s: directory %s: %s", path, cur, strerror(-r));
		return r;
	}
	memcpy(rest, path, plen + 1);
	for (;;) {
		char *p = rest, *comp, *after;
		size_t clen, curlen;

		while (*p == '/')
			p++;
		if (!*p) /* ended on a directory (a trailing slash, "." or "..") */
			return same_file(path, &cur_st, want, err, errlen);
		comp = p;
		while (*p && *p != '/')
			p++;
		clen = (size_t)(p - comp);
		after = p;
		while (*after == '/')
			after++;
		if (clen == 1 && comp[0] == '.') {
			memmove(rest, after, strlen(after) + 1);
			continue;
		}
		curlen = strlen(cur);
		if (clen == 2 && comp[0] == '.' && comp[1] == '.') {
			char *slash = strrchr(cur, '/');

			if (slash == cur)
				cur[1] = '\0';
			else if (slash)
				*slash = '\0';
			memmove(rest, after, strlen(after) + 1);
			if (lstat(cur, &cur_st) < 0) {
				r = -errno;
				tk_errf(err, errlen, "%s: directory %s: %s", path, cur, strerror(-r));
				return r;
			}
			continue;
		}
		if ((size_t)snprintf(next, sizeof(next), "%s%s%.*s", cur, curlen > 1 ? "/" : "", (int)clen,
				     comp) >= sizeof(next)) {
			tk_errf(err, errlen, "%s: path too long", path);
			return -ENAMETOOLONG;
		}
		if (lstat(next, &st) < 0) {
			r = -errno;
			tk_errf(err, errlen, "%s: %s: %s", path, next, strerror(-r));
			return r;
		}
		if (S_ISLNK(st.st_mode)) {
			ssize_t n;

			if (++links > PATH_LINKS_MAX) {
				tk_errf(err, errlen, "%s: too many symbolic links", path);
				return -ELOOP;
			}
			if ((cur_st.st_mode & S_ISVTX) && st.st_uid != 0 && st.st_uid != geteuid()) {
				tk_errf(err, errlen, "%s: the symbolic link %s in the sticky directory %s is owned "
					"by uid %u, expected root or uid %u", path, next, cur,
					(unsigned)st.st_uid, (unsigned)geteuid());
				return -EPERM;
			}
			n = readlink(next, target, sizeof(target));
			if (n < 0 || (size_t)n >= sizeof(target)) {
				r = n < 0 ? -errno : -ENAMETOOLONG;
				tk_errf(err, errlen, "%s: %s: %s", path, next, strerror(-r));
				return r;
			}
			target[n] = '\0';
			/* The link's target takes its place in what is left. */
			if ((size_t)snprintf(next, sizeof(next), "%s%s%s", target, *after ? "/" : "", after) >=
			    sizeof(next)) {
				tk_errf(err, errlen, "%s: path too long", path);
				return -ENAMETOOLONG;
			}
			memcpy(rest, next, strlen(next) + 1);
			if (target[0] == '/') {
				(void)snprintf(cur, sizeof(cur), "/");
				if (lstat(cur, &cur_st) < 0)
					return -errno;
			}
			continue;
		}
		/* The name itself: the caller judged what it opened, and this
		 * must be that (the name could have been swapped since). */
		if (!*after)
			return same_file(path, &st, want, err, errlen);
		r = dir_ok(path, next, &st, err, errlen);
		if (r < 0)
			return r;
		memcpy(cur, next, strlen(next) + 1);
		cur_st = st;
		memmove(rest, after, strlen(after) + 1);
	}
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
	return path_dirs_trusted(path, st, err, errlen);
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
