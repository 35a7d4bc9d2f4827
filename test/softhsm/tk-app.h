/* tk-app: what its files share (tk-app.c: options and main; tk-app-tls.c:
 * the TLS modes; tk-app-io.c: relays, sink, splice; tk-app-hostile.c: raw
 * protocol abuse).  A test program: every failure of its own machinery
 * ends it (usage, fail). */
#ifndef TLSKEY_TEST_TK_APP_H
#define TLSKEY_TEST_TK_APP_H

#include <netdb.h>
#include <stddef.h>
enum {
	EXIT_USAGE = 1,
	EXIT_STARTTLS = 2,
	EXIT_RELAY = 3,
	EXIT_EXPECT = 4,
	EXIT_HANG = 5,
};
#define RELAY_BUF (64 * 1024)


struct opts {
	const char *listen;
	const char *connect;
	const char *port_file;
	char *myname;
	char *sni;
	const char *sni_allow;
	int sni_deny;
	int flags;
	int proto;
	size_t peername_len;
	const char *expect;
	unsigned accept_count;
	int echo;
	const char *kind;
	const char *role;
	unsigned timeout;
	/* extended API */
	int role_swap;
	unsigned hs_timeout;
	int allow_hs_timeout;
	int nonblocking;
	int finish_plain; /* tlskey_finish() even with a checksni callback */
	int query;
	const char *cert_out;
	int udp;
	int proto_set;
	unsigned dgrams;
	const char *reply;
	const char *to;
	/* --alpn LIST (comma-separated, empty ids kept), --alpn-strict,
	 * --alpn-len N (alpn_selected buffer, default 32), --alpn-null (the
	 * list pointer NULL with its count) */
	const char *alpn;
	int alpn_strict;
	size_t alpn_len;
	int alpn_null;
};

/* --query-at-end (tk-app.c): print ENDSTATE= after the relay ended. */
extern int tkapp_query_at_end;
/* --shut-rd-on-usr2 (tk-app.c): SIGUSR2 shuts the relay's read side. */
extern int tkapp_shut_rd_usr2;
/* --empty-dgrams (tk-app.c): a blank line is an empty datagram. */
extern int tkapp_empty_dgrams;
/* --recverr (tk-app.c): IP_RECVERR on the client's socket. */
extern int tkapp_recverr;
/* --sndbuf N (tk-app.c): SO_SNDBUF on the client's socket (0: none). */
extern int tkapp_sndbuf;

/* tk-app-sess.c: the options about an established session. */
struct tkapp_sess {
	int query_full;              /* --query-full: print QFULL, QCHAIN, QID lines */
	size_t size;                 /* --info-size: struct size to claim (0: sizeof) */
	size_t chain_cap, ids_cap;   /* --chain-cap, --ids-cap */
	const char *chain_out;       /* --chain-out FILE: the chain (DER, concatenated) */
	const char *export_label;    /* --export LABEL: print EXPORT=<hex> */
	const char *export_context;  /* --export-context STR (absent: no context) */
	size_t export_len;           /* --export-len N (default 32) */
	const char *ctl;             /* --ctl key-update|close-notify|bad */
	unsigned long long ctl_after; /* --ctl-after N: once N bytes went up (0: at start) */
	unsigned long long ctl_down;  /* --ctl-after-down N: once N bytes came down */
	unsigned long long bytes_after; /* --bytes-after N: print QBYTES once N bytes came down (before passing them on) */
	int keep_going;              /* a failed call is reported, not fatal */
	long ctl_as_uid, ctl_as_gid; /* --ctl-as UID:GID: the calls from a child of that
				      * uid and gid (-1: ourselves) */
};
extern struct tkapp_sess tkapp_sess;
/* After a successful start: the calls asked for.  0 or an exit status. */
int sess_after_start(int pfd);
/* The relay sent up bytes in all: --ctl-after. */
void sess_up_bytes(int pfd, unsigned long long up);
/* The relay read down bytes in all from the protected descriptor,
 * before passing them on: --bytes-after. */
void sess_down_bytes(int pfd, unsigned long long down);
/* tk-app sessctl --kind plain|pipe|closed: the calls on a foreign fd. */
int run_sessctl(const struct opts *o);

/* tk-app.c: print a usage error (or what failed, with errno) and exit 1. */
void usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fail(const char *what) __attribute__((noreturn));

/* tk-app-tls.c: the modes; each returns the exit status. */
int run_server(const struct opts *o);
int run_client(const struct opts *o);
int run_query(const struct opts *o);
int run_badfd(const struct opts *o);
/* The name of a TLSKEY_STATE_* value. */
const char *state_name(int st);

/* tk-app-io.c */
/* Relay stdin -> pfd and pfd -> stdout (or back to pfd with echo) until
 * both directions saw EOF; consumes pfd.  Returns the exit status. */
int relay(int pfd, int echo, int use_stdin);
/* The same for datagrams (--udp): stop after `want` received (0: as many
 * as were sent). */
int relay_dgram(int pfd, int echo, int use_stdin, unsigned want);
/* "127.0.0.1:PORT" or "[::1]:PORT"; usage() on anything else.  The
 * caller frees the result (freeaddrinfo). */
struct addrinfo *parse_addr(const char *spec, int passive);
int run_sink(const struct opts *o);
int run_splice(const struct opts *o);

/* tk-app-hostile.c */
int run_hostile(const char *path, const char *mode, unsigned timeout);

#endif
