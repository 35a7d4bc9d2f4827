/* tk-app: a test application for the integration tests.
 *
 * It uses libtlskey exactly as an application would (only
 * <tlskey/starttls.h>), plus a "hostile" mode that speaks the wire protocol
 * directly to check that the daemon survives malformed clients.
 *
 *   tk-app server --listen ADDR:PORT [--port-file F] --myname N [common]
 *                 [--sni-allow NAME | --sni-deny] [--accept-count N] [--echo]
 *   tk-app client --connect ADDR:PORT --myname N [--sni NAME] [common]
 *   tk-app badfd  --kind pipe|unconnected|udp|unix|closed|finish-sni|finish-sni-nocb --myname N [--role R] [common]
 *   tk-app query  --kind plain|pipe|closed [--expect-errno E]
 *                 (tlskey_query() on a descriptor that tlskeyd never made)
 *   tk-app hostile SOCKET MODE       (MODE: see hostile_modes[])
 *   tk-app sink   --listen ADDR:PORT [--port-file F] [--timeout SEC]
 *                 (a silent TCP peer: accepts one connection, never writes)
 *   tk-app sink   --connect ADDR:PORT [--reply TEXT] [--timeout SEC]
 *                 (a silent TCP client; with --reply it answers TEXT in
 *                 cleartext once it received a whole line, then half-closes)
 *   tk-app splice --connect ADDR:PORT --to ADDR:PORT
 *                 (connects to both and relays bytes between them, so that
 *                 a --role-swap server meets a real TLS server)
 *   A sink copies what it receives to stdout and ends with "SINK end=eof",
 *   "SINK end=reset" or "SINK end=error:<ERRNO>" and "SINK ms=<duration>".
 *
 * common: [--flags HEX|NAME[,NAME...]] [--proto N] [--peername-len N] [--expect-errno E[,E...]|any]
 *         [--timeout SEC]
 * extended API (any of these makes tk-app call tlskey_starttls()):
 *   --role-swap         the accepting side (server) runs the TLS client role
 *                       (with --sni), the connecting side (client) the TLS
 *                       server role (with --sni-allow/--sni-deny)
 *   --hs-timeout MS     handshake timer
 *   --allow-hs-timeout  cleartext fallback; prints "STATE=cleartext|secure"
 *                       (from tlskey_query() on the result)
 *   --nonblocking       start non-blocking; prints "PENDING=ready|notready"
 *                       (an immediate poll), polls the pending descriptor for
 *                       POLLIN (bounded by --timeout), prints "NONBLOCK=ok"
 *                       and "NONBLOCK-MS=<wait>", then calls tlskey_finish();
 *                       with a checksni callback tlskey_finish_sni() each
 *                       time it is readable ("NONBLOCK-SNI=answered" per
 *                       query answered)
 *   --finish-plain      with --nonblocking and a callback: tlskey_finish()
 *   --query             after the handshake print "QUERY state=.. version=..
 *                       cipher=.. peer=.. local=.. mapped=.. hs_ms=.. certlen=.."
 *                       and "QUERY-ALPN=<id>"
 *                       and "QUERYFLAGS resumed=yes|no flags=0x.."
 *   --cert-out FILE     with --query: write the peer certificate (DER) to FILE
 *   --query-at-end      after the relay ended, print "ENDSTATE=secure|failed|gone"
 *   --sndbuf N          client: SO_SNDBUF N on the socket before it is passed
 *                       (the daemon's sends to the peer then fill it soon)
 *   --recverr           client: IP_RECVERR on the socket before it is passed
 *                       (ICMP errors also wait on its error queue)
 *   --empty-dgrams      with --udp: a blank stdin line goes out as a datagram
 *                       of 0 bytes (and is not counted as sent)
 *   --shut-rd-on-usr2   SIGUSR2 during the relay: shutdown(fd, SHUT_RD) on
 *                       the protected descriptor (the app reads no more,
 *                       keeps it open)
 *   --udp               DTLS: a UDP socket (client: connect(); server: bind,
 *                       learn the peer with recvfrom(MSG_PEEK), connect());
 *                       stdin lines go out as one datagram each (newline
 *                       included); every datagram received is written to
 *                       stdout and logged as "DGRAM len=N" on stderr
 *   --dgrams N          with --udp: stop after receiving N datagrams (the
 *                       client's default is the number of lines it sent)
 *   --alpn LIST         ALPN ids, comma-separated (empty ids are kept, for
 *                       the library to refuse); a blocking start prints
 *                       "ALPN=<negotiated id>" ("" for none)
 *   --alpn-strict       alpn_strict; --alpn-len N: the alpn_selected buffer
 *                       size (default 32); --alpn-null: pass the count of
 *                       --alpn with a NULL list
 *
 * ADDR is numeric: 127.0.0.1 or [::1].  PORT 0 picks a free port; the
 * actual one is written to --port-file (atomically, by rename).
 *
 * After the handshake it prints "PEER=<identity>" on stderr (a server with
 * a checksni callback also prints "SNI=<name>"), then relays stdin to the
 * protected descriptor (shutdown(SHUT_WR) at EOF) and the descriptor to
 * stdout until EOF.  With --echo a server sends back what it receives.
 * On failure it prints "ERROR errno=<NAME> <strerror>: <tlskey_last_error()>".
 *
 * Exit status: 0 success (or the expected failure), 1 usage or local
 * error, 2 starttls failed, 3 relay error, 4 --expect-errno not met,
 * 5 hostile: daemon did not answer in time.
 *
 * Session calls (tk-app-sess.c): --query-full [--chain-cap N --ids-cap N
 * --info-size N --chain-out FILE] prints QFULL/QCHAIN/QID lines;
 * --export LABEL [--export-len N] [--export-context STR |
 * --export-empty-context] prints EXPORT=hex;
 * --ctl OP[,OP...] (key-update, close-notify, bad) [--ctl-after BYTES |
 * --ctl-after-down BYTES] [--ctl-as UID:GID: from a child of that uid]
 * calls tlskey_control() (at start, or once BYTES
 * went up / came down) and prints "CTL op
 * ok" or CTL-ERROR; --bytes-after N prints "QBYTES in= out=" once N bytes
 * came down.  tk-app sessctl --kind plain|pipe|closed aims them at a
 * descriptor tlskeyd never made.
 *
 * Files: tk-app.c (options, main), tk-app-tls.c (the TLS modes),
 * tk-app-io.c (relays, sink, splice), tk-app-hostile.c (raw protocol
 * abuse); shared helpers in test/lib/tkt.h. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <tlskey/starttls.h>

#include "common/wire.h"
#include "test/lib/tkt.h"
#include "test/softhsm/tk-app.h"

/* --query-at-end: print ENDSTATE= after the relay ended. */
int tkapp_query_at_end;
int tkapp_shut_rd_usr2;
int tkapp_empty_dgrams;
int tkapp_recverr;
int tkapp_sndbuf;

void usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void usage(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)fputs("tk-app: ", stderr);
	(void)vfprintf(stderr, fmt, ap);
	(void)fputs("\n(see the comment at the top of test/softhsm/tk-app.c)\n", stderr);
	va_end(ap);
	exit(EXIT_USAGE);
}

void fail(const char *what) __attribute__((noreturn));
void fail(const char *what)
{
	(void)fprintf(stderr, "tk-app: %s: %s\n", what, strerror(errno));
	exit(EXIT_USAGE);
}

static unsigned long parse_num(const char *s, int base, unsigned long max, const char *what)
{
	unsigned long v;

	if (tkt_parse_ulong(s, base, max, &v) < 0)
		usage("bad %s: %s", what, s);
	return v;
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
	memset(o, 0, sizeof(*o));
	o->proto = IPPROTO_TCP;
	o->peername_len = TK_ID_MAX + 1;
	o->accept_count = 1;
	o->timeout = 60;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

#define ARG(name) (strcmp(a, name) == 0 && (v ? (i++, 1) : (usage("%s needs a value", name), 0)))
		if (ARG("--listen"))
			o->listen = v;
		else if (ARG("--connect"))
			o->connect = v;
		else if (ARG("--port-file"))
			o->port_file = v;
		else if (ARG("--myname"))
			o->myname = (char *)v;
		else if (ARG("--sni"))
			o->sni = (char *)v;
		else if (ARG("--sni-allow"))
			o->sni_allow = v;
		else if (strcmp(a, "--sni-deny") == 0)
			o->sni_deny = 1;
		else if (ARG("--flags")) {
			if (tkt_flags_parse(v, &o->flags) < 0)
				usage("bad --flags: %s (hex, or flag names)", v);
		}
		else if (ARG("--proto")) {
			o->proto = (int)parse_num(v, 10, INT_MAX, "--proto");
			o->proto_set = 1;
		}
		else if (ARG("--peername-len"))
			o->peername_len = parse_num(v, 10, 1u << 20, "--peername-len");
		else if (ARG("--expect-errno"))
			o->expect = v;
		else if (ARG("--accept-count"))
			o->accept_count = (unsigned)parse_num(v, 10, 1000, "--accept-count");
		else if (strcmp(a, "--echo") == 0)
			o->echo = 1;
		else if (ARG("--kind"))
			o->kind = v;
		else if (ARG("--role"))
			o->role = v;
		else if (ARG("--timeout"))
			o->timeout = (unsigned)parse_num(v, 10, 3600, "--timeout");
		else if (strcmp(a, "--role-swap") == 0)
			o->role_swap = 1;
		else if (ARG("--hs-timeout"))
			o->hs_timeout = (unsigned)parse_num(v, 10, UINT_MAX, "--hs-timeout");
		else if (strcmp(a, "--allow-hs-timeout") == 0)
			o->allow_hs_timeout = 1;
		else if (strcmp(a, "--nonblocking") == 0)
			o->nonblocking = 1;
		else if (strcmp(a, "--finish-plain") == 0)
			o->finish_plain = 1;
		else if (strcmp(a, "--query") == 0)
			o->query = 1;
		else if (strcmp(a, "--query-at-end") == 0)
			tkapp_query_at_end = 1;
		else if (strcmp(a, "--shut-rd-on-usr2") == 0)
			tkapp_shut_rd_usr2 = 1;
		else if (strcmp(a, "--empty-dgrams") == 0)
			tkapp_empty_dgrams = 1;
		else if (strcmp(a, "--recverr") == 0)
			tkapp_recverr = 1;
		else if (ARG("--sndbuf"))
			tkapp_sndbuf = (int)parse_num(v, 10, 1u << 24, "--sndbuf");
		else if (ARG("--cert-out"))
			o->cert_out = v;
		else if (strcmp(a, "--query-full") == 0)
			tkapp_sess.query_full = 1;
		else if (ARG("--info-size"))
			tkapp_sess.size = parse_num(v, 10, 1u << 20, "--info-size");
		else if (ARG("--chain-cap"))
			tkapp_sess.chain_cap = parse_num(v, 10, 1u << 24, "--chain-cap");
		else if (ARG("--ids-cap"))
			tkapp_sess.ids_cap = parse_num(v, 10, 1u << 20, "--ids-cap");
		else if (ARG("--chain-out"))
			tkapp_sess.chain_out = v;
		else if (ARG("--export"))
			tkapp_sess.export_label = v;
		else if (ARG("--export-context"))
			tkapp_sess.export_context = v;
		else if (strcmp(a, "--export-empty-context") == 0)
			tkapp_sess.export_context = "";
		else if (ARG("--export-len"))
			tkapp_sess.export_len = parse_num(v, 10, 1u << 20, "--export-len");
		else if (ARG("--ctl"))
			tkapp_sess.ctl = v;
		else if (ARG("--ctl-as")) {
			unsigned long u, g;
			char ids[64], *colon;

			(void)snprintf(ids, sizeof(ids), "%s", v);
			colon = strchr(ids, ':');
			if (!colon)
				usage("--ctl-as UID:GID");
			*colon = '\0';
			u = parse_num(ids, 10, 1ul << 31, "--ctl-as");
			g = parse_num(colon + 1, 10, 1ul << 31, "--ctl-as");
			tkapp_sess.ctl_as_uid = (long)u;
			tkapp_sess.ctl_as_gid = (long)g;
		} else if (ARG("--ctl-after"))
			tkapp_sess.ctl_after = parse_num(v, 10, ULONG_MAX, "--ctl-after");
		else if (ARG("--ctl-after-down"))
			tkapp_sess.ctl_down = parse_num(v, 10, ULONG_MAX, "--ctl-after-down");
		else if (ARG("--bytes-after"))
			tkapp_sess.bytes_after = parse_num(v, 10, ULONG_MAX, "--bytes-after");
		else if (strcmp(a, "--udp") == 0)
			o->udp = 1;
		else if (ARG("--dgrams"))
			o->dgrams = (unsigned)parse_num(v, 10, 100000, "--dgrams");
		else if (ARG("--reply"))
			o->reply = v;
		else if (ARG("--to"))
			o->to = v;
		else if (ARG("--alpn"))
			o->alpn = v;
		else if (strcmp(a, "--alpn-strict") == 0)
			o->alpn_strict = 1;
		else if (strcmp(a, "--alpn-null") == 0)
			o->alpn_null = 1;
		else if (ARG("--alpn-len"))
			o->alpn_len = parse_num(v, 10, 4096, "--alpn-len");
		else
			usage("unknown argument %s", a);
#undef ARG
	}
	if (o->udp && !o->proto_set)
		o->proto = IPPROTO_UDP;
	if (o->expect && !tkt_errno_list_valid(o->expect))
		usage("unknown errno name in --expect-errno %s", o->expect);
}

