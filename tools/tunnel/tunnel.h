/* tlskey-tunnel: a stunnel-like TLS front end built only on the public
 * <tlskey/starttls.h> API.  See doc/tunnel.md for the design.
 *
 * Files:
 *   main.c   options -> listener -> event loop, signals, shutdown
 *   conf.c   command line and --config file (one table for both)
 *   addr.c   parsing, resolving and printing socket addresses
 *   conn.c   one connection: handshake through tlskeyd, backend connect
 *            or --exec child, the log line (conn.h: its state)
 *   relay.c  the bytes between its two sides, with half-close
 *   spawn.c  --exec: the protected descriptor as a child's stdin/stdout
 *   proxy.c  PROXY protocol v2 header encoder (no I/O)
 *   source.c connections per source address (--max-conns-per-source)
 *   alpn.c   --alpn: the list of ALPN protocol ids */
#ifndef TLSKEY_TUNNEL_H
#define TLSKEY_TUNNEL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#define TUNNEL_NAME_MAX 255u      /* myname, sni: what the daemon accepts */
#define TUNNEL_PEER_MAX 321u      /* authenticated identity + NUL (as tlskey_info.peer) */
#define TUNNEL_ADDR_TEXT_MAX 300u /* "unix:" + sun_path, or "[v6]:port" */
#define TUNNEL_EXEC_ARGS_MAX 64u  /* argv entries of --exec, without the NULL */
#define TUNNEL_MAX_CONNS_LIMIT 65536u
/* max_conns_per_source not given: a quarter of max_conns in server mode,
 * none in client mode (tunnel_conf_per_source). */
#define TUNNEL_PER_SOURCE_DEFAULT 0xffffffffu
#define TUNNEL_TIMEOUT_MAX_MS (3600u * 1000u)
#define TUNNEL_IDLE_MAX_MS (7u * 24u * 3600u * 1000u)
#define TUNNEL_SNI_ALLOW_MAX 16u
#define TUNNEL_CONF_FILE_MAX (64u * 1024u)
#define TUNNEL_CONF_LINE_MAX 4096u
#define TUNNEL_ALPN_MAX 8u     /* TLSKEY_ALPN_MAX_IDS */
#define TUNNEL_ALPN_ID_MAX 31u /* TLSKEY_ALPN_ID_MAX */

/* Exit statuses (also in the man page). */
enum {
	TUNNEL_EXIT_OK = 0,
	TUNNEL_EXIT_RUNTIME = 1, /* cannot listen, out of memory, ... */
	TUNNEL_EXIT_USAGE = 2,   /* bad option, bad configuration file */
};

enum tunnel_mode {
	TUNNEL_MODE_NONE = 0,
	TUNNEL_MODE_SERVER = 1, /* accept TLS, forward plaintext to a backend */
	TUNNEL_MODE_CLIENT = 2, /* accept plaintext, forward over TLS */
};

/* A parsed and resolved socket address.  `text` is what the operator
 * wrote, normalised ("127.0.0.1:993", "[::1]:993", "unix:/run/x.sock"),
 * for logs and error messages. */
struct tunnel_addr {
	socklen_t len; /* 0: not set */
	struct sockaddr_storage ss;
	char text[TUNNEL_ADDR_TEXT_MAX];
};

struct tunnel_conf {
	int mode;                         /* enum tunnel_mode */
	struct tunnel_addr listen;
	struct tunnel_addr backend;       /* server mode without --exec */
	struct tunnel_addr connect;       /* client mode */
	char myname[TUNNEL_NAME_MAX + 1];
	char sni[TUNNEL_NAME_MAX + 1];    /* client mode; "" sends no SNI */
	/* Server mode: server names a client may ask for ("name" or "*.domain");
	 * none: any name, or none. */
	char sni_allow[TUNNEL_SNI_ALLOW_MAX][TUNNEL_NAME_MAX + 1];
	unsigned n_sni_allow;
	int flags;                        /* TLSKEY_FLAG_* */
	int proxy_v2;                     /* server mode with --backend */
	char *exec_argv[TUNNEL_EXEC_ARGS_MAX + 1]; /* owned, NULL-terminated; [0] NULL: none */
	unsigned max_conns;
	unsigned max_conns_per_source;    /* 0: no cap; TUNNEL_PER_SOURCE_DEFAULT: not given */
	unsigned timeout_ms;              /* 0: the daemon's handshake-timeout */
	unsigned idle_timeout_ms;         /* 0: connections may idle forever */
	char port_file[TUNNEL_ADDR_TEXT_MAX]; /* "" or where to write the bound port */
	/* --alpn: ALPN ids offered (client mode) or accepted in this order of
	 * preference (server mode); n_alpn 0: no ALPN. */
	char alpn[TUNNEL_ALPN_MAX][TUNNEL_ALPN_ID_MAX + 1];
	unsigned n_alpn;
	int alpn_strict; /* --alpn-strict: no id agreed fails the handshake */
};

