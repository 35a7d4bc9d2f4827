/* tlskeyd: the program.  Options, start-up wiring (configuration, ACL
 * store, PKCS#11, identities, workers, listener) and the accept thread's
 * event loop, which hands events to admission.c, aclstore.c (SIGHUP) and
 * p11reset.c. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-login.h>

#include "common/util.h"
#include "keyd/aclstore.h"
#include "keyd/admission.h"
#include "keyd/check.h"
#include "keyd/dane.h"
#include "keyd/fdcount.h"
#include "keyd/ocsp_fetch.h"
#include "keyd/reeval.h"
#include "keyd/control.h"
#include "keyd/gen.h"
#include "keyd/reload.h"
#include "keyd/upgrade.h"
#include "keyd/watch.h"
#include "keyd/worker.h"
#include "keyd/listener.h"
#include "keyd/log.h"
#include "keyd/p11reset.h"
#include "keyd/prio.h"
#include "keyd/quota.h"
#include "keyd/passclose.h"
#include "keyd/notify.h"
#include "keyd/stats.h"
#include "keyd/process.h"
#include "pkcs11/p11.h"

#define DEFAULT_CONF SYSCONFDIR "/tlskeyd/tlskeyd.conf"
#define DEFAULT_SOCKET "/run/tlskeyd/tlskeyd.sock"


static int tags[6] = { 0, TAG_LISTEN, TAG_SIGNAL, TAG_DONE, TAG_UPGRADE, TAG_WATCH };

/* The sender of a signal, as far as the kernel tells (uid, pid). */
static void signal_sender(const struct signalfd_siginfo *si, struct ucred *ret, char *unit, size_t len)
{
	ret->pid = (pid_t)si->ssi_pid;
	ret->uid = si->ssi_uid;
	ret->gid = caller_proc_gid((pid_t)si->ssi_pid);
	unit[0] = '\0';
	if (si->ssi_pid) {
		char *u = NULL;
		if (sd_pid_get_unit((pid_t)si->ssi_pid, &u) >= 0 && u)
			(void)snprintf(unit, len, "%s", u);
		free(u);
	}
}

static void handle_signal(struct loop *l)
{
	struct signalfd_siginfo si;

	while (read(l->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			struct ucred who;
			char msg[1024], unit[256];
			int r = reload_run(l->k, msg, sizeof(msg));

			signal_sender(&si, &who, unit, sizeof(unit));
			aclstore_audit_reload(l->k, &who, unit, r, msg);
		} else if (si.ssi_signo == SIGUSR2) {
			struct ucred who;
			char unit[256];

			signal_sender(&si, &who, unit, sizeof(unit));
			(void)upgrade_begin(&l->up, -1, &who);
		} else {
			keyd_log(LOG_NOTICE, "signal %u: shutting down", si.ssi_signo);
			l->stop = 1;
		}
	}
}

static int next_timeout(const struct loop *l)
{
	return admission_next_timeout(&l->adm);
}

static void report_status(struct loop *l)
{
	char paused[128] = "";

	/* What tlskeyctl status cannot tell while the listener is paused:
	 * its request waits in the backlog with the others. */
	if (l->adm.listen_paused)
		(void)snprintf(paused, sizeof(paused),
			       "; paused at the descriptor limit (about %llu of %llu in use)",
			       admission_fds_used(l->k), (unsigned long long)l->adm.fd_max);
	keyd_notifyf("STATUS=%u sessions, %u handshakes, %zu waiting%s%s%s",
			 atomic_load(&l->k->sessions), atomic_load(&l->k->handshakes), l->adm.n_pending,
			 paused, l->k->reload_note[0] ? "; " : "", l->k->reload_note);
	/* tlskeyctl status reads the queue from here (the accept loop owns it). */
	if (l->k->stats) {
		atomic_store(&l->k->stats->queued, l->adm.n_pending);
		atomic_store(&l->k->stats->waiting, l->adm.n_clients);
	}
}

/* The upgrade, once per loop turn: watch the new process's socket while
 * it starts; once it took over, stop accepting (the listener is its now)
 * and drain. */
