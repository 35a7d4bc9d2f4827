/* tlskeyd configuration file (see doc/config.md and etc/tlskeyd.conf). */
#ifndef TLSKEY_KEYD_CONF_H
#define TLSKEY_KEYD_CONF_H

#include <stddef.h>

#define KEYD_CONF_MAX_IDENTITIES 4096
#define KEYD_CONF_MAX_WORKERS 256

/* Where peers are validated: trust anchors, CRLs, the CA names sent in a
 * CertificateRequest, the priority (keyd/conf_trust.c).  Globally the
 * defaults; in an [identity] each field set overrides the global one
 * (NULL / 0: inherit). */
struct keyd_trustconf {
	char *ca_file;         /* NULL or "system": system trust store */
	char *ca_dir;          /* directory of PEM trust anchors, or NULL */
	char *crl_file;        /* PEM or DER CRLs, or NULL */
	char *crl_dir;         /* directory of CRL files, or NULL */
	char *client_ca_names; /* "anchors" (NULL), "none", or a file of CA certificates */
	char *priority;        /* GnuTLS priority string */
	int crl_expired;       /* 0 unset (refuse), KEYD_CRL_EXPIRED_* */
};

enum { KEYD_CRL_EXPIRED_REFUSE = 1, KEYD_CRL_EXPIRED_ACCEPT };
/* reevaluate = end | log | off (default end) */
enum keyd_reeval { KEYD_REEVAL_END = 0, KEYD_REEVAL_LOG, KEYD_REEVAL_OFF };
/* dane = (doc/config.md "DANE"): unset inherits (peer, then identity,
 * then the global setting, whose own default is off). */
enum keyd_dane { KEYD_DANE_INHERIT = 0, KEYD_DANE_OFF, KEYD_DANE_OPPORTUNISTIC, KEYD_DANE_REQUIRE };

struct keyd_identity {
	char *name;     /* myname: "example.test" or "alice@example.test" */
	char *key_uri;  /* PKCS#11 URI of the private key, without pin attributes */
	char *cert_src; /* PEM file or PKCS#11 URI of the certificate */
	char *pin_file; /* may be NULL */
	int optional;   /* optional = yes: unusable is a warning, not an error */
	char *ocsp_file; /* ocsp-response: DER OCSP response to staple, or NULL */
	int peer_ocsp;   /* peer-ocsp of this identity (enum keyd_peer_ocsp), 0: the global one */
	int peer_ocsp_online; /* peer-ocsp-online (enum keyd_ocsp_online), 0: the global one */
	int peer_cn;    /* peer-cn of this identity (KEYD_PEER_CN_* bits), -1: the global one */
	int resumption; /* resumption = on/off here, -1: the global setting */
	int client_resumption; /* client-resumption = on/off here, -1: global */
	unsigned line;  /* where the section starts, for messages */
	unsigned key_line; /* where 'key' is */
	size_t stats_slot; /* its counters (stats_assign), kept by name across reloads */
	struct keyd_trustconf trust; /* its own trust settings, NULL fields inherit */
	enum keyd_dane dane; /* client role: DANE for the servers it connects to */
};

#define KEYD_PEER_MAX_PINS 8

enum keyd_pin_kind { KEYD_PIN_SPKI = 1, KEYD_PIN_CERT };

/* A remote identity pinned by hash, for peers without a CA. */
struct keyd_peer {
	char *name;
	struct {
		enum keyd_pin_kind kind;
		unsigned char sha256[32];
	} pins[KEYD_PEER_MAX_PINS];
	size_t n_pins;
	unsigned line;
	enum keyd_dane dane; /* DANE for this server name, client role */
};

/* peer-ocsp: what a stapled OCSP response of the peer must do (keyd/ocsp.c). */
enum keyd_peer_ocsp { KEYD_OCSP_INHERIT = 0, KEYD_OCSP_OFF, KEYD_OCSP_IF_STAPLED, KEYD_OCSP_REQUIRE };
/* peer-ocsp-online = (doc/config.md "OCSP"): ask the peer certificate's
 * responder when no valid staple came; soft accepts when it cannot be
 * asked, hard refuses. */
enum keyd_ocsp_online { KEYD_OCSP_ONLINE_INHERIT = 0, KEYD_OCSP_ONLINE_OFF, KEYD_OCSP_ONLINE_SOFT,
			KEYD_OCSP_ONLINE_HARD };