/* ---- conf.c -------------------------------------------------------------- */

/* Does the server name `name` match one of conf's sni-allow entries?
 * Case-insensitive; "*.d" matches any name ending in ".d" with at least
 * one more label. */
int tunnel_sni_allowed(const struct tunnel_conf *conf, const char *name);

/* Fill *ret_conf from argv: a --config file first (if any), then every
 * other command line option on top of it, then check the combination.
 * Returns 0, 1 when --help or --version was printed (exit 0), or -EINVAL
 * after printing a message to stderr (exit TUNNEL_EXIT_USAGE).  On success
 * the caller owns ret_conf's exec_argv (tunnel_conf_free). */
int tunnel_conf_from_argv(int argc, char **argv, struct tunnel_conf *ret_conf);

/* Free what a tunnel_conf owns.  Accepts NULL. */
void tunnel_conf_free(struct tunnel_conf *conf);

/* Parse a comma-separated list of flag names (see doc/tunnel.md; the
 * names are common/flags.c's) into TLSKEY_FLAG_* bits; "" is no flag.
 * Returns 0 or -EINVAL (unknown or repeated name, empty item). */
int tunnel_flags_parse(const char *list, int *ret_flags);

/* ---- alpn.c -------------------------------------------------------------- */

/* Parse "h2,http/1.1" into conf->alpn (replacing earlier ids; "" clears
 * them).  Each id 1 to TUNNEL_ALPN_ID_MAX printable bytes other than ",",
 * at most TUNNEL_ALPN_MAX of them.  Returns 0, or -EINVAL with the reason
 * in why. */
int tunnel_alpn_parse(struct tunnel_conf *conf, const char *list, char *why, size_t whylen);

/* ---- addr.c -------------------------------------------------------------- */

/* Parse "HOST:PORT", "[V6]:PORT" or (if allow_unix) "unix:/abs/path" and
 * resolve it (getaddrinfo, first result; passive for listening, where an
 * empty host or "*" means every address, IPv6 and IPv4).  Returns 0, or
 * -EINVAL (syntax), -ENAMETOOLONG, -EADDRNOTAVAIL (does not resolve). */
int tunnel_addr_parse(const char *text, int passive, int allow_unix, struct tunnel_addr *ret_addr);

/* Print a socket address as "1.2.3.4:5", "[::1]:5" or "unix:/p" into buf.
 * IPv4-mapped IPv6 addresses print as IPv4.  Never fails: unknown
 * families print as "?". */
void tunnel_addr_format(const struct sockaddr *sa, socklen_t len, char *buf, size_t buflen);

/* Split a socket address into host text and port for REMOTE_ADDR /
 * REMOTE_PORT (IPv4-mapped printed as IPv4).  Returns 0, or -EAFNOSUPPORT
 * for non-IP families. */
int tunnel_addr_host_port(const struct sockaddr *sa, socklen_t len, char *host, size_t hostlen,
			  unsigned *ret_port);

/* ---- proxy.c ------------------------------------------------------------- */

/* What the PROXY v2 PP2_TYPE_SSL TLV says about the TLS session. */
struct proxy_v2_tls {
	const char *version; /* e.g. "TLS1.3"; NULL or "" to omit */
	const char *cipher;  /* e.g. "TLS_AES_128_GCM_SHA256"; NULL or "" to omit */
	const char *peer;    /* authenticated peer identity; NULL or "": none */
	const char *alpn;    /* negotiated ALPN id (PP2_TYPE_ALPN); NULL or "": omit */
	/* 1: the peer's certificate was sent and verified on this connection
	 * (a full handshake): PP2_CLIENT_CERT_CONN.  0: the session was
	 * resumed, or that is not known: only PP2_CLIENT_CERT_SESS. */
	int cert_conn;
};

