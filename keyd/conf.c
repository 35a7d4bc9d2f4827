#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <gnutls/gnutls.h>

#include "common/file.h"
#include "common/util.h"
#include "keyd/conf.h"
#include "pkcs11/p11.h"

#define CONF_MAX_SIZE (1024 * 1024)
#define CONF_MAX_LINE 4096
/* More than every known setting of one section; longer keys are unknown. */
#define CONF_MAX_KEYS 48
#define CONF_MAX_KEY 40

struct parser {
	const char *name;
	unsigned line;
	char *err;
	size_t errlen;
	struct keyd_conf *conf;
	struct keyd_identity *cur; /* current [identity] section or NULL */
	struct keyd_peer *peer;    /* current [peer] section or NULL */
	int size_set, ttl_set, expiry_set;
	unsigned n_errors;  /* each one a line of err: all are reported */
	int skip_section;   /* its header was bad: its settings are not read */
	/* Settings seen in the current section: each may appear once
	 * (tlskeyd.conf(5)); [peer] pins repeat on purpose and are not kept. */
	char seen[CONF_MAX_KEYS][CONF_MAX_KEY + 1];
	size_t n_seen;
};

static int perr(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int perr(struct parser *p, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->err && p->errlen) {
		size_t used = p->n_errors ? strnlen(p->err, p->errlen) : 0;

		if (used + 1 < p->errlen)
			(void)snprintf(p->err + used, p->errlen - used, "%s%s:%u: %s",
				       p->n_errors ? "\n" : "", p->name, p->line, msg);
	}
	p->n_errors++;
	return -EINVAL;
}

/* A setting given twice in a section is a mistake whichever value was
 * meant: an error at the second one's line, for every kind of setting
 * (numbers used to take the last value silently). */
static int check_once(struct parser *p, const char *key)
{
	if (strlen(key) > CONF_MAX_KEY)
		return 0; /* no such setting: the dispatch says "unknown" */
	for (size_t i = 0; i < p->n_seen; i++)
		if (!strcmp(p->seen[i], key))
			return perr(p, "duplicate setting '%s'", key);
	if (p->n_seen < CONF_MAX_KEYS)
		memcpy(p->seen[p->n_seen++], key, strlen(key) + 1);
	return 0;
}

static int set_str(struct parser *p, char **dst, const char *key, const char *val)
{
	if (*dst)
		return perr(p, "duplicate setting '%s'", key);
	*dst = strdup(val);
	return *dst ? 0 : -ENOMEM;
}

static int set_uint(struct parser *p, unsigned *dst, const char *key, const char *val, unsigned min,
		    unsigned max)
{
	unsigned long v;

	if (tk_parse_ulong(val, min, max, &v) < 0)
		return perr(p, "'%s' must be an integer from %u to %u, got '%s'", key, min, max, val);
	*dst = (unsigned)v;
	return 0;
}

/* 0 (off) or at least one full record: a smaller count would make a
 * KeyUpdate per record. */
static int set_key_update_bytes(struct parser *p, unsigned long long *dst, const char *key,
				const char *val)
{
	unsigned long v;

	if (tk_parse_ulong(val, 0, 1ul << 40, &v) < 0 || (v && v < 16384))
		return perr(p, "'%s' must be 0 or from 16384 to 2^40, got '%s'", key, val);
	*dst = v;
	return 0;
}

static int set_path(struct parser *p, char **dst, const char *key, const char *val)
{
	if (val[0] != '/')
		return perr(p, "'%s' must be an absolute path, got '%s'", key, val);
	return set_str(p, dst, key, val);
}

/* admin-group: a group name, or a numeric gid, resolved now so that a
 * misspelt group is an error at file:line, not a silent "nobody". */
static int set_group(struct parser *p, const char *key, const char *val)
{
	struct group gr, *res = NULL;
	char buf[4096], *end;
	unsigned long v;

	if (p->conf->admin_group)
		return perr(p, "duplicate setting '%s'", key);
	errno = 0;
	v = strtoul(val, &end, 10);
	if (isdigit((unsigned char)val[0]) && !*end && !errno && v < (unsigned long)UINT_MAX) {
		p->conf->admin_gid = (unsigned)v;
	} else if (getgrnam_r(val, &gr, buf, sizeof(buf), &res) == 0 && res) {
		p->conf->admin_gid = (unsigned)res->gr_gid;
	} else {
		return perr(p, "'%s': unknown group '%s'", key, val);
	}
	return set_str(p, &p->conf->admin_group, key, val);
}

