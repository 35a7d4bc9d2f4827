/* tlskeyctl reload (a RELOAD request on the daemon socket) and tlskeyctl
 * keys (the configured identities, checked on their tokens right now, and
 * what the running daemon serves: a KEYS request). */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "common/daemonpeer.h"
#include "common/util.h"
#include "common/wire.h"
#include "pkcs11/p11.h"
#include "tools/tlskeyctl.h"

#define DEFAULT_SOCKET "/run/tlskeyd/tlskeyd.sock"

/* A reload loads every certificate and the ACL: seconds at worst. */
#define RELOAD_TIMEOUT_S 15

/* -s, else socket= from the configuration, else $TLSKEYD_SOCKET, else the
 * default.  A missing default configuration is fine here; a broken or
 * missing explicit one is not. */
int ctl_socket_path(struct ctl *ctl, const char **ret)
{
	const struct keyd_conf *conf;
	const char *env = getenv("TLSKEYD_SOCKET");

	if (ctl->socket_path) {
		*ret = ctl->socket_path;
		return 0;
	}
	if (ctl->conf_explicit || access(ctl->conf_path, F_OK) == 0) {
		if (ctl_conf(ctl, &conf) < 0)
			return -EINVAL;
		if (conf->socket_path) {
			*ret = conf->socket_path;
			return 0;
		}
	}
	*ret = env && *env ? env : DEFAULT_SOCKET;
	return 0;
}

int ctl_daemon_connect(struct ctl *ctl, int quiet, int timeout_s, int *ret_fd, const char **ret_path)
{
	const struct timeval tv = { .tv_sec = timeout_s };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path;
	int fd, r;

	r = ctl_socket_path(ctl, &path);
	if (r < 0)
		return r;
	*ret_path = path;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		ctl_err("%s: socket path too long", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		ctl_err("socket: %s", strerror(-r));
		return r;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		if (!quiet)
			ctl_err("cannot reach tlskeyd at %s: %s", path, strerror(-r));
		(void)tk_close(fd);
		return r;
	}
	{
		char why[512];

		/* The status, metrics and answers of an impostor are lies. */
		r = tk_daemon_peer_check(fd, path, why, sizeof(why));
		if (r < 0) {
			ctl_err("%s", why);
			(void)tk_close(fd);
			return r;
		}
	}
	*ret_fd = fd;
	return 0;
}

/* Send a request of type (RELOAD or UPGRADE: what) and print the RESULT;
 * waits up to timeout_s.  Returns 0 or a negative errno (printed). */
static int request_send(struct ctl *ctl, int type, const char *what, int timeout_s)
{
	const struct timeval tv = { .tv_sec = timeout_s };
	struct tk_msg req = { .type = (uint8_t)type }, *ans = NULL;
	const char *path = NULL;
	int fd = -1, passed = -1, r;

	ans = calloc(1, sizeof(*ans)); /* large: it has room for a certificate */
	if (!ans) {
		ctl_err("%s: %s", what, strerror(ENOMEM));
		return -ENOMEM;
	}
	r = ctl_daemon_connect(ctl, 0, RELOAD_TIMEOUT_S, &fd, &path);
	if (r < 0)
		goto out;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		r = -errno;
		goto out;
	}
	r = tk_msg_send(fd, &req, -1);
	if (r == 0)
		r = tk_msg_recv(fd, ans, &passed);
	(void)tk_close(passed); /* a RESULT to RELOAD carries none; never keep one */
	if (r == 0 && ans->type != TK_MSG_RESULT)
		r = -EBADMSG;
	if (r < 0) {
		ctl_err("%s: no answer from tlskeyd at %s: %s", what, path,
			r == -EAGAIN ? "timed out" : strerror(-r));
		goto out;
	}
	if (ans->err == 0) {
		(void)printf("%s\n", ans->message[0] ? ans->message : "done");
		goto out;
	}
	r = -(int)ans->err;
	ctl_err("%s failed: %s", what, strerror((int)ans->err));
	if (ans->message[0])
		ctl_err_lines(ans->message);
	if (ans->err == EPERM)
		ctl_err("(only root and the daemon's user may %s)", what);
	else if (type == TK_MSG_RELOAD && ans->err != ENOENT)
		ctl_err("(the daemon keeps its previous configuration; its log lists every "
			"error)");
out:
	(void)tk_close(fd);
	free(ans);
	return r;
}