static void upgrade_step(struct loop *l, int readable)
{
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = &tags[TAG_UPGRADE] };

	if (l->up.state == UPGRADE_STARTING && !l->up_watched)
		l->up_watched = epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->up.sock, &e) == 0;
	if (!readable || upgrade_event(&l->up) != UPGRADE_HANDED_OVER) {
		l->up_watched = l->up.state == UPGRADE_STARTING && l->up_watched;
		return;
	}
	l->up_watched = 0;
	/* The workers close their duplicates; connections they accepted
	 * meanwhile are served here. */
	atomic_store(&l->k->listen_on, -1);
	admission_workers_wake(l->k);
	l->listen_fd = l->adm.listen_fd = l->k->listen_fd = tk_close(l->listen_fd);
	l->own_socket = 0; /* the new process removes it at its exit */
	l->drain_until_ms = tk_now_ms() + (unsigned long long)l->k->conf->upgrade_drain_s * 1000;
	keyd_log(LOG_NOTICE, "upgrade: draining %u sessions for up to %u s", atomic_load(&l->k->sessions),
		 l->k->conf->upgrade_drain_s);
}

/* Housekeeping once a second at most: watchdog, status, idle exit. */
static void tick(struct loop *l, unsigned long long now)
{
	struct keyd *k = l->k;

	if (now < l->next_tick_ms)
		return;
	l->next_tick_ms = now + 1000;
	admission_tick(&l->adm);
	if (l->watchdog_ms && now >= l->next_watchdog_ms) {
		keyd_notify("WATCHDOG=1");
		l->next_watchdog_ms = now + l->watchdog_ms / 2;
	}
	report_status(l);
	upgrade_tick(&l->up, now);
	if (l->drain_until_ms) {
		unsigned n = atomic_load(&k->sessions);

		if (!n && !l->adm.n_clients && !l->adm.n_pending) {
			keyd_log(LOG_NOTICE, "upgrade: the last session ended: exiting");
			l->stop = 1;
		} else if (now >= l->drain_until_ms) {
			keyd_log(LOG_NOTICE, "upgrade: drain limit (%u s) reached: ending %u sessions",
				 k->conf->upgrade_drain_s, n);
			atomic_store(&k->drain_cut, 1);
			l->stop = 1;
		}
		return;
	}
	if (atomic_load(&k->sessions) || l->adm.n_clients || l->adm.n_pending)
		l->idle_since_ms = now;
	else if (k->conf->idle_exit_s && l->activated &&
		 now - l->idle_since_ms >= (unsigned long long)k->conf->idle_exit_s * 1000) {
		keyd_log(LOG_NOTICE, "idle for %u s with no sessions: exiting (the socket stays with systemd)",
			 k->conf->idle_exit_s);
		l->stop = 1;
	}
}

static int run(struct loop *l)
{
	struct epoll_event evs[64];
	uint64_t wd_usec = 0;

	if (sd_watchdog_enabled(0, &wd_usec) > 0)
		l->watchdog_ms = wd_usec / 1000;
	l->idle_since_ms = tk_now_ms();
	/* The workers accept from now on. */
	atomic_store(&l->k->listen_on, 1);
	admission_workers_wake(l->k);
	keyd_notify("READY=1\nSTATUS=accepting requests");
	/* The CRL watches exist from "ready" on, not from the first wake-up
	 * (up to a second later: a CRL written then went unnoticed). */
	watch_step(l->watch, l->k, tk_now_ms());
	while (!l->stop) {
		int timeout = next_timeout(l);
		int n;

		int wt = watch_timeout(l->watch, tk_now_ms());

		if (wt >= 0 && (timeout < 0 || wt < timeout))
			timeout = wt;
		/* Wake up at least once a second for tick(). */
		if (timeout < 0 || timeout > 1000)
			timeout = 1000;
		n = epoll_wait(l->epfd, evs, 64, timeout);

		if (n < 0 && errno != EINTR) {
			keyd_log(LOG_CRIT, "epoll_wait: %s", strerror(errno));
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;

			if (p == &tags[TAG_SIGNAL]) {
				handle_signal(l);
			} else if (p == &tags[TAG_DONE]) {
				eventfd_t v;
				(void)eventfd_read(l->k->donefd, &v);
				/* A refresh saw a status turn to revoked. */
				if (ocsp_fetcher_take_revoked(l->k->ocsp))
					reeval_request(l->k, "OCSP status revoked");
			} else if (p == &tags[TAG_UPGRADE]) {
				upgrade_step(l, 1);
			} else if (p == &tags[TAG_WATCH]) {
				watch_readable(l->watch);
			} else {
				/* A client is only ever dropped by its own event,
				 * so later events in this batch stay valid. */
				admission_readable(&l->adm, p);
			}
		}
		admission_take_handoffs(&l->adm);
		admission_expire(&l->adm);
		p11reset_step(l->k, tk_now_ms());
		admission_dispatch(&l->adm);
		upgrade_step(l, 0);
		tick(l, tk_now_ms());
		watch_step(l->watch, l->k, tk_now_ms());
	}
	keyd_notify("STOPPING=1");
	keyd_log(LOG_NOTICE, "shutting down: ending %u sessions (%u of them handshakes), %zu queued "
		 "requests, %zu clients whose request was not read",
		 atomic_load(&l->k->sessions), atomic_load(&l->k->handshakes), l->adm.n_pending,
		 l->adm.n_clients);
	return 0;
}

