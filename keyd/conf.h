/* tlskeyd configuration file (see doc/config.md and etc/tlskeyd.conf). */
#ifndef TLSKEY_KEYD_CONF_H
#define TLSKEY_KEYD_CONF_H

#include <stddef.h>

#define KEYD_CONF_MAX_IDENTITIES 4096
#define KEYD_CONF_MAX_WORKERS 256

struct keyd_identity {
	char *name;     /* myname: "example.test" or "alice@example.test" */
	char *key_uri;  /* PKCS#11 URI of the private key, without pin attributes */
	char *cert_src; /* PEM file or PKCS#11 URI of the certificate */
	char *pin_file; /* may be NULL */
	int optional;   /* optional = yes: unusable is a warning, not an error */
	unsigned line;  /* where the section starts, for messages */
	unsigned key_line; /* where 'key' is */
	size_t stats_slot; /* its counters (stats_assign), kept by name across reloads */
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
};

struct keyd_conf {
	char *path;
	char *socket_path;
	char *acl_path;
	char *module_path;   /* NULL: modules registered with p11-kit */
	char *ca_file;       /* NULL or "system": system trust store */
	char *ca_dir;        /* directory of PEM trust anchors, or NULL */
	char *priority;      /* GnuTLS priority string */
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
	unsigned long long key_update_bytes; /* key-update-bytes: TLS 1.3 KeyUpdate after this much, 0 off */
	unsigned key_update_s;     /* key-update-seconds: ... or this long, 0 off */
	char *admin_group;   /* admin-group: may ask for status and metrics; NULL: none */
	unsigned admin_gid;  /* its gid, resolved when the file is parsed */
	unsigned cert_expiry_warning_days; /* cert-expiry-warning: warn this close to notAfter, 0: never */
	unsigned upgrade_drain_s;  /* upgrade-drain: how long an upgraded process keeps relaying */
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

/* Find the pins for a remote identity (same rule); NULL if none. */
const struct keyd_peer *keyd_conf_peer(const struct keyd_conf *conf, const char *name);

/* Free a configuration and everything it owns; NULL ok. */
void keyd_conf_free(struct keyd_conf *conf);

#endif
