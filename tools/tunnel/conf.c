/* Configuration: command line options and the --config file share one
 * table of settings, so a key in the file is exactly the long option
 * without "--" (doc/tunnel.md, tlskey-tunnel(1)).  The file is read first,
 * the command line overrides it. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tlskey/starttls.h>

#include "common/file.h"
#include "common/flags.h"
#include "common/util.h"
#include "tools/tunnel/tunnel.h"

#define DEFAULT_MAX_CONNS 256u

#define SERVER_ONLY_FLAGS (TLSKEY_FLAG_NO_REQUIRE_PEER_CERT | TLSKEY_FLAG_NO_REQUEST_PEER_CERT)
#define CLIENT_ONLY_FLAGS TLSKEY_FLAG_NO_LOCAL_CERT

/* Where a setting came from, for messages: "--listen" or "FILE:LINE: listen". */
struct origin {
	const char *file; /* NULL: command line */
	unsigned line;
	const char *key;
};

static int conf_error(const struct origin *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int conf_error(const struct origin *o, const char *fmt, ...)
{
	va_list ap;

	if (o->file)
		(void)fprintf(stderr, "tlskey-tunnel: %s:%u: %s: ", o->file, o->line, o->key);
	else
		(void)fprintf(stderr, "tlskey-tunnel: --%s: ", o->key);
	va_start(ap, fmt);
	(void)vfprintf(stderr, fmt, ap);
	va_end(ap);
	(void)fputc('\n', stderr);
	return -EINVAL;
}

int tunnel_flags_parse(const char *list, int *ret_flags)
{
	uint32_t flags;
	int r;

	/* "" (--flags '') clears the flags of a configuration file. */
	if (*list == '\0') {
		*ret_flags = 0;
		return 0;
	}
	r = tk_flags_parse(list, &flags);
	if (r < 0)
		return r;
	*ret_flags = (int)flags;
	return 0;
}

static void exec_free(struct tunnel_conf *c)
{
	for (size_t i = 0; i < TUNNEL_EXEC_ARGS_MAX && c->exec_argv[i]; i++) {
		free(c->exec_argv[i]);
		c->exec_argv[i] = NULL;
	}
}

void tunnel_conf_free(struct tunnel_conf *conf)
{
	if (conf)
		exec_free(conf);
}

/* Copy argv[0..n) into conf->exec_argv (replacing what was there). */
static int exec_set(struct tunnel_conf *c, char *const *args, size_t n, const struct origin *o)
{
	exec_free(c);
	if (n == 0)
		return conf_error(o, "needs a program");
	if (n > TUNNEL_EXEC_ARGS_MAX)
		return conf_error(o, "more than %u arguments", TUNNEL_EXEC_ARGS_MAX);
	if (args[0][0] != '/')
		return conf_error(o, "the program must be an absolute path: %s", args[0]);
	for (size_t i = 0; i < n; i++) {
		c->exec_argv[i] = strdup(args[i]);
		if (!c->exec_argv[i]) {
			exec_free(c);
			return conf_error(o, "out of memory");
		}
	}
	return 0;
}

static int set_name(char *dst, const char *value, const struct origin *o)
{
	size_t n = strlen(value);

	if (n == 0 || n > TUNNEL_NAME_MAX)
		return conf_error(o, "must be 1 to %u bytes", TUNNEL_NAME_MAX);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)value[i];

		/* The daemon validates names properly; this only keeps
		 * spaces and control bytes out of our own log lines. */
		if (ch <= ' ' || ch >= 0x7f)
			return conf_error(o, "invalid character in '%s'", value);
	}
	memcpy(dst, value, n + 1);
	return 0;
}

static int set_addr(struct tunnel_addr *dst, const char *value, int passive, int allow_unix,
		    const struct origin *o)
{
	int r = tunnel_addr_parse(value, passive, allow_unix, dst);

	if (r == -EADDRNOTAVAIL)
		return conf_error(o, "cannot resolve '%s'", value);
	if (r == -ENAMETOOLONG)
		return conf_error(o, "too long: '%s'", value);
	if (r < 0)
		return conf_error(o, "expected %s, got '%s'",
				  allow_unix ? "HOST:PORT, [IPV6]:PORT or unix:/PATH"
					     : "HOST:PORT or [IPV6]:PORT",
				  value);
	return 0;
}

/* "10", "10s", "500ms": a bare number is seconds, as in systemd. */
/* "name,*.domain,...": replaces earlier entries (a command line option
 * overrides the file). */