static void keyd_free(struct keyd *k)
{
	acl_unref(k->acl);
	stats_free(k->stats);
	quota_free(k->quota);
	(void)tk_close(k->donefd);
	pthread_mutex_destroy(&k->acl_lock);
	pthread_mutex_destroy(&k->gen_lock);
	pthread_mutex_destroy(&k->handoff_lock);
	/* k->conf is the generation's once there is one. */
	if (k->gen)
		gen_unref(k->gen);
	else
		keyd_conf_free(k->conf);
}

/* Everything the daemon needs before it can serve: the ACL store, caller
 * identification, the pending shares, PKCS#11 and the first generation
 * (identities, TLS priorities, trust, the validation cache), then the
 * check of all of it (*ret_check, check.h: the caller decides what is
 * fatal).  Returns 0 or a negative errno (logged);
 * keyd_free() releases what was set up either way. */
static int keyd_setup(struct keyd *k, struct check_result *ret_check)
{
	char err[512] = "";
	int r;

	r = aclstore_load(k);
	if (r < 0)
		return r;
	(void)caller_identify_init();
	{
		struct quota_limits lim = { .pending_per_uid = k->conf->max_pending_per_uid,
					    .handshakes_per_uid = k->conf->max_handshakes_per_uid,
					    .handshakes_per_id = k->conf->max_handshakes_per_identity,
					    .n_ids = k->conf->n_ids };

		r = quota_new(&lim, &k->quota);
		if (r < 0)
			return r;
	}
	r = check_module(k->conf->module_path);
	if (r < 0)
		return r;
	r = p11_init(k->conf->module_path, err, sizeof(err));
	if (r < 0) {
		keyd_log(LOG_ERR, "PKCS#11: %s", err);
		return r;
	}
	{
		struct keyd_conf *c = k->conf;
		struct gen_errors errs;
		size_t n_ids = c->n_ids;

		memset(&errs, 0, sizeof(errs));
		k->conf = NULL; /* the generation owns it now, also on failure */
		r = gen_build_conf(c, 1, &errs, &k->gen);
		if (r < 0) {
			for (const char *p = errs.text, *nl; p && *p; p = nl ? nl + 1 : NULL) {
				nl = strchr(p, '\n');
				keyd_log(LOG_ERR, "%.*s", nl ? (int)(nl - p) : (int)strlen(p), p);
			}
			/* Nothing can be served: check_verdict() says so. */
			*ret_check = (struct check_result){ .n_ids = n_ids, .errors = errs.n ? errs.n : 1,
							    .anchors_bad = errs.anchors_bad };
			return r == -ENOMEM ? r : 0;
		}
		k->conf = k->gen->conf;
		atomic_store(&k->gen_serial, 1);
	}
	stats_assign(k->stats, k->gen->conf);
	/* Everything the daemon will use, tried now (keyd/check.c). */
	return check_config(k, ret_check);
}

/* An upgraded process got the listener as from systemd; the old process
 * says whether it was systemd's or bound at the path by the old process
 * (then ours to remove at exit once we took over). */
static int upgrade_child_env_listener(struct loop *l)
{
	int activated = l->activated, own = 0;

	upgrade_child_listener(&activated, &own);
	l->activated = activated;
	l->up_own = own && !l->own_socket;
	l->up.listen_fd = l->listen_fd;
	l->up.activated = l->activated;
	l->up.own_socket = l->own_socket;
	return 0;
}

/* The accept thread's descriptors: signalfd for mask, the epoll set,
 * the done eventfd and the listener (passed by systemd or bound at the
 * configured path, socket_override if set).  Returns 0 or a negative
 * errno (logged); listener_close() and main's exit path close them. */
