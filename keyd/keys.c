/* Per-worker key lifecycle: each worker imports its own key object per
 * identity (its own token session: see doc facts), once, re-opens it after
 * a failed signature, backs off after failures, and asks for a module
 * reset when a key that used to work cannot be opened. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"
#include "keyd/fdcount.h"
#include "keyd/gen.h"
#include "keyd/keys.h"
#include "keyd/log.h"
#include "keyd/ocsp.h"
#include "keyd/p11reset.h"
#include "keyd/signer.h"
#include "keyd/stats.h"
#include "pkcs11/p11.h"
#include "tlskey/starttls.h"

/* A key whose import failed is not retried for this long, so that a
 * missing token or wrong PIN does not turn every request into a login
 * attempt (tokens lock after a few wrong PINs). */
#define KEY_RETRY_MS 2000

int keys_ensure(struct conn *c, char *why, size_t len)
{
	struct worker_key *wk = &c->ks->keys[c->req.id_index];
	char err[512] = "";
	unsigned long long now = tk_now_ms();
	int r;

	if (wk->key && !wk->failed)
		return 0;
	if (wk->key) {
		struct p11_key_status st;

		/* The token failed a signature: start over with a new session.
		 * GnuTLS does not say which CKR_ code it got; a probe does.  A
		 * second failure soon after the first backs off like a failed
		 * import, so a broken token does not cost a login per request. */
		if (p11_key_probe(c->req.id->key_uri, &st, err, sizeof(err)) == 0)
			(void)snprintf(err, sizeof(err), "the token answers again");
		keyd_log(LOG_WARNING, "worker %u: key %s failed a signature (%s); re-opening it",
			 c->w->index, c->req.id->key_uri, err);
		signer_drop(wk);
		if (wk->dropped_ms && now - wk->dropped_ms < KEY_RETRY_MS)
			wk->retry_after_ms = now + KEY_RETRY_MS;
		wk->dropped_ms = now;
		err[0] = '\0';
	}
	if (wk->retry_after_ms > now) {
		(void)snprintf(why, len, "key %s for %s is unavailable (recent failure, retry shortly)",
			       c->req.id->key_uri, c->req.id->name);
		return -KEYS_ERRNO;
	}
	r = p11_key_import(c->req.id->key_uri, &wk->token_key, err, sizeof(err));
	if (r == 0) {
		gnutls_pubkey_t pub = c->req.gen->chains[c->req.id_index][0].pubkey;
		char mismatch[256];

		/* Once per import: a key that is not the certificate's would
		 * fail every handshake at the peer ("Decrypt error"). */
		r = signer_key_matches(wk->token_key, pub, mismatch, sizeof(mismatch));
		if (r == 0)
			r = signer_wrap(wk, pub);
		else
			(void)snprintf(err, sizeof(err), "%s%s%s", mismatch, r == -EKEYREJECTED ? " " : "",
				       r == -EKEYREJECTED ? c->req.id->cert_src : "");
		if (r < 0) {
			signer_drop(wk);
			if (r != -EIO && !err[0])
				(void)snprintf(err, sizeof(err), "private key does not match certificate %s",
					       c->req.id->cert_src);
		}
	}
	if (r == 0) {
		wk->ever_ok = 1;
		/* The module works: a reset asked for while the token was away
		 * (and held back by the reset interval) would now only fail the
		 * handshakes under way. */
		p11reset_cancel(c->w->k);
	}
	if (r == -EIO || r == -ENODEV) {
		unsigned long long used, limit;

		/* Out of descriptors, the module cannot open its files or
		 * sockets and says so as a token error: not a reason to back
		 * off or to re-initialise it, but to fail this request. */
		if (fds_short(&used, &limit)) {
			wk->token_key = NULL;
			(void)snprintf(why, len, "cannot use key for %s: tlskeyd is at its open file limit "
				       "(about %llu of %llu descriptors open): %s",
				       c->req.id->name, used, limit, err);
			return -EMFILE;
		}
	}
	stats_key_event(c->w->k->stats, c->req.id->stats_slot, -r);
	if (r < 0 && wk->ever_ok && (r == -ENODEV || r == -EIO)) {
		/* A key that used to work cannot be opened any more: the module
		 * itself may need to start over (see keyd_slot_free/main.c). */
		p11reset_request(c->w->k);
	}
	if (r < 0) {
		wk->token_key = NULL;
		wk->retry_after_ms = now + KEY_RETRY_MS;
		(void)snprintf(why, len, "cannot use key for %s: %s", c->req.id->name, err);
		return -KEYS_ERRNO;
	}
	return 0;
}

