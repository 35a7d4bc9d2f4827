/* <tlskey/starttls.h>: start TLS on a socket through the tlskeyd daemon.
 *
 * The application never sees a private key.  It hands a connected socket to
 * tlskeyd, which checks the caller against its access control list, runs
 * the TLS handshake with a key held on a PKCS#11 token and returns a
 * "protected descriptor": a local socket carrying the plaintext of the
 * connection.  Reading, writing and shutdown() on it behave like a TCP
 * socket; close() ends the TLS connection with a close_notify.
 *
 * All functions are thread-safe.  The daemon socket is
 * /run/tlskeyd/tlskeyd.sock unless the environment variable TLSKEYD_SOCKET
 * names another path.  Whatever listens there must run as root (systemd's
 * socket unit), as the account "tlskeyd", as the caller's own effective
 * uid or as the user TLSKEYD_SOCKET_USER names (a name or a number): the
 * library checks (SO_PEERCRED) before it sends anything, and fails with
 * EPERM otherwise.  Both variables are ignored in setuid and setgid
 * programs (secure_getenv). */
#ifndef TLSKEY_STARTTLS_H
#define TLSKEY_STARTTLS_H

#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TLSKEY_EXPORT __attribute__((visibility("default")))

/* Validation flags (the eight options of the TLS Pool API). */
/* Server only: accept a client that sends no certificate. */
#define TLSKEY_FLAG_NO_REQUIRE_PEER_CERT 0x0001
/* Server only: do not ask the client for a certificate at all. */
#define TLSKEY_FLAG_NO_REQUEST_PEER_CERT 0x0002
/* Client only: do not present a local certificate. */
#define TLSKEY_FLAG_NO_LOCAL_CERT 0x0004
/* Refuse peers whose authenticated identity is a user (user@domain). */
#define TLSKEY_FLAG_NO_REMOTE_USER_ID 0x0008
/* Refuse peers whose authenticated identity is a domain. */
#define TLSKEY_FLAG_NO_REMOTE_DOMAIN_ID 0x0010
/* Do not use cached validation or authorization results. */
#define TLSKEY_FLAG_NO_CACHE_READ 0x0020
/* Do not store validation or authorization results in caches. */
#define TLSKEY_FLAG_NO_CACHE_WRITE 0x0040
/* Skip authorization of the remote peer (authentication still happens);
 * the ACL must grant this flag to the caller. */
#define TLSKEY_FLAG_SKIP_AUTHORIZATION 0x0080

#define TLSKEY_FLAGS_ALL 0x00ff