int ctl_reload_send(struct ctl *ctl)
{
	return request_send(ctl, TK_MSG_RELOAD, "reload", RELOAD_TIMEOUT_S);
}

int ctl_upgrade(struct ctl *ctl, int argc, char **argv)
{
	static const char usage_text[] =
		"Usage: tlskeyctl [-c CONFIG] [-s SOCKET] upgrade\n"
		"Make the running tlskeyd start its binary again (the file now at the path\n"
		"it was started from: after a package upgrade, the new version) with its\n"
		"listening socket.  Once the new process is ready it takes every new request;\n"
		"the old one keeps relaying its sessions until they end or upgrade-drain\n"
		"passes, then exits.  If the new one cannot start, the old one keeps serving\n"
		"and the exit status is 1.  Root and the daemon's user only.\n";
	int r = ctl_only_help(argc, argv, usage_text, 0);

	if (r >= 0)
		return r;
	/* The new process loads and checks everything first: up to 60 s. */
	return request_send(ctl, TK_MSG_UPGRADE, "upgrade", 75) < 0 ? CTL_EXIT_FAIL : CTL_EXIT_OK;
}

int ctl_reload(struct ctl *ctl, int argc, char **argv)
{
	static const char usage_text[] =
		"Usage: tlskeyctl [-c CONFIG] [-s SOCKET] reload\n"
		"Ask the running tlskeyd to re-read its configuration, identities,\n"
		"certificates, trust anchors and ACL (as SIGHUP does) and print its answer.\n"
		"If anything is not valid, the daemon keeps its previous configuration,\n"
		"the errors are printed and the exit status is 1.  Root and the daemon's\n"
		"own user only.\n";
	int r = ctl_only_help(argc, argv, usage_text, 0);

	if (r >= 0)
		return r;
	return ctl_reload_send(ctl) < 0 ? CTL_EXIT_FAIL : CTL_EXIT_OK;
}

/* ---- keys ---------------------------------------------------------------- */

static void format_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm))
		(void)snprintf(buf, len, "%lld", (long long)t);
}

/* Subject and validity of the leaf certificate of id.  Returns 0 if it
 * loaded and is valid now. */
static int show_cert(const struct keyd_identity *id)
{
	gnutls_pcert_st *chain = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t dn = { NULL, 0 };
	unsigned n = 0;
	char err[512] = "";
	time_t now = time(NULL), from, until;
	char when[64];
	int r;

	(void)printf("  %-12s %s\n", "cert:", id->cert_src);
	r = p11_chain_load(id->cert_src, &chain, &n, err, sizeof(err));
	if (r < 0) {
		(void)printf("  %-12s cannot load: %s\n", "", err);
		return r;
	}
	r = -EINVAL;
	if (n == 0 || gnutls_x509_crt_init(&crt) < 0 ||
	    gnutls_x509_crt_import(crt, &chain[0].cert, GNUTLS_X509_FMT_DER) < 0) {
		(void)printf("  %-12s cannot parse the certificate\n", "");
		goto out;
	}
	if (gnutls_x509_crt_get_dn3(crt, &dn, 0) == 0)
		(void)printf("  %-12s %s\n", "subject:", (const char *)dn.data);
	from = gnutls_x509_crt_get_activation_time(crt);
	until = gnutls_x509_crt_get_expiration_time(crt);
	if (n > 1)
		(void)printf("  %-12s %u certificates\n", "chain:", n);
	format_time(until, when, sizeof(when));
	if (until < now)
		(void)printf("  %-12s %s (EXPIRED)\n", "expires:", when);
	else
		(void)printf("  %-12s %s (in %lld days)\n", "expires:", when,
			     (long long)((until - now) / 86400));
	r = until < now ? -EKEYEXPIRED : 0;
	if (from > now) {
		format_time(from, when, sizeof(when));
		(void)printf("  %-12s %s (NOT YET VALID)\n", "valid from:", when);
		r = -EKEYEXPIRED;
	}
out:
	gnutls_free(dn.data);
	if (crt)
		gnutls_x509_crt_deinit(crt);
	for (unsigned i = 0; i < n; i++)
		gnutls_pcert_deinit(&chain[i]);
	free(chain);
	return r;
}

/* What the running daemon serves (KEYS), for tlskeyctl keys. */
struct served {
	char name[TK_NAME_MAX + 1];
	uint8_t *der; /* leaf certificate, NULL if the daemon sent none */
	size_t len;
	int seen; /* matched a configured identity */
};

