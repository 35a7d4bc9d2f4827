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

/* Most descriptors one SCM_RIGHTS message can carry (the kernel's
 * SCM_MAX_FD): a receive buffer this size is never cut (MSG_CTRUNC), and
 * a cut would make the kernel close the rest on the receiving thread. */
#define PASSCLOSE_MSG_FDS 253

/* Messages, and descriptors, passclose_ctl() takes out of a socket before
 * it leaves the rest to one close under the timer: a bound on the work a
 * client can queue for the thread that closes its connection. */
#define PASSCLOSE_DRAIN_MAX 256

/* Take messages waiting in sock (a UNIX socket of ours), without waiting,
 * and close every descriptor that came with them through passclose(); up
 * to max messages, stopping once max descriptors are closed. */
void passclose_drain(int sock, unsigned max);

/* Close a control socket of ours (the daemon's end of a client's
 * connection).  A close() releases the descriptors still queued in it on
 * the closing thread, and one of them may be a socket that lingers; so:
 * shut it (nothing new can arrive), take what is queued through
 * passclose_drain(), then close it under the timer (a drain stops at an
 * empty message or after PASSCLOSE_DRAIN_MAX; whatever it left is released
 * by that close, which the timer bounds).  fd < 0 is ignored; returns -1. */
int passclose_ctl(int fd);

/* Release the calling thread's timer (at thread exit; idempotent). */
void passclose_thread_done(void);

#endif