static int global_setting(struct parser *p, const char *key, const char *val)
{
	struct keyd_conf *c = p->conf;

	if (!strcmp(key, "socket"))
		return set_path(p, &c->socket_path, key, val);
	if (!strcmp(key, "acl"))
		return set_path(p, &c->acl_path, key, val);
	if (!strcmp(key, "pkcs11-module"))
		return set_path(p, &c->module_path, key, val);
	if (!strcmp(key, "ca-file"))
		return strcmp(val, "system") ? set_path(p, &c->ca_file, key, val)
					     : set_str(p, &c->ca_file, key, val);
	if (!strcmp(key, "ca-dir"))
		return set_path(p, &c->ca_dir, key, val);
	if (!strcmp(key, "priority"))
		return set_str(p, &c->priority, key, val);
	if (!strcmp(key, "workers"))
		return set_uint(p, &c->workers, key, val, 1, KEYD_CONF_MAX_WORKERS);
	if (!strcmp(key, "max-handshakes"))
		return set_uint(p, &c->max_handshakes, key, val, 1, 65536);
	if (!strcmp(key, "max-pending"))
		return set_uint(p, &c->max_pending, key, val, 1, 65536);
	if (!strcmp(key, "max-pending-per-uid"))
		return set_uint(p, &c->max_pending_per_uid, key, val, 1, 65536);
	if (!strcmp(key, "max-handshakes-per-uid"))
		return set_uint(p, &c->max_handshakes_per_uid, key, val, 1, 65536);
	if (!strcmp(key, "max-handshakes-per-identity"))
		return set_uint(p, &c->max_handshakes_per_identity, key, val, 1, 65536);
	if (!strcmp(key, "handshake-timeout"))
		return set_uint(p, &c->handshake_timeout_ms, key, val, 1, 3600 * 1000);
	if (!strcmp(key, "cache-size")) {
		p->size_set = 1;
		return set_uint(p, &c->cache_size, key, val, 0, 1u << 20);
	}
	if (!strcmp(key, "cache-ttl")) {
		p->ttl_set = 1;
		return set_uint(p, &c->cache_ttl_s, key, val, 0, 24 * 3600);
	}
	if (!strcmp(key, "idle-exit"))
		return set_uint(p, &c->idle_exit_s, key, val, 0, 7 * 24 * 3600);
	if (!strcmp(key, "protected-socket")) {
		if (strcmp(val, "tcp") && strcmp(val, "unix"))
			return perr(p, "'protected-socket' must be tcp or unix, not '%s'", val);
		c->protected_unix = !strcmp(val, "unix");
		return 0;
	}
	if (!strcmp(key, "protected-socket-fallback")) {
		if (strcmp(val, "refuse") && strcmp(val, "unix"))
			return perr(p, "'protected-socket-fallback' must be refuse or unix, not '%s'", val);
		c->fallback_unix = !strcmp(val, "unix");
		return 0;
	}
	if (!strcmp(key, "close-timeout"))
		return set_uint(p, &c->close_timeout_ms, key, val, 1, 3600 * 1000);
	if (!strcmp(key, "key-update-bytes"))
		return set_key_update_bytes(p, &c->key_update_bytes, key, val);
	if (!strcmp(key, "key-update-seconds"))
		return set_uint(p, &c->key_update_s, key, val, 0, 7 * 24 * 3600);
	if (!strcmp(key, "admin-group"))
		return set_group(p, key, val);
	if (!strcmp(key, "upgrade-drain"))
		return set_uint(p, &c->upgrade_drain_s, key, val, 1, 7 * 24 * 3600);
	if (!strcmp(key, "request-timeout"))
		return set_uint(p, &c->request_timeout_ms, key, val, 1, 3600 * 1000);
	if (!strcmp(key, "cert-expiry-warning")) {
		p->expiry_set = 1;
		return set_uint(p, &c->cert_expiry_warning_days, key, val, 0, 3650);
	}
	return perr(p, "unknown setting '%s'", key);
}

