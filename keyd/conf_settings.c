/* What each setting of tlskeyd.conf means: one row per setting, in the
 * tables below (tlskeyd.conf(5), doc/config.md).  keyd/conf.c reads lines
 * and sections and hands each key = value here. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "keyd/conf_parse.h"
#include "pkcs11/p11.h"

#define G(field) offsetof(struct keyd_conf, field)
#define I(field) offsetof(struct keyd_identity, field)

/* Contract in conf_parse.h.  Here, not in conf.c, so that the two files
 * of the parser call each other one way only (conf.c -> conf_settings.c). */
int conf_perr(struct parser *p, const char *fmt, ...)
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

static const char *const tcp_unix[] = { "tcp", "unix", NULL };
static const char *const off_on[] = { "off", "on", NULL };
static const char *const refuse_unix[] = { "refuse", "unix", NULL };
/* "" holds index 0, which no value selects: the identity takes the global value. */
/* peer-cn: the index is the KEYD_PEER_CN_* bits (1 hostname, 2 e-mail). */
static const char *const peer_cn[] = { "off", "hostname", "email", "both", NULL };
static const char *const peer_ocsp[] = { "", "off", "if-stapled", "require", NULL };
static const char *const ocsp_online[] = { "", "off", "soft", "hard", NULL };

int conf_set_str(struct parser *p, char **dst, const char *key, const char *val)
{
	if (*dst)
		return conf_perr(p, "duplicate setting '%s'", key);
	*dst = strdup(val);
	return *dst ? 0 : -ENOMEM;
}

int conf_set_path(struct parser *p, char **dst, const char *key, const char *val)
{
	if (val[0] != '/')
		return conf_perr(p, "'%s' must be an absolute path, got '%s'", key, val);
	return conf_set_str(p, dst, key, val);
}

static int set_choice(struct parser *p, int *dst, const char *key, const char *val,
		      const char *const *choices)
{
	char list[256] = "";
	size_t n = 0, used = 0;

	for (n = 0; choices[n]; n++)
		if (choices[n][0] && !strcmp(val, choices[n])) {
			*dst = (int)n;
			return 0;
		}
	/* "a or b", "a, b or c"; a placeholder "" is not offered */
	for (size_t i = 0, k = 0; i < n && used < sizeof(list); i++) {
		if (!choices[i][0])
			continue;
		used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
					 k == 0 ? "" : i + 1 == n ? " or " : ", ", choices[i]);
		k++;
	}
	return conf_perr(p, "'%s' must be %s, not '%s'", key, list, val);
}

int conf_set_dane(struct parser *p, enum keyd_dane *dst, const char *val)
{
	if (!strcmp(val, "off"))
		*dst = KEYD_DANE_OFF;
	else if (!strcmp(val, "opportunistic"))
		*dst = KEYD_DANE_OPPORTUNISTIC;
	else if (!strcmp(val, "require"))
		*dst = KEYD_DANE_REQUIRE;
	else
		return conf_perr(p, "'dane' must be require, opportunistic or off, not '%s'", val);
	if (*dst != KEYD_DANE_OFF && !p->dane_line)
		p->dane_line = p->line;
	return 0;
}

static int set_dane_global(struct parser *p, void *section, const char *key, const char *val)
{
	(void)key;
	return conf_set_dane(p, &((struct keyd_conf *)section)->dane, val);
}

static int set_dane_identity(struct parser *p, void *section, const char *key, const char *val)
{
	(void)key;
	return conf_set_dane(p, &((struct keyd_identity *)section)->dane, val);
}

/* dns-resolver: an address literal, never a name (resolving the
 * resolver's name would need a resolver), with an optional @port. */
static int set_resolver(struct parser *p, void *section, const char *key, const char *val)
{
	char addr[INET6_ADDRSTRLEN + 1];
	unsigned char bin[sizeof(struct in6_addr)];
	const char *at = strchr(val, '@');
	size_t n = at ? (size_t)(at - val) : strlen(val);
	unsigned long port;

	if (n == 0 || n >= sizeof(addr))
		return conf_perr(p, "'%s' must be ADDRESS or ADDRESS@PORT, got '%s'", key, val);
	memcpy(addr, val, n);
	addr[n] = '\0';
	if ((inet_pton(AF_INET, addr, bin) != 1 && inet_pton(AF_INET6, addr, bin) != 1) ||
	    (at && tk_parse_ulong(at + 1, 1, 65535, &port) < 0))
		return conf_perr(p,
				 "'%s' must be an IP address with an optional @port (1-65535), got '%s'",
				 key, val);
	return conf_set_str(p, &((struct keyd_conf *)section)->dns_resolver, key, val);
}

/* key-update-bytes: 0 (off) or at least one full record: a smaller count
 * would make a KeyUpdate per record. */