/* Start TLS in the client role on `fd`, a connected socket.
 *
 * proto:     IPPROTO_TCP for TLS on a connected TCP socket; IPPROTO_UDP
 *            for DTLS 1.2 on a connected UDP socket, in which case the
 *            protected descriptor is a SOCK_SEQPACKET socket that keeps
 *            datagram boundaries (one read = one datagram; a datagram too
 *            large for the path MTU is dropped).  Any other value fails
 *            with EPROTONOSUPPORT, IPPROTO_SCTP included (no SCTP
 *            support; the kernels tlskeyd is tested on have none).
 * myname:    local identity whose key and certificate are used
 *            ("example.com" or "alice@example.com"); must not be NULL.
 * flags:     TLSKEY_FLAG_*; unknown bits or server-only bits -> EINVAL.
 * sniname:   server name sent as SNI and checked against the server's
 *            certificate; NULL sends no SNI (the certificate's identity is
 *            then reported but not matched).
 * peername:  if not NULL, receives the server's authenticated identity,
 *            NUL-terminated.  If it does not fit in peername_len bytes the
 *            call fails with ERANGE (the name is never truncated).
 *
 * Returns a new file descriptor (O_CLOEXEC) owned by the caller, or -1 with
 * errno set.  In every case `fd` is consumed: the caller must not use or
 * close it afterwards (on failure it has been shut down and closed).
 * Notable errno values:
 *   EACCES        refused by the daemon's ACL, or the peer is not authorized
 *                 (peers=, identity-kind flags, map-user)
 *   ENOKEY        no key configured for myname
 *   EKEYREJECTED  the peer's certificate failed validation (untrusted,
 *                 expired, wrong name, wrong key purpose) or it sent none
 *   ENOTRECOVERABLE  the daemon's own key or token failed (wrong PIN, key
 *                 not the certificate's, token absent, a signature failed):
 *                 an operator must act; EKEYREJECTED is only the peer's
 *   EIO           the daemon is re-initialising its PKCS#11 module: retry
 *   ECONNABORTED  the peer sent a fatal alert
 *   ECONNRESET    the connection closed during the handshake
 *   EHOSTUNREACH  the server name was refused (checksni)
 *   EPROTO        any other TLS handshake failure
 *   ETIMEDOUT     the handshake timer expired, or the daemon did not answer
 *                 within TLSKEYD_TIMEOUT ms (default: the handshake timer,
 *                 or the daemon's default 30000 ms, plus 5000 ms)
 *   ERANGE        the peer identity does not fit in peername_len (or the
 *                 ALPN id in alpn_selected_len, tlskey_starttls())
 *   ENOPROTOOPT   alpn_strict and no ALPN protocol agreed (tlskey_starttls())
 *   EINVAL        bad arguments or flags for this role
 *   EBADF, ENOTSOCK, EPROTOTYPE, EPROTONOSUPPORT, ENOTCONN
 *                 fd is not a connected socket of the kind proto needs
 *   ENOENT, ECONNREFUSED  the daemon is not reachable
 *   EPERM         what listens at the daemon's path is not tlskeyd (it runs
 *                 as another uid; see above): fd was not passed to it
 *   EAGAIN        the daemon is overloaded, or cannot make a loopback TCP
 *                 protected descriptor right now (local ports exhausted)
 *                 and is not configured to fall back to a UNIX pair
 *   ESHUTDOWN     the daemon is shutting down
 *   EKEYEXPIRED   server role: the identity's certificate is must-staple and
 *                 the daemon has no current OCSP response for it
 *   EMFILE        a token operation failed while the daemon was out of
 *                 descriptors (the key is not taken for a failed one)
 * tlskey_last_error() gives the daemon's explanation. */
TLSKEY_EXPORT int starttls_client(int fd, int proto, char *myname, int flags, char *sniname,
				  char *peername, size_t peername_len);

/* Start TLS in the server role on `fd`.
 *
 * myname:   one identity, as for starttls_client(), or (virtual hosting)
 *           a comma-separated list of up to 16 host names and "*.domain"
 *           patterns without spaces, e.g. "a.example.com,b.example.com" or
 *           "*.example.com".  The client's SNI then picks the configured
 *           identity of that name; without SNI the first host name of the
 *           list that is not a pattern (none: refused).  The daemon checks
 *           the ACL for the picked identity before its key is used; what
 *           tlskey_query() reports as local is the identity used.  Errors
 *           of a list: EINVAL (malformed, or in the client role), ENOKEY (a
 *           listed name has no key, or the list covers none), E2BIG (more
 *           than 32 identities), EACCES (the ACL allows none of them, or
 *           not the picked one: the client gets an access_denied alert),
 *           EHOSTUNREACH (the SNI names none of them, or no SNI and no
 *           default: unrecognized_name alert), EAGAIN (the picked
 *           identity's handshake share is full).
 * checksni: called in this process, during the handshake, with the server
 *           name the remote client sent (never NULL; an empty string when it
 *           sent none).  Return non-zero to accept, zero to refuse: the
 *           handshake then fails with an unrecognized_name alert and the
 *           call with EHOSTUNREACH.  A NULL checksni accepts any name.
 *           With a myname list it is asked after the identity was picked.
 * peername: the peer identity as doc/identities.md says: when the client
 *           certificate proves several (e-mail, DNS, SPIFFE URI, IP SANs,
 *           a CN with peer-cn), the first the ACL rule admits.
 * Other parameters, return value and errno as for starttls_client();
 * client-only flags -> EINVAL. */
TLSKEY_EXPORT int starttls_server(int fd, int proto, char *myname, int flags, int checksni(char *),
				  char *peername, size_t peername_len);