static int loop_open(struct loop *l, const char *socket_override, const sigset_t *mask)
{
	struct epoll_event e;
	int r;

	l->sig_fd = signalfd(-1, mask, SFD_CLOEXEC | SFD_NONBLOCK);
	l->epfd = l->adm.epfd = epoll_create1(EPOLL_CLOEXEC);
	l->k->donefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->sig_fd < 0 || l->epfd < 0 || l->k->donefd < 0) {
		r = -errno;
		keyd_log(LOG_ERR, "setup: %s", strerror(-r));
		return r;
	}
	l->socket_path = socket_override ? socket_override
			: (l->k->conf->socket_path ? l->k->conf->socket_path : DEFAULT_SOCKET);
	r = listener_open(l, l->socket_path);
	if (r < 0)
		return r;
	if (upgrade_child_env_listener(l) < 0)
		return -EINVAL;
	/* The listener is the workers' (admission_worker.c), each through
	 * its own duplicate: not in this epoll set. */
	e = (struct epoll_event){ .events = EPOLLIN, .data.ptr = &tags[TAG_SIGNAL] };
	(void)epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->sig_fd, &e);
	e.data.ptr = &tags[TAG_DONE];
	(void)epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->k->donefd, &e);
	/* Without inotify, CRLs change with a reload only. */
	r = watch_new(&l->watch);
	e.data.ptr = &tags[TAG_WATCH];
	if (r < 0 || epoll_ctl(l->epfd, EPOLL_CTL_ADD, watch_fd(l->watch), &e) < 0) {
		keyd_log(LOG_WARNING, "cannot watch CRL files: %s", strerror(r < 0 ? -r : errno));
		if (r == 0)
			watch_free(l->watch);
		l->watch = NULL;
	}
	return 0;
}

/* Start k->conf->workers workers; *started counts those running (to be
 * stopped), also on failure.  Returns 0 or a negative errno (logged). */
static int start_workers(struct keyd *k, int *started)
{
	int r;

	k->n_workers = k->conf->workers;
	fds_short_set_workers(k->n_workers);
	k->workers = calloc(k->n_workers, sizeof(*k->workers));
	if (!k->workers)
		return -ENOMEM;
	for (; *started < (int)k->n_workers; (*started)++) {
		r = worker_start(k, &k->workers[*started], (unsigned)*started);
		if (r < 0) {
			keyd_log(LOG_ERR, "cannot start worker %d: %s", *started, strerror(-r));
			return r;
		}
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: tlskeyd [-c CONFIG] [-s SOCKET] [-t] [-d]\n"
		   "  -c, --config FILE   configuration file (default " DEFAULT_CONF ")\n"
		   "  -s, --socket PATH   listen here instead of the configured socket\n"
		   "  -t, --test-config   check the configuration and exit\n"
		   "  -d, --debug         log debug messages\n"
		   "  -h, --help          show this help\n"
		   "  -V, --version       show the version\n");
}

/* Before anything else: the signals, an empty daemon and accept loop,
 * the upgrade's side of things, process hardening. */
