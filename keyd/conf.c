#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
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
#include "keyd/conf_parse.h"

#define CONF_MAX_SIZE (1024 * 1024)
#define CONF_MAX_LINE 4096

/* A setting given twice in a section is a mistake whichever value was
 * meant: an error at the second one's line, for every kind of setting
 * (numbers used to take the last value silently). */
static int check_once(struct parser *p, const char *key)
{
	if (strlen(key) > CONF_MAX_KEY)
		return 0; /* no such setting: the dispatch says "unknown" */
	for (size_t i = 0; i < p->n_seen; i++)
		if (!strcmp(p->seen[i], key))
			return conf_perr(p, "duplicate setting '%s'", key);
	if (p->n_seen < CONF_MAX_KEYS)
		memcpy(p->seen[p->n_seen++], key, strlen(key) + 1);
	return 0;
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

	if (!strcmp(key, "dane")) {
		if (pe->dane)
			return conf_perr(p, "duplicate setting 'dane'");
		return conf_set_dane(p, &pe->dane, val);
	}

	if (!strcmp(key, "pin-sha256"))
		kind = KEYD_PIN_SPKI;
	else if (!strcmp(key, "cert-sha256"))
		kind = KEYD_PIN_CERT;
	else
		return conf_perr(p, "unknown peer setting '%s'", key);
	if (pe->n_pins >= KEYD_PEER_MAX_PINS)
		return conf_perr(p, "too many pins for '%s' (limit %d)", pe->name, KEYD_PEER_MAX_PINS);
	if (decode_sha256(val, pe->pins[pe->n_pins].sha256) < 0)
		return conf_perr(p, "'%s' must be a SHA-256 digest (64 hex digits or 44 base64 characters)",
			    key);
	pe->pins[pe->n_pins++].kind = kind;
	return 0;
}