#define PROXY_V2_HDR_MAX 1024u

/* Encode a PROXY protocol v2 header (command PROXY, TCP) for a connection
 * from `src` to `dst` into out[0..cap).  Both addresses must be AF_INET or
 * AF_INET6 (IPv4-mapped IPv6 is sent as IPv4 when both are); anything else
 * is sent as AF_UNSPEC without addresses, which receivers must accept.
 * Appends a PP2_TYPE_ALPN TLV when tls->alpn is set, then one PP2_TYPE_SSL
 * TLV with PP2_SUBTYPE_SSL_VERSION, _CIPHER and _CN (the peer identity), as
 * HAProxy does (doc/tunnel.md); its client field has PP2_CLIENT_CERT_SESS
 * with a peer identity, and PP2_CLIENT_CERT_CONN only with tls->cert_conn
 * as well.  Returns 0 and
 * the length in *ret_len, or -EINVAL (NULL arguments), -ENOSPC (cap too
 * small; strings are bounded by the caller, so 0xffff never overflows). */
int proxy_v2_encode(const struct sockaddr *src, socklen_t srclen, const struct sockaddr *dst,
		    socklen_t dstlen, const struct proxy_v2_tls *tls, uint8_t *out, size_t cap,
		    size_t *ret_len);

/* ---- source.c ------------------------------------------------------------ */

/* A connection's source for --max-conns-per-source: an IPv4 address (also
 * when it arrives IPv4-mapped) or the /64 of an IPv6 one. */
struct tunnel_source_key {
	uint8_t family; /* 4 or 6 */
	uint8_t addr[8]; /* the IPv4 address (4 bytes, then zeros) or the /64 */
};

#define TUNNEL_SOURCE_BUCKETS 1024u

struct tunnel_source;

/* Connections per source (sources with none are not kept). */
struct tunnel_sources {
	struct tunnel_source *buckets[TUNNEL_SOURCE_BUCKETS];
	uint64_t seed[2]; /* the hash key, random */
	size_t n;         /* sources with connections */
};

/* The source of `sa`: 0, or -EAFNOSUPPORT for anything but IPv4/IPv6 (a
 * UNIX listener's clients have none and are not counted). */
int tunnel_source_key(const struct sockaddr *sa, socklen_t len, struct tunnel_source_key *k);

void tunnel_sources_init(struct tunnel_sources *s);
unsigned tunnel_sources_count(struct tunnel_sources *s, const struct tunnel_source_key *k);
/* One more connection from k: 0 or -ENOMEM. */
int tunnel_sources_add(struct tunnel_sources *s, const struct tunnel_source_key *k);
/* One connection fewer from k (which tunnel_sources_add counted). */
void tunnel_sources_del(struct tunnel_sources *s, const struct tunnel_source_key *k);
void tunnel_sources_free(struct tunnel_sources *s);

/* The cap in force: max_conns_per_source, or its default; 0: none. */
unsigned tunnel_conf_per_source(const struct tunnel_conf *c);

/* ---- conn.c -------------------------------------------------------------- */

struct tunnel_conn;

enum tunnel_ep_kind {
	TUNNEL_EP_LISTEN = 1,
	TUNNEL_EP_SIGNAL = 2,
	TUNNEL_EP_CONN = 3,
};

/* One descriptor in the epoll set; epoll_event.data.ptr points here.
 * `events` is what is registered (0: not in the set). */
struct tunnel_ep {
	int kind; /* enum tunnel_ep_kind */
	int fd;
	uint32_t events;
	struct tunnel_conn *conn; /* TUNNEL_EP_CONN only */
};