struct served_list {
	struct served *v;
	size_t n;
	char summary[TK_MESSAGE_MAX + 1];
};

static void served_free(struct served_list *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].der);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

/* Ask the daemon; 0 with the list, or a negative errno (not running,
 * refused: then the files alone are shown).  Bounded by the daemon's
 * identity limit. */
static int served_fetch(struct ctl *ctl, struct served_list *ret)
{
	struct tk_msg req = { .type = TK_MSG_KEYS }, *m = calloc(1, sizeof(*m));
	const char *path = NULL;
	int fd = -1, passed = -1, r;

	memset(ret, 0, sizeof(*ret));
	if (!m)
		return -ENOMEM;
	r = ctl_daemon_connect(ctl, 1, RELOAD_TIMEOUT_S, &fd, &path);
	if (r == 0)
		r = tk_msg_send(fd, &req, -1);
	while (r == 0 && ret->n <= KEYD_CONF_MAX_IDENTITIES) {
		struct served *s, *v;

		r = tk_msg_recv(fd, m, &passed);
		passed = tk_close(passed); /* none belongs here */
		if (r < 0)
			break;
		if (m->type == TK_MSG_RESULT) {
			(void)snprintf(ret->summary, sizeof(ret->summary), "%s", m->message);
			r = m->err ? -(int)m->err : 0;
			goto out;
		}
		if (m->type != TK_MSG_KEY_INFO) {
			r = -EBADMSG;
			break;
		}
		v = realloc(ret->v, (ret->n + 1) * sizeof(*v));
		if (!v) {
			r = -ENOMEM;
			break;
		}
		ret->v = v;
		s = &v[ret->n++];
		memset(s, 0, sizeof(*s));
		(void)snprintf(s->name, sizeof(s->name), "%s", m->localname);
		if (TK_HAS(m, TK_TAG_PEER_CERT) && (s->der = malloc(m->peer_cert_len))) {
			memcpy(s->der, m->peer_cert, m->peer_cert_len);
			s->len = m->peer_cert_len;
		}
	}
	if (r == 0)
		r = -E2BIG;
out:
	free(m);
	(void)tk_close(fd);
	if (r < 0)
		(void)snprintf(ret->summary, sizeof(ret->summary), "%s", strerror(-r));
	return r;
}

/* "serial 1092, expires ..." of a DER certificate. */
static void describe_der(const uint8_t *der, size_t len, char *out, size_t outlen)
{
	gnutls_x509_crt_t crt;
	gnutls_datum_t d = { (unsigned char *)der, (unsigned)len };
	unsigned char serial[64];
	size_t sl = sizeof(serial), used;
	char when[64];

	(void)snprintf(out, outlen, "(unreadable certificate)");
	if (gnutls_x509_crt_init(&crt) < 0)
		return;
	if (gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER) == 0 &&
	    gnutls_x509_crt_get_serial(crt, serial, &sl) == 0) {
		(void)snprintf(out, outlen, "serial ");
		used = strlen(out);
		for (size_t i = 0; i < sl && used + 3 < outlen; i++, used += 2)
			(void)snprintf(out + used, outlen - used, "%02x", serial[i]);
		format_time(gnutls_x509_crt_get_expiration_time(crt), when, sizeof(when));
		(void)snprintf(out + used, outlen - used, ", expires %s", when);
	}
	gnutls_x509_crt_deinit(crt);
}

/* The served line of id: what the daemon serves, and whether it is the
 * certificate the file holds now. */
static void show_served(struct served_list *list, const struct keyd_identity *id)
{
	gnutls_pcert_st *chain = NULL;
	unsigned n = 0;
	char err[512], what[160];
	struct served *s = NULL;
	int same = 0;

	for (size_t i = 0; i < list->n && !s; i++)
		if (!strcmp(list->v[i].name, id->name))
			s = &list->v[i];
	if (!s) {
		(void)printf("  %-12s not by the running daemon (tlskeyctl reload adds it)\n", "served:");
		return;
	}
	s->seen = 1;
	if (!s->der) {
		(void)printf("  %-12s (no certificate)\n", "served:");
		return;
	}
	describe_der(s->der, s->len, what, sizeof(what));
	if (p11_chain_load(id->cert_src, &chain, &n, err, sizeof(err)) == 0 && n)
		same = chain[0].cert.size == s->len && !memcmp(chain[0].cert.data, s->der, s->len);
	for (unsigned i = 0; i < n; i++)
		gnutls_pcert_deinit(&chain[i]);
	free(chain);
	(void)printf("  %-12s %s%s\n", "served:", what,
		     same ? "" : " (NOT the certificate in the file now: tlskeyctl reload serves it)");
}