static int start_peer(struct parser *p, char *name)
{
	struct keyd_conf *c = p->conf;
	struct keyd_peer *peers;

	if (tk_name_validate(name, strlen(name)) < 0)
		return conf_perr(p, "invalid peer name '%s'", name);
	tk_identity_canonical(name);
	if (keyd_conf_peer(c, name))
		return conf_perr(p, "duplicate peer '%s'", name);
	if (c->n_peers >= KEYD_CONF_MAX_IDENTITIES)
		return conf_perr(p, "too many peers");
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
		r = conf_perr(p, "identity '%s' has no 'key'", id->name);
	else if (!id->cert_src)
		r = conf_perr(p, "identity '%s' has no 'cert'", id->name);
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
		return conf_perr(p, "unknown section '[%s]'", hdr);
	p->peer = NULL;
	name = trim(hdr + 8);
	n = strlen(name);
	if (tk_name_validate(name, n) < 0)
		return conf_perr(p, "invalid identity name '%s'", name);
	/* One spelling from here on: admission, the ACL, the audit records
	 * and tlskey_query() all see this one (lower-case domain). */
	tk_identity_canonical(name);
	if (keyd_conf_identity(c, name))
		return conf_perr(p, "duplicate identity '%s'", name);
	if (c->n_ids >= KEYD_CONF_MAX_IDENTITIES)
		return conf_perr(p, "too many identities (limit %d)", KEYD_CONF_MAX_IDENTITIES);
	ids = realloc(c->ids, (c->n_ids + 1) * sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	c->ids = ids;
	p->cur = &ids[c->n_ids];
	memset(p->cur, 0, sizeof(*p->cur));
	p->cur->peer_cn = -1;
	p->cur->resumption = -1;
	p->cur->client_resumption = -1;
	p->cur->line = p->line;
	p->cur->name = strdup(name);
	c->n_ids++;
	return p->cur->name ? 0 : -ENOMEM;
}

/* keyd/conf_trust.c's settings, global or of an identity: 1 if key is
 * not one of them. */
static int trust_setting(struct parser *p, struct keyd_trustconf *t, const char *key, const char *val)
{
	char why[256];
	int r = keyd_conf_trust_setting(t, key, val, why, sizeof(why));

	return r == -EINVAL ? conf_perr(p, "%s", why) : r;
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
			return conf_perr(p, "malformed section header");
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
		return conf_perr(p, "expected 'key = value'");
	*eq = '\0';
	key = trim(s);
	val = trim(eq + 1);
	if (!*key || !*val)
		return conf_perr(p, "empty key or value");
	if (!p->peer) {
		r = check_once(p, key);
		if (r < 0)
			return r;
	}
	if (p->peer)
		return peer_setting(p, key, val);
	r = trust_setting(p, p->cur ? &p->cur->trust : &p->conf->trust, key, val);
	if (r <= 0)
		return r;
	if (p->cur) {
		r = conf_setting_apply(p, conf_identity_settings, conf_n_identity_settings, p->cur, key,
				       val);
		return r == 1 ? conf_perr(p, "unknown identity setting '%s'", key) : r;
	}
	r = conf_setting_apply(p, conf_global_settings, conf_n_global_settings, p->conf, key, val);
	return r == 1 ? conf_perr(p, "unknown setting '%s'", key) : r;
}

/* DANE without a resolver and its trust anchor could only fail (or, worse,
 * trust whatever a host's resolver says): refuse the file instead. */
static void check_dane(struct parser *p)
{
	const struct keyd_conf *c = p->conf;
	int on = c->dane > KEYD_DANE_OFF;

	for (size_t i = 0; i < c->n_ids && !on; i++)
		on = c->ids[i].dane > KEYD_DANE_OFF;
	for (size_t i = 0; i < c->n_peers && !on; i++)
		on = c->peers[i].dane > KEYD_DANE_OFF;
	p->line = p->dane_line;
	if (on && (!c->dns_resolver || !c->dns_trust_anchor))
		(void)conf_perr(p, "'dane' needs both 'dns-resolver' and 'dns-trust-anchor'");
	if (!c->dane)
		p->conf->dane = KEYD_DANE_OFF;
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
	if (!c->ticket_rotation_s)
		c->ticket_rotation_s = 3600;
	if (!c->client_session_cache)
		c->client_session_cache = 256;
}

static void cache_defaults(struct parser *p)
{
	if (!p->size_set)
		p->conf->cache_size = 4096;
	if (!p->ttl_set)
		p->conf->cache_ttl_s = 300;
	if (!p->expiry_set)
		p->conf->cert_expiry_warning_days = 14;
	if (!p->conf->peer_ocsp)
		p->conf->peer_ocsp = KEYD_OCSP_IF_STAPLED;
}

int keyd_conf_parse(const char *name, const char *buf, size_t len, struct keyd_conf **ret_conf,
		    char *err, size_t errlen)
{
	struct parser p = { .name = name, .err = err, .errlen = errlen };
	char line[CONF_MAX_LINE + 1];
	size_t pos = 0;
	int r = 0;

	if (len > CONF_MAX_SIZE)
		return conf_perr(&p, "file too large");
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
			r = conf_perr(&p, "line longer than %d bytes", CONF_MAX_LINE);
		else if (memchr(buf + pos, '\0', n))
			r = conf_perr(&p, "NUL byte in line");
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
	if (r == 0)
		check_dane(&p);
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
	/* It names the PKCS#11 module the daemon loads and the ACL: whoever
	 * may write it runs code as the daemon.  The ACL's own rule, judged
	 * before the file is read. */
	r = tk_file_read_judged("configuration file", path, CONF_MAX_SIZE, 0, tk_file_trusted, &buf, &len,
				&st, err, errlen);
	if (r < 0)
		return r;
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

unsigned keyd_conf_peer_cn(const struct keyd_conf *conf, const struct keyd_identity *id)
{
	return (unsigned)(id && id->peer_cn >= 0 ? id->peer_cn : conf->peer_cn);
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
		conf_settings_free(conf_identity_settings, conf_n_identity_settings, &conf->ids[i]);
		keyd_conf_trust_free(&conf->ids[i].trust);
	}
	free(conf->ids);
	free(conf->path);
	conf_settings_free(conf_global_settings, conf_n_global_settings, conf);
	keyd_conf_trust_free(&conf->trust);
	free(conf);
}
