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
 * That bounds a socket's close, not every close: closing a file on a FUSE
 * mount waits, uninterruptibly, for its server to answer the flush, and a
 * caller may run that server and never answer.  So once the daemon calls
 * passclose_start(), the accept thread and the workers do not close what
 * a caller passed at all: they hand it to closer threads, which close it
 * under the timer.  A closer held in such a close holds only itself; when
 * more descriptors wait than closers do, another starts (at most
 * PASSCLOSE_THREADS_MAX), and past that the descriptors wait in a queue
 * that grows as needed (each entry is a descriptor still open, which the
 * open file limit bounds).  AF_INET and AF_INET6 sockets are closed on the
 * spot, under the timer: they carry no descriptors and live on no file
 * system.
 *
 * SO_LINGER is set here, just before the close, and not at admission:
 * whatever the caller set in between is overridden by the last setting,
 * which is what close() obeys. */
#ifndef TLSKEY_KEYD_PASSCLOSE_H
#define TLSKEY_KEYD_PASSCLOSE_H

/* How long one close may wait before it is interrupted. */
#define PASSCLOSE_MAX_MS 100

/* Closer threads at most (another starts when more descriptors wait than
 * closers do). */
#define PASSCLOSE_THREADS_MAX 16

/* Start the first closer thread: from now on passclose_linger() and what
 * calls it hand descriptors to the closers and return at once.  0 or a
 * negative errno (then every close stays on the caller's thread). */
int passclose_start(void);

/* Closes stay on the caller's thread again (tests); the closers stay. */
void passclose_stop(void);

/* Around a fork() whose child would close what is queued (an upgrade's:
 * its _exit() flushes a FUSE file as any close does, and holds the
 * parent's waitpid()): 0 with the queue locked, so that nothing joins it
 * until passclose_fork_end(); or the number of descriptors waiting, the
 * queue not locked (do not fork now). */
int passclose_fork_begin(void);
void passclose_fork_end(void);

/* What passclose_linger() sets SO_LINGER to before it closes. */
enum passclose_linger {
	PASSCLOSE_AS_IS = -1,	/* leave it as the caller set it (tests) */
	PASSCLOSE_ORDERLY = 0,	/* {0, 0}: FIN, close() returns at once */
	PASSCLOSE_RESET = 1,	/* {1, 0}: RST, close() returns at once */
};

/* Set SO_LINGER as `linger` says (errors ignored: fd need not be a socket),
 * then close fd (any descriptor; < 0 is ignored): on a closer thread once
 * passclose_start() ran, unless it is an AF_INET/AF_INET6 socket (fd is
 * then open a moment longer: it must be out of every epoll set already),
 * else here within about PASSCLOSE_MAX_MS.
 * Safe on any thread; the first close on a thread creates that thread's
 * timer.  Returns -1, for `fd = passclose(fd)`. */
int passclose_linger(int fd, enum passclose_linger linger);

/* passclose_linger(fd, PASSCLOSE_ORDERLY). */
int passclose(int fd);

/* The same, but on this thread, under its timer, whatever
 * passclose_start() said: only for a socket of the daemon's own (a
 * control connection it accepted) or one checked to be TCP or UDP (a
 * session's network socket), whose close the timer does bound: neither
 * carries descriptors nor lives on a FUSE mount.  The hot path's closes,
 * which then cost no hand-off to a closer.  Returns -1. */
int passclose_here(int fd, enum passclose_linger linger);

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
 * to max messages, stopping once max descriptors are closed.  1 when it
 * reached the end of what was queued, 0 when it stopped at a bound. */
int passclose_drain(int sock, unsigned max);

/* Close a control socket of ours (the daemon's end of a client's
 * connection).  A close() releases the descriptors still queued in it on
 * the closing thread, and one of them may be a socket that lingers; so:
 * shut it (nothing new can arrive), take what is queued through
 * passclose_drain(), then close it under the timer when the drain emptied
 * it, or hand it to the closer threads when the client queued more than
 * PASSCLOSE_DRAIN_MAX messages or descriptors.  fd < 0 is ignored;
 * returns -1. */
int passclose_ctl(int fd);

/* Release the calling thread's timer (at thread exit; idempotent). */
void passclose_thread_done(void);

#endif
