/* tlskeyctl ocsp-fetch: for each identity with an ocsp-response file, ask
 * the OCSP responder its certificate names (AIA, plain HTTP as OCSP is),
 * check the answer as the daemon will (keyd/ocsp.c) and replace the file
 * atomically; --reload then tells the daemon.  Run by tlskeyd-ocsp.timer.
 * The HTTP client is keyd/ocsp_http.c, shared with the daemon. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/ocsp.h>
#include <gnutls/x509.h>

#include "common/file.h"
#include "common/util.h"
#include "keyd/ocsp.h"
#include "keyd/ocsp_http.h"
#include "keyd/trust.h"
#include "pkcs11/p11.h"
#include "tools/tlskeyctl.h"

static void format_utc(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm))
		(void)snprintf(buf, len, "%lld", (long long)t);
}

struct fetch_ctx {
	gnutls_certificate_credentials_t anchors;
	unsigned timeout_s;
};

/* Ask, check and store one identity's response; prints the outcome. */
static int fetch_one(struct fetch_ctx *fx, const struct keyd_identity *id)
{
	gnutls_pcert_st *chain = NULL;
	gnutls_x509_crt_t leaf = NULL, issuer = NULL;
	gnutls_ocsp_req_t req = NULL;
	gnutls_datum_t der = { NULL, 0 }, resp = { NULL, 0 };
	char err[512] = "", url[512] = "", when[32];
	unsigned n = 0;
	time_t next = 0;
	int r, revoked = 0;

	r = p11_chain_load(id->cert_src, &chain, &n, err, sizeof(err));
	if (r == 0 && (gnutls_x509_crt_init(&leaf) < 0 ||
		       gnutls_x509_crt_import(leaf, &chain[0].cert, GNUTLS_X509_FMT_DER) < 0))
		r = -EINVAL, tk_errf(err, sizeof(err), "cannot parse %s", id->cert_src);
	if (r == 0)
		r = ocsp_find_issuer(chain, n, fx->anchors, &issuer, err, sizeof(err));
	if (r == 0 && ocsp_aia_url(leaf, url, sizeof(url)) < 0)
		r = -ENOENT, tk_errf(err, sizeof(err), "the certificate names no OCSP responder (AIA)");
	if (r == 0 && (gnutls_ocsp_req_init(&req) < 0 ||
		       gnutls_ocsp_req_add_cert(req, GNUTLS_DIG_SHA1, issuer, leaf) < 0 ||
		       gnutls_ocsp_req_export(req, &der) < 0))
		r = -ENOMEM, tk_errf(err, sizeof(err), "cannot build the OCSP request");
	if (r == 0)
		r = ocsp_http_post(url, &der, tk_now_ms() + fx->timeout_s * 1000ull, &resp, err, sizeof(err));
	if (r == 0)
		r = ocsp_resp_check(&resp, leaf, issuer, time(NULL), &revoked, &next, err, sizeof(err));
	if (r == 0)
		r = tk_file_replace(id->ocsp_file, resp.data, resp.size, err, sizeof(err));
	if (r == 0) {
		format_utc(next, when, sizeof(when));
		(void)printf("%s: %s (next update %s) from %s -> %s\n", id->name,
			     revoked ? "REVOKED" : "good", when, url, id->ocsp_file);
		if (revoked)
			ctl_err("%s: the responder says the certificate is revoked", id->name);
	} else {
		ctl_err("%s: %s (the file is left as it was)", id->name, err);
	}
	gnutls_free(der.data);
	gnutls_free(resp.data);
	if (req)
		gnutls_ocsp_req_deinit(req);
	if (issuer)
		gnutls_x509_crt_deinit(issuer);
	if (leaf)
		gnutls_x509_crt_deinit(leaf);
	for (unsigned i = 0; i < n; i++)
		gnutls_pcert_deinit(&chain[i]);
	free(chain);
	return r;
}

