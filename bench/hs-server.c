/* hs-server: the in-process baseline of the benchmarks (bench/run.sh): a
 * minimal pre-forking GnuTLS server using the same token key directly.
 *
 *   hs-server hs|bulk --port-file F --cert CHAIN.pem --key URL-or-FILE
 *             [--module SO --pin-file F] [--workers W] [--prio P] [--bytes B]
 *   hs    full handshake, close_notify, close
 *   bulk  write B bytes while reading to EOF (full duplex), then close
 *
 * Each of the W worker processes initialises PKCS#11 after fork() and
 * imports the key itself (its own token session), as tlskeyd's workers do;
 * each serves one connection at a time.  Listens on 127.0.0.1, port written
 * to F.  Stops when its parent (run.sh) kills it. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/pkcs11.h>

static const char *pin_file;

static void die(const char *what, const char *why)
{
	(void)fprintf(stderr, "hs-server: %s: %s\n", what, why);
	exit(1);
}

static int pin_cb(void *u, int attempt, const char *url, const char *label, unsigned flags,
		  char *pin, size_t pin_max)
{
	FILE *f;
	size_t n;

	(void)u, (void)url, (void)label;
	if (!pin_file || attempt > 0 || (flags & GNUTLS_PIN_WRONG))
		return -1;
	f = fopen(pin_file, "re");
	if (!f)
		return -1;
	n = fread(pin, 1, pin_max - 1, f);
	(void)fclose(f);
	while (n && (pin[n - 1] == '\n' || pin[n - 1] == '\r'))
		n--;
	pin[n] = '\0';
	return n ? 0 : -1;
}

static void bulk(gnutls_session_t t, int s, unsigned long long bytes)
{
	static char out[16384], in[65536];
	unsigned long long sent = 0;
	int wr_done = 0, rd_done = 0, pending = 0;

	memset(out, 'z', sizeof(out));
	(void)fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_NONBLOCK);
	while (!wr_done || !rd_done) {
		struct pollfd p = { .fd = s, .events = (short)((wr_done ? 0 : POLLOUT) | (rd_done ? 0 : POLLIN)) };
		ssize_t n;

		if (!gnutls_record_check_pending(t) && poll(&p, 1, 30000) <= 0)
			return;
		if (!wr_done) {
			size_t len = sent + sizeof(out) > bytes ? (size_t)(bytes - sent) : sizeof(out);

			n = pending ? gnutls_record_send(t, NULL, 0) : gnutls_record_send(t, out, len);
			if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
				pending = 1;
			else if (n < 0)
				return;
			else {
				pending = 0;
				sent += (unsigned long long)n;
			}
			if (sent >= bytes && !pending) {
				int r;
				do
					r = gnutls_bye(t, GNUTLS_SHUT_WR);
				while (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED);
				(void)shutdown(s, SHUT_WR);
				wr_done = 1;
			}
		}
		if (!rd_done) {
			n = gnutls_record_recv(t, in, sizeof(in));
			if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
				;
			else if (n <= 0)
				rd_done = 1;
		}
	}
}

static void serve(int lsock, const char *mode, const char *module, const char *cert,
		  const char *key, const char *prio, unsigned long long bytes)
{
	gnutls_certificate_credentials_t cred;
	gnutls_priority_t pr;
	int r;

	if (module) {
		r = gnutls_pkcs11_init(GNUTLS_PKCS11_FLAG_MANUAL, NULL);
		if (r == 0)
			r = gnutls_pkcs11_add_provider(module, NULL);
		if (r < 0)
			die(module, gnutls_strerror(r));
		gnutls_pkcs11_set_pin_function(pin_cb, NULL);
	}
	if (gnutls_certificate_allocate_credentials(&cred) < 0)
		die("credentials", "failed");
	/* The key may be a PKCS#11 URL: GnuTLS imports it once, here.  SoftHSM
	 * fails now and then when several processes log in at the same moment
	 * (file-backed token store): retry a few times. */
	for (int attempt = 0; attempt < 20; attempt++) {
		r = gnutls_certificate_set_x509_key_file(cred, cert, key, GNUTLS_X509_FMT_PEM);
		if (r >= 0)
			break;
		(void)usleep(50000 + (useconds_t)(getpid() % 7) * 20000);
	}
	if (r < 0)
		die(key, gnutls_strerror(r));
	r = gnutls_priority_init2(&pr, prio, NULL, 0);
	if (r < 0)
		die(prio, gnutls_strerror(r));
	for (;;) {
		gnutls_session_t t;
		int s = accept4(lsock, NULL, NULL, SOCK_CLOEXEC), one = 1;

		if (s < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			die("accept", strerror(errno));
		}
		(void)setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (gnutls_init(&t, GNUTLS_SERVER | GNUTLS_NO_TICKETS) < 0)
			die("gnutls_init", "failed");
		(void)gnutls_priority_set(t, pr);
		(void)gnutls_credentials_set(t, GNUTLS_CRD_CERTIFICATE, cred);
		gnutls_transport_set_int(t, s);
		do
			r = gnutls_handshake(t);
		while (r < 0 && !gnutls_error_is_fatal(r));
		if (r == 0) {
			if (!strcmp(mode, "bulk"))
				bulk(t, s, bytes);
			else
				(void)gnutls_bye(t, GNUTLS_SHUT_WR);
		}
		gnutls_deinit(t);
		(void)close(s);
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	const char *port_file = NULL, *module = NULL, *cert = NULL, *key = NULL, *prio = "NORMAL";
	unsigned workers = 4;
	unsigned long long bytes = 0;
	int lsock, one = 1;
	FILE *f;

	(void)signal(SIGPIPE, SIG_IGN);
	if (argc < 2)
		die("usage", "hs|bulk --port-file F --cert C --key K [--module M --pin-file P] ...");
	for (int i = 2; i + 1 < argc; i += 2) {
		const char *a = argv[i], *v = argv[i + 1];

		if (!strcmp(a, "--port-file"))
			port_file = v;
		else if (!strcmp(a, "--module"))
			module = v;
		else if (!strcmp(a, "--pin-file"))
			pin_file = v;
		else if (!strcmp(a, "--cert"))
			cert = v;
		else if (!strcmp(a, "--key"))
			key = v;
		else if (!strcmp(a, "--workers"))
			workers = (unsigned)atoi(v);
		else if (!strcmp(a, "--prio"))
			prio = v;
		else if (!strcmp(a, "--bytes"))
			bytes = strtoull(v, NULL, 10);
		else
			die("unknown option", a);
	}
	if (!cert || !key || !port_file)
		die("usage", "--port-file, --cert and --key are required");
	lsock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lsock < 0)
		die("socket", strerror(errno));
	(void)setsockopt(lsock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lsock, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lsock, 4096) < 0 ||
	    getsockname(lsock, (struct sockaddr *)&sa, &sl) < 0)
		die("listen", strerror(errno));
	for (unsigned i = 0; i < workers; i++) {
		pid_t p = fork();

		if (p < 0)
			die("fork", strerror(errno));
		if (p == 0) {
			serve(lsock, argv[1], module, cert, key, prio, bytes);
			_exit(0);
		}
	}
	{
		char tmp[4096];

		(void)snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
		f = fopen(tmp, "we");
		if (!f || fprintf(f, "%u\n", ntohs(sa.sin_port)) < 0 || fclose(f) != 0 ||
		    rename(tmp, port_file) < 0)
			die(port_file, strerror(errno));
	}
	/* Children die with us: run.sh kills the process group. */
	while (wait(NULL) > 0)
		;
	return 0;
}
