/* Reading an ACL file: the checks that keep a planted or tampered file
 * from being trusted, and the size bound, before the bytes go to the
 * parser (acl_parse.c).  The reading itself is tk_file_read()'s. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"
#include "common/util.h"
#include "policy/acl_internal.h"

int acl_load_file(const char *path, struct acl **ret_acl, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int r;

	if (err && errlen > 0)
		err[0] = '\0';
	if (!path || !ret_acl || (!err && errlen > 0)) {
		tk_errf(err, errlen, "acl_load_file: invalid arguments");
		return -EINVAL;
	}
	/* Never blocks on a FIFO planted at path; a file over ACL_FILE_MAX,
	 * or one that grows past it while read, is refused (-EFBIG). */
	/* Whoever can write the ACL can grant themselves every key: judged
	 * as opened (st is its fstat()), before it is read. */
	r = tk_file_read_judged("ACL file", path, ACL_FILE_MAX, 0, tk_file_trusted, &buf, &len, &st, err,
				errlen);
	if (r == -EINVAL)
		return -EPERM; /* not a regular file: acl.h promises -EPERM */
	if (r == -ENOMEM)
		tk_errf(err, errlen, "%s: out of memory", path);
	if (r < 0)
		return r;
	r = acl_load_buffer(path, buf, len, ret_acl, err, errlen);
	tk_file_free(buf, len);
	return r;
}