/* Probe the key of id on its token.  Returns 0 if it is usable. */
static int show_key(const struct keyd_identity *id)
{
	struct p11_key_status st;
	char err[512] = "";
	int r;

	(void)printf("  %-12s %s\n", "key:", id->key_uri);
	if (id->pin_file) {
		r = p11_pin_add(id->key_uri, id->pin_file, err, sizeof(err));
		if (r < 0) {
			(void)printf("  %-12s NOT USABLE: PIN file: %s\n", "status:", err);
			return r;
		}
	}
	r = p11_key_probe(id->key_uri, &st, err, sizeof(err));
	if (r < 0) {
		(void)printf("  %-12s NOT USABLE: %s\n", "status:", err);
		return r;
	}
	(void)printf("  %-12s %s\n", "token:", st.token);
	(void)printf("  %-12s %s\n", "type:", st.key_type);
	if (st.usable)
		(void)printf("  %-12s usable (present, logged in, test signature made)\n", "status:");
	else
		(void)printf("  %-12s present (no test signature for this key type)\n", "status:");
	if (st.extractable || !st.sensitive)
		(void)printf("  %-12s the key is %s\n", "WARNING:",
			     st.extractable ? "extractable" : "not sensitive");
	return 0;
}

/* The deadline of "keys": a hung token (a remote one whose link is down, a
 * module stuck in C_Login or C_Sign) must not hang the command.  Every
 * step's message is made before the first alarm is armed, and arming a
 * step only stores its index: the handler, which may run on a module's
 * own thread, only writes one of them and exits (PINs read so far go with
 * the process, which cannot dump). */
#define KEYS_MSG_MAX 512
static char (*keys_deadline_msgs)[KEYS_MSG_MAX];
static size_t *keys_deadline_lens;
static volatile sig_atomic_t keys_deadline_step;

static void keys_deadline_hit(int sig)
{
	sig_atomic_t i = keys_deadline_step;

	(void)sig;
	(void)!write(STDERR_FILENO, keys_deadline_msgs[i], keys_deadline_lens[i]);
	_exit(CTL_EXIT_FAIL);
}

/* Make the message of step i (what names it). */
static void keys_deadline_set(size_t i, unsigned secs, const char *what)
{
	int n = snprintf(keys_deadline_msgs[i], KEYS_MSG_MAX,
			 "tlskeyctl: keys: %s: not done within %u s (the token or PKCS#11 module "
			 "does not answer?); giving up (--timeout)\n",
			 what, secs);

	keys_deadline_lens[i] = n < 0 ? 0 : (size_t)n >= KEYS_MSG_MAX ? KEYS_MSG_MAX - 1 : (size_t)n;
}

/* Arm the deadline for step i, whose message keys_deadline_set() made. */
static void keys_deadline_arm(unsigned secs, size_t i)
{
	if (!secs)
		return;
	(void)fflush(stdout); /* what was printed so far stays printed */
	keys_deadline_step = (sig_atomic_t)i;
	(void)alarm(secs);
}

