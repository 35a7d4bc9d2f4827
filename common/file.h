/* Opening files the daemon and tools read, and replacing small files they
 * write, without being fooled by what a path names (FIFOs, devices). */
#ifndef TLSKEY_COMMON_FILE_H
#define TLSKEY_COMMON_FILE_H

#include <stddef.h>
#include <sys/stat.h>

/* Open path for reading and make sure it is a regular file.  The open
 * never blocks (O_NONBLOCK: a FIFO or a device at the path would otherwise
 * hang the caller, and with it start-up and SIGTERM), never becomes a
 * controlling terminal and is O_CLOEXEC; `extra` adds open flags (e.g.
 * O_NOFOLLOW).  O_NONBLOCK is cleared again: reads of regular files do
 * not block anyway.  On success *ret_fd (owned by the caller) and, if
 * ret_st is not NULL, *ret_st are written and 0 is returned.  On failure
 * writes "WHAT PATH: reason" to err and returns a negative errno: the
 * open's, or -EINVAL for "not a regular file". */
int tk_file_open_regular(const char *what, const char *path, int extra, int *ret_fd,
			 struct stat *ret_st, char *err, size_t errlen);

/* Replace the regular file at path with len bytes of data: written to a
 * temporary file in the same directory and fsync()ed, then renamed over
 * path (the directory fsync()ed too), so readers, and the file after a
 * crash, see the old contents or the new, never a part.  Refuses
 * (-EEXIST, with a message in err) when path exists and is anything but a
 * regular file -- a device, a FIFO, a socket, a directory or a symbolic
 * link (lstat): rename() would replace that node, and a root process
 * replacing /dev/null breaks the host.  Returns 0 or a negative errno. */
int tk_file_replace(const char *path, const void *data, size_t len, char *err, size_t errlen);

/* Read a whole regular file of at most max bytes into a new buffer, NUL
 * terminated (not counted in *ret_len), opened as tk_file_open_regular()
 * does (`extra`: e.g. O_NOFOLLOW).  The file is read to its end, not to
 * the size fstat() gave: one that is larger than max, or grows past it
 * while it is read, is refused (-EFBIG), never silently cut.  On success
 * writes *ret_buf (free with tk_file_free), *ret_len and, if ret_st is not
 * NULL, *ret_st (as opened) and returns 0; on failure writes "WHAT PATH:
 * reason" to err and returns a negative errno. */
int tk_file_read(const char *what, const char *path, size_t max, int extra, char **ret_buf,
		 size_t *ret_len, struct stat *ret_st, char *err, size_t errlen);

/* tk_file_read() with judge(path, st, err, errlen) between the open and
 * the first read (st: the opened file's fstat()): a file it refuses is
 * never read, since a read of a regular file can block too (one on FUSE,
 * /proc/kmsg).  Its negative errno is returned and its message left in err. */
typedef int (*tk_file_judge)(const char *path, const struct stat *st, char *err, size_t errlen);
int tk_file_read_judged(const char *what, const char *path, size_t max, int extra, tk_file_judge judge,
			char **ret_buf, size_t *ret_len, struct stat *ret_st, char *err, size_t errlen);

/* May the daemon trust what the file at path says (st: its fstat() or
 * stat())?  Only if root or the effective uid owns it and neither group
 * nor others may write it: whoever can write the ACL, tlskeyd.conf (it
 * names the PKCS#11 module to load), a CA file or the module itself can
 * take over every key.  The same holds for every directory that holds a
 * name on the way to it, path followed name by name (links, and links to
 * links, included), but a sticky one such as /tmp, where a link must be
 * root's or ours: whoever may write such a directory may rename another
 * file over it (an older CRL, say) or repoint a link.  Returns 0, or
 * -EPERM (another negative errno if a directory cannot be examined) with
 * "PATH: reason" in err. */
int tk_file_trusted(const char *path, const struct stat *st, char *err, size_t errlen);

/* Read a document the daemon answered with (a sealed memfd passed as
 * fd, or any regular file) into a new buffer, NUL terminated (not counted
 * in *ret_len; free with free()).  Its size, by fstat(), must lie in
 * [min, max], checked before allocation; it is read to that size, and a
 * file that ends short is refused.  Returns 0, or -EBADMSG (no regular
 * file, size out of bounds, short), -ENOMEM or another negative errno.
 * Does not close fd. */
int tk_file_read_doc(int fd, size_t min, size_t max, char **ret_buf, size_t *ret_len);

/* Wipe (the file may hold a secret) and free a buffer of tk_file_read(). */
void tk_file_free(char *buf, size_t len);

#endif
