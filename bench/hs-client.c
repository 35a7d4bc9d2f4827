/* hs-client: the remote side of the benchmarks (bench/run.sh).
 *
 *   hs-client hs   ADDR:PORT N [opts]   N full handshakes (no resumption),
 *                                        each on a new connection; prints
 *                                        "HS n= secs= rate= p50_us= p99_us= fail=
 *                                        resumed="
 *   hs-client hold ADDR:PORT N [opts]   open N TLS connections and keep them
 *                                        idle until stdin is closed; prints
 *                                        "HELD n=" once all are up
 *   hs-client bulk ADDR:PORT BYTES [opts]  one connection: send BYTES while
 *                                        receiving BYTES (full duplex, both
 *                                        sides half-close at the end); prints
 *                                        "BULK bytes= secs= up_MBps= down_MBps="
 * opts: --conc C   C threads share the work (hs), default 1
 *       --secs S   hs: stop after S seconds even if fewer than N are done
 *                  (N is then a cap), so that a round lasts a fixed time
 *       --prio P   GnuTLS priority string, default NORMAL
 *       --plain    plain TCP instead of TLS (bulk, hs)
 *       --resume   hs: each thread first makes one full handshake and keeps
 *                  the server's TLS 1.3 ticket, then offers it in each of
 *                  its N handshakes (counted as resumed= when the server
 *                  took it); the priming handshake is not timed
 *
 * The client does not verify the server: the benchmark measures the
 * server side.  ADDR is numeric IPv4 (loopback in run.sh). */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

static struct sockaddr_in addr = { .sin_family = AF_INET };
static const char *prio = "NORMAL";
static int plain;
static long long deadline_us; /* hs --secs: 0 none */
static int resume;
static gnutls_certificate_credentials_t cred;

static long long now_us(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static void die(const char *what, const char *why)
{
	(void)fprintf(stderr, "hs-client: %s: %s\n", what, why);
	exit(1);
}

static int tcp_connect(void)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (s < 0)
		die("socket", strerror(errno));
	(void)setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(s, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		(void)close(s);
		return -1;
	}
	return s;
}

/* A connected, handshaken session, or NULL. */
static gnutls_session_t tls_open(int s, const gnutls_datum_t *sess)
{
	gnutls_session_t t;
	int r;

	if (gnutls_init(&t, GNUTLS_CLIENT | (resume ? 0 : GNUTLS_NO_TICKETS)) < 0)
		die("gnutls_init", "failed");
	if (sess && sess->size && gnutls_session_set_data(t, sess->data, sess->size) < 0)
		die("gnutls_session_set_data", "failed");
	if (gnutls_priority_set_direct(t, prio, NULL) < 0)
		die("priority", prio);
	(void)gnutls_credentials_set(t, GNUTLS_CRD_CERTIFICATE, cred);
	(void)gnutls_server_name_set(t, GNUTLS_NAME_DNS, "server.example.test", 19);
	gnutls_transport_set_int(t, s);
	do
		r = gnutls_handshake(t);
	while (r < 0 && !gnutls_error_is_fatal(r));
	if (r < 0) {
		(void)fprintf(stderr, "hs-client: handshake: %s\n", gnutls_strerror(r));
		gnutls_deinit(t);
		return NULL;
	}
	return t;
}

struct hs_job {
	unsigned n, done, fails, resumed;
	long long *lat;
	gnutls_datum_t sess; /* --resume: the session to offer */
};

/* --resume: one untimed full handshake; read until the server closes, so
 * that its NewSessionTicket is taken in, and keep the session. */
static void hs_prime(struct hs_job *j)
{
	char buf[256];
	int s = tcp_connect();
	gnutls_session_t t = s >= 0 ? tls_open(s, NULL) : NULL;

	if (!t)
		die("resume", "priming handshake failed");
	while (gnutls_record_recv(t, buf, sizeof(buf)) > 0)
		;
	if (!(gnutls_session_get_flags(t) & GNUTLS_SFLAGS_SESSION_TICKET) ||
	    gnutls_session_get_data2(t, &j->sess) < 0)
		die("resume", "the server sent no session ticket");
	gnutls_deinit(t);
	(void)close(s);
}

