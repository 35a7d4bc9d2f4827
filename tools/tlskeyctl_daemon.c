/* tlskeyctl reload (a RELOAD request on the daemon socket) and tlskeyctl
 * keys (the configured identities, checked on their tokens right now). */
#include "config.h"

#include <errno.h>
#include <getopt.h>
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
static int socket_path(struct ctl *ctl, const char **ret)
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

int ctl_reload_send(struct ctl *ctl)
{
	const struct timeval tv = { .tv_sec = RELOAD_TIMEOUT_S };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct tk_msg req = { .type = TK_MSG_RELOAD }, *ans = NULL;
	const char *path;
	int fd = -1, passed = -1, r;

	r = socket_path(ctl, &path);
	if (r < 0)
		return r;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		ctl_err("%s: socket path too long", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	ans = calloc(1, sizeof(*ans)); /* large: it has room for a certificate */
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (!ans || fd < 0) {
		r = ans ? -errno : -ENOMEM;
		ctl_err("reload: %s", strerror(-r));
		goto out;
	}
	/* Bounded: a wedged daemon must not hang the administrator. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		ctl_err("cannot reach tlskeyd at %s: %s", path, strerror(errno));
		goto out;
	}
	r = tk_msg_send(fd, &req, -1);
	if (r == 0)
		r = tk_msg_recv(fd, ans, &passed);
	(void)tk_close(passed); /* a RESULT to RELOAD carries none; never keep one */
	if (r == 0 && ans->type != TK_MSG_RESULT)
		r = -EBADMSG;
	if (r < 0) {
		ctl_err("reload: no answer from tlskeyd at %s: %s", path,
			r == -EAGAIN ? "timed out" : strerror(-r));
		goto out;
	}
	if (ans->err == 0) {
		(void)printf("%s\n", ans->message[0] ? ans->message : "reloaded");
		goto out;
	}
	r = -(int)ans->err;
	ctl_err("reload failed: %s", strerror((int)ans->err));
	if (ans->message[0])
		ctl_err_lines(ans->message);
	if (ans->err == EPERM)
		ctl_err("(only root and the daemon's user may reload)");
	else if (ans->err != ENOENT)
		ctl_err("(the daemon keeps its previous configuration; its log lists every "
			"error)");
out:
	(void)tk_close(fd);
	free(ans);
	return r;
}

int ctl_reload(struct ctl *ctl, int argc, char **argv)
{
	static const char usage_text[] =
		"Usage: tlskeyctl [-c CONFIG] [-s SOCKET] reload\n"
		"Ask the running tlskeyd to re-read its configuration, identities,\n"
		"certificates, trust anchors and ACL (as SIGHUP does) and print its answer.\n"
		"If anything is not valid, the daemon keeps its previous configuration,\n"
		"the errors are printed and the exit status is 1.  Root only.\n";
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

int ctl_keys(struct ctl *ctl, int argc, char **argv)
{
	static const char usage_text[] =
		"Usage: tlskeyctl [-c CONFIG] keys\n"
		"For each identity in the configuration: its key URI, token and key type,\n"
		"its certificate's subject and expiry, and whether the key is present and\n"
		"usable right now (a login and a test signature on the token).  Needs the\n"
		"PIN files, so usually root.  Exit status 1 if any identity is not usable\n"
		"or its certificate cannot be loaded or is not valid now.\n";
	const struct keyd_conf *conf;
	char err[512] = "";
	int r = ctl_only_help(argc, argv, usage_text, 0), bad = 0;

	if (r >= 0)
		return r;
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
	r = p11_init(conf->module_path, err, sizeof(err));
	if (r < 0) {
		ctl_err("PKCS#11: %s", err);
		if (geteuid() != 0)
			ctl_err("not root: tokens and PIN files are usually root's");
		return CTL_EXIT_FAIL;
	}
	for (size_t i = 0; i < conf->n_ids; i++) {
		const struct keyd_identity *id = &conf->ids[i];

		(void)printf("%s%s (%s:%u)\n", i ? "\n" : "", id->name, ctl->conf_path, id->line);
		if (show_key(id) < 0)
			bad++;
		if (show_cert(id) < 0)
			bad++;
	}
	p11_done();
	if (bad && geteuid() != 0)
		ctl_err("not root: PIN files are usually readable by root only");
	return bad ? CTL_EXIT_FAIL : CTL_EXIT_OK;
}
