/* Configuration generations (keyd/gen.c): everything a handshake depends
 * on, built and validated as a whole, immutable once published. */
#ifndef TLSKEY_KEYD_GEN_H
#define TLSKEY_KEYD_GEN_H

#include <stdatomic.h>
#include <stddef.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#include "keyd/conf.h"

struct keyd;
struct vcache;
struct quota;
struct tickets;
struct scache;
struct keyd_ocsp;
struct crl_set;

/* One trust domain: how peers of the identities that share these
 * settings (keyd_conf_trust_of) are validated.  Built by trust.c. */
struct trust_domain {
	gnutls_certificate_credentials_t cred; /* anchors + CRLs + callbacks */
	gnutls_priority_t prio;
	struct crl_set *crls;   /* NULL: no CRLs */
	int crl_expired_accept; /* crl-expired = accept */
	int no_ca_names;        /* client-ca-names = none */
	unsigned index;         /* 0 global, 1.. the identities' own, for cache keys */
};

/* One configuration generation.  Built off to the side by gen_build(),
 * never changed after it returns: any thread may read it while it holds a
 * reference.  Holders: k->gen (the one in force), every admitted request
 * and every connection until conn_close() (its TLS session points at
 * cred and prio).  Token key objects are not in here: each worker keeps
 * its own per generation (keys.c) and drops them when the generation's
 * last handshake on that worker ends, so established sessions hold no
 * key material. */
struct keyd_gen {
	atomic_uint refs;
	unsigned serial;                 /* 1 at start-up, +1 per published reload */
	struct keyd_conf *conf;
	gnutls_priority_t prio;          /* the global domain's (= trust.prio) */
	gnutls_pcert_st **chains;        /* per identity, conf->ids order */
	unsigned *chain_lens;
	struct keyd_ocsp *ocsp;          /* per identity: its staple (ocsp.c) */
	gnutls_certificate_credentials_t cred; /* the global domain's (= trust.cred) */
	struct trust_domain trust;       /* the global settings' domain; owns cred, prio */
	struct trust_domain *doms;       /* identities' own domains, n_doms of them */
	size_t n_doms;
	struct trust_domain **id_trust;  /* per identity (conf->ids order); NULL: the global */
	struct vcache *vcache;           /* cleared by every reload: trust may change */
	struct quota *quota;             /* handshake shares of this generation */
	struct tickets *tickets;         /* session ticket keys (tickets.h), NULL: no resumption */
	struct scache *scache;           /* servers' sessions, client role (scache.h), or NULL */
};

/* The trust domain identity i of g validates its peers with. */
static inline const struct trust_domain *gen_trust_of(const struct keyd_gen *g, size_t i)
{
	if (g->id_trust && i < g->conf->n_ids && g->id_trust[i])
		return g->id_trust[i];
	return &g->trust;
}

/* Collected error messages, one "file:line: message" per line. */
struct gen_errors {
	char text[4096];
	unsigned n;
	int anchors_bad; /* the trust anchors failed (one of the errors) */
};

/* Append one message to e (truncated with "..." when full). */
void gen_error(struct gen_errors *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Build a complete generation from the configuration file at path:
 * parse, load every identity's chain (gen_identity_build), the priority,
 * the trust anchors, the cache and the shares.  Every error found is
 * added to errs; on any error nothing is returned and -EINVAL (or
 * -ENOMEM) comes back.  On success *ret_gen has one reference, its serial
 * is `serial`.  Warnings are logged. */
int gen_build(const char *path, unsigned serial, struct gen_errors *errs,
	      struct keyd_gen **ret_gen);

/* Like gen_build() for a configuration already parsed, which g owns
 * from then on (freed here on failure). */
int gen_build_conf(struct keyd_conf *conf, unsigned serial, struct gen_errors *errs,
		   struct keyd_gen **ret_gen);

/* Load identity i of g (its certificate chain; its PIN file registered).
 * Returns 0 or a negative errno with the message in errs.  The key is
 * tried by the start-up check (check.c) and by each worker's first use
 * (keys.c), not here. */
int gen_identity_build(struct keyd_gen *g, size_t i, struct gen_errors *errs);

/* A new reference to g (NULL ok), and dropping one: the last frees g. */
struct keyd_gen *gen_ref(struct keyd_gen *g);
void gen_unref(struct keyd_gen *g);

/* A reference to the generation in force (k->gen), from any thread:
 * under k->gen_lock, which the swap in reload.c holds too. */
struct keyd_gen *keyd_gen_current(struct keyd *k);

/* Which settings differ between old and fresh that only a restart can
 * apply (socket, workers, module): "socket, workers" into out, "" if
 * none.  Returns the number of them. */
unsigned gen_restart_needed(const struct keyd_conf *old, const struct keyd_conf *fresh, char *out,
			    size_t len);

#endif