static int set_sni_allow(struct tunnel_conf *c, const char *value, const struct origin *o)
{
	const char *p = value;

	c->n_sni_allow = 0;
	for (;;) {
		size_t n = strcspn(p, ",");
		char *dst;

		if (n == 0 || n > TUNNEL_NAME_MAX)
			return conf_error(o, "each name must be 1 to %u bytes, in '%s'", TUNNEL_NAME_MAX,
					  value);
		if (c->n_sni_allow == TUNNEL_SNI_ALLOW_MAX)
			return conf_error(o, "at most %u names", TUNNEL_SNI_ALLOW_MAX);
		dst = c->sni_allow[c->n_sni_allow];
		for (size_t i = 0; i < n; i++) {
			unsigned char ch = (unsigned char)p[i];
			int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
				 (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
				 (ch == '*' && i == 0 && n > 2 && p[1] == '.');

			if (!ok)
				return conf_error(o, "'%.*s' is not a host name or *.domain", (int)n, p);
			dst[i] = (char)ch;
		}
		dst[n] = '\0';
		c->n_sni_allow++;
		if (p[n] == '\0')
			return 0;
		p += n + 1;
	}
}

int tunnel_sni_allowed(const struct tunnel_conf *conf, const char *name)
{
	size_t len = strlen(name);

	for (unsigned i = 0; i < conf->n_sni_allow; i++) {
		const char *a = conf->sni_allow[i];
		size_t alen = strlen(a);

		if (a[0] == '*') {
			/* "*.d": the name ends in ".d" and has a label before it. */
			if (len > alen - 1 && strcasecmp(name + len - (alen - 1), a + 1) == 0)
				return 1;
		} else if (strcasecmp(name, a) == 0) {
			return 1;
		}
	}
	return 0;
}

static int parse_timeout(const char *s, unsigned max_ms, unsigned *ret_ms)
{
	char num[16];
	size_t digits = strspn(s, "0123456789");
	unsigned long v, mult;

	if (digits == 0 || digits >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, digits);
	num[digits] = '\0';
	if (strcmp(s + digits, "") == 0 || strcmp(s + digits, "s") == 0)
		mult = 1000;
	else if (strcmp(s + digits, "ms") == 0)
		mult = 1;
	else
		return -EINVAL;
	if (tk_parse_ulong(num, 0, max_ms, &v) < 0 || v > max_ms / mult)
		return -EINVAL;
	*ret_ms = (unsigned)(v * mult);
	return 0;
}

static int parse_bool(const char *s, int *ret)
{
	if (strcmp(s, "yes") == 0 || strcmp(s, "true") == 0 || strcmp(s, "1") == 0)
		*ret = 1;
	else if (strcmp(s, "no") == 0 || strcmp(s, "false") == 0 || strcmp(s, "0") == 0)
		*ret = 0;
	else
		return -EINVAL;
	return 0;
}

/* Apply one setting.  `exec` is handled by the callers (argv vs. file). */
static int conf_set(struct tunnel_conf *c, const char *key, const char *value, const struct origin *o)
{
	unsigned long v;

	if (strcmp(key, "mode") == 0) {
		if (strcmp(value, "server") == 0)
			c->mode = TUNNEL_MODE_SERVER;
		else if (strcmp(value, "client") == 0)
			c->mode = TUNNEL_MODE_CLIENT;
		else
			return conf_error(o, "expected 'server' or 'client', got '%s'", value);
		return 0;
	}
	if (strcmp(key, "listen") == 0)
		return set_addr(&c->listen, value, 1, 1, o);
	if (strcmp(key, "backend") == 0)
		return set_addr(&c->backend, value, 0, 1, o);
	if (strcmp(key, "connect") == 0)
		return set_addr(&c->connect, value, 0, 0, o);
	if (strcmp(key, "myname") == 0)
		return set_name(c->myname, value, o);
	if (strcmp(key, "sni") == 0)
		return set_name(c->sni, value, o);
	if (strcmp(key, "sni-allow") == 0)
		return set_sni_allow(c, value, o);
	if (strcmp(key, "alpn") == 0) {
		char why[200];

		if (tunnel_alpn_parse(c, value, why, sizeof(why)) < 0)
			return conf_error(o, "%s", why);
		return 0;
	}
	if (strcmp(key, "flags") == 0) {
		if (tunnel_flags_parse(value, &c->flags) < 0)
			return conf_error(o, "unknown or repeated flag in '%s' (see tlskey-tunnel(1))",
					  value);
		return 0;
	}
	if (strcmp(key, "proxy-v2") == 0 || strcmp(key, "alpn-strict") == 0) {
		int *dst = strcmp(key, "proxy-v2") == 0 ? &c->proxy_v2 : &c->alpn_strict;

		if (parse_bool(value, dst) < 0)
			return conf_error(o, "expected yes or no, got '%s'", value);
		return 0;
	}
	if (strcmp(key, "max-conns") == 0) {
		if (tk_parse_ulong(value, 1, TUNNEL_MAX_CONNS_LIMIT, &v) < 0)
			return conf_error(o, "expected 1 to %u, got '%s'", TUNNEL_MAX_CONNS_LIMIT, value);
		c->max_conns = (unsigned)v;
		return 0;
	}
	if (strcmp(key, "max-conns-per-source") == 0) {
		if (tk_parse_ulong(value, 0, TUNNEL_MAX_CONNS_LIMIT, &v) < 0)
			return conf_error(o, "expected 0 (no cap) to %u, got '%s'", TUNNEL_MAX_CONNS_LIMIT,
					  value);
		c->max_conns_per_source = (unsigned)v;
		return 0;
	}
	if (strcmp(key, "timeout") == 0) {
		if (parse_timeout(value, TUNNEL_TIMEOUT_MAX_MS, &c->timeout_ms) < 0)
			return conf_error(o, "expected SECONDS, SECONDSs or MILLISECONDSms up to 3600s, got '%s'",
					  value);
		return 0;
	}
	if (strcmp(key, "idle-timeout") == 0) {
		if (parse_timeout(value, TUNNEL_IDLE_MAX_MS, &c->idle_timeout_ms) < 0)
			return conf_error(o, "expected SECONDS, SECONDSs or MILLISECONDSms up to 7 days, got '%s'",
					  value);
		return 0;
	}
	if (strcmp(key, "port-file") == 0) {
		if (value[0] == '\0' || strlen(value) >= sizeof(c->port_file))
			return conf_error(o, "bad path");
		strcpy(c->port_file, value);
		return 0;
	}
	return conf_error(o, "unknown setting");
}

/* Split a file's exec value on blanks.  XXX: no quoting; arguments with
 * spaces need a wrapper script. */
static int conf_file_exec(struct tunnel_conf *c, char *value, const struct origin *o)
{
	char *args[TUNNEL_EXEC_ARGS_MAX + 1], *save = NULL, *tok;
	size_t n = 0;

	for (tok = strtok_r(value, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		if (n == TUNNEL_EXEC_ARGS_MAX + 1)
			break;
		args[n++] = tok;
	}
	return exec_set(c, args, n, o);
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return s;
}

/* The file names the backend (where decrypted traffic goes), the identity
 * whose key tlskeyd uses and --exec programs run for each connection:
 * whoever may write it, or any directory on the way to it, has the
 * tunnel's identity and its traffic.  The daemon's rule for its own
 * files (tk_file_trusted: owned by root or us, not writable by group or
 * others, the same for the directories), judged before the first read.
 * Its errno is never -EINVAL or -EFBIG, which conf_load_file() reads as
 * "not a regular file of at most ...". */
static int conf_file_judge(const char *path, const struct stat *st, char *err, size_t errlen)
{
	char why[512];
	int r = tk_file_trusted(path, st, why, sizeof(why));

	if (r == 0)
		return 0;
	(void)snprintf(err, errlen,
		       "refusing configuration file %s: whoever may write it chooses the backend, "
		       "the identity and --exec programs",
		       why);
	return r == -EINVAL || r == -EFBIG ? -EPERM : r;
}

/* Read and apply a configuration file: "key = value" lines, '#' comments
 * (at the start of a line), blank lines.  Bounded: TUNNEL_CONF_FILE_MAX
 * bytes, TUNNEL_CONF_LINE_MAX per line, no NUL or control bytes. */
static int conf_load_file(struct tunnel_conf *c, const char *path)
{
	struct origin o = { .file = path, .key = "" };
	char *data = NULL, *line, *next;
	char err[512];
	size_t len = 0;
	int r;

	/* tk_file_read_judged(): a FIFO or device at the path does not hang
	 * start-up, a file that grows past the limit while it is read is
	 * refused, and so is one that others may write (conf_file_judge). */
	r = tk_file_read_judged("configuration file", path, TUNNEL_CONF_FILE_MAX, 0, conf_file_judge, &data,
				&len, NULL, err, sizeof(err));
	if (r == -EFBIG || r == -EINVAL) {
		(void)fprintf(stderr, "tlskey-tunnel: %s: not a regular file of at most %u bytes\n", path,
			      TUNNEL_CONF_FILE_MAX);
		return -EINVAL;
	}
	if (r < 0) {
		(void)fprintf(stderr, "tlskey-tunnel: %s\n", r == -ENOMEM ? "out of memory" : err);
		return r == -ENOMEM ? r : -EINVAL;
	}
	if (memchr(data, '\0', len)) {
		o.line = 0;
		r = conf_error(&o, "NUL byte in file");
		goto out;
	}

	r = 0;
	for (line = data; line && *line; line = next) {
		char *eq, *key, *value;

		o.line++;
		o.key = "";
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (strlen(line) > TUNNEL_CONF_LINE_MAX) {
			r = conf_error(&o, "line longer than %u bytes", TUNNEL_CONF_LINE_MAX);
			goto out;
		}
		if (*line && line[strlen(line) - 1] == '\r')
			line[strlen(line) - 1] = '\0';
		for (char *p = line; *p; p++) {
			if ((unsigned char)*p < ' ' && *p != '\t') {
				r = conf_error(&o, "control character");
				goto out;
			}
		}
		line = trim(line);
		if (*line == '\0' || *line == '#')
			continue;
		eq = strchr(line, '=');
		if (!eq) {
			r = conf_error(&o, "expected 'key = value'");
			goto out;
		}
		*eq = '\0';
		key = trim(line);
		value = trim(eq + 1);
		o.key = key;
		if (strcmp(key, "config") == 0) {
			r = conf_error(&o, "cannot be nested");
			goto out;
		}
		if (*value == '\0') {
			r = conf_error(&o, "empty value");
			goto out;
		}
		if (strcmp(key, "exec") == 0)
			r = conf_file_exec(c, value, &o);
		else
			r = conf_set(c, key, value, &o);
		if (r < 0)
			goto out;
	}
out:
	tk_file_free(data, len);
	return r;
}

static void usage(FILE *f)
{
	(void)fputs(
		"Usage: tlskey-tunnel --mode server --listen ADDR --myname NAME\n"
		"                     (--backend ADDR [--proxy-v2] | --exec PROGRAM [ARGS...])\n"
		"       tlskey-tunnel --mode client --listen ADDR --connect HOST:PORT\n"
		"                     --myname NAME [--sni NAME]\n"
		"       server mode also: [--sni-allow NAME,*.DOMAIN,...]\n"
		"       either mode: [--alpn ID,ID,... [--alpn-strict]] (e.g. h2,http/1.1)\n"
		"       tlskey-tunnel --config FILE [OPTIONS]\n"
		"Options: --flags LIST  --max-conns N  --max-conns-per-source N\n"
		"         --timeout SECONDS|Ns|Nms\n"
		"         --idle-timeout SECONDS|Ns|Nms  --port-file FILE\n"
		"ADDR: HOST:PORT, [IPV6]:PORT, *:PORT (listen on all), unix:/PATH\n"
		"--exec must come last.  See tlskey-tunnel(1).\n",
		f);
}

/* OPT_BOOL: a switch on the command line, "yes"/"no" in a file. */
enum { OPT_HELP = 'h', OPT_VERSION = 'V', OPT_BASE = 0x100, OPT_CONFIG, OPT_BOOL };

static const struct option long_opts[] = {
	{ "mode", required_argument, NULL, OPT_BASE },
	{ "listen", required_argument, NULL, OPT_BASE },
	{ "backend", required_argument, NULL, OPT_BASE },
	{ "connect", required_argument, NULL, OPT_BASE },
	{ "myname", required_argument, NULL, OPT_BASE },
	{ "sni", required_argument, NULL, OPT_BASE },
	{ "sni-allow", required_argument, NULL, OPT_BASE },
	{ "alpn", required_argument, NULL, OPT_BASE },
	{ "flags", required_argument, NULL, OPT_BASE },
	{ "max-conns", required_argument, NULL, OPT_BASE },
	{ "max-conns-per-source", required_argument, NULL, OPT_BASE },
	{ "timeout", required_argument, NULL, OPT_BASE },
	{ "idle-timeout", required_argument, NULL, OPT_BASE },
	{ "port-file", required_argument, NULL, OPT_BASE },
	{ "proxy-v2", no_argument, NULL, OPT_BOOL },
	{ "alpn-strict", no_argument, NULL, OPT_BOOL },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

/* The combination of settings, once everything is read. */
static int conf_check(const struct tunnel_conf *c)
{
	struct origin o = { .key = "mode" };
	int have_exec = c->exec_argv[0] != NULL;

	if (c->mode == TUNNEL_MODE_NONE)
		return conf_error(&o, "missing: --mode server or --mode client");
	o.key = "myname";
	if (!c->myname[0])
		return conf_error(&o, "missing");
	o.key = "listen";
	if (!c->listen.len)
		return conf_error(&o, "missing");
	if (c->port_file[0] && c->listen.ss.ss_family == AF_UNIX)
		return conf_error(&o, "--port-file is for TCP listeners");
	o.key = "alpn-strict";
	if (c->alpn_strict && !c->n_alpn)
		return conf_error(&o, "needs --alpn");
	if (c->mode == TUNNEL_MODE_SERVER) {
		if (c->listen.ss.ss_family == AF_UNIX)
			return conf_error(&o, "server mode listens on TCP (TLS from the network)");
		o.key = "backend";
		if (!c->backend.len && !have_exec)
			return conf_error(&o, "server mode needs --backend ADDR or --exec PROGRAM");
		if (c->backend.len && have_exec)
			return conf_error(&o, "--backend and --exec exclude each other");
		o.key = "proxy-v2";
		if (c->proxy_v2 && have_exec)
			return conf_error(&o, "is for --backend; --exec passes TLSKEY_PEER instead");
		o.key = "sni";
		if (c->sni[0])
			return conf_error(&o, "is for client mode (server mode: --sni-allow)");
		o.key = "connect";
		if (c->connect.len)
			return conf_error(&o, "is for client mode");
		o.key = "flags";
		if (c->flags & CLIENT_ONLY_FLAGS)
			return conf_error(&o, "no-local-cert is for client mode");
	} else {
		o.key = "connect";
		if (!c->connect.len)
			return conf_error(&o, "client mode needs --connect HOST:PORT");
		o.key = "backend";
		if (c->backend.len)
			return conf_error(&o, "is for server mode");
		o.key = "exec";
		if (have_exec)
			return conf_error(&o, "is for server mode");
		o.key = "proxy-v2";
		if (c->proxy_v2)
			return conf_error(&o, "is for server mode");
		o.key = "sni-allow";
		if (c->n_sni_allow)
			return conf_error(&o, "is for server mode (client mode: --sni)");
		o.key = "flags";
		if (c->flags & SERVER_ONLY_FLAGS)
			return conf_error(&o, "no-require-peer-cert and no-request-peer-cert are for server mode");
	}
	return 0;
}

int tunnel_conf_from_argv(int argc, char **argv, struct tunnel_conf *ret_conf)
{
	struct tunnel_conf c;
	struct origin o = { 0 };
	int nopt = argc, ch, idx, r;

	memset(&c, 0, sizeof(c));
	c.max_conns = DEFAULT_MAX_CONNS;
	c.max_conns_per_source = TUNNEL_PER_SOURCE_DEFAULT;
	/* Everything after --exec belongs to the program, not to getopt. */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--exec") == 0) {
			nopt = i;
			break;
		}
	}

	/* Pass 1: --config (and --help/--version), so that the command line
	 * can override the file whatever the order. */
	opterr = 0;
	optind = 0;
	while ((ch = getopt_long(nopt, argv, "hV", long_opts, &idx)) != -1) {
		if (ch == OPT_HELP) {
			usage(stdout);
			return 1;
		}
		if (ch == OPT_VERSION) {
			(void)printf("tlskey-tunnel %s\n", PACKAGE_VERSION);
			return 1;
		}
		if (ch == OPT_CONFIG) {
			r = conf_load_file(&c, optarg);
			if (r < 0)
				goto fail;
		}
	}

	/* Pass 2: everything else, in order. */
	opterr = 1;
	optind = 0;
	while ((ch = getopt_long(nopt, argv, "hV", long_opts, &idx)) != -1) {
		if (ch == OPT_CONFIG)
			continue;
		if (ch == OPT_BASE) {
			o.key = long_opts[idx].name;
			r = conf_set(&c, o.key, optarg, &o);
		} else if (ch == OPT_BOOL) {
			o.key = long_opts[idx].name;
			r = conf_set(&c, o.key, "yes", &o);
		} else {
			/* getopt_long() has said what was wrong. */
			(void)fputs("Try 'tlskey-tunnel --help'.\n", stderr);
			r = -EINVAL;
		}
		if (r < 0)
			goto fail;
	}
	if (optind < nopt) {
		(void)fprintf(stderr, "tlskey-tunnel: unexpected argument '%s' (--exec must come last)\n",
			      argv[optind]);
		r = -EINVAL;
		goto fail;
	}
	if (nopt < argc) {
		o.key = "exec";
		r = exec_set(&c, argv + nopt + 1, (size_t)(argc - nopt - 1), &o);
		if (r < 0)
			goto fail;
	}
	r = conf_check(&c);
	if (r < 0)
		goto fail;
	*ret_conf = c; /* exec_argv now owned by the caller */
	return 0;
fail:
	exec_free(&c);
	return -EINVAL;
}