static int identity_setting(struct parser *p, const char *key, const char *val)
{
	struct keyd_identity *id = p->cur;

	if (!strcmp(key, "key")) {
		char *uri = NULL, *pin_source = NULL;
		int r;

		if (strncmp(val, "pkcs11:", 7))
			return perr(p, "'key' must be a PKCS#11 URI (pkcs11:...)");
		if (id->key_uri)
			return perr(p, "duplicate setting 'key'");
		r = p11_uri_strip_pin(val, &uri, &pin_source);
		if (r < 0)
			return perr(p, "malformed PKCS#11 URI in 'key'");
		/* An unknown attribute (p11_uri_check) makes this identity
		 * unusable, not the file: keyd/check.c reports it at this line
		 * and the daemon serves the other identities. */
		id->key_line = p->line;
		id->key_uri = uri;
		if (pin_source) {
			if (id->pin_file) {
				free(pin_source);
				return perr(p, "both pin-source in the URI and 'pin-file' given");
			}
			id->pin_file = pin_source;
		}
		return 0;
	}
	if (!strcmp(key, "cert")) {
		char why[256];

		if (strncmp(val, "pkcs11:", 7) && val[0] != '/')
			return perr(p, "'cert' must be an absolute path or a PKCS#11 URI");
		if (!strncmp(val, "pkcs11:", 7) && p11_uri_check(val, why, sizeof(why)) < 0)
			return perr(p, "'cert': %s", why);
		return set_str(p, &id->cert_src, key, val);
	}
	if (!strcmp(key, "optional")) {
		if (strcmp(val, "yes") && strcmp(val, "no"))
			return perr(p, "'optional' must be yes or no, not '%s'", val);
		id->optional = !strcmp(val, "yes");
		return 0;
	}
	if (!strcmp(key, "pin-file")) {
		if (id->pin_file)
			return perr(p, "duplicate PIN source");
		return set_path(p, &id->pin_file, key, val);
	}
	return perr(p, "unknown identity setting '%s'", key);
}

/* Decode exactly 32 bytes: 64 hex digits, or 44 base64 characters
 * (GnuTLS's decoders; anything else, or another length, is refused). */
static int decode_sha256(const char *v, unsigned char out[32])
{
	gnutls_datum_t in = { (unsigned char *)(uintptr_t)v, (unsigned)strlen(v) }, d = { NULL, 0 };
	int r = -1;

	if (in.size == 64)
		r = gnutls_hex_decode2(&in, &d);
	else if (in.size == 44)
		r = gnutls_base64_decode2(&in, &d);
	if (r < 0 || d.size != 32) {
		gnutls_free(d.data);
		return -EINVAL;
	}
	memcpy(out, d.data, 32);
	gnutls_free(d.data);
	return 0;
}

static int peer_setting(struct parser *p, const char *key, const char *val)
{
	struct keyd_peer *pe = p->peer;
	enum keyd_pin_kind kind;

	if (!strcmp(key, "pin-sha256"))
		kind = KEYD_PIN_SPKI;
	else if (!strcmp(key, "cert-sha256"))
		kind = KEYD_PIN_CERT;
	else
		return perr(p, "unknown peer setting '%s'", key);
	if (pe->n_pins >= KEYD_PEER_MAX_PINS)
		return perr(p, "too many pins for '%s' (limit %d)", pe->name, KEYD_PEER_MAX_PINS);
	if (decode_sha256(val, pe->pins[pe->n_pins].sha256) < 0)
		return perr(p, "'%s' must be a SHA-256 digest (64 hex digits or 44 base64 characters)",
			    key);
	pe->pins[pe->n_pins++].kind = kind;
	return 0;
}

