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
 * temporary file in the same directory, then renamed over path, so
 * readers see the old contents or the new, never a part.  Refuses
 * (-EEXIST, with a message in err) when path exists and is anything but a
 * regular file -- a device, a FIFO, a socket, a directory or a symbolic
 * link (lstat): rename() would replace that node, and a root process
 * replacing /dev/null breaks the host.  Returns 0 or a negative errno. */
int tk_file_replace(const char *path, const void *data, size_t len, char *err, size_t errlen);

#endif
