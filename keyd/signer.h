/* The signing wrapper around a worker's token key (keyd/signer.c). */
#ifndef TLSKEY_KEYD_SIGNER_H
#define TLSKEY_KEYD_SIGNER_H

#include <gnutls/abstract.h>

#include "keyd/worker.h"

/* Wrap wk->token_key into wk->key, which counts signatures and the time
 * the token takes (wk->signs, wk->sign_us) and marks wk->failed when one
 * fails.  Returns 0 or a negative errno (pub
 * describes the key: its algorithm and size).  signer_drop() frees both keys; NULL keys ok, idempotent. */
int signer_wrap(struct worker_key *wk, gnutls_pubkey_t pub);
void signer_drop(struct worker_key *wk);

#endif