/* ---- Extended API: AT-TLS style session control ---------------------- */

#define TLSKEY_ROLE_CLIENT 1
#define TLSKEY_ROLE_SERVER 2

/* Options for tlskey_starttls().  Zero-initialise, set `size` to
 * sizeof(struct tlskey_options), then set what you need; fields added in
 * later versions go at the end. */
struct tlskey_options {
	size_t size;
	/* Handshake timer in milliseconds; 0 uses the daemon's
	 * handshake-timeout, which is also the most the daemon grants (a
	 * longer timer is capped to it).  On expiry the connection is reset
	 * and the call fails with ETIMEDOUT. */
	unsigned int handshake_timeout_ms;
	/* Server role with a non-zero timer only (EINVAL otherwise): if the
	 * remote client sends nothing before the timer fires, do not fail but
	 * return a descriptor carrying the connection in cleartext (state
	 * TLSKEY_STATE_CLEARTEXT, see tlskey_query()).  For servers that speak
	 * first to clients that negotiate security in cleartext. */
	int allow_handshake_timeout;
	/* Return at once with a pending descriptor; see tlskey_finish(). */
	int nonblocking;
	/* Client role: server name to send and check (as sniname above).
	 * Only read, during the call. */
	const char *sniname;
	/* Server role: as checksni of starttls_server().  With nonblocking,
	 * finish the start with tlskey_finish_sni(), which calls it. */
	int (*checksni)(char *);
	/* Server role: the same with a context pointer, for callers that
	 * serve many connections from one callback: checksni_ctx(checksni_arg,
	 * name, len) with the server name the remote client sent (name
	 * NUL-terminated, len = strlen(name), at most 255 bytes; "" and 0
	 * when it sent none; only valid during the call).  Non-zero accepts,
	 * zero refuses (EHOSTUNREACH, as for checksni).  checksni_arg is
	 * passed through untouched, never dereferenced by the library.
	 * Exclusive with checksni (both set: EINVAL).  With nonblocking,
	 * finish the start with tlskey_finish_sni_ctx(). */
	int (*checksni_ctx)(void *ctx, const char *name, size_t len);
	void *checksni_arg;
	/* ALPN (RFC 7301), TCP only.  Client role: the protocol ids to offer,
	 * in the order to offer them; server role: the ids to accept, in the
	 * server's order of preference (the first of them the client also
	 * offers wins, whatever the client's order).  Each id is a
	 * NUL-terminated string of 1 to TLSKEY_ALPN_ID_MAX bytes (e.g. "h2",
	 * "http/1.1"); at most TLSKEY_ALPN_MAX_IDS of them.  Otherwise, or
	 * with alpn NULL and n_alpn > 0, or with DTLS: EINVAL.  NULL/0
	 * negotiates no ALPN.  Only read, during the call. */
	const char *const *alpn;
	size_t n_alpn;
	/* With alpn only (EINVAL otherwise): fail unless a protocol is agreed.
	 * Server role: a client offering none of the ids, or no ALPN at all,
	 * gets a no_application_protocol alert (120); client role: a server
	 * that selects none (or one not offered) gets the same alert.  The
	 * call fails with ENOPROTOOPT.  Without alpn_strict the handshake
	 * goes on without ALPN and the negotiated protocol is "". */
	int alpn_strict;
	/* If not NULL, receives the negotiated ALPN id, NUL-terminated, ""
	 * when none was agreed, from a blocking start.  If it does not fit in
	 * alpn_selected_len bytes (TLSKEY_ALPN_ID_MAX + 1 always does) the
	 * call fails with ERANGE (never truncated).  Not with nonblocking
	 * (EINVAL): read alpn from tlskey_query_session() instead. */
	char *alpn_selected;
	size_t alpn_selected_len;
};

/* Bounds of tlskey_options.alpn (those of GnuTLS 3.7.9; RFC 7301 itself
 * allows ids of up to 255 bytes). */
#define TLSKEY_ALPN_MAX_IDS 8
#define TLSKEY_ALPN_ID_MAX 31