struct keyd_conf {
	char *path;
	char *socket_path;
	char *acl_path;
	char *module_path;   /* NULL: modules registered with p11-kit */
	struct keyd_trustconf trust; /* ca-file, ca-dir, crl-*, priority: the defaults */
	enum keyd_reeval reevaluate; /* live sessions after a reload */
	unsigned workers;
	unsigned max_handshakes;
	unsigned max_pending;
	unsigned max_pending_per_uid;        /* waiting clients + queued requests of one uid */
	unsigned max_handshakes_per_uid;     /* handshakes in flight of one uid */
	unsigned max_handshakes_per_identity; /* handshakes in flight with one identity */
	unsigned handshake_timeout_ms;
	unsigned request_timeout_ms;
	unsigned idle_exit_s; /* 0: never; only when socket-activated */
	unsigned cache_size;  /* validation cache slots, 0: off */
	unsigned cache_ttl_s; /* 0: off */
	int protected_unix;   /* protected-socket = unix: UNIX pairs, never loopback TCP */
	int fallback_unix;    /* protected-socket-fallback = unix (default refuse) */
	unsigned close_timeout_ms; /* close-timeout: peer's time to progress once the app closed */
	int peer_cn;          /* peer-cn: subject CN as a peer identity, KEYD_PEER_CN_* bits; 0 off */
	unsigned long long key_update_bytes; /* key-update-bytes: TLS 1.3 KeyUpdate after this much, 0 off */
	unsigned key_update_s;     /* key-update-seconds: ... or this long, 0 off */
	char *admin_group;   /* admin-group: may ask for status and metrics; NULL: none */
	unsigned admin_gid;  /* its gid, resolved when the file is parsed */
	unsigned cert_expiry_warning_days; /* cert-expiry-warning: warn this close to notAfter, 0: never */
	unsigned upgrade_drain_s;  /* upgrade-drain: how long an upgraded process keeps relaying */
	int peer_ocsp;             /* peer-ocsp (enum keyd_peer_ocsp), never INHERIT */
	int peer_ocsp_online;      /* enum keyd_ocsp_online, 0: off */
	unsigned ocsp_timeout_ms;  /* ocsp-timeout, 0: OCSP_ONLINE_TIMEOUT_MS */
	unsigned ocsp_cache_size;  /* ocsp-cache-size (read at start), 0: OCSP_CACHE_DEFAULT */
	unsigned ocsp_max_ttl_s;   /* ocsp-max-ttl, 0: OCSP_MAX_TTL_DEFAULT */
	enum keyd_dane dane;       /* global dane = (KEYD_DANE_OFF by default) */
	char *dns_resolver;        /* dns-resolver: "ADDR" or "ADDR@PORT", NULL: none */
	char *dns_trust_anchor;    /* dns-trust-anchor: DNSKEY/DS file for libunbound */
	int resumption;            /* resumption = on: TLS 1.3 tickets, server role (tickets.c) */
	unsigned ticket_rotation_s; /* ticket-rotation: new ticket keys this often (and lifetime) */
	int client_resumption;     /* client-resumption = on: keep servers' tickets (scache.c) */
	unsigned client_session_cache; /* client-session-cache: slots of that cache */
	struct keyd_identity *ids;
	size_t n_ids;
	struct keyd_peer *peers;
	size_t n_peers;
};

/* Parse a configuration from a buffer; `name` is used in messages.
 * On error returns -EINVAL and writes "name:line: message" to err. */
int keyd_conf_parse(const char *name, const char *buf, size_t len, struct keyd_conf **ret_conf,
		    char *err, size_t errlen);

/* Read and parse a configuration file (at most 1 MiB). */
int keyd_conf_load(const char *path, struct keyd_conf **ret_conf, char *err, size_t errlen);

/* Find the configured identity a requested name means, under the one case
 * rule of tk_identity_equal() (local part exact, domain case-insensitive)
 * that the ACL applies too.  The identity's name is canonical (domain
 * lower-cased at parse time): use it, not the caller's spelling, from
 * then on.  NULL if none. */
const struct keyd_identity *keyd_conf_identity(const struct keyd_conf *conf, const char *name);

/* The peer-cn in force for connections of identity id (its own, else the
 * global setting); id may be NULL. */
unsigned keyd_conf_peer_cn(const struct keyd_conf *conf, const struct keyd_identity *id);

/* Find the pins for a remote identity (same rule); NULL if none. */
const struct keyd_peer *keyd_conf_peer(const struct keyd_conf *conf, const char *name);

/* A trust setting (ca-file, ca-dir, crl-file, crl-dir, crl-expired,
 * client-ca-names, priority) into t.  Returns 0, 1 if key is none of
 * them, or -EINVAL with the reason in why (keyd/conf_trust.c). */
int keyd_conf_trust_setting(struct keyd_trustconf *t, const char *key, const char *val, char *why,
			    size_t len);

/* The settings identity id validates peers with: each of its own, else
 * the global one.  Points into conf. */
struct keyd_trustconf keyd_conf_trust_of(const struct keyd_conf *conf, const struct keyd_identity *id);

/* 1 if a and b are the same settings (string by string), else 0. */
int keyd_conf_trust_equal(const struct keyd_trustconf *a, const struct keyd_trustconf *b);

/* reevaluate = end | log | off into *ret; -EINVAL for anything else. */
int keyd_conf_reeval_parse(const char *val, enum keyd_reeval *ret);

/* Free what t owns; the struct itself stays. */
void keyd_conf_trust_free(struct keyd_trustconf *t);

/* Free a configuration and everything it owns; NULL ok. */
void keyd_conf_free(struct keyd_conf *conf);

#endif