static void *hs_thread(void *arg)
{
	struct hs_job *j = arg;

	if (resume)
		hs_prime(j);
	for (unsigned i = 0; i < j->n; i++) {
		long long t0 = now_us();
		int s;

		if (deadline_us && t0 >= deadline_us)
			break;
		j->done++;
		s = tcp_connect();
		gnutls_session_t t = s >= 0 ? tls_open(s, &j->sess) : NULL;

		if (!t) {
			j->fails++;
			j->lat[i] = -1;
		} else {
			j->lat[i] = now_us() - t0;
			j->resumed += gnutls_session_is_resumed(t) != 0;
			(void)gnutls_bye(t, GNUTLS_SHUT_WR);
			gnutls_deinit(t);
		}
		if (s >= 0)
			(void)close(s);
	}
	return NULL;
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

static int run_hs(unsigned n, unsigned conc)
{
	pthread_t *th = calloc(conc, sizeof(*th));
	struct hs_job *jobs = calloc(conc, sizeof(*jobs));
	long long *all = calloc(n, sizeof(*all)), t0;
	unsigned k = 0, fails = 0, resumed = 0;
	double secs;

	if (!th || !jobs || !all)
		die("calloc", "out of memory");
	t0 = now_us();
	if (deadline_us)
		deadline_us += t0;
	for (unsigned i = 0; i < conc; i++) {
		jobs[i].n = n / conc + (i < n % conc);
		jobs[i].lat = calloc(jobs[i].n + 1, sizeof(long long));
		if (pthread_create(&th[i], NULL, hs_thread, &jobs[i]) != 0)
			die("pthread_create", "failed");
	}
	for (unsigned i = 0; i < conc; i++) {
		(void)pthread_join(th[i], NULL);
		fails += jobs[i].fails;
		resumed += jobs[i].resumed;
		gnutls_free(jobs[i].sess.data);
		for (unsigned x = 0; x < jobs[i].done; x++)
			if (jobs[i].lat[x] >= 0)
				all[k++] = jobs[i].lat[x];
		free(jobs[i].lat);
	}
	secs = (double)(now_us() - t0) / 1e6;
	qsort(all, k, sizeof(*all), cmp_ll);
	(void)printf("HS n=%u secs=%.3f rate=%.1f p50_us=%lld p99_us=%lld fail=%u resumed=%u\n", k, secs,
		     (double)k / secs, k ? all[k / 2] : -1, k ? all[(k * 99) / 100] : -1, fails, resumed);
	free(all);
	free(jobs);
	free(th);
	return fails ? 1 : 0;
}

static int run_hold(unsigned n)
{
	char c;
	unsigned up = 0;
	struct rlimit rl = { n + 100, n + 100 };

	(void)setrlimit(RLIMIT_NOFILE, &rl);
	for (unsigned i = 0; i < n; i++) {
		int s = tcp_connect();
		gnutls_session_t t = s >= 0 ? tls_open(s, NULL) : NULL;

		if (!t) {
			(void)fprintf(stderr, "hs-client: hold: connection %u failed\n", i);
			break;
		}
		up++; /* session and socket stay open until we exit */
	}
	(void)printf("HELD n=%u\n", up);
	(void)fflush(stdout);
	while (read(STDIN_FILENO, &c, 1) > 0)
		;
	return up == n ? 0 : 1;
}

/* Full-duplex bulk transfer in one thread with poll(). */
static int run_bulk(unsigned long long bytes)
{
	static char out[16384], in[65536];
	unsigned long long sent = 0, got = 0;
	long long t0, t_up = 0, t_down = 0;
	int s = tcp_connect(), wr_done = 0, rd_done = 0, pending = 0;
	gnutls_session_t t = NULL;
	double secs;

	if (s < 0)
		die("connect", strerror(errno));
	if (!plain && !(t = tls_open(s, NULL)))
		return 1;
	memset(out, 'x', sizeof(out));
	(void)fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_NONBLOCK);
	t0 = now_us();
	while (!wr_done || !rd_done) {
		struct pollfd p = { .fd = s, .events = (short)((wr_done ? 0 : POLLOUT) | (rd_done ? 0 : POLLIN)) };
		ssize_t n;

		if (!(t && gnutls_record_check_pending(t)) && poll(&p, 1, 30000) <= 0)
			die("bulk", "stalled for 30 s");
		if (!wr_done) {
			size_t len = sent + sizeof(out) > bytes ? (size_t)(bytes - sent) : sizeof(out);

			if (t)
				n = pending ? gnutls_record_send(t, NULL, 0) : gnutls_record_send(t, out, len);
			else
				n = send(s, out, len, MSG_NOSIGNAL);
			if (t && (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED))
				pending = 1;
			else if (!t && n < 0 && errno == EAGAIN)
				;
			else if (n < 0)
				die("send", t ? gnutls_strerror((int)n) : strerror(errno));
			else {
				pending = 0;
				sent += (unsigned long long)n;
			}
			if (sent >= bytes && !pending) {
				if (t) {
					int r;
					do
						r = gnutls_bye(t, GNUTLS_SHUT_WR);
					while (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED);
				}
				(void)shutdown(s, SHUT_WR);
				wr_done = 1;
				t_up = now_us() - t0;
			}
		}
		if (!rd_done) {
			n = t ? gnutls_record_recv(t, in, sizeof(in)) : recv(s, in, sizeof(in), 0);
			if (t && (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED))
				;
			else if (!t && n < 0 && errno == EAGAIN)
				;
			else if (n < 0)
				die("recv", t ? gnutls_strerror((int)n) : strerror(errno));
			else if (n == 0) {
				rd_done = 1;
				t_down = now_us() - t0;
			} else
				got += (unsigned long long)n;
		}
	}
	secs = (double)(now_us() - t0) / 1e6;
	(void)printf("BULK bytes_up=%llu bytes_down=%llu secs=%.3f up_MBps=%.1f down_MBps=%.1f\n", sent,
		     got, secs, (double)sent / 1e6 / ((double)t_up / 1e6),
		     (double)got / 1e6 / ((double)t_down / 1e6));
	if (t)
		gnutls_deinit(t);
	(void)close(s);
	return got == bytes ? 0 : 1;
}