static int start_peer(struct parser *p, char *name)
{
	struct keyd_conf *c = p->conf;
	struct keyd_peer *peers;

	if (tk_name_validate(name, strlen(name)) < 0)
		return perr(p, "invalid peer name '%s'", name);
	tk_identity_canonical(name);
	if (keyd_conf_peer(c, name))
		return perr(p, "duplicate peer '%s'", name);
	if (c->n_peers >= KEYD_CONF_MAX_IDENTITIES)
		return perr(p, "too many peers");
	peers = realloc(c->peers, (c->n_peers + 1) * sizeof(*peers));
	if (!peers)
		return -ENOMEM;
	c->peers = peers;
	p->peer = &peers[c->n_peers];
	memset(p->peer, 0, sizeof(*p->peer));
	p->peer->line = p->line;
	p->peer->name = strdup(name);
	c->n_peers++;
	p->cur = NULL;
	return p->peer->name ? 0 : -ENOMEM;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int finish_identity(struct parser *p)
{
	struct keyd_identity *id = p->cur;
	unsigned saved = p->line;
	int r = 0;

	if (!id)
		return 0;
	p->line = id->line;
	if (!id->key_uri)
		r = perr(p, "identity '%s' has no 'key'", id->name);
	else if (!id->cert_src)
		r = perr(p, "identity '%s' has no 'cert'", id->name);
	p->line = saved;
	return r;
}

static int start_identity(struct parser *p, char *hdr)
{
	struct keyd_conf *c = p->conf;
	struct keyd_identity *ids;
	char *name;
	size_t n;

	if (!strncmp(hdr, "peer", 4) && isspace((unsigned char)hdr[4]))
		return start_peer(p, trim(hdr + 4));
	if (strncmp(hdr, "identity", 8) || !isspace((unsigned char)hdr[8]))
		return perr(p, "unknown section '[%s]'", hdr);
	p->peer = NULL;
	name = trim(hdr + 8);
	n = strlen(name);
	if (tk_name_validate(name, n) < 0)
		return perr(p, "invalid identity name '%s'", name);
	/* One spelling from here on: admission, the ACL, the audit records
	 * and tlskey_query() all see this one (lower-case domain). */
	tk_identity_canonical(name);
	if (keyd_conf_identity(c, name))
		return perr(p, "duplicate identity '%s'", name);
	if (c->n_ids >= KEYD_CONF_MAX_IDENTITIES)
		return perr(p, "too many identities (limit %d)", KEYD_CONF_MAX_IDENTITIES);
	ids = realloc(c->ids, (c->n_ids + 1) * sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	c->ids = ids;
	p->cur = &ids[c->n_ids];
	memset(p->cur, 0, sizeof(*p->cur));
	p->cur->line = p->line;
	p->cur->name = strdup(name);
	c->n_ids++;
	return p->cur->name ? 0 : -ENOMEM;
}

static int parse_line(struct parser *p, char *line)
{
	char *s = trim(line), *eq, *key, *val;
	int r;

	if (*s == '\0' || *s == '#')
		return 0;
	if (*s == '[') {
		char *end = strchr(s, ']');

		p->skip_section = 1;
		if (!end || trim(end + 1)[0] != '\0')
			return perr(p, "malformed section header");
		*end = '\0';
		r = finish_identity(p); /* reported; the next section is read anyway */
		p->cur = NULL;
		p->n_seen = 0;
		if (r == -ENOMEM)
			return r;
		r = start_identity(p, trim(s + 1));
		p->skip_section = r < 0;
		return r;
	}
	if (p->skip_section)
		return 0;
	eq = strchr(s, '=');
	if (!eq)
		return perr(p, "expected 'key = value'");
	*eq = '\0';
	key = trim(s);
	val = trim(eq + 1);
	if (!*key || !*val)
		return perr(p, "empty key or value");
	if (!p->peer) {
		r = check_once(p, key);
		if (r < 0)
			return r;
	}
	if (p->peer)
		return peer_setting(p, key, val);
	return p->cur ? identity_setting(p, key, val) : global_setting(p, key, val);
}

static void conf_defaults(struct keyd_conf *c)
{
	if (!c->workers) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		/* Signing on a token blocks a worker; a few more workers than
		 * CPUs keeps the CPUs busy while one waits for the HSM. */
		c->workers = (unsigned)(n > 0 ? (n * 2 > 16 ? 16 : n * 2) : 2);
	}
	if (!c->max_handshakes)
		c->max_handshakes = 256;
	if (!c->max_pending)
		c->max_pending = 1024;
	/* Shares of the global limits (doc/config.md): one uid may not hold
	 * every waiting slot or every handshake, nor may one identity (a
	 * public service a remote peer can flood with silent handshakes).
	 * A share larger than the whole is the whole. */
	if (!c->max_pending_per_uid)
		c->max_pending_per_uid = 64;
	/* At least 2: a uid may be both ends of a local TLS connection (its
	 * server and its client through this daemon), which needs two
	 * handshakes at once; with one, each would wait for the other. */
	if (!c->max_handshakes_per_uid)
		c->max_handshakes_per_uid = c->max_handshakes / 4 > 2 ? c->max_handshakes / 4 : 2;
	if (!c->max_handshakes_per_identity)
		c->max_handshakes_per_identity = c->max_handshakes / 2 ? c->max_handshakes / 2 : 1;
	if (c->max_pending_per_uid > c->max_pending)
		c->max_pending_per_uid = c->max_pending;
	if (c->max_handshakes_per_uid > c->max_handshakes)
		c->max_handshakes_per_uid = c->max_handshakes;
	if (c->max_handshakes_per_identity > c->max_handshakes)
		c->max_handshakes_per_identity = c->max_handshakes;
	if (!c->handshake_timeout_ms)
		c->handshake_timeout_ms = 30000;
	/* The library sends its request right after connect(): a client that
	 * has not spoken within 2 s is not going to, and holds a slot. */
	if (!c->request_timeout_ms)
		c->request_timeout_ms = 2000;
	if (!c->close_timeout_ms)
		c->close_timeout_ms = 10000;
	if (!c->upgrade_drain_s)
		c->upgrade_drain_s = 3600;
}

static void cache_defaults(struct parser *p)
{
	if (!p->size_set)
		p->conf->cache_size = 4096;
	if (!p->ttl_set)
		p->conf->cache_ttl_s = 300;
	if (!p->expiry_set)
		p->conf->cert_expiry_warning_days = 14;
}

int keyd_conf_parse(const char *name, const char *buf, size_t len, struct keyd_conf **ret_conf,
		    char *err, size_t errlen)
{
	struct parser p = { .name = name, .err = err, .errlen = errlen };
	char line[CONF_MAX_LINE + 1];
	size_t pos = 0;
	int r = 0;

	if (len > CONF_MAX_SIZE)
		return perr(&p, "file too large");
	p.conf = calloc(1, sizeof(*p.conf));
	if (!p.conf)
		return -ENOMEM;
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (buf + pos)) : len - pos;

		/* Every error is reported, not only the first: go on after
		 * one (out of memory aside). */
		p.line++;
		if (n > CONF_MAX_LINE)
			r = perr(&p, "line longer than %d bytes", CONF_MAX_LINE);
		else if (memchr(buf + pos, '\0', n))
			r = perr(&p, "NUL byte in line");
		else {
			memcpy(line, buf + pos, n);
			line[n] = '\0';
			r = parse_line(&p, line);
		}
		pos += n + (nl ? 1 : 0);
		if (r == -ENOMEM)
			goto out;
	}
	r = finish_identity(&p);
	if (r == 0 && p.n_errors)
		r = -EINVAL;
	if (r < 0)
		goto out;
	conf_defaults(p.conf);
	cache_defaults(&p);
	*ret_conf = p.conf;
	p.conf = NULL;
