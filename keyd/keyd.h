/* tlskeyd internals shared between the accept loop, the workers, the
 * handshake engine and the relay. */
#ifndef TLSKEY_KEYD_KEYD_H
#define TLSKEY_KEYD_KEYD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#include "common/wire.h"
#include "keyd/conf.h"
#include "policy/acl.h"
#include "keyd/registry.h"
#include "keyd/vcache.h"

struct keyd;
struct worker;

/* What an epoll event refers to: one of a conn's descriptors. */
enum ev_kind { EV_NET = 1, EV_APP, EV_CTL };
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
};

/* A request admitted by the accept loop and handed to a worker.  Every
 * field is immutable after admission. */
struct keyd_request {
	struct keyd_start msg;
	struct ucred cred;
	const struct keyd_identity *id;
	size_t id_index;
	struct acl *acl; /* reference held for the life of the request */
	struct acl_decision decision; /* why it was admitted; refers into acl */
	unsigned long long t_start_ms;
	char unit[256]; /* caller's systemd unit, "" if unknown */
	unsigned acl_gen; /* generation of acl, for cache keys */
};

/* One TLS connection, owned by exactly one worker thread. */
struct conn {
	struct conn *next, *prev; /* worker's list */
	struct conn *tnext, *tprev; /* worker's list of conns with timers */
	int timed;                  /* on that list: handshake or drain */
	struct worker *w;
	enum conn_state state;
	struct keyd_request req;
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
	int failed;         /* ended by a TLS or network error */
	int hs_slot;        /* holds a handshake slot: see conn_handshake_done() */
	char mapped_user[TK_SHORT_MAX + 1];
	struct session_info *info; /* published for tlskey_query() */
	unsigned verify_status;    /* gnutls_certificate_status_t of a failed validation */
	int cache_hit;             /* peer, mapped_user came from the validation cache */
	int pinned;                /* peer accepted by a configured pin, not a CA */
	uint8_t cache_key[32];

	/* Relay state. */
	unsigned app_eof : 1;     /* app shut down its write side */
	unsigned net_eof : 1;     /* peer sent close_notify */
	unsigned bye_pending : 1; /* close_notify not fully sent yet */
	unsigned bye_done : 1;
	unsigned send_pending : 1; /* gnutls_record_send returned EAGAIN */
	unsigned app_tcp : 1;      /* protected descriptor is loopback TCP: can be reset */
	unsigned app_hup : 1;      /* the app shut down or closed its end (RDHUP/HUP seen) */
	unsigned net_reset : 1;    /* close the network socket with a reset, not a FIN */
	int app_out;               /* the caller's end of it until delivery, or -1 */
	uint8_t *to_app;          /* decrypted bytes the app has not taken */
	size_t to_app_len, to_app_off;
	uint8_t *to_net;          /* cleartext mode: bytes the peer has not taken */
	size_t to_net_len, to_net_off;
};

struct worker_key {
	gnutls_privkey_t token_key; /* this worker's own token session */
	gnutls_privkey_t key;       /* signer.c wrapper around token_key */
	unsigned long long retry_after_ms;
	unsigned long long dropped_ms; /* last time a failed key was dropped */
	int ever_ok;                /* imported successfully at least once */
	unsigned long long signs;   /* signatures made, for accounting */
	long long sign_us;          /* total time the token took */
	int failed;                 /* a signature failed: re-import */
	int pk;                     /* public key algorithm and size, from the certificate */
	unsigned bits;
};

struct worker {
	struct keyd *k;
	unsigned index;
	pthread_t thread;
	int epfd;
	int wakefd; /* eventfd: new jobs or stop */
	pthread_mutex_t lock;
	struct conn *inbox; /* admitted requests, protected by lock */
	int stop;           /* protected by lock */
	struct conn *conns; /* owned connections */
	struct conn *timed; /* those with a deadline: handshakes, drains */
	struct conn *grave; /* dead, freed after the current batch */
	int reset_acked;    /* this worker dropped its keys for the current reset */
	size_t n_conns, n_handshakes;
	gnutls_certificate_credentials_t cred;
	struct worker_key *keys; /* one per configured identity */
	uint8_t *scratch;
};