int main(int argc, char **argv)
{
	unsigned conc = 1;
	char host[64];
	const char *colon;

	(void)signal(SIGPIPE, SIG_IGN);
	if (argc < 4)
		die("usage", "hs|hold|bulk ADDR:PORT N [--conc C] [--prio P] [--plain] [--resume]");
	for (int i = 4; i < argc; i++) {
		if (!strcmp(argv[i], "--conc") && i + 1 < argc)
			conc = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--prio") && i + 1 < argc)
			prio = argv[++i];
		else if (!strcmp(argv[i], "--secs") && i + 1 < argc)
			deadline_us = (long long)(atof(argv[++i]) * 1e6);
		else if (!strcmp(argv[i], "--plain"))
			plain = 1;
		else if (!strcmp(argv[i], "--resume"))
			resume = 1;
		else
			die("unknown option", argv[i]);
	}
	colon = strrchr(argv[2], ':');
	if (!colon || (size_t)(colon - argv[2]) >= sizeof(host))
		die("bad address", argv[2]);
	memcpy(host, argv[2], (size_t)(colon - argv[2]));
	host[colon - argv[2]] = '\0';
	addr.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &addr.sin_addr) != 1)
		die("bad address", argv[2]);
	if (gnutls_certificate_allocate_credentials(&cred) < 0)
		die("credentials", "failed");
	if (!strcmp(argv[1], "hs"))
		return run_hs((unsigned)atoi(argv[3]), conc ? conc : 1);
	if (!strcmp(argv[1], "hold"))
		return run_hold((unsigned)atoi(argv[3]));
	if (!strcmp(argv[1], "bulk"))
		return run_bulk(strtoull(argv[3], NULL, 10));
	die("unknown mode", argv[1]);
	return 1;
}