static int set_key_update_bytes(struct parser *p, void *section, const char *key, const char *val)
{
	unsigned long v;

	if (tk_parse_ulong(val, 0, 1ul << 40, &v) < 0 || (v && v < 16384))
		return conf_perr(p, "'%s' must be 0 or from 16384 to 2^40, got '%s'", key, val);
	((struct keyd_conf *)section)->key_update_bytes = v;
	return 0;
}

/* reevaluate = end | log | off */
static int set_reeval(struct parser *p, void *section, const char *key, const char *val)
{
	if (keyd_conf_reeval_parse(val, &((struct keyd_conf *)section)->reevaluate) < 0)
		return conf_perr(p, "'%s' must be end, log or off, not '%s'", key, val);
	return 0;
}

static int set_cache_size(struct parser *p, void *section, const char *key, const char *val)
{
	unsigned long v;

	if (tk_parse_ulong(val, 0, 1u << 20, &v) < 0)
		return conf_perr(p, "'%s' must be an integer from 0 to %u, got '%s'", key, 1u << 20, val);
	((struct keyd_conf *)section)->cache_size = (unsigned)v;
	p->size_set = 1;
	return 0;
}

static int set_cache_ttl(struct parser *p, void *section, const char *key, const char *val)
{
	unsigned long v;

	if (tk_parse_ulong(val, 0, 24 * 3600, &v) < 0)
		return conf_perr(p, "'%s' must be an integer from 0 to %u, got '%s'", key, 24 * 3600,
				 val);
	((struct keyd_conf *)section)->cache_ttl_s = (unsigned)v;
	p->ttl_set = 1;
	return 0;
}

static int set_expiry(struct parser *p, void *section, const char *key, const char *val)
{
	unsigned long v;

	if (tk_parse_ulong(val, 0, 3650, &v) < 0)
		return conf_perr(p, "'%s' must be an integer from 0 to 3650, got '%s'", key, val);
	((struct keyd_conf *)section)->cert_expiry_warning_days = (unsigned)v;
	p->expiry_set = 1;
	return 0;
}

/* admin-group: a group name, or a numeric gid, resolved now so that a
 * misspelt group is an error at file:line, not a silent "nobody". */
static int set_group(struct parser *p, void *section, const char *key, const char *val)
{
	struct keyd_conf *c = section;
	struct group gr, *res = NULL;
	char buf[4096], *end;
	unsigned long v;

	if (c->admin_group)
		return conf_perr(p, "duplicate setting '%s'", key);
	errno = 0;
	v = strtoul(val, &end, 10);
	if (isdigit((unsigned char)val[0]) && !*end && !errno && v < (unsigned long)UINT_MAX)
		c->admin_gid = (unsigned)v;
	else if (getgrnam_r(val, &gr, buf, sizeof(buf), &res) == 0 && res)
		c->admin_gid = (unsigned)res->gr_gid;
	else
		return conf_perr(p, "'%s': unknown group '%s'", key, val);
	return conf_set_str(p, &c->admin_group, key, val);
}

static int set_key(struct parser *p, void *section, const char *key, const char *val)
{
	struct keyd_identity *id = section;
	char *uri = NULL, *pin_source = NULL;
	int had_value = 0;

	(void)key;
	if (strncmp(val, "pkcs11:", 7))
		return conf_perr(p, "'key' must be a PKCS#11 URI (pkcs11:...)");
	if (id->key_uri)
		return conf_perr(p, "duplicate setting 'key'");
	if (p11_uri_split_pin(val, &uri, &pin_source, &had_value) < 0)
		return conf_perr(p, "malformed PKCS#11 URI in 'key'");
	/* A PIN written into the configuration file would be as readable as
	 * the file; it goes in a PIN file of its own (mode 0600).  The
	 * message does not repeat it. */
	if (had_value) {
		free(uri);
		free(pin_source);
		return conf_perr(p, "'key' must not carry pin-value: put the PIN in a file of its own "
				    "(mode 0600) named by 'pin-file' or by pin-source= in the URI");
	}
	/* An unknown attribute (p11_uri_check) makes this identity unusable,
	 * not the file: keyd/check.c reports it at this line and the daemon
	 * serves the other identities. */
	id->key_line = p->line;
	id->key_uri = uri;
	if (pin_source) {
		if (id->pin_file) {
			free(pin_source);
			return conf_perr(p, "both pin-source in the URI and 'pin-file' given");
		}
		id->pin_file = pin_source;
	}
	return 0;
}

