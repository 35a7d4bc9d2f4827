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

/* Does `key` belong to the certificate whose public key is `pub`?  One
 * signature over a fixed nonce with key, verified with pub: this catches a
 * certificate of another key of the same type, which comparing algorithms
 * does not (the peer then sees "Decrypt error").  Returns 0, -EKEYREJECTED
 * (no match) or -EIO (the signature failed), with one line in err. */
int signer_key_matches(gnutls_privkey_t key, gnutls_pubkey_t pub, char *err, size_t errlen);

#endif