/* Start TLS in either role, with options.  Roles are independent of who
 * called connect() and who called accept().  `opt` may be NULL.
 *
 * Blocking (the default): as starttls_client()/starttls_server(), plus
 * ETIMEDOUT when the handshake timer expires.
 *
 * myname and the strings in opt are only read, during the call.  In the
 * server role myname may be a list, as for starttls_server().
 *
 * Non-blocking (opt->nonblocking): returns a *pending descriptor* at once.
 * It becomes readable (poll/epoll POLLIN) when the handshake has ended;
 * then call tlskey_finish() on it.  `fd` is consumed as usual; peername and
 * peername_len are ignored here and given to tlskey_finish(). */
TLSKEY_EXPORT int tlskey_starttls(int fd, int proto, int role, const char *myname, int flags,
				  const struct tlskey_options *opt, char *peername,
				  size_t peername_len);

/* Complete a non-blocking start: consumes `pending` and returns the
 * protected descriptor (or -1 with errno, as the blocking call would).  If
 * the handshake has not ended yet, it waits for it.  A start with a
 * checksni (checksni_ctx) callback must use tlskey_finish_sni()
 * (tlskey_finish_sni_ctx()) instead: EINVAL when the daemon asks. */
TLSKEY_EXPORT int tlskey_finish(int pending, char *peername, size_t peername_len);

/* The same for a non-blocking start with a checksni callback; call it each
 * time `pending` becomes readable.  When tlskeyd asks about the server
 * name the remote client sent, it calls checksni(name) (non-zero accepts),
 * answers, and returns -1 with errno EINPROGRESS: `pending` stays open,
 * wait for it to be readable again.  Otherwise as tlskey_finish(). */
TLSKEY_EXPORT int tlskey_finish_sni(int pending, int (*checksni)(char *), char *peername,
				    size_t peername_len);

/* The same with a context pointer: calls checksni(ctx, name, len) (see
 * checksni_ctx in struct tlskey_options; ctx is passed through untouched),
 * so that one callback serves many pending descriptors without a global.
 * checksni NULL: EINVAL (pending is then left open); pending < 0: EBADF.
 * Otherwise as tlskey_finish_sni(): -1 with EINPROGRESS after an answer,
 * the protected descriptor, or -1 with errno. */
TLSKEY_EXPORT int tlskey_finish_sni_ctx(int pending,
					int (*checksni)(void *ctx, const char *name, size_t len),
					void *ctx, char *peername, size_t peername_len);

enum tlskey_state {
	TLSKEY_STATE_SECURE = 1,    /* TLS is up */
	TLSKEY_STATE_CLEARTEXT = 2, /* allow_handshake_timeout fired: plaintext */
	TLSKEY_STATE_FAILED = 3     /* the connection has failed */
};

/* What tlskey_query() reports about a protected descriptor. */
struct tlskey_info {
	int state;                  /* enum tlskey_state */
	char version[64];           /* "TLS1.3", "" in cleartext */
	char cipher_suite[64];      /* e.g. "TLS_AES_128_GCM_SHA256" */
	char peer[321];             /* peer's authenticated identity, "" if none */
	char local[256];            /* local identity (myname) used */
	char mapped_user[64];       /* local account the peer maps to (ACL map-user), or "" */
	unsigned int handshake_ms;  /* handshake duration */
	size_t peer_cert_len;       /* 0 if the peer sent no certificate */
	unsigned char peer_cert[8192]; /* peer's certificate, DER */
	unsigned int flags;         /* TLSKEY_INFO_*, below */
};

/* tlskey_info.flags (also sent in the start result, see doc/protocol.md). */
/* The protected descriptor is a UNIX socket pair: a stream the peer
 * truncated (no close_notify) or reset reads as a clean EOF there, not as
 * ECONNRESET.  After EOF, tlskey_query() tells the two apart: state
 * TLSKEY_STATE_FAILED for a broken stream, ENOENT after a close_notify
 * (the session ended).  Set for protected-socket = unix and for the
 * fallback below; never for DTLS, whose datagrams have no truncation. */
#define TLSKEY_INFO_TRUNCATION_UNREPORTED 0x0001
/* ... because no loopback TCP connection could be made when the session
 * started and the daemon is configured with protected-socket-fallback =
 * unix (with the default, refuse, such a start fails with EAGAIN). */