static int set_cert(struct parser *p, void *section, const char *key, const char *val)
{
	char why[256];

	if (strncmp(val, "pkcs11:", 7) && val[0] != '/')
		return conf_perr(p, "'cert' must be an absolute path or a PKCS#11 URI");
	if (!strncmp(val, "pkcs11:", 7)) {
		/* The certificate's URI is printed (logs, tlskeyctl keys, the
		 * check's message below): a PIN in it would be too.  The key's
		 * PIN belongs to 'key' or 'pin-file'.  So this comes first. */
		char *uri = NULL, *pin_source = NULL;
		int had_value = 0, pin;

		if (p11_uri_split_pin(val, &uri, &pin_source, &had_value) < 0)
			return conf_perr(p, "malformed PKCS#11 URI in 'cert'");
		pin = had_value || pin_source;
		free(uri);
		free(pin_source);
		if (pin)
			return conf_perr(p, "'cert' must not carry a PIN (pin-value, pin-source): "
					    "the certificate's URI is printed; give the PIN with 'key' or "
					    "'pin-file'");
		if (p11_uri_check(val, why, sizeof(why)) < 0)
			return conf_perr(p, "'cert': %s", why);
	}
	return conf_set_str(p, &((struct keyd_identity *)section)->cert_src, key, val);
}

static int set_pin_file(struct parser *p, void *section, const char *key, const char *val)
{
	struct keyd_identity *id = section;

	if (id->pin_file)
		return conf_perr(p, "duplicate PIN source");
	return conf_set_path(p, &id->pin_file, key, val);
}

const struct conf_setting conf_global_settings[] = {
	{ .key = "socket", .kind = CONF_PATH, .off = G(socket_path) },
	{ .key = "acl", .kind = CONF_PATH, .off = G(acl_path) },
	{ .key = "pkcs11-module", .kind = CONF_PATH, .off = G(module_path) },
	{ .key = "workers", .kind = CONF_UINT, .off = G(workers), .min = 1, .max = KEYD_CONF_MAX_WORKERS },
	{ .key = "max-handshakes", .kind = CONF_UINT, .off = G(max_handshakes), .min = 1, .max = 65536 },
	{ .key = "max-pending", .kind = CONF_UINT, .off = G(max_pending), .min = 1, .max = 65536 },
	{ .key = "max-pending-per-uid", .kind = CONF_UINT, .off = G(max_pending_per_uid), .min = 1, .max = 65536 },
	{ .key = "max-handshakes-per-uid", .kind = CONF_UINT, .off = G(max_handshakes_per_uid), .min = 1, .max = 65536 },
	{ .key = "max-handshakes-per-identity", .kind = CONF_UINT, .off = G(max_handshakes_per_identity), .min = 1, .max = 65536 },
	{ .key = "handshake-timeout", .kind = CONF_UINT, .off = G(handshake_timeout_ms), .min = 1, .max = 3600 * 1000 },
	{ .key = "cache-size", .kind = CONF_FN, .off = G(cache_size), .fn = set_cache_size },
	{ .key = "cache-ttl", .kind = CONF_FN, .off = G(cache_ttl_s), .fn = set_cache_ttl },
	{ .key = "idle-exit", .kind = CONF_UINT, .off = G(idle_exit_s), .min = 0, .max = 7 * 24 * 3600 },
	{ .key = "protected-socket", .kind = CONF_CHOICE, .off = G(protected_unix), .choices = tcp_unix },
	{ .key = "protected-socket-fallback", .kind = CONF_CHOICE, .off = G(fallback_unix), .choices = refuse_unix },
	{ .key = "peer-cn", .kind = CONF_CHOICE, .off = G(peer_cn), .choices = peer_cn },
	{ .key = "close-timeout", .kind = CONF_UINT, .off = G(close_timeout_ms), .min = 1, .max = 3600 * 1000 },
	{ .key = "admin-group", .kind = CONF_FN, .off = G(admin_group), .fn = set_group, .is_str = 1 },
	{ .key = "upgrade-drain", .kind = CONF_UINT, .off = G(upgrade_drain_s), .min = 1, .max = 7 * 24 * 3600 },
	{ .key = "request-timeout", .kind = CONF_UINT, .off = G(request_timeout_ms), .min = 1, .max = 3600 * 1000 },
	{ .key = "peer-ocsp", .kind = CONF_CHOICE, .off = G(peer_ocsp), .choices = peer_ocsp },
	{ .key = "peer-ocsp-online", .kind = CONF_CHOICE, .off = G(peer_ocsp_online), .choices = ocsp_online },
	{ .key = "ocsp-timeout", .kind = CONF_UINT, .off = G(ocsp_timeout_ms), .min = 1, .max = 60000 },
	{ .key = "ocsp-cache-size", .kind = CONF_UINT, .off = G(ocsp_cache_size), .min = 1, .max = 65536 },
	{ .key = "ocsp-max-ttl", .kind = CONF_UINT, .off = G(ocsp_max_ttl_s), .min = 1, .max = 7 * 24 * 3600 },
	{ .key = "reevaluate", .kind = CONF_FN, .off = G(reevaluate), .fn = set_reeval },
	{ .key = "resumption", .kind = CONF_CHOICE, .off = G(resumption), .choices = off_on },
	{ .key = "client-resumption", .kind = CONF_CHOICE, .off = G(client_resumption), .choices = off_on },
	{ .key = "client-session-cache", .kind = CONF_UINT, .off = G(client_session_cache), .min = 1, .max = 16384 },
	{ .key = "ticket-rotation", .kind = CONF_UINT, .off = G(ticket_rotation_s), .min = 1, .max = 7 * 24 * 3600 },
	{ .key = "dane", .kind = CONF_FN, .off = G(dane), .fn = set_dane_global },
	{ .key = "dns-resolver", .kind = CONF_FN, .off = G(dns_resolver), .fn = set_resolver, .is_str = 1 },
	{ .key = "dns-trust-anchor", .kind = CONF_PATH, .off = G(dns_trust_anchor) },
	{ .key = "key-update-bytes", .kind = CONF_FN, .off = G(key_update_bytes), .fn = set_key_update_bytes },
	{ .key = "key-update-seconds", .kind = CONF_UINT, .off = G(key_update_s), .min = 0, .max = 7 * 24 * 3600 },
	{ .key = "cert-expiry-warning", .kind = CONF_FN, .off = G(cert_expiry_warning_days), .fn = set_expiry },
};
const size_t conf_n_global_settings = sizeof(conf_global_settings) / sizeof(conf_global_settings[0]);

