/* tlskey-tunnel's connection, shared by conn.c (its life: start,
 * handshake, backend or child, the one log line, the end) and relay.c (the
 * bytes between its two sides).  Internal to the program. */
#ifndef TLSKEY_TUNNEL_CONN_H
#define TLSKEY_TUNNEL_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "tools/tunnel/tunnel.h"

/* Side 0 is the descriptor towards tlskeyd, side 1 the plaintext one
 * (conn.c says what each holds when). */
#define SIDE_TLS 0
#define SIDE_PLAIN 1
#define RELAY_BUF (16u * 1024u)

enum conn_state {
	CS_CONNECTING = 1,
	CS_HANDSHAKE,
	CS_RELAY,
	CS_CHILD,
	CS_DEAD,
};

struct relay_buf {
	uint8_t *data; /* RELAY_BUF bytes, allocated when the relay starts */
	size_t off, len;
};

struct tunnel_conn {
	struct tunnel_conn *prev, *next;
	struct tunnel *t;
	unsigned long id;
	int state; /* enum conn_state */
	struct tunnel_ep ep[2];
	struct relay_buf buf[2]; /* buf[i]: read from side i, to be written to side 1 - i */
	int rd_eof[2];           /* read EOF on side i */
	int wr_shut[2];          /* shutdown(SHUT_WR) done on side i */
	uint64_t bytes[2];       /* payload bytes delivered from side i to the other side */
	size_t hdr_left;         /* PROXY header bytes at the head of buf[SIDE_TLS] */
	uint64_t start_ms, deadline_ms;
	uint64_t active_ms; /* relaying: when data last moved (the idle timer's start) */
	pid_t child;
	struct sockaddr_storage remote, local;
	socklen_t remote_len, local_len;
	char remote_text[TUNNEL_ADDR_TEXT_MAX];
	char peer[TUNNEL_PEER_MAX];
	char sni_refused[TUNNEL_NAME_MAX + 1]; /* the name --sni-allow refused */
	/* The start asked tlskeyd to consult us about the server name: the
	 * finish must answer (tlskey_finish_sni_ctx), whatever a SIGHUP in
	 * between made of --sni-allow. */
	int checksni;
	/* --myname as it was when the connection was accepted: a SIGHUP
	 * that changes it does not rename connections already under way. */
	char myname[TUNNEL_NAME_MAX + 1];
	int myname_list; /* myname is a list: tlskey_query() says which one was used */
	char local_id[TUNNEL_NAME_MAX + 1]; /* the identity a --myname list picked, "" if not asked */
	struct tunnel_source_key src; /* counted in t->sources when src_counted */
	int src_counted;
};

/* End the connection: its one log line, both sides closed, moved to the
 * dead list (freed by tunnel_conn_reap()).  Closing the protected
 * descriptor makes tlskeyd send close_notify; after an error both sides
 * are reset instead (a TCP reset; tlskeyd then ends the peer's connection
 * without close_notify).  `err` is a positive errno or 0, `why` the
 * daemon's explanation or NULL.
 * Idempotent: a connection already ended stays as it was. */
void tunnel_conn_end(struct tunnel_conn *c, const char *end, int err, const char *why);

/* tunnel_conn_end() with each side's close chosen: reset_tls, reset_plain. */
void tunnel_conn_end_sides(struct tunnel_conn *c, const char *end, int err, const char *why, int reset_tls,
			   int reset_plain);

/* Both sides are ready: allocate the buffers (and in server mode with
 * --proxy-v2 put the header first) and start relaying.  Ends c on error. */
void tunnel_relay_start(struct tunnel_conn *c);

/* The idle timer of a relaying connection again, from when data last
 * moved and the idle-timeout now in force (after a SIGHUP). */
void tunnel_relay_rearm(struct tunnel_conn *c);

/* An epoll event on side `side` of a relaying connection. */
void tunnel_relay_event(struct tunnel_conn *c, int side, uint32_t events);

/* Is nothing owed in either direction?  Only then may a close at shutdown
 * be clean: the stream towards the TLS peer has ended (EOF from the
 * plaintext side forwarded, so its close_notify is already on the way) and
 * nothing read from the peer waits for the plaintext side.  Anything else
 * closed cleanly would give the peer close_notify after a stream cut in
 * the middle, which it takes for the whole of it. */
int tunnel_relay_finished(const struct tunnel_conn *c);

#endif