#define TLSKEY_INFO_UNIX_FALLBACK 0x0002
/* The handshake resumed an earlier session from a TLS 1.3 session ticket
 * (resumption = on for the server role, client-resumption = on for the
 * client role): no certificate was exchanged; the daemon validated the
 * peer's certificate kept with the session again and authorized it as
 * after a full handshake. */
#define TLSKEY_INFO_RESUMED 0x0004

/* Query the session behind a protected descriptor.  The descriptor itself
 * is the credential: only a process holding it can ask.  Returns 0 and
 * fills *ret, or -1 with errno: EBADF/ENOTSOCK (not a descriptor from
 * tlskeyd), ENOENT (the session is gone), ENOBUFS (the peer certificate
 * is larger than peer_cert: tlskey_last_error() gives its size;
 * tlskey_query_session() returns it), or a transport error. */
TLSKEY_EXPORT int tlskey_query(int fd, struct tlskey_info *ret);

/* ---- The complete query (after AT-TLS SIOCTTLSCTL) -------------------- */

/* tlskey_session_info.client_auth */
#define TLSKEY_CLIENT_AUTH_NONE 0    /* server: no certificate asked; client: none was asked */
#define TLSKEY_CLIENT_AUTH_REQUEST 1 /* server: asked, optional; client: the server asked */
#define TLSKEY_CLIENT_AUTH_REQUIRE 2 /* server: required (a client cannot tell) */

/* Everything tlskey_query_session() reports.  Versioned by its size:
 * zero-initialise it, set `size` to sizeof(struct tlskey_session_info),
 * point the buffers at memory of your own and set their *_cap; fields
 * added in later versions go at the end.  The library fills only the
 * first `size` bytes it knows of. */
struct tlskey_session_info {
	size_t size;
	int state;                /* enum tlskey_state */
	unsigned int flags;       /* TLSKEY_INFO_* */
	int role;                 /* TLSKEY_ROLE_* this side played */
	int client_auth;          /* TLSKEY_CLIENT_AUTH_* */
	int resumed;              /* 1 if the session was resumed, else 0 */
	unsigned int handshake_ms;
	char version[64];         /* "TLS1.3", "" in cleartext */
	char cipher_suite[64];
	char sni[256];            /* server role: the name the client sent; client role:
				   * the name we sent; "" none */
	char alpn[256];           /* negotiated ALPN protocol, "" none */
	char group[64];           /* key exchange group ("X25519", "SECP256R1"), "" none */
	char sign_algo[64];       /* the server's handshake signature ("ECDSA-SECP256R1-SHA256") */
	char client_sign_algo[64]; /* the client's, "" when it sent no certificate */
	char local[256];          /* local identity (myname) */
	char peer[321];           /* the peer's authenticated identity, "" none */
	char mapped_user[64];     /* ACL map-user account, "" none */
	char acl_rule[512];       /* the ACL rule that admitted the start, "path:line" */
	unsigned long long bytes_in;  /* plaintext bytes from the peer so far */
	unsigned long long bytes_out; /* plaintext bytes to the peer so far */
	/* The peer's chain as it sent it, leaf first: DER certificates one
	 * after the other (each DER is self-delimiting).  peer_chain_len and
	 * peer_chain_count are set even when the chain does not fit. */
	unsigned char *peer_chain;  /* caller's buffer, or NULL with cap 0 */
	size_t peer_chain_cap;
	size_t peer_chain_len;      /* bytes the whole chain takes */
	unsigned int peer_chain_count;
	/* Every identity the peer proved, each NUL-terminated, one after the
	 * other; peer_ids_len counts the NULs. */
	char *peer_ids;
	size_t peer_ids_cap;
	size_t peer_ids_len;
	unsigned int peer_ids_count;
};

