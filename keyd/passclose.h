/* Closing descriptors that a caller passed us, in bounded time.
 *
 * A caller shares the file description it passes: it can set SO_LINGER
 * {1, 3600} through its own copy at any moment, and if its copy is gone
 * by the time we close ours, our close() is the last reference and waits
 * up to an hour for unsent data.  Setting SO_LINGER ourselves first leaves
 * a race (the caller sets it again between our setsockopt and our close),
 * so the close itself is bounded: a thread-directed timer signal (with a
 * handler that does nothing, installed without SA_RESTART) interrupts a
 * close that waits, and the kernel releases the descriptor either way.
 * The same covers any other close that can block on something a caller
 * chose (a file on a FUSE mount passed as "the socket").
 *
 * SO_LINGER is set here, just before the close, and not at admission:
 * whatever the caller set in between is overridden by the last setting,
 * which is what close() obeys. */
#ifndef TLSKEY_KEYD_PASSCLOSE_H
#define TLSKEY_KEYD_PASSCLOSE_H

/* How long one close may wait before it is interrupted. */
#define PASSCLOSE_MAX_MS 100

/* What passclose_linger() sets SO_LINGER to before it closes. */
enum passclose_linger {
	PASSCLOSE_AS_IS = -1,	/* leave it as the caller set it (tests) */
	PASSCLOSE_ORDERLY = 0,	/* {0, 0}: FIN, close() returns at once */
	PASSCLOSE_RESET = 1,	/* {1, 0}: RST, close() returns at once */
};

/* Set SO_LINGER as `linger` says (errors ignored: fd need not be a socket),
 * then close fd (any descriptor; < 0 is ignored) within about
 * PASSCLOSE_MAX_MS.  Safe on any thread; the first call on a thread
 * creates that thread's timer.  Returns -1, for `fd = passclose(fd)`. */
int passclose_linger(int fd, enum passclose_linger linger);

/* passclose_linger(fd, PASSCLOSE_ORDERLY). */
int passclose(int fd);

/* Release the calling thread's timer (at thread exit; idempotent). */
void passclose_thread_done(void);

#endif