static void early_init(struct keyd *k, struct loop *l, sigset_t *mask, char **argv)
{
	(void)upgrade_child_env();
	/* Block the signals we take through signalfd before anything can
	 * start a thread: PKCS#11 modules do (tpm2-pkcs11 over D-Bus), and
	 * a thread that inherits an open mask would die of SIGHUP. */
	sigemptyset(mask);
	sigaddset(mask, SIGTERM);
	sigaddset(mask, SIGINT);
	sigaddset(mask, SIGHUP);
	sigaddset(mask, SIGUSR2);
	(void)pthread_sigmask(SIG_BLOCK, mask, NULL);
	(void)signal(SIGPIPE, SIG_IGN);
	/* A caller's socket may carry O_ASYNC (start_check.c). */
	(void)signal(SIGIO, SIG_IGN);
	memset(k, 0, sizeof(*k));
	memset(l, 0, sizeof(*l));
	k->donefd = -1;
	l->epfd = l->listen_fd = l->sig_fd = -1;
	l->k = k;
	l->adm.k = k;
	l->adm.listen_tag = &tags[TAG_LISTEN];
	pthread_mutex_init(&k->acl_lock, NULL);
	pthread_mutex_init(&k->gen_lock, NULL);
	pthread_mutex_init(&k->handoff_lock, NULL);
	k->listen_fd = -1;
	if (upgrade_init(&l->up, argv) == 0)
		k->upgrade = &l->up;
	process_harden();
	/* Descriptors a malformed message carried are the sender's. */
	tk_msg_set_closer(passclose);
	/* What callers pass is closed on closer threads from now on. */
	{
		int r = passclose_start();

		if (r < 0)
			keyd_log(LOG_WARNING, "cannot start a closer thread (%s): descriptors callers pass "
				 "are closed on the thread that is done with them (a FUSE file could hold it)",
				 strerror(-r));
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' }, { "socket", required_argument, NULL, 's' },
		{ "test-config", no_argument, NULL, 't' },  { "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },         { "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const char *conf_path = DEFAULT_CONF, *socket_override = NULL;
	struct keyd k;
	struct loop l;
	sigset_t mask;
	struct check_result check = { 0 };
	char err[2048] = "";
	int opt, test_only = 0, r, started = 0, debug = 0;

	while ((opt = getopt_long(argc, argv, "c:s:tdhV", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': conf_path = optarg; break;
		case 's': socket_override = optarg; break;
		case 't': test_only = 1; break;
		case 'd': debug = 1; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("tlskeyd %s\n", PACKAGE_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	keyd_log_init(debug ? LOG_DEBUG : LOG_INFO);
	early_init(&k, &l, &mask, argv);

	r = keyd_conf_load(conf_path, &k.conf, err, sizeof(err));
	if (r < 0) {
		for (const char *q = err, *nl; *q; q = nl ? nl + 1 : q + strlen(q)) {
			nl = strchr(q, '\n');
			keyd_log(LOG_ERR, "configuration: %.*s", nl ? (int)(nl - q) : (int)strlen(q), q);
		}
		return 1;
	}
	r = stats_new(k.conf->workers, k.conf->n_ids, &k.stats);
	if (r == 0)
		r = keyd_setup(&k, &check);
	if (r < 0)
		goto out;
	r = check_verdict(conf_path, &check, test_only);
	if (r < 0 || test_only)
		goto out;

	r = dane_resolver_new(k.conf, &k.dane, err, sizeof(err));
	if (r < 0) {
		keyd_log(LOG_ERR, "DANE: %s", err);
		goto out;
	}
	r = loop_open(&l, socket_override, &mask);
	if (r == 0)
		r = ocsp_fetcher_new(k.conf->ocsp_cache_size, k.donefd, &k.ocsp);
	if (r < 0)
		goto out;
	k.listen_fd = l.listen_fd; /* each worker takes a duplicate */
	/* The kernel then records who sent each message on an accepted
	 * connection (inherited at accept): control_recv() takes requests
	 * from the connecting process only. */
	{
		int on = 1;

		if (setsockopt(l.listen_fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) < 0)
			keyd_log(LOG_WARNING, "SO_PASSCRED on the listening socket: %s: requests are not "
				 "checked to come from the process that connected", strerror(errno));
	}
	r = start_workers(&k, &started);
	if (r < 0)
		goto out;
	l.adm.listen_fd = l.listen_fd;
	admission_fd_calibrate(&l.adm);
	/* Until the old process handed over, the socket path is its. */
	if (upgrade_child_ready() < 0) {
		r = -EPIPE;
		goto out;
	}
	listener_took_over(&l);
	keyd_log(LOG_NOTICE, "ready: tlskeyd %s, config %s, ACL %s, %zu identities, %zu usable, "
		 "%u workers, up to %u concurrent handshakes", PACKAGE_VERSION, conf_path,
		 k.conf->acl_path ? k.conf->acl_path : "(none)", check.n_ids, check.n_usable, k.n_workers,
		 k.conf->max_handshakes);
	r = run(&l);

out:
	/* No worker accepts any more; what they handed over until they
	 * stopped is refused with the rest. */
	atomic_store(&k.listen_on, -1);
	if (k.workers)
		admission_workers_wake(&k);
	l.adm.stopping = 1;
	admission_shutdown(&l.adm);
	dane_resolver_stop(k.dane); /* no answer may reach a stopped worker */
	ocsp_fetcher_stop(k.ocsp);
	for (int i = 0; i < started; i++)
		worker_stop(&k.workers[i]);
	admission_take_handoffs(&l.adm);
	admission_shutdown(&l.adm);
	dane_resolver_free(k.dane);
	ocsp_fetcher_free(k.ocsp);
	if (started)
		keyd_log(LOG_NOTICE, "stopped after %llu s", k.stats ? (tk_now_ms() - k.stats->start_ms) / 1000 : 0);
	free(k.workers);
	listener_close(&l);
	watch_free(l.watch);
	(void)tk_close(l.sig_fd);
	(void)tk_close(l.epfd);
	keyd_free(&k);
	p11_done();
	return r < 0 ? 1 : 0;
}
