/* Connection lifecycle (keyd/conn.c) and the types of one connection.
 *
 * The ownership rule: a handler never frees the conn it was given.  It
 * ends it with conn_close(), which releases every resource at once and is
 * idempotent; the memory stays valid (c->dead set) until the worker frees
 * it after the current event batch.  Entry points that may end a conn
 * return enum conn_status, which the compiler makes callers check. */
#ifndef TLSKEY_KEYD_CONN_H
#define TLSKEY_KEYD_CONN_H

#include <stdint.h>
#include <sys/socket.h>
#include <gnutls/gnutls.h>

#include "common/wire.h"
#include "keyd/caller.h"
#include "keyd/keyd.h"
#include "keyd/registry.h"
#include "keyd/stats.h"

struct worker;
struct worker_keyset;
struct ctlconn;
struct dane_answer;

/* What an entry point left of the conn it was given.  CONN_CLOSED: it was
 * closed (conn_close); its memory lives until the end of the batch, but
 * nothing may be done with it any more. */
enum conn_status { CONN_LIVE = 0, CONN_CLOSED };
#define CONN_MUST_CHECK __attribute__((warn_unused_result))

/* What an epoll event refers to: one of a conn's descriptors. */
enum ev_kind { EV_NET = 1, EV_APP, EV_CTL, EV_IDLE /* a parked control connection (ctlconn.h) */ };
struct ev {
	uint8_t kind;
	uint32_t mask; /* events currently registered, 0 = not registered */
	int fd;
};

/* CONN_DRAIN: the network side failed; what the app has not read yet
 * drains before its descriptor is reset (appsock.c). */
enum conn_state { CONN_HANDSHAKE = 1, CONN_RELAY, CONN_DRAIN };
enum sni_state { SNI_NONE = 0, SNI_ASKED, SNI_ACCEPTED, SNI_REFUSED };

/* The fields of a START request kept for the life of a session (a full
 * struct tk_msg is ~10 KiB: too much per idle session). */
struct keyd_start {
	uint32_t present; /* as in struct tk_msg, for TK_HAS() */
	uint8_t role, proto, checksni, allow_hs_timeout;
	uint32_t flags, peername_max, timeout_ms;
	char myname[TK_NAME_MAX + 1];
	char sniname[TK_NAME_MAX + 1];
	uint8_t alpn_strict;
	uint16_t alpn_len;
	uint8_t alpn[TK_ALPN_LIST_MAX]; /* as in struct tk_msg, checked on decode */
};

/* A request admitted by the accept loop and handed to a worker.  Every
 * field is immutable after admission. */
struct keyd_request {
	struct keyd_start msg;
	struct ucred cred;
	struct keyd_gen *gen; /* reference held for the life of the request and its conn */
	const struct keyd_identity *id; /* refers into gen->conf */
	size_t id_index;
	/* A list or pattern myname (vhost.c), else NULL; owned.  Until its
	 * pick, id and decision are a stand-in candidate and msg.myname the
	 * list; vhost_pick() sets them to the identity the ClientHello
	 * chose, on the worker, before any key or peer is looked at: the
	 * only fields written after admission.  Freed once the session is
	 * established (deliver() in handshake.c) or closed. */
	struct vhost_set *vhost;
	struct acl *acl; /* reference held for the life of the request */
	struct acl_decision decision; /* why it was admitted; refers into acl */
	unsigned long long t_start_ms;
	char unit[256]; /* caller's systemd unit, "" if unknown */
	unsigned acl_gen; /* generation of acl, for cache keys */
	char remote[64];  /* the network peer, "address:port" ("[v6]:port"), for audit records */
	struct keyd_subject subj; /* the caller, for re-evaluation (reeval.c) */
};

/* One TLS connection, owned by exactly one worker thread. */
struct conn {
	struct conn *next, *prev; /* worker's list */
	struct conn *tnext, *tprev; /* worker's list of conns with timers */
	int timed;                  /* on that list: handshake or drain */
	struct worker *w;
	enum conn_state state;
	struct keyd_request req;
	struct worker_keyset *ks; /* this worker's keys of req.gen, during the handshake only */
	/* ctl's epoll registration may still name c->cc's ev (cc->owner == c,
	 * ctlconn.h): change it only through conn_ev_update(), which takes it
	 * over, never with epoll_ctl() directly. */
	struct ev net, app, ctl;
	gnutls_session_t tls;
	/* Handshake timer; drain limit (CONN_DRAIN); close timer (CONN_RELAY
	 * once the app has shut down its side, see relay.c). */
	unsigned long long deadline_ms;
	unsigned long long retransmit_ms; /* DTLS: resend the flight at this time, 0 none */
	int dtls;
	enum sni_state sni;
	int dead; /* freed at the end of the current event batch */
	char peer[TK_ID_MAX + 1];
	long long sign_us; /* token time spent on this handshake, -1 none */
	int waiting_hello;  /* allow-handshake-timeout: no byte from the peer yet */
	int cookie_wait;    /* DTLS server: no ClientHello with our cookie yet */
	unsigned cookies_sent; /* HelloVerifyRequests sent meanwhile */
	int failed;         /* ended by a TLS or network error */
	int hs_slot;        /* holds a handshake slot: see conn_handshake_done() */
	char mapped_user[TK_SHORT_MAX + 1];
	char alpn[TK_ALPN_ID_MAX + 1]; /* negotiated ALPN id, "" for none */
	struct session_info *info; /* published for tlskey_query() */
	unsigned verify_status;    /* gnutls_certificate_status_t of a failed validation */
	const char *reason;        /* audit reason of a refusal or end ("revoked"), static, or NULL */
	int cache_hit;             /* peer, mapped_user came from the validation cache */
	int pinned;                /* peer accepted by a configured pin, not a CA */
	int resumed;               /* the handshake resumed a session (tickets.c) */
	int resume_save;           /* client role: keep the server's ticket under resume_key */
	uint8_t resume_key[32];
	uint8_t cache_key[32];
	/* DANE, client role (dane.c): the TLSA answer the peer's chain must
	 * match (NULL: PKIX only), the lookup the conn waits for (0: none),
	 * the usage that matched + 1 (0: none), why it did not (a static
	 * sentence). */
	struct dane_answer *dane;
	unsigned long long dane_serial;
	int dane_usage;
	const char *dane_why;
	/* Online OCSP (ocsp_online.c): the fetch the conn waits for (0:
	 * none), the "established" detail kept meanwhile (malloc), the cache
	 * entry a live session holds (ocsp_held) so that a refresh can end it. */
	unsigned long long ocsp_serial;
	char *ocsp_detail;
	int ocsp_held;
	uint8_t ocsp_key[32];