out:
	keyd_conf_free(p.conf);
	return r;
}

int keyd_conf_load(const char *path, struct keyd_conf **ret_conf, char *err, size_t errlen)
{
	struct keyd_conf *conf = NULL;
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int r;

	/* tk_file_read() refuses a file over the limit, or one that grows past
	 * it while it is read, instead of parsing the part it got. */
	r = tk_file_read("configuration file", path, CONF_MAX_SIZE, 0, &buf, &len, &st, err,
			 errlen);
	if (r < 0)
		return r;
	/* It names the PKCS#11 module the daemon loads and the ACL: whoever
	 * may write it runs code as the daemon.  The ACL's own rule. */
	r = tk_file_trusted(path, &st, err, errlen);
	if (r == 0)
		r = keyd_conf_parse(path, buf, len, &conf, err, errlen);
	tk_file_free(buf, len);
	if (r < 0)
		return r;
	conf->path = strdup(path);
	if (!conf->path) {
		keyd_conf_free(conf);
		return -ENOMEM;
	}
	*ret_conf = conf;
	return 0;
}

const struct keyd_identity *keyd_conf_identity(const struct keyd_conf *conf, const char *name)
{
	for (size_t i = 0; i < conf->n_ids; i++)
		if (tk_identity_equal(conf->ids[i].name, strlen(conf->ids[i].name), name, strlen(name)))
			return &conf->ids[i];
	return NULL;
}

const struct keyd_peer *keyd_conf_peer(const struct keyd_conf *conf, const char *name)
{
	for (size_t i = 0; i < conf->n_peers; i++)
		if (tk_identity_equal(conf->peers[i].name, strlen(conf->peers[i].name), name,
				      strlen(name)))
			return &conf->peers[i];
	return NULL;
}

void keyd_conf_free(struct keyd_conf *conf)
{
	if (!conf)
		return;
	for (size_t i = 0; i < conf->n_peers; i++)
		free(conf->peers[i].name);
	free(conf->peers);
	for (size_t i = 0; i < conf->n_ids; i++) {
		free(conf->ids[i].name);
		free(conf->ids[i].key_uri);
		free(conf->ids[i].cert_src);
		free(conf->ids[i].pin_file);
	}
	free(conf->ids);
	free(conf->path);
	free(conf->socket_path);
	free(conf->acl_path);
	free(conf->module_path);
	free(conf->ca_file);
	free(conf->ca_dir);
	free(conf->priority);
	free(conf->admin_group);
	free(conf);
}
