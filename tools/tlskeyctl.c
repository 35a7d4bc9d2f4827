/* tlskeyctl: global options and subcommand dispatch. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/tlskeyctl.h"

#define DEFAULT_CONF SYSCONFDIR "/tlskeyd/tlskeyd.conf"

void ctl_err(const char *fmt, ...)
{
	va_list ap;

	(void)fputs("tlskeyctl: ", stderr);
	va_start(ap, fmt);
	(void)vfprintf(stderr, fmt, ap);
	va_end(ap);
	(void)fputc('\n', stderr);
}

void ctl_err_lines(const char *text)
{
	const char *p = text, *nl;

	while (p && *p) {
		nl = strchr(p, '\n');
		if (!nl) {
			ctl_err("%s", p);
			break;
		}
		ctl_err("%.*s", (int)(nl - p), p);
		p = nl + 1;
	}
}

int ctl_only_help(int argc, char **argv, const char *usage_text, int max_args)
{
	static const struct option opts[] = { { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
	int opt;

	while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		if (opt == 'h') {
			(void)fputs(usage_text, stdout);
			return CTL_EXIT_OK;
		}
		(void)fputs(usage_text, stderr);
		return CTL_EXIT_USAGE;
	}
	if (argc - optind > max_args) {
		(void)fputs(usage_text, stderr);
		return CTL_EXIT_USAGE;
	}
	return -1;
}

int ctl_conf(struct ctl *ctl, const struct keyd_conf **ret_conf)
{
	char err[1024] = "";
	int r;

	if (!ctl->conf) {
		r = keyd_conf_load(ctl->conf_path, &ctl->conf, err, sizeof(err));
		if (r < 0) {
			if (err[0])
				ctl_err_lines(err);
			else
				ctl_err("%s: %s", ctl->conf_path, strerror(-r));
			return r;
		}
	}
	*ret_conf = ctl->conf;
	return 0;
}

int ctl_acl_path(struct ctl *ctl, const char **ret_path)
{
	const struct keyd_conf *conf;
	int r;

	if (ctl->acl_path) {
		*ret_path = ctl->acl_path;
		return 0;
	}
	r = ctl_conf(ctl, &conf);
	if (r < 0) {
		ctl_err("cannot tell which ACL file to use: give --acl FILE");
		return r;
	}
	if (!conf->acl_path) {
		ctl_err("%s: no 'acl' setting (the daemon denies everything); give --acl FILE",
			ctl->conf_path);
		return -ENOENT;
	}
	*ret_path = conf->acl_path;
	return 0;
}

static void usage(FILE *f)
{
	(void)fprintf(f,
		"Usage: tlskeyctl [-c CONFIG] [-s SOCKET] [--acl FILE] COMMAND [ARGS...]\n"
		"\n"
		"Administer tlskeyd: its access control list, its keys, reloads.\n"
		"\n"
		"Commands:\n"
		"  acl list                 show every rule (numbered) and map line with file:line\n"
		"  acl check [FILE]         parse the ACL and report every error\n"
		"  acl add [--before N] [--reload] WORD...\n"
		"                           add one rule or map line (validated first)\n"
		"  acl remove [--reload] N | --line L\n"
		"                           remove rule N (as numbered by 'acl list') or line L\n"
		"  acl test --user U --myname N --role client|server [...]\n"
		"                           show which rule decides a request\n"
		"  reload                   make the running daemon re-read its configuration\n"
		"  upgrade                  start the daemon's binary anew without dropping sessions\n"
		"  keys [--timeout S]       show each identity's token, key, certificate and status\n"
		"  status [--json]          the running daemon's counters, sessions and identities\n"
		"  metrics [--http]         the same as Prometheus metrics (--http: answer one\n"
		"                           HTTP request on stdin, for tlskeyd-metrics.socket)\n"
		"  ocsp-fetch [--reload] [IDENTITY]\n"
		"                           fetch each identity's OCSP response for stapling\n"
		"\n"
		"Options:\n"
		"  -c, --config FILE  daemon configuration (default " DEFAULT_CONF ")\n"
		"  -s, --socket PATH  daemon socket (default: 'socket' from the configuration,\n"
		"                     else $TLSKEYD_SOCKET, else /run/tlskeyd/tlskeyd.sock)\n"
		"      --acl FILE     ACL file (default: 'acl' from the configuration)\n"
		"  -h, --help         show this help; 'tlskeyctl COMMAND --help' for a command\n"
		"  -V, --version      show the version\n"
		"\n"
		"Exit status: 0 success, 1 failure (or 'deny' from acl test), 2 usage error.\n");
}

static const struct {
	const char *name;
	ctl_cmd_fn fn;
} commands[] = {
	{ "acl", ctl_acl_main },
	{ "reload", ctl_reload },
	{ "upgrade", ctl_upgrade },
	{ "keys", ctl_keys },
	{ "status", ctl_status },
	{ "metrics", ctl_metrics },
	{ "ocsp-fetch", ctl_ocsp_fetch },
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' }, { "socket", required_argument, NULL, 's' },
		{ "acl", required_argument, NULL, 'a' },    { "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },      { NULL, 0, NULL, 0 }
	};
	struct ctl ctl = { .conf_path = DEFAULT_CONF };
	const char *cmd;
	int opt, r = -1;

	/* "+": stop at the command, whose options are its own. */
	while ((opt = getopt_long(argc, argv, "+c:s:hV", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			ctl.conf_path = optarg;
			ctl.conf_explicit = 1;
			break;
		case 's': ctl.socket_path = optarg; break;
		case 'a': ctl.acl_path = optarg; break;
		case 'h': usage(stdout); return CTL_EXIT_OK;
		case 'V': (void)printf("tlskeyctl %s\n", PACKAGE_VERSION); return CTL_EXIT_OK;
		default: usage(stderr); return CTL_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return CTL_EXIT_USAGE;
	}
	cmd = argv[optind];
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(cmd, commands[i].name) == 0) {
			char **sub = argv + optind;
			int n = argc - optind;

			optind = 0; /* full getopt reset for the command's own options */
			r = commands[i].fn(&ctl, n, sub);
			break;
		}
	}
	if (r < 0) {
		ctl_err("unknown command '%s' (see tlskeyctl --help)", cmd);
		r = CTL_EXIT_USAGE;
	}
	keyd_conf_free(ctl.conf);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		ctl_err("writing the output: %s", strerror(errno));
		return CTL_EXIT_FAIL;
	}
	return r;
}