	/* Relay state. */
	unsigned app_eof : 1;     /* app shut down its write side */
	unsigned net_eof : 1;     /* peer sent close_notify */
	unsigned bye_pending : 1; /* close_notify not fully sent yet */
	unsigned bye_done : 1;
	unsigned send_pending : 1; /* gnutls_record_send returned EAGAIN (GnuTLS holds a record) */
	unsigned app_tcp : 1;      /* protected descriptor is loopback TCP: can be reset */
	unsigned app_hup : 1;      /* the app shut down or closed its end (RDHUP/HUP seen) */
	unsigned net_reset : 1;    /* close the network socket with a reset, not a FIN */
	unsigned established : 1;  /* delivered: conn_close() writes the session-end record */
	unsigned ku_pending : 1;   /* a KeyUpdate is due or half sent (keyupdate.c) */
	unsigned stop_asked : 1;   /* tlskey_control(CLOSE_NOTIFY): end at the app's EAGAIN */
	unsigned ku_asked : 1;     /* tlskey_control(KEY_UPDATE) waiting for KU_MIN_GAP_MS */
	unsigned long long ku_bytes;   /* plaintext moved since the last KeyUpdate */
	unsigned long long ku_last_ms; /* when the last KeyUpdate went out (or the relay began) */
	unsigned long long ku_sent_ms; /* when the last KeyUpdate went out, 0 none yet */
	int end;                   /* enum stats_end + 1 of how it ends, 0 not known yet */
	unsigned long long t_estab_ms;
	unsigned long long bytes_in, bytes_out; /* plaintext from / to the peer */
	unsigned long long hs_bytes_in;         /* bytes received from the peer (TLS records) */
	unsigned long long data_mark;           /* hs_bytes_in when the peer's records last
						 * carried data (or the relay began) */
	int app_out;               /* the caller's end of it until delivery, or -1 */
	struct ctlconn *cc;        /* who is on ctl, kept for its next request (ctlconn.h), or NULL */
	int keep_ctl;              /* the RESULT said ctl stays open: parked after delivery */
	uint8_t *to_app;          /* decrypted bytes the app has not taken */
	size_t to_app_len, to_app_off;
	uint8_t *to_net;          /* bytes owed to the peer it has not taken (relay_io.c) */
	size_t to_net_len, to_net_off;
	uint8_t *from_net;        /* read ahead from the peer, GnuTLS has not taken (relay_io.c) */
	size_t from_net_len, from_net_off;
};

/* End c: release its descriptors (epoll registrations first), TLS
 * session, buffers, registry entry (marked failed if err != 0), ACL and
 * generation references, handshake slot, session count and timer; put it on the
 * worker's grave list.  err (a positive errno, 0 for an orderly end) and
 * why are for the debug log; the caller sends results and audit records
 * itself.  Idempotent: a closed conn is left alone.  NULL ok.  Always
 * returns CONN_CLOSED, so that handlers can "return conn_close(...)". */
enum conn_status conn_close(struct conn *c, int err, const char *why);

/* The one state change: handshake -> relay -> drain.  Moves every count
 * and slot with it (handshake slot and shares on leaving the handshake,
 * the timed list).  No-op on a closed conn or to the same state. */
void conn_set_state(struct conn *c, enum conn_state to);

/* Register ev (one of c's descriptors) for mask with the worker's epoll (0
 * removes it).  Returns 0 or a negative errno from epoll_ctl; ev->mask
 * is updated only on success. */
int conn_ev_update(struct conn *c, struct ev *ev, uint32_t mask);

/* c's handshake is over (it failed, or the relay takes over): give back
 * its slot -- the global count, the worker's, its uid's and identity's
 * shares -- and wake the accept loop if requests wait.  Idempotent. */
void conn_handshake_done(struct conn *c);

/* Put c on (on = 1) or take it off its worker's list of conns with
 * deadlines, so that idle relays cost nothing when timers are checked. */
void conn_set_timed(struct conn *c, int on);

/* How c ends, if nothing said so before (the first cause wins). */
static inline void conn_set_end(struct conn *c, enum stats_end e)
{
	if (!c->end)
		c->end = (int)e + 1;
}

/* A handshake slot became free: wake the accept loop if anyone waits. */
void keyd_slot_free(struct keyd *k);

#endif