struct keyd {
	struct keyd_conf *conf;
	gnutls_priority_t prio;
	gnutls_pcert_st **chains; /* per identity */
	unsigned *chain_lens;
	pthread_mutex_t acl_lock;
	struct acl *acl;
	unsigned acl_gen; /* bumped by every reload, under acl_lock */
	struct vcache *vcache;
	struct quota *quota; /* per-uid and per-identity shares (quota.h) */
	struct worker *workers;
	unsigned n_workers;
	atomic_uint handshakes; /* running handshakes, all workers */
	atomic_uint sessions;   /* handshakes + relays, all workers */
	int donefd;             /* eventfd: a handshake finished */
	atomic_int queued;      /* requests wait for a slot: wake the accept loop */
	/* Module reset (p11_reinit): a worker asks, the accept loop stops
	 * dispatching, every worker drops its keys and acknowledges, then the
	 * accept loop re-initialises the module and resumes. */
	atomic_int reset_wanted;
	atomic_int resetting;
	atomic_uint reset_acks;
};

#define KEYD_SCRATCH_SIZE (16 * 1024 + 256)
/* Path MTU assumed for DTLS: safe for IPv6 minimum links plus tunnels. */
#define KEYD_DTLS_MTU 1280

/* worker.c */
int worker_start(struct keyd *k, struct worker *w, unsigned index);
void worker_stop(struct worker *w);
/* Hand an admitted request and its descriptors to a worker.  Takes
 * ownership of netfd, ctlfd and req->acl in all cases. */
int worker_submit(struct worker *w, const struct keyd_request *req, int netfd, int ctlfd);
int worker_ev_update(struct worker *w, struct conn *c, struct ev *ev, uint32_t mask);
void conn_free(struct conn *c);
/* c's handshake is over (it failed, or the relay takes over): give back
 * its slot -- the global count, the worker's, its uid's and identity's
 * shares -- and wake the accept loop if requests wait.  Idempotent. */
void conn_handshake_done(struct conn *c);
/* Put c on (on = 1) or take it off its worker's list of conns with
 * deadlines, so that idle relays cost nothing when timers are checked. */
void conn_set_timed(struct conn *c, int on);

/* handshake.c */
int handshake_begin(struct conn *c);
void handshake_step(struct conn *c);
void handshake_ctl_event(struct conn *c, uint32_t events);
void handshake_timeout(struct conn *c);
/* Send a failure result to the caller and free the connection. */
void handshake_fail(struct conn *c, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* relay.c */
int relay_begin(struct conn *c);
void relay_event(struct conn *c, struct ev *ev, uint32_t events);
/* A failed relay's next step while the app drains what it was sent (state
 * CONN_DRAIN): flush, then reset the app's descriptor and free c once the
 * app has it all or the drain time is up.  May free c. */
void relay_drain_step(struct conn *c);
/* The close timer of a relay fired (state CONN_RELAY, deadline_ms passed):
 * the application has shut down its side and the peer made no progress
 * for close-timeout.  Resets the network socket and ends c (through
 * relay_abort, so the app sees ECONNRESET on a TCP protected descriptor). */
void relay_close_expired(struct conn *c);

/* appsock.c: the protected descriptor.  ret_sv[0] (non-blocking) stays
 * with the daemon, ret_sv[1] goes to the application, both owned by the
 * caller; *ret_tcp says whether it is a loopback TCP connection (which can
 * carry a reset) or a UNIX pair.  Written only on success; returns 0 or a
 * negative errno, with an explanation for the caller in why: -EAGAIN when
 * no loopback TCP connection can be made and protected-socket-fallback is
 * refuse.  The daemon's end of a TCP pair resets on close until
 * appsock_orderly() is called on it. */
int appsock_pair(const struct keyd_conf *conf, int dtls, int ret_sv[2], int *ret_tcp, char *why,
		 size_t whylen);
/* Make the next close() of a TCP socket send a reset, not a FIN. */
void appsock_reset(int fd);
/* Undo appsock_reset(): the stream ends in order (FIN), close() does not
 * block either. */
void appsock_orderly(int fd);
/* Bytes written to fd that the other end has not received yet. */
size_t appsock_unsent(int fd);

/* main.c: parse the ACL file again and swap it in if valid.  Writes the
 * outcome to msg.  Returns 0 or a negative errno (old rules kept). */
int keyd_reload_acl(struct keyd *k, char *msg, size_t len);

/* One audit record for a reload attempt by cred (r: its outcome). */
void keyd_audit_reload(struct keyd *k, const struct ucred *cred, const char *unit, int r,
		       const char *detail);

/* A handshake slot became free: wake the accept loop if anyone waits. */
void keyd_slot_free(struct keyd *k);

/* signer.c: wrap wk->token_key into wk->key; drop both. */
int signer_wrap(struct worker_key *wk, gnutls_pubkey_t pub);
void signer_drop(struct worker_key *wk);

/* handshake.c: credential callbacks need the per-worker key. */
int keyd_worker_creds_init(struct worker *w);

#endif