/* The process-wide state, owned by main(). */
struct tunnel {
	/* The configuration in force (heap, main.c): a SIGHUP replaces it, so
	 * read it through t->conf each time, never keep a pointer into it. */
	const struct tunnel_conf *conf;
	int epfd;
	struct tunnel_ep listen_ep; /* fd -1 once closed at shutdown */
	/* A UNIX listener's socket file as bound (st_dev, st_ino): closing the
	 * listener removes the path only while it still names that file. */
	dev_t listen_dev;
	ino_t listen_ino;
	int listen_path_ours;
	struct tunnel_ep signal_ep;
	int stopping;               /* SIGTERM seen */
	unsigned nconns;            /* in every state, --exec children included */
	struct tunnel_sources sources; /* nconns by source address */
	unsigned long refused_per_source; /* since the last log line about it */
	unsigned long next_id;      /* connection numbers in the log */
	struct tunnel_conn *conns;  /* live connections, doubly linked */
	struct tunnel_conn *dead;   /* ended during this epoll batch, freed after it
				     * (later events of the batch may still point at them) */
	int argc;                   /* the command line, parsed again on SIGHUP */
	char **argv;
};

/* Register, modify or remove `ep` so that exactly `events` are watched
 * (0 removes it; HUP and ERR cannot be masked, so an idle descriptor must
 * leave the set).  Returns 0 or a negative errno from epoll_ctl(). */
int tunnel_ep_set(struct tunnel *t, struct tunnel_ep *ep, uint32_t events);

/* Start a connection for a freshly accepted socket `fd` (consumed in every
 * case).  Server mode: hands it to tlskeyd at once (non-blocking start).
 * Client mode: begins the outgoing connect.  Failures are logged as the
 * connection's one line.  Returns 0, or a negative errno if the
 * connection could not even be set up (it has been logged and closed). */
int tunnel_conn_start(struct tunnel *t, int fd, const struct sockaddr *remote, socklen_t remote_len,
		      const struct sockaddr *local, socklen_t local_len);

/* Handle epoll events for the endpoint `ep` (from epoll_event.data.ptr). */
void tunnel_conn_event(struct tunnel *t, void *ep, uint32_t events);

/* Expire connections whose connect or handshake deadline passed, and
 * return the milliseconds until the next deadline (-1: none). */
int tunnel_conn_expire(struct tunnel *t, uint64_t now_ms);

/* Free the connections that ended during the last epoll batch. */
void tunnel_conn_reap(struct tunnel *t);

/* A child of --exec exited: log its connection and free it.  Returns 0,
 * or -ESRCH if no connection has that pid. */
int tunnel_conn_child_exited(struct tunnel *t, pid_t pid, int status);

/* SIGTERM: close every relaying or handshaking connection (logged with
 * end=shutdown) and send SIGTERM to --exec children, which are reaped by
 * the caller.  Only a relay with nothing owed either way (the stream to
 * the TLS peer ended, no byte buffered) closes cleanly; every other
 * connection is reset on both sides (errno=ECONNABORTED in its line), so
 * that a cut stream never ends in close_notify.  Returns the number of
 * children still running. */
unsigned tunnel_conn_shutdown_all(struct tunnel *t);

/* After a SIGHUP: the connections relaying get the idle-timeout now in
 * force, counted from when their data last moved. */
void tunnel_conn_reload(struct tunnel *t);

/* SIGKILL every remaining --exec child (after the shutdown grace). */
void tunnel_conn_kill_children(struct tunnel *t);

/* ---- spawn.c ------------------------------------------------------------- */

/* Run conf->exec_argv with `pfd` (the protected descriptor) as stdin and
 * stdout and the environment TLSKEY_PEER, TLSKEY_LOCAL (local: the
 * identity used, which a --myname list picked), REMOTE_ADDR, REMOTE_PORT.
 * pfd stays owned by the caller (who closes its copy).  Returns 0 and the
 * child's pid, or a negative errno from fork(). */
int tunnel_spawn(const struct tunnel_conf *conf, int pfd, const char *peer, const char *local,
		 const struct sockaddr *remote, socklen_t remote_len, pid_t *ret_pid);

/* ---- main.c -------------------------------------------------------------- */

/* Monotonic milliseconds. */
uint64_t tunnel_now_ms(void);

/* Log one line to stderr, prefixed "tlskey-tunnel: ". */
void tunnel_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- precheck.c ------------------------------------------------------------ */

/* Ask tlskeyd (TLSKEYD_SOCKET or the default) whether conf's myname
 * exists and this process may use it in conf's role.  Returns 0 when it
 * may, or when the daemon cannot be asked now (logged as a warning: it
 * may start later); -ENOKEY, -EACCES or -EINVAL, logged with the daemon's
 * reason, when it refused.  Bounded: 5 s at most. */
int tunnel_precheck(const struct tunnel_conf *conf);

#endif
