/* tk_resolve(): getaddrinfo() with a deadline.  A numeric address is
 * converted on the spot; a name goes to glibc's asynchronous lookup
 * (getaddrinfo_a) and the caller waits in gai_suspend() until the
 * deadline.  A lookup still running then cannot always be cancelled: it
 * is left behind on a list, with the memory glibc still writes to, and
 * freed by a later call once glibc is done with it.  While the resolver
 * hangs, each abandoned lookup holds one of glibc's helper threads (or a
 * place in its queue) and a few hundred bytes here; the fetch threads and
 * tlskeyctl go on. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"
#include "keyd/resolve.h"

struct lookup {
	struct gaicb cb;
	struct addrinfo hints;
	struct lookup *next; /* on the abandoned list */
	char host[256];
	char port[32];
};

static pthread_mutex_t abandoned_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lookup *abandoned;

/* Free what glibc has finished with; keep the rest. */
static void reap(void)
{
	struct lookup **pp, *l;

	pthread_mutex_lock(&abandoned_lock);
	for (pp = &abandoned; (l = *pp);) {
		if (gai_error(&l->cb) == EAI_INPROGRESS) {
			pp = &l->next;
			continue;
		}
		*pp = l->next;
		if (l->cb.ar_result)
			freeaddrinfo(l->cb.ar_result);
		free(l);
	}
	pthread_mutex_unlock(&abandoned_lock);
}

static void abandon(struct lookup *l)
{
	pthread_mutex_lock(&abandoned_lock);
	l->next = abandoned;
	abandoned = l;
	pthread_mutex_unlock(&abandoned_lock);
}

int tk_resolve(const char *host, const char *port, const struct addrinfo *hints,
	       unsigned long long deadline, struct addrinfo **res, char *why, size_t whylen)
{
	struct addrinfo numeric = *hints;
	struct gaicb *list[1];
	struct lookup *l;
	int r;

	*res = NULL;
	numeric.ai_flags |= AI_NUMERICHOST | AI_NUMERICSERV;
	if (getaddrinfo(host, port, &numeric, res) == 0)
		return 0;
	if (strlen(host) >= sizeof(l->host) || strlen(port) >= sizeof(l->port)) {
		(void)snprintf(why, whylen, "name too long");
		return -EHOSTUNREACH;
	}
	reap();
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	memcpy(l->host, host, strlen(host) + 1);
	memcpy(l->port, port, strlen(port) + 1);
	l->hints = *hints;
	l->cb.ar_name = l->host;
	l->cb.ar_service = l->port;
	l->cb.ar_request = &l->hints;
	list[0] = &l->cb;
	r = getaddrinfo_a(GAI_NOWAIT, list, 1, NULL);
	if (r != 0) {
		(void)snprintf(why, whylen, "%s", gai_strerror(r));
		free(l);
		return r == EAI_MEMORY ? -ENOMEM : -EAGAIN;
	}
	for (;;) {
		unsigned long long now = tk_now_ms();
		struct timespec ts;

		r = gai_error(&l->cb);
		if (r != EAI_INPROGRESS)
			break;
		if (now >= deadline) {
			/* Cancelled, or glibc still has it: then it stays ours
			 * until glibc is done (reap()). */
			if (gai_cancel(&l->cb) == EAI_CANCELED)
				free(l);
			else
				abandon(l);
			(void)snprintf(why, whylen, "no answer from the resolver in time");
			return -ETIMEDOUT;
		}
		ts.tv_sec = (time_t)((deadline - now) / 1000);
		ts.tv_nsec = (long)((deadline - now) % 1000) * 1000000L;
		(void)gai_suspend((const struct gaicb *const *)list, 1, &ts);
	}
	if (r != 0) {
		(void)snprintf(why, whylen, "%s", gai_strerror(r));
		free(l);
		return -EHOSTUNREACH;
	}
	*res = l->cb.ar_result;
	free(l);
	return 0;
}