const struct conf_setting conf_identity_settings[] = {
	{ .key = "key", .kind = CONF_FN, .off = I(key_uri), .fn = set_key, .is_str = 1 },
	{ .key = "cert", .kind = CONF_FN, .off = I(cert_src), .fn = set_cert, .is_str = 1 },
	{ .key = "optional", .kind = CONF_BOOL, .off = I(optional) },
	{ .key = "ocsp-response", .kind = CONF_PATH, .off = I(ocsp_file) },
	{ .key = "peer-ocsp", .kind = CONF_CHOICE, .off = I(peer_ocsp), .choices = peer_ocsp },
	{ .key = "peer-ocsp-online", .kind = CONF_CHOICE, .off = I(peer_ocsp_online), .choices = ocsp_online },
	{ .key = "peer-cn", .kind = CONF_CHOICE, .off = I(peer_cn), .choices = peer_cn },
	{ .key = "resumption", .kind = CONF_CHOICE, .off = I(resumption), .choices = off_on },
	{ .key = "client-resumption", .kind = CONF_CHOICE, .off = I(client_resumption), .choices = off_on },
	{ .key = "dane", .kind = CONF_FN, .off = I(dane), .fn = set_dane_identity },
	{ .key = "pin-file", .kind = CONF_FN, .off = I(pin_file), .fn = set_pin_file, .is_str = 1 },
};
const size_t conf_n_identity_settings =
	sizeof(conf_identity_settings) / sizeof(conf_identity_settings[0]);

int conf_setting_apply(struct parser *p, const struct conf_setting *table, size_t n, void *section,
		       const char *key, const char *val)
{
	for (size_t i = 0; i < n; i++) {
		const struct conf_setting *s = &table[i];
		void *dst = (char *)section + s->off;
		unsigned long v;

		if (strcmp(key, s->key))
			continue;
		switch (s->kind) {
		case CONF_STR:
			return conf_set_str(p, dst, key, val);
		case CONF_PATH:
			return conf_set_path(p, dst, key, val);
		case CONF_UINT:
			if (tk_parse_ulong(val, s->min, s->max, &v) < 0)
				return conf_perr(p, "'%s' must be an integer from %u to %u, got '%s'", key,
						 s->min, s->max, val);
			*(unsigned *)dst = (unsigned)v;
			return 0;
		case CONF_CHOICE:
			return set_choice(p, dst, key, val, s->choices);
		case CONF_BOOL:
			if (strcmp(val, "yes") && strcmp(val, "no"))
				return conf_perr(p, "'%s' must be yes or no, not '%s'", key, val);
			*(int *)dst = !strcmp(val, "yes");
			return 0;
		case CONF_FN:
			return s->fn(p, section, key, val);
		}
		return -EINVAL;
	}
	return 1;
}

void conf_settings_free(const struct conf_setting *table, size_t n, void *section)
{
	for (size_t i = 0; i < n; i++)
		if (table[i].kind == CONF_STR || table[i].kind == CONF_PATH || table[i].is_str) {
			char **s = (char **)(void *)((char *)section + table[i].off);

			free(*s);
			*s = NULL;
		}
}
