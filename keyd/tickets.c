/* TLS 1.3 session resumption: the server role's ticket keys, the client
 * role's use of the session cache (scache.c), and the checks a resumed
 * session goes through in either role.
 *
 * GnuTLS (3.7.9) encrypts tickets under keys it derives from the 64-byte
 * master key a session is given (gnutls_session_ticket_enable_server),
 * one per time step of the ticket lifetime (lib/stek.c).  That internal
 * rotation never replaces the master key itself, so whoever learns it
 * can decrypt every ticket ever issued under it.  Here the master key is
 * replaced every ticket-rotation seconds, and by every reload (it lives
 * in the configuration generation), so a key's loss exposes only the
 * tickets of its own period, and no ticket survives a change of trust.
 * A ticket of a replaced key fails to decrypt: GnuTLS then makes a full
 * handshake, which costs the client time, never access. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <netinet/in.h>
#include <gnutls/crypto.h>

#include "common/util.h"
#include "keyd/conn.h"
#include "keyd/gen.h"
#include "keyd/log.h"
#include "keyd/scache.h"
#include "keyd/tickets.h"
#include "keyd/trust.h"
#include "tlskey/starttls.h"

#define TICKETS_KEY_SIZE 64 /* GnuTLS's TICKET_MASTER_KEY_SIZE */
/* One key per identity and certificate-request mode (require, request,
 * none): a ticket from a session that asked for no client certificate
 * must not resume where one is required (it would be refused for want of
 * a certificate instead of getting the full handshake that asks). */
#define TICKETS_MODES 3

struct tickets {
	pthread_mutex_t lock;
	unsigned rotation_s;
	size_t n;                    /* identities (conf->ids order) x TICKETS_MODES */
	unsigned char *keys;         /* n * TICKETS_KEY_SIZE, mapped below */
	size_t map_len;
	unsigned long long next_ms;  /* rotate when a session is set up after this */
	unsigned long long rotations;
};

int tickets_enabled(const struct keyd_conf *conf, const struct keyd_identity *id)
{
	if (id && id->resumption >= 0)
		return id->resumption;
	return conf->resumption;
}

int tickets_client_enabled(const struct keyd_conf *conf, const struct keyd_identity *id)
{
	if (id && id->client_resumption >= 0)
		return id->client_resumption;
	return conf->client_resumption;
}

int tickets_scache_new(const struct keyd_conf *conf, struct scache **ret_s)
{
	size_t i;

	for (i = 0; i < conf->n_ids && !tickets_client_enabled(conf, &conf->ids[i]); i++)
		;
	if (i == conf->n_ids) {
		*ret_s = NULL;
		return 0;
	}
	/* A session lives no longer than one of our own ticket keys. */
	return scache_new(conf->client_session_cache, conf->ticket_rotation_s, ret_s);
}

/* New master keys for every identity.  Called with t->lock held, or
 * before t is shared. */
static int rotate(struct tickets *t)
{
	int r = gnutls_rnd(GNUTLS_RND_KEY, t->keys, t->n * TICKETS_KEY_SIZE);

	if (r < 0) {
		/* Never go on with the old keys past their time. */
		gnutls_memset(t->keys, 0, t->n * TICKETS_KEY_SIZE);
		return -EIO;
	}
	t->next_ms = tk_now_ms() + (unsigned long long)t->rotation_s * 1000;
	t->rotations++;
	return 0;
}

