/* struct keyd: the daemon's shared state (configuration, identities, ACL
 * store, counters), one per process.  Every other type lives with the file
 * that owns it: conn.h, worker.h, ... */
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
#include "keyd/vcache.h"
#include "keyd/quota.h"

struct worker;
struct stats;
struct keyd_gen;
struct upgrade;
struct dane_resolver;
struct ocsp_fetcher;
struct handoff;

struct keyd {
	/* The generation in force (gen.h) and its configuration.  Both are
	 * replaced by a reload, on the accept thread, which is the only
	 * thread that reads them here: workers read the generation their
	 * connection holds (c->req.gen). */
	struct keyd_conf *conf;
	struct keyd_gen *gen;
	atomic_uint gen_serial; /* k->gen->serial, for workers to drop old keys */
	pthread_mutex_t gen_lock; /* the swap of k->gen, against keyd_gen_current() on workers */
	char reload_note[256];  /* last reload's outcome for STATUS= (accept thread) */
	struct upgrade *upgrade; /* main.c's, for the UPGRADE request (accept thread) */
	atomic_int drain_cut;    /* shutting down at the upgrade's drain limit */
	pthread_mutex_t acl_lock;
	struct acl *acl;
	unsigned acl_gen; /* bumped by every reload, under acl_lock */
	struct quota *quota; /* per-uid pending shares (quota.h); handshake shares are per generation */
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
	unsigned long long last_reset_ms; /* accept loop only (p11reset_step) */
	struct stats *stats; /* counters for STATUS (stats.h); NULL before start-up made it */
	/* Admission on the workers (admission_worker.c).  Each worker watches
	 * its own duplicate of the listener while listen_on is 1; the accept
	 * loop sets 0 to pause (descriptors), -1 once the listener is gone
	 * (upgrade, shutdown).  A worker that runs out of descriptors sets
	 * listen_full (1 + errno) for the accept loop to pause and log.  What
	 * a worker does not finish itself it hands to the accept loop. */
	int listen_fd;            /* the accept loop's; workers duplicate it at start */
	atomic_int listen_on;
	atomic_int listen_full;
	atomic_uint adm_fds;      /* descriptors the accept loop's clients and queued requests hold */
	atomic_uint adm_clients;  /* of those, clients whose request it waits for */
	atomic_uint max_pending;  /* the setting in force, for workers */
	atomic_uint n_handoffs;   /* handed over, not yet taken */
	atomic_uint n_parked;     /* control connections parked between requests, all workers */
	atomic_ullong fd_base, fd_max; /* the descriptor budget (admission_fd_calibrate) */
	pthread_mutex_t handoff_lock;
	struct handoff *handoffs; /* newest first, under handoff_lock */
	struct dane_resolver *dane; /* TLSA lookups (dane.h); NULL without dns-resolver */
	struct ocsp_fetcher *ocsp;  /* online OCSP (ocsp_fetch.h); NULL if it could not start */
};

/* Path MTU assumed for DTLS: safe for IPv6 minimum links plus tunnels. */
#define KEYD_DTLS_MTU 1280

#endif
