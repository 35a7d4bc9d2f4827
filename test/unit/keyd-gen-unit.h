/* A configuration generation for the keyd/ unit tests that need one
 * (conn, relay, control): the configuration parsed from text, no chains
 * loaded (the certificate files do not exist), empty credentials. */
#ifndef TLSKEY_TEST_UNIT_KEYD_GEN_UNIT_H
#define TLSKEY_TEST_UNIT_KEYD_GEN_UNIT_H

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "keyd/gen.h"
#include "keyd/quota.h"
#include "keyd/vcache.h"

static inline struct keyd_gen *unit_gen_new(const char *conf_text)
{
	struct quota_limits lim;
	struct keyd_gen *g = calloc(1, sizeof(*g));
	char err[512] = "";

	ck_assert_ptr_nonnull(g);
	atomic_init(&g->refs, 1);
	g->serial = 1;
	ck_assert_msg(keyd_conf_parse("test.conf", conf_text, strlen(conf_text), &g->conf, err,
				      sizeof(err)) == 0, "%s", err);
	lim = (struct quota_limits){ .pending_per_uid = g->conf->max_pending_per_uid,
				     .handshakes_per_uid = g->conf->max_handshakes_per_uid,
				     .handshakes_per_id = g->conf->max_handshakes_per_identity,
				     .n_ids = g->conf->n_ids };
	g->chains = calloc(g->conf->n_ids + 1, sizeof(*g->chains));
	g->chain_lens = calloc(g->conf->n_ids + 1, sizeof(*g->chain_lens));
	ck_assert(g->chains && g->chain_lens);
	ck_assert_int_eq(gnutls_priority_init2(&g->prio, "NORMAL", NULL, 0), 0);
	ck_assert_int_eq(gnutls_certificate_allocate_credentials(&g->cred), 0);
	g->trust.prio = g->prio; /* owned by the global trust domain */
	g->trust.cred = g->cred;
	ck_assert_int_eq(vcache_new(0, 0, &g->vcache), 0);
	ck_assert_int_eq(quota_new(&lim, &g->quota), 0);
	return g;
}

#endif