int tickets_new(const struct keyd_conf *conf, struct tickets **ret_t)
{
	struct tickets *t;
	long page = sysconf(_SC_PAGESIZE);
	size_t want = conf->n_ids * TICKETS_MODES * TICKETS_KEY_SIZE, i;

	for (i = 0; i < conf->n_ids && !tickets_enabled(conf, &conf->ids[i]); i++)
		;
	if (i == conf->n_ids || !conf->n_ids) {
		*ret_t = NULL;
		return 0;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->n = conf->n_ids * TICKETS_MODES;
	t->rotation_s = conf->ticket_rotation_s;
	if (page <= 0)
		page = 4096;
	t->map_len = (want + (size_t)page - 1) / (size_t)page * (size_t)page;
	t->keys = mmap(NULL, t->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (t->keys == MAP_FAILED) {
		free(t);
		return -ENOMEM;
	}
	/* Keys never reach swap or a core file, as far as the kernel lets
	 * us: a failed mlock (RLIMIT_MEMLOCK) is logged, not fatal, since
	 * the daemon is not dumpable anyway (process.c). */
	(void)madvise(t->keys, t->map_len, MADV_DONTDUMP);
	if (mlock(t->keys, t->map_len) < 0)
		keyd_log(LOG_DEBUG, "session ticket keys: mlock: %s", strerror(errno));
	if (pthread_mutex_init(&t->lock, NULL) != 0 || rotate(t) < 0) {
		(void)munmap(t->keys, t->map_len);
		free(t);
		return -ENOMEM;
	}
	*ret_t = t;
	return 0;
}

void tickets_free(struct tickets *t)
{
	if (!t)
		return;
	gnutls_memset(t->keys, 0, t->map_len);
	(void)munlock(t->keys, t->map_len);
	(void)munmap(t->keys, t->map_len);
	(void)pthread_mutex_destroy(&t->lock);
	free(t);
}

/* Does request q resume?  TLS (not DTLS) server requests whose identity
 * has resumption on, unless the request asks for a full check. */
static int resumes(const struct keyd_request *q)
{
	/* XXX: not with a myname list: the ticket key is chosen before the
	 * ClientHello picks the identity, so a ticket could cross identities. */
	return q->msg.role == TK_ROLE_SERVER && q->msg.proto != IPPROTO_UDP && q->gen->tickets &&
	       !q->vhost &&
	       tickets_enabled(q->gen->conf, q->id) && !(q->msg.flags & TLSKEY_FLAG_NO_CACHE_READ);
}

/* The client role: TLS requests whose identity has client-resumption on,
 * with a server address to key the cache by, that may read or write it. */
static int client_resumes(const struct keyd_request *q)
{
	const uint32_t both = TLSKEY_FLAG_NO_CACHE_READ | TLSKEY_FLAG_NO_CACHE_WRITE;

	return q->msg.role == TK_ROLE_CLIENT && q->msg.proto != IPPROTO_UDP && q->gen->scache &&
	       tickets_client_enabled(q->gen->conf, q->id) && q->remote[0] &&
	       (q->msg.flags & both) != both;
}

unsigned tickets_init_flags(const struct keyd_request *q)
{
	/* TLS 1.2 tickets (RFC 5077) would resume with the TLS 1.2 key
	 * schedule and no binding of the ticket to the handshake: only TLS
	 * 1.3 resumes here. */
	return resumes(q) || client_resumes(q) ? GNUTLS_NO_TICKETS_TLS12 : GNUTLS_NO_TICKETS;
}

/* The cache key of a client request: everything a session must never
 * cross -- the caller's uid, the local identity, the request's flags,
 * the server name the server was verified against, the server's address.
 * The cache lives in the generation, so a reload (trust, certificates
 * may change) empties it. */
static int client_key(const struct keyd_request *q, uint8_t out[32])
{
	gnutls_hash_hd_t h;
	uint32_t hdr[2] = { (uint32_t)q->cred.uid, q->msg.flags };

	if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0)
		return -ENOMEM;
	(void)gnutls_hash(h, "tlskeyd-scache-1", 16);
	(void)gnutls_hash(h, hdr, sizeof(hdr));
	(void)gnutls_hash(h, q->id->name, strlen(q->id->name) + 1);
	(void)gnutls_hash(h, q->msg.sniname, strlen(q->msg.sniname) + 1);
	(void)gnutls_hash(h, q->remote, strlen(q->remote) + 1);
	gnutls_hash_deinit(h, out);
	return 0;
}

static int client_setup(struct conn *c)
{
	const struct keyd_request *q = &c->req;
	gnutls_datum_t d = { NULL, 0 };
	int r;

	if (client_key(q, c->resume_key) < 0)
		return 0; /* no cache, a full handshake */
	c->resume_save = !(q->msg.flags & TLSKEY_FLAG_NO_CACHE_WRITE);
	if ((q->msg.flags & TLSKEY_FLAG_NO_CACHE_READ) || scache_take(q->gen->scache, c->resume_key, &d) < 0)
		return 0;
	/* GnuTLS copies what it needs; a session it cannot use is a full
	 * handshake, not an error. */
	r = gnutls_session_set_data(c->tls, d.data, d.size);
	scache_datum_free(&d);
	if (r < 0)
		keyd_log(LOG_DEBUG, "myname=%s: cached session not usable: %s", q->msg.myname,
			 gnutls_strerror(r));
	return 0;
}

void tickets_client_note(struct conn *c)
{
	gnutls_datum_t d = { NULL, 0 };

	if (!c->resume_save || !(gnutls_session_get_flags(c->tls) & GNUTLS_SFLAGS_SESSION_TICKET))
		return;
	c->resume_save = 0; /* the first ticket of a connection is enough */
	if (gnutls_session_get_data2(c->tls, &d) < 0)
		return;
	scache_put(c->req.gen->scache, c->resume_key, &d);
	gnutls_memset(d.data, 0, d.size);
	gnutls_free(d.data);
}

/* The certificate-request mode of a server request (0 require, 1
 * request, 2 none), as handshake_begin() sets it. */
static size_t cert_mode(const struct keyd_request *q)
{
	if (q->msg.flags & TLSKEY_FLAG_NO_REQUEST_PEER_CERT)
		return 2;
	return (q->msg.flags & TLSKEY_FLAG_NO_REQUIRE_PEER_CERT) ? 1 : 0;
}

int tickets_session_setup(struct conn *c)
{
	const struct keyd_request *q = &c->req;
	struct tickets *t = q->gen->tickets;
	gnutls_datum_t key = { NULL, TICKETS_KEY_SIZE };
	gnutls_session_t s = c->tls;
	int r = 0;

	if (client_resumes(q))
		return client_setup(c);
	if (!resumes(q))
		return 0;
	(void)pthread_mutex_lock(&t->lock);
	if (tk_now_ms() >= t->next_ms && rotate(t) < 0) {
		r = -EIO;
	} else {
		key.data = t->keys + (q->id_index * TICKETS_MODES + cert_mode(q)) * TICKETS_KEY_SIZE;
		/* GnuTLS copies the key into the session (and wipes it at
		 * gnutls_deinit): the lock covers only the copy. */
		r = gnutls_session_ticket_enable_server(s, &key) < 0 ? -EIO : 0;
	}
	(void)pthread_mutex_unlock(&t->lock);
	if (r == 0)
		gnutls_db_set_cache_expiration(s, (int)t->rotation_s);
	return r;
}

int tickets_check_resumed(struct conn *c, char *why, size_t len)
{
	gnutls_datum_t out = { NULL, 0 };
	int r;

	/* psk_ke (a client may offer only it) would resume with no fresh
	 * (EC)DHE: whoever later learnt the ticket key could read the
	 * session.  Only psk_dhe_ke resumes; no key share group means psk_ke
	 * (in TLS 1.3 gnutls_kx_get() names the certificate's kind). */
	if (gnutls_group_get(c->tls) == GNUTLS_GROUP_INVALID) {
		(void)snprintf(why, len, "resumed session refused: no (EC)DHE key exchange (psk_ke)");
		return -EPROTO;
	}
	keyd_log(LOG_DEBUG, "myname=%s: resumed with (EC)DHE group %s", c->req.msg.myname,
		 gnutls_group_get_name(gnutls_group_get(c->tls)));
	r = trust_peer_verify(c);

	if (r == 0)
		return 0;
	if (c->verify_status &&
	    gnutls_certificate_verification_status_print(c->verify_status, GNUTLS_CRT_X509, &out, 0) == 0) {
		(void)snprintf(why, len, "resumed session refused: peer certificate no longer valid: %s",
			       (char *)out.data);
		gnutls_free(out.data);
	} else {
		(void)snprintf(why, len, "resumed session refused: peer certificate no longer valid");
	}
	return -EKEYREJECTED;
}