int keys_cert_cb(gnutls_session_t s, const struct gnutls_cert_retr_st *info,
		 gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_ocsp_data_st **ocsp,
		 unsigned int *ocsp_length, gnutls_privkey_t *privkey, unsigned int *flags)
{
	struct conn *c = gnutls_session_get_ptr(s);
	const struct keyd_gen *g = c->req.gen;
	size_t i = c->req.id_index;

	(void)info;
	*flags = 0;
	*ocsp = NULL;
	*ocsp_length = 0;
	/* No keyset: the handshake is over (a renegotiation is refused). */
	if ((c->req.msg.flags & TLSKEY_FLAG_NO_LOCAL_CERT) || !c->ks || !c->ks->keys[i].key) {
		*pcert_length = 0;
		*pcert = NULL;
		*privkey = NULL;
		return 0;
	}
	*pcert = g->chains[i];
	*pcert_length = g->chain_lens[i];
	*privkey = c->ks->keys[i].key;
	/* Only a server staples (a client's status is not asked for). */
	if (c->req.msg.role == TK_ROLE_SERVER) {
		*ocsp = ocsp_staple_current(&g->ocsp[i], c->req.id->name, time(NULL));
		*ocsp_length = *ocsp ? 1 : 0;
	}
	return 0;
}

static void keyset_free(struct worker_keyset *ks)
{
	for (size_t i = 0; i < ks->n; i++)
		signer_drop(&ks->keys[i]);
	free(ks);
}

int keys_attach(struct conn *c)
{
	struct worker *w = c->w;
	const struct keyd_gen *g = c->req.gen;
	struct worker_keyset *ks;

	for (ks = w->keysets; ks; ks = ks->next)
		if (ks->serial == g->serial)
			break;
	if (!ks) {
		size_t n = g->conf->n_ids;

		ks = calloc(1, sizeof(*ks) + (n ? n : 1) * sizeof(ks->keys[0]));
		if (!ks)
			return -ENOMEM;
		ks->serial = g->serial;
		ks->n = n;
		for (size_t i = 0; i < n; i++)
			ks->keys[i] = (struct worker_key){ .stats = w->k->stats, .worker = w->index,
							   .id = g->conf->ids[i].stats_slot };
		ks->next = w->keysets;
		w->keysets = ks;
	}
	ks->handshakes++;
	c->ks = ks;
	return 0;
}

void keys_prune(struct worker *w)
{
	unsigned current = atomic_load(&w->k->gen_serial);
	struct worker_keyset **p = &w->keysets;

	while (*p) {
		struct worker_keyset *ks = *p;

		if (ks->handshakes || ks->serial == current) {
			p = &ks->next;
			continue;
		}
		*p = ks->next;
		keyset_free(ks);
	}
}

void keys_detach(struct conn *c)
{
	if (!c->ks)
		return;
	c->ks->handshakes--;
	c->ks = NULL;
	keys_prune(c->w);
}

void keys_free_all(struct worker *w)
{
	while (w->keysets) {
		struct worker_keyset *ks = w->keysets;

		w->keysets = ks->next;
		keyset_free(ks);
	}
}

void keys_drop_all(struct worker *w, int forget_failures)
{
	for (struct worker_keyset *ks = w->keysets; ks; ks = ks->next) {
		for (size_t i = 0; i < ks->n; i++) {
			signer_drop(&ks->keys[i]);
			if (forget_failures) {
				ks->keys[i].retry_after_ms = 0;
				ks->keys[i].dropped_ms = 0;
			}
		}
	}
}
