/* The PKCS#11 reset protocol (see struct keyd): a worker asks, the accept
 * loop stops dispatching, every worker drops its keys and acknowledges,
 * then the accept loop re-initialises the module and resumes.  All state
 * is in atomics of struct keyd, so any thread may ask. */
#include "config.h"

#include <sys/eventfd.h>

#include "keyd/log.h"
#include "keyd/p11reset.h"
#include "keyd/worker.h"
#include "pkcs11/p11.h"

/* At most one PKCS#11 re-initialisation this often. */
#define RESET_MIN_MS 5000ULL

void p11reset_request(struct keyd *k)
{
	atomic_store(&k->reset_wanted, 1);
	(void)eventfd_write(k->donefd, 1);
}

void p11reset_cancel(struct keyd *k)
{
	/* A reset already begun runs to its end; one only asked for is
	 * dropped.  A worker whose key still fails asks again. */
	if (!atomic_load(&k->resetting))
		atomic_store(&k->reset_wanted, 0);
}

int p11reset_worker_due(struct keyd *k, int *acked)
{
	if (!atomic_load(&k->resetting)) {
		*acked = 0;
		return 0;
	}
	return !*acked;
}

void p11reset_worker_ack(struct keyd *k, int *acked)
{
	*acked = 1;
	(void)atomic_fetch_add(&k->reset_acks, 1);
	(void)eventfd_write(k->donefd, 1);
}

void p11reset_step(struct keyd *k, unsigned long long now)
{
	char err[512] = "";
	int r;

	if (!atomic_load(&k->resetting)) {
		if (!atomic_load(&k->reset_wanted) ||
		    (k->last_reset_ms && now - k->last_reset_ms < RESET_MIN_MS))
			return;
		keyd_log(LOG_WARNING, "keys that used to work cannot be opened: re-initialising PKCS#11");
		atomic_store(&k->reset_acks, 0);
		atomic_store(&k->resetting, 1);
		for (unsigned i = 0; i < k->n_workers; i++)
			(void)eventfd_write(k->workers[i].wakefd, 1);
		return;
	}
	if (atomic_load(&k->reset_acks) < k->n_workers)
		return;
	r = p11_reinit(err, sizeof(err));
	if (r < 0)
		keyd_log(LOG_ERR, "%s", err);
	else
		keyd_log(LOG_NOTICE, "PKCS#11 re-initialised; keys will be opened again");
	k->last_reset_ms = now;
	atomic_store(&k->reset_wanted, 0);
	atomic_store(&k->resetting, 0);
	for (unsigned i = 0; i < k->n_workers; i++)
		(void)eventfd_write(k->workers[i].wakefd, 1);
}

