/* Online OCSP answers back on the worker: the conn that waited continues
 * to delivery, or fails, as ocsp_online.c decides. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "keyd/handshake.h"
#include "keyd/ocsp_conn.h"
#include "keyd/ocsp_fetch.h"
#include "keyd/ocsp_online.h"
#include "keyd/worker.h"
#include "tlskey/starttls.h"

/* Deliver with detail + note, or fail with note (r < 0). */
static enum conn_status go_on(struct conn *c, int r, const char *note)
{
	char detail[TK_MESSAGE_MAX + 64];
	enum conn_status st;

	if (r < 0) {
		ocsp_online_release(c);
		return handshake_fail(c, -r, "%s", note);
	}
	(void)snprintf(detail, sizeof(detail), "%s%s", c->ocsp_detail ? c->ocsp_detail : "", note);
	free(c->ocsp_detail);
	c->ocsp_detail = NULL;
	st = handshake_deliver(c, detail);
	return st;
}

void ocsp_conn_deliver(struct worker *w)
{
	struct ocsp_job *list, *j;

	pthread_mutex_lock(&w->lock);
	list = w->ocsp_done;
	w->ocsp_done = NULL;
	pthread_mutex_unlock(&w->lock);
	while ((j = list)) {
		list = j->next;
		for (struct conn *c = w->timed; c; c = c->tnext) {
			char note[TK_MESSAGE_MAX];
			int r;

			if (c->dead || c->ocsp_serial != j->serial)
				continue;
			c->ocsp_serial = 0;
			r = ocsp_online_answer(c, j, note, sizeof(note));
			(void)go_on(c, r, note);
			break;
		}
		ocsp_job_free(j);
	}
}

enum conn_status ocsp_conn_timeout(struct conn *c)
{
	char note[TK_MESSAGE_MAX];
	int r = ocsp_online_late(c, note, sizeof(note));

	return go_on(c, r, note);
}

void ocsp_conn_drop(struct worker *w)
{
	pthread_mutex_lock(&w->lock);
	for (struct ocsp_job *j = w->ocsp_done, *next; j; j = next) {
		next = j->next;
		ocsp_job_free(j);
	}
	w->ocsp_done = NULL;
	pthread_mutex_unlock(&w->lock);
}
