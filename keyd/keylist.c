/* KEYS: the identities and certificates of the generation in force, so
 * that "tlskeyctl keys" shows what the daemon serves, not what the files
 * on disk say (they may have changed since the last reload). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/wire.h"
#include "keyd/gen.h"
#include "keyd/keylist.h"

int keylist_send(struct keyd *k, int ctlfd, char *summary, size_t len)
{
	const struct keyd_gen *g = k->gen;
	struct tk_msg *m = calloc(1, sizeof(*m)); /* large: room for a certificate */
	size_t i, n = g->conf->n_ids;
	int r = 0;

	if (!m) {
		(void)snprintf(summary, len, "out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < n && r == 0; i++) {
		const struct keyd_identity *id = &g->conf->ids[i];

		memset(m, 0, sizeof(*m));
		m->type = TK_MSG_KEY_INFO;
		(void)tk_msg_set_str(m, TK_TAG_LOCALNAME, id->name);
		/* A source longer than a message is left out, not cut. */
		(void)tk_msg_set_str(m, TK_TAG_MESSAGE, id->cert_src);
		if (g->chain_lens[i] && g->chains[i][0].cert.size <= TK_CERT_MAX)
			(void)tk_msg_set_cert(m, g->chains[i][0].cert.data, g->chains[i][0].cert.size);
		/* The control socket is non-blocking: a full one ends the list. */
		r = tk_msg_send(ctlfd, m, -1);
	}
	free(m);
	if (r < 0)
		(void)snprintf(summary, len, "generation %u: list cut short after %zu of %zu identities (%s)",
			       g->serial, i - 1, n, strerror(-r));
	else
		(void)snprintf(summary, len, "generation %u: %zu identities", g->serial, n);
	return r;
}
