/* Reading an ACL file: the checks that keep a planted or tampered file
 * from being trusted, and the size bound, before the bytes go to the
 * parser (acl_parse.c). */
#include "config.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>

#include "common/util.h"
#include "policy/acl_internal.h"

int acl_load_file(const char *path, struct acl **ret_acl, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd = -1, r;

	if (err && errlen > 0)
		err[0] = '\0';
	if (!path || !ret_acl || (!err && errlen > 0)) {
		tk_errf(err, errlen, "acl_load_file: invalid arguments");
		return -EINVAL;
	}
	/* O_NONBLOCK so that a FIFO planted at path cannot hang the open. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		tk_errf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		tk_errf(err, errlen, "%s: fstat: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EPERM;
		tk_errf(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	/* Whoever can write the ACL can grant themselves every key. */
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		r = -EPERM;
		tk_errf(err, errlen, "%s: owned by uid %u, expected root or uid %u", path,
			(unsigned)st.st_uid, (unsigned)geteuid());
		goto out;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		r = -EPERM;
		tk_errf(err, errlen, "%s: writable by group or others (mode %04o)", path,
			(unsigned)(st.st_mode & 07777));
		goto out;
	}
	if (st.st_size > (off_t)ACL_FILE_MAX) {
		r = -EFBIG;
		tk_errf(err, errlen, "%s: larger than %u bytes", path, ACL_FILE_MAX);
		goto out;
	}
	/* The file may grow after fstat(): read at most one byte past the limit. */
	buf = malloc(ACL_FILE_MAX + 1);
	if (!buf) {
		r = -ENOMEM;
		tk_errf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	while (len < ACL_FILE_MAX + 1) {
		ssize_t n = read(fd, buf + len, ACL_FILE_MAX + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			tk_errf(err, errlen, "%s: read: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > ACL_FILE_MAX) {
		r = -EFBIG;
		tk_errf(err, errlen, "%s: larger than %u bytes", path, ACL_FILE_MAX);
		goto out;
	}
	r = acl_load_buffer(path, buf, len, ret_acl, err, errlen);
out:
	free(buf);
	(void)tk_close(fd);
	return r;
}