int ctl_keys(struct ctl *ctl, int argc, char **argv)
{
	static const char usage_text[] =
		"Usage: tlskeyctl [-c CONFIG] keys [--timeout SECONDS]\n"
		"For each identity in the configuration: its key URI, token and key type,\n"
		"its certificate's subject and expiry, and whether the key is present and\n"
		"usable right now (a login and a test signature on the token), and the\n"
		"certificate the running daemon serves for it (which differs from the\n"
		"file until a reload).  Needs the\n"
		"PIN files, so usually root.  Exit status 1 if any identity is not usable\n"
		"or its certificate cannot be loaded or is not valid now.\n"
		"  --timeout SECONDS  give up (exit 1) when a step is not done within\n"
		"                     SECONDS: loading the module, each identity,\n"
		"                     closing the module (default 30, 0 to 3600,\n"
		"                     0 = wait forever)\n";
	static const struct option opts[] = { { "help", no_argument, NULL, 'h' },
					      { "timeout", required_argument, NULL, 't' },
					      { NULL, 0, NULL, 0 } };
	const struct keyd_conf *conf;
	struct served_list served = { 0 };
	struct sigaction sa;
	char err[512] = "";
	unsigned timeout_s = 30;
	int r, opt, bad = 0, have_served;

	while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		char *end;
		unsigned long v;

		switch (opt) {
		case 'h':
			(void)fputs(usage_text, stdout);
			return CTL_EXIT_OK;
		case 't':
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-' || v > 3600) {
				ctl_err("--timeout: expected whole seconds, 0 to 3600: %s", optarg);
				return CTL_EXIT_USAGE;
			}
			timeout_s = (unsigned)v;
			break;
		default:
			(void)fputs(usage_text, stderr);
			return CTL_EXIT_USAGE;
		}
	}
	if (argc > optind) {
		(void)fputs(usage_text, stderr);
		return CTL_EXIT_USAGE;
	}
	/* Line by line: a deadline's _exit() keeps what was printed. */
	(void)setvbuf(stdout, NULL, _IOLBF, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = keys_deadline_hit;
	(void)sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) < 0) {
		ctl_err("sigaction: %s", strerror(errno));
		return CTL_EXIT_FAIL;
	}
	/* PINs are read into our memory from here on: like the daemon, no
	 * core dump and no ptrace by other processes of our uid. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		ctl_err("cannot disable core dumps: %s", strerror(errno));
		return CTL_EXIT_FAIL;
	}
	if (ctl_conf(ctl, &conf) < 0)
		return CTL_EXIT_FAIL;
	if (conf->n_ids == 0) {
		(void)printf("%s: no identities configured\n", ctl->conf_path);
		return CTL_EXIT_OK;
	}
	/* Steps: 0 loading the module, 1..n_ids the identities, n_ids + 1
	 * closing the module.  Freed by the exit. */
	if (timeout_s) {
		keys_deadline_msgs = calloc(conf->n_ids + 2, sizeof(*keys_deadline_msgs));
		keys_deadline_lens = calloc(conf->n_ids + 2, sizeof(*keys_deadline_lens));
		if (!keys_deadline_msgs || !keys_deadline_lens) {
			ctl_err("out of memory");
			return CTL_EXIT_FAIL;
		}
		keys_deadline_set(0, timeout_s, "loading the PKCS#11 module");
		for (size_t i = 0; i < conf->n_ids; i++)
			keys_deadline_set(i + 1, timeout_s, conf->ids[i].name);
		keys_deadline_set(conf->n_ids + 1, timeout_s, "closing the PKCS#11 module");
	}
	keys_deadline_arm(timeout_s, 0);
	r = p11_init(conf->module_path, err, sizeof(err));
	(void)alarm(0);
	if (r < 0) {
		ctl_err("PKCS#11: %s", err);
		if (geteuid() != 0)
			ctl_err("not root: tokens and PIN files are usually root's");
		return CTL_EXIT_FAIL;
	}
	have_served = served_fetch(ctl, &served) == 0;
	if (have_served)
		(void)printf("daemon: %s\n\n", served.summary);
	else
		(void)printf("daemon: not reachable or refused (%s): the files only\n\n", served.summary);
	for (size_t i = 0; i < conf->n_ids; i++) {
		const struct keyd_identity *id = &conf->ids[i];

		(void)printf("%s%s (%s:%u)\n", i ? "\n" : "", id->name, ctl->conf_path, id->line);
		/* The key's probe, and a certificate or chain on the token. */
		keys_deadline_arm(timeout_s, i + 1);
		if (show_key(id) < 0)
			bad++;
		if (show_cert(id) < 0)
			bad++;
		ctl_ocsp_show(conf, id);
		if (have_served)
			show_served(&served, id);
		(void)alarm(0);
	}
	for (size_t i = 0; i < served.n; i++)
		if (!served.v[i].seen)
			(void)printf("\n%s\n  %-12s by the running daemon, but not in %s (tlskeyctl reload removes it)\n",
				     served.v[i].name, "served:", ctl->conf_path);
	served_free(&served);
	keys_deadline_arm(timeout_s, conf->n_ids + 1);
	p11_done();
	(void)alarm(0);
	if (bad && geteuid() != 0)
		ctl_err("not root: PIN files are usually readable by root only");
	return bad ? CTL_EXIT_FAIL : CTL_EXIT_OK;
}