/* Query everything about the session behind a protected descriptor; the
 * descriptor is the credential, as for tlskey_query().  Returns 0 and
 * fills *info, or -1 with errno:
 *   EINVAL    info NULL, info->size smaller than the first version of the
 *             struct, or a buffer NULL with a non-zero cap
 *   ENOBUFS   the chain or the identities do not fit in their buffer:
 *             every other field is filled, and peer_chain_len /
 *             peer_ids_len say the size needed (tlskey_last_error() too);
 *             call again with larger buffers
 *   EBADF, ENOTSOCK, ENOENT, ETIMEDOUT and transport errors as for
 *             tlskey_query(). */
TLSKEY_EXPORT int tlskey_query_session(int fd, struct tlskey_session_info *info);

/* ---- Exporters and session controls ---------------------------------- */

#define TLSKEY_EXPORT_LABEL_MAX 255 /* bytes of label */
#define TLSKEY_EXPORT_CONTEXT_MAX 255
#define TLSKEY_EXPORT_OUT_MAX 1024

/* Keying material exporter (RFC 5705; RFC 8446 section 7.5) of the TLS
 * session behind protected descriptor fd, e.g. for tls-exporter channel
 * binding (RFC 9266: label "EXPORTER-Channel-Binding", no context, 32
 * bytes).  label: NUL-terminated, 1..TLSKEY_EXPORT_LABEL_MAX bytes (in
 * TLS 1.3 GnuTLS 3.7 takes at most 63), not one TLS uses itself ("key
 * expansion", "master secret", ...).
 * context: NULL for no context, else context_len bytes (0 allowed, at most
 * TLSKEY_EXPORT_CONTEXT_MAX); in TLS 1.2 "no context" and an empty one
 * give different bytes, in TLS 1.3 the same.  Writes out_len bytes
 * (1..TLSKEY_EXPORT_OUT_MAX) to out; wipe them when done.  Only a
 * process holding fd can ask.  Returns 0, or -1 with errno: EINVAL (bad
 * arguments), EOPNOTSUPP (a cleartext session, or TLS 1.2 or DTLS 1.2
 * without Extended Master Secret, RFC 7627), ENOTCONN (the
 * session failed), ENOENT (it ended), EBADF/ENOTSOCK, EAGAIN (the
 * daemon's queue for the session is full), ETIMEDOUT. */
TLSKEY_EXPORT int tlskey_export_keying_material(int fd, const char *label,
						const unsigned char *context, size_t context_len,
						unsigned char *out, size_t out_len);

/* tlskey_control() operations (after AT-TLS RESET_WRITE_CIPHER and
 * STOP_CONNECTION). */
/* Send a TLS 1.3 KeyUpdate now, asking the peer to update its keys too
 * (update_requested): both directions get new traffic keys.  Data in
 * flight is unaffected.  Within 500 ms of the previous one it goes out
 * when data next moves after those 500 ms, ahead of the next data the
 * application sends. */
#define TLSKEY_CTL_KEY_UPDATE 1
/* End TLS: the daemon sends what it has already read from fd, then
 * close_notify and a TCP FIN, and reads no more from fd (data written
 * after the call is never sent: use shutdown(fd, SHUT_WR) if you want the
 * usual order of your own writes).  The peer's data still arrives until
 * its close_notify, which reads as EOF.  The same as shutdown(fd,
 * SHUT_WR) except that the daemon does it, at once. */
#define TLSKEY_CTL_CLOSE_NOTIFY 2

/* Apply op to the session behind protected descriptor fd.  Returns 0
 * once the daemon has handed the message to TLS, or -1 with errno:
 * EINVAL (unknown op), EOPNOTSUPP (KeyUpdate on TLS 1.2, DTLS or
 * cleartext; close_notify on cleartext), EALREADY (close_notify already
 * sent), ENOTCONN (a KeyUpdate after it, or the session failed), ENOENT,
 * EBADF/ENOTSOCK, EAGAIN, ETIMEDOUT as for
 * tlskey_export_keying_material(). */
TLSKEY_EXPORT int tlskey_control(int fd, int op);

/* The daemon's (or library's) explanation of the last failure of
 * starttls_client()/starttls_server() in the calling thread, or "" if none.
 * The string is owned by the library and valid until the next call in the
 * same thread. */
TLSKEY_EXPORT const char *tlskey_last_error(void);

#ifdef __cplusplus
}
#endif

#endif
