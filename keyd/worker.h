/* Worker threads (keyd/worker.c): one epoll loop each, owning its conns. */
#ifndef TLSKEY_KEYD_WORKER_H
#define TLSKEY_KEYD_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <gnutls/abstract.h>

#include "keyd/appsock.h"
#include "keyd/conn.h"
#include "keyd/keyd.h"
#include "keyd/relay_io.h"

struct dane_job;
struct ocsp_job;

struct wcmd;

struct worker_key {
	gnutls_privkey_t token_key; /* this worker's own token session */
	gnutls_privkey_t key;       /* signer.c wrapper around token_key */
	unsigned long long retry_after_ms;
	unsigned long long dropped_ms; /* last time a failed key was dropped */
	int ever_ok;                /* imported successfully at least once */
	unsigned long long signs;   /* signatures made, for accounting */
	long long sign_us;          /* total time the token took */
	int failed;                 /* a signature failed: re-import */
	/* The last signature failed while the process was out of descriptors
	 * (fdcount.h): the key is kept, the handshake fails with EMFILE. */
	int fd_short;
	unsigned fd_short_run; /* such failures in a row, at most FDS_SHORT_RUN_MAX */
	unsigned long long fd_open, fd_limit; /* what fds_short() saw then */
	struct stats *stats;        /* where signer.c counts: worker `worker`, identity `id` */
	unsigned worker;
	size_t id;
	int pk;                     /* public key algorithm and size, from the certificate */
	unsigned bits;
};

/* A worker's key objects for one generation (keys.c): made when the
 * worker's first handshake of that generation starts, freed by the worker
 * itself once the generation is no longer in force and its last handshake
 * here ended. */
struct worker_keyset {
	struct worker_keyset *next;
	unsigned serial;     /* of the generation */
	unsigned handshakes; /* conns of this worker using it (c->ks) */
	size_t n;
	struct worker_key keys[]; /* one per identity of the generation */
};

struct worker {
	struct keyd *k;
	unsigned index;
	pthread_t thread;
	int epfd;
	int wakefd; /* eventfd: new jobs or stop */
	pthread_mutex_t lock;
	struct conn *inbox; /* admitted requests, protected by lock */
	struct wcmd *wcmds; /* session controls for our conns (wcmd.c), protected by lock */
	unsigned n_wcmds;
	int stop;           /* protected by lock */
	struct conn *conns; /* owned connections */
	struct conn *timed; /* those with a deadline: handshakes, drains */
	struct conn *grave; /* dead, freed after the current batch */
	int reset_acked;    /* this worker dropped its keys for the current reset */
	size_t n_conns, n_handshakes;
	atomic_uint load; /* handshakes it runs or has in its inbox: where admission sends the next */
	struct worker_keyset *keysets; /* newest first */
	/* A re-evaluation asked for (reeval.c), protected by lock: the
	 * generation and ACL to check established sessions against. */
	struct keyd_gen *reeval_gen;
	struct acl *reeval_acl;
	unsigned reeval_acl_gen;
	char reeval_why[64];
	/* The last re-evaluation run (worker thread only): a handshake that
	 * began under an older generation or ACL is checked against these
	 * before it is delivered (reeval_late_check). */
	struct keyd_gen *reeval_last_gen;
	struct acl *reeval_last_acl;
	unsigned reeval_last_acl_gen;
	atomic_int reeval_pending; /* set with them: the loop looks here first, lock-free */
	struct appsock_pool pool; /* protected descriptor pairs made ahead (appsock.h) */
	int listen_fd;  /* its duplicate of the listener, -1 once gone (admission_worker.c) */
	int listening;  /* listen_fd is in the epoll set */
	struct ctlconn *parked_head, *parked_tail; /* control connections between requests (ctlconn.c) */
	unsigned n_parked;
	struct ctlconn *cc_grave; /* closed during the batch, freed after it */
	uint8_t *scratch;      /* RELAY_IO_SCRATCH_SIZE bytes: the relay's buffers */
	struct relay_io rio;   /* who holds which part of scratch */
	struct dane_job *dane_done;    /* TLSA lookups answered (dane.c), protected by lock */
	struct ocsp_job *ocsp_done;    /* OCSP fetches answered (ocsp_fetch.c), protected by lock */
};

/* Start worker index of k: its epoll set and thread.
 * Returns 0 or a negative errno (then worker_stop() must not be called). */
int worker_start(struct keyd *k, struct worker *w, unsigned index);

/* Stop and join the thread; callers of handshakes still running or still
 * queued hear ESHUTDOWN; every conn is closed and freed. */
void worker_stop(struct worker *w);

/* Hand an admitted request and its descriptors to a worker.  Takes
 * ownership of netfd, ctlfd, cc (who connected, with no descriptor of its
 * own; NULL: ctlfd is closed after delivery) and req->acl in all cases,
 * and with them the handshake slot the caller took.  Returns 0 or
 * -ENOMEM. */
int worker_submit(struct worker *w, const struct keyd_request *req, int netfd, int ctlfd,
		  struct ctlconn *cc);

/* The same on w's own thread, for a request it admitted itself on the
 * control connection cc with the handshake slot already claimed
 * (k->handshakes and the shares): the handshake starts now, cc goes with
 * the conn.  On failure everything, the slot included, is released. */
void worker_adopt(struct worker *w, const struct keyd_request *req, int netfd, struct ctlconn *cc);

#endif
