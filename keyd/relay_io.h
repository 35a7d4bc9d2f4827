/* The relay's network I/O (keyd/relay_io.c): read ahead and batched sends
 * through per-worker buffers, so that a bulk transfer costs a few system
 * calls per 64 KiB instead of two or three per 16 KiB record. */
#ifndef TLSKEY_KEYD_RELAY_IO_H
#define TLSKEY_KEYD_RELAY_IO_H

#include <stddef.h>
#include <stdint.h>

struct conn;

/* Plaintext moved per system call on the application's side. */
#define RELAY_IO_PLAIN_CAP (64 * 1024)
/* Ciphertext read from the peer per recv(). */
#define RELAY_IO_RX_CAP (64 * 1024)
/* Records encrypted from one plaintext chunk: 4 full records plus their
 * headers, tags and content types, with room to spare. */
#define RELAY_IO_TX_CAP (4 * (16 * 1024 + 256) + 1024)
/* The worker's scratch area: plaintext, then rx, then tx. */
#define RELAY_IO_SCRATCH_SIZE (RELAY_IO_PLAIN_CAP + 256 + RELAY_IO_RX_CAP + RELAY_IO_TX_CAP)

/* Per-worker state of the shared buffers.  A buffer holds one conn's bytes
 * only between relay_io_*_begin and relay_io_*_end for that conn. */
struct relay_io {
	const struct conn *rx_owner, *tx_owner;
	size_t rx_off, rx_len, tx_len;
	int rx_hold; /* serve buffered bytes only: no new recv() */
};

/* Switch c's GnuTLS transport (TLS over a stream, from the handshake's
 * first read on: transport_attach()) to the relay's pull and push
 * functions below.  DTLS and cleartext sessions keep theirs. */
void relay_io_attach(struct conn *c);

/* Reading TLS records for c may start: the worker's rx buffer is c's until
 * relay_io_rx_end(). */
void relay_io_rx_begin(struct conn *c);
/* hold != 0: from now on pull serves what is buffered and then says
 * EAGAIN instead of reading the socket again (the event budget is spent;
 * level-triggered epoll calls us back for the rest). */
void relay_io_rx_hold(struct conn *c, int hold);
/* Bytes read from the peer that GnuTLS has not taken yet: whether there
 * are any, and how many. */
int relay_io_rx_buffered(const struct conn *c);
size_t relay_io_rx_left(const struct conn *c);
/* End of reading for now.  keep != 0: bytes GnuTLS has not taken move to
 * c's own stash (c->from_net), served first next time; otherwise they are
 * dropped.  Returns 0, or -ENOMEM (nothing kept; the caller aborts). */
int relay_io_rx_end(struct conn *c, int keep);

/* Encrypted records for c collect in the worker's tx buffer from now on,
 * until relay_io_tx_flush()/relay_io_tx_end(). */
void relay_io_tx_begin(struct conn *c);
/* Send what collected, in one sendmsg(); what the peer does not take now
 * moves to c->to_net.  Returns 0 or a negative errno (peer gone). */
int relay_io_tx_flush(struct conn *c);
/* relay_io_tx_flush() and give the buffer back.  keep == 0 drops what
 * collected (the conn is closed).  Returns like relay_io_tx_flush(). */
int relay_io_tx_end(struct conn *c, int keep);

/* Send c->to_net (bytes owed to the peer; freed once all are sent).
 * Returns 0 (c->to_net NULL when all went) or a negative errno. */
int relay_io_net_flush(struct conn *c);
/* Append len bytes to c->to_net, within a bound (-ENOBUFS beyond it: a
 * peer that does not read cannot make the stash grow).  0 or -errno. */
int relay_io_stash(struct conn *c, const uint8_t *buf, size_t len);

#endif