void ctl_ocsp_show(const struct keyd_conf *conf, const struct keyd_identity *id)
{
	gnutls_certificate_credentials_t anchors = NULL;
	gnutls_pcert_st *chain = NULL;
	gnutls_x509_crt_t leaf = NULL, issuer = NULL;
	char err[512] = "", *buf = NULL, when[32];
	size_t blen = 0;
	unsigned n = 0;
	time_t next = 0;
	struct keyd_trustconf t;
	int r, revoked = 0;

	if (!id->ocsp_file)
		return;
	r = tk_file_read("ocsp-response", id->ocsp_file, OCSP_MAX_RESPONSE, 0, &buf, &blen, NULL, err,
			 sizeof(err));
	if (r == 0)
		r = p11_chain_load(id->cert_src, &chain, &n, err, sizeof(err));
	if (r == 0 && (gnutls_x509_crt_init(&leaf) < 0 ||
		       gnutls_x509_crt_import(leaf, &chain[0].cert, GNUTLS_X509_FMT_DER) < 0))
		r = -EINVAL, tk_errf(err, sizeof(err), "cannot parse %s", id->cert_src);
	/* The identity's own anchors if it sets them (per-identity trust). */
	t = keyd_conf_trust_of(conf, id);
	if (r == 0 && (gnutls_certificate_allocate_credentials(&anchors) < 0 ||
		       trust_anchors_load(&t, anchors, err, sizeof(err)) < 0))
		r = -EINVAL;
	if (r == 0)
		r = ocsp_find_issuer(chain, n, anchors, &issuer, err, sizeof(err));
	if (r == 0) {
		gnutls_datum_t der = { (unsigned char *)buf, (unsigned)blen };

		r = ocsp_resp_check(&der, leaf, issuer, time(NULL), &revoked, &next, err, sizeof(err));
	}
	if (r == 0) {
		format_utc(next, when, sizeof(when));
		(void)printf("  %-12s %s, next update %s (%s)\n", "ocsp:", revoked ? "REVOKED" : "good",
			     when, id->ocsp_file);
	} else {
		(void)printf("  %-12s not stapled: %s\n", "ocsp:", err);
	}
	tk_file_free(buf, blen);
	if (issuer)
		gnutls_x509_crt_deinit(issuer);
	if (leaf)
		gnutls_x509_crt_deinit(leaf);
	if (anchors)
		gnutls_certificate_free_credentials(anchors);
	for (unsigned i = 0; i < n; i++)
		gnutls_pcert_deinit(&chain[i]);
	free(chain);
}

static const char fetch_usage[] =
	"Usage: tlskeyctl [-c CONFIG] ocsp-fetch [--timeout SEC] [--reload] [IDENTITY]\n"
	"For each identity with an ocsp-response file (or only IDENTITY), ask the OCSP\n"
	"responder named in its certificate (Authority Information Access, http://),\n"
	"check the answer (about this certificate, signed by its issuer or a delegated\n"
	"responder, nextUpdate ahead, good or revoked) and replace the file atomically.\n"
	"A revoked status is written too (the daemon staples it) and reported.\n"
	"--timeout: per responder, default 10 s.  --reload: then ask the daemon to\n"
	"reload, if any file was written.  Exit status 1 if any identity failed.\n";

static int fetch_opts(int argc, char **argv, unsigned *timeout_s, int *reload)
{
	static const struct option opts[] = { { "timeout", required_argument, NULL, 't' },
					      { "reload", no_argument, NULL, 'r' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		char *end;
		unsigned long v;

		switch (c) {
		case 't':
			v = strtoul(optarg, &end, 10);
			if (*end || v == 0 || v > 300) {
				ctl_err("--timeout: 1 to 300 seconds, not '%s'", optarg);
				return CTL_EXIT_USAGE;
			}
			*timeout_s = (unsigned)v;
			break;
		case 'r':
			*reload = 1;
			break;
		case 'h':
			(void)fputs(fetch_usage, stdout);
			return CTL_EXIT_OK;
		default:
			(void)fputs(fetch_usage, stderr);
			return CTL_EXIT_USAGE;
		}
	}
	if (argc - optind > 1) {
		(void)fputs(fetch_usage, stderr);
		return CTL_EXIT_USAGE;
	}
	return -1;
}

int ctl_ocsp_fetch(struct ctl *ctl, int argc, char **argv)
{
	const struct keyd_conf *conf;
	struct fetch_ctx fx = { .timeout_s = 10 };
	const char *only;
	char err[512] = "";
	unsigned done = 0, bad = 0;
	int r, reload = 0;

	r = fetch_opts(argc, argv, &fx.timeout_s, &reload);
	if (r >= 0)
		return r;
	only = optind < argc ? argv[optind] : NULL;
	if (ctl_conf(ctl, &conf) < 0)
		return CTL_EXIT_FAIL;
	if (only && (!keyd_conf_identity(conf, only) || !keyd_conf_identity(conf, only)->ocsp_file)) {
		ctl_err("%s: no such identity with an ocsp-response in %s", only, ctl->conf_path);
		return CTL_EXIT_FAIL;
	}
	r = p11_init(conf->module_path, err, sizeof(err));
	if (r == 0 && gnutls_certificate_allocate_credentials(&fx.anchors) < 0)
		r = -ENOMEM, tk_errf(err, sizeof(err), "out of memory");
	if (r == 0 && trust_anchors_load(&conf->trust, fx.anchors, err, sizeof(err)) < 0)
		r = -EINVAL;
	for (size_t i = 0; r == 0 && i < conf->n_ids; i++) {
		const struct keyd_identity *id = &conf->ids[i];

		if (!id->ocsp_file || (only && id != keyd_conf_identity(conf, only)))
			continue;
		if (fetch_one(&fx, id) < 0)
			bad++;
		else
			done++;
	}
	if (r < 0)
		ctl_err("%s", err);
	if (fx.anchors)
		gnutls_certificate_free_credentials(fx.anchors);
	p11_done();
	if (r == 0 && reload && done && ctl_reload_send(ctl) < 0)
		bad++;
	return r < 0 || bad ? CTL_EXIT_FAIL : CTL_EXIT_OK;
}