int main(int argc, char **argv)
{
	tkt_prog_set("tk-app", EXIT_USAGE);
	struct opts o;

	(void)signal(SIGPIPE, SIG_IGN);
	if (argc < 2)
		usage("missing mode (server, client, badfd, query, sink, hostile)");
	if (strcmp(argv[1], "hostile") == 0) {
		if (argc < 4)
			usage("hostile SOCKET MODE [--timeout SEC]");
		parse_opts(argc - 4, argv + 4, &o);
		(void)alarm(o.timeout + 5);
		return run_hostile(argv[2], argv[3], o.timeout > 10 ? 10 : o.timeout);
	}
	parse_opts(argc - 2, argv + 2, &o);
	/* A hung test is worse than a failed one. */
	(void)alarm(o.timeout);
	if (strcmp(argv[1], "server") == 0)
		return run_server(&o);
	if (strcmp(argv[1], "client") == 0)
		return run_client(&o);
	if (strcmp(argv[1], "badfd") == 0)
		return run_badfd(&o);
	if (strcmp(argv[1], "sink") == 0)
		return run_sink(&o);
	if (strcmp(argv[1], "query") == 0)
		return run_query(&o);
	if (strcmp(argv[1], "sessctl") == 0)
		return run_sessctl(&o);
	if (strcmp(argv[1], "splice") == 0)
		return run_splice(&o);
	usage("unknown mode %s", argv[1]);
}
