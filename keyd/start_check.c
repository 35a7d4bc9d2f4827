/* The checks of a START request before anything is looked up
 * (keyd/control.c calls them): the wire fields alone, and the passed
 * socket (its kind, connected, and the options the daemon relies on). */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "common/flags.h"
#include "common/namelist.h"
#include "common/util.h"
#include "keyd/alpn.h"
#include "keyd/start_check.h"
#include "tlskey/starttls.h"

#ifndef TCP_IS_MPTCP
#define TCP_IS_MPTCP 43 /* Linux 5.16 */
#endif

/* Is fd a connected socket of the kind `proto` needs? */
int start_check_fd(int fd, int proto, struct sockaddr_storage *ret_peer, char *why, size_t len)
{
	socklen_t sl = sizeof(*ret_peer);
	int type = 0, protocol = 0;
	socklen_t il = sizeof(int);

	memset(ret_peer, 0, sizeof(*ret_peer));
	/* One call for the common case: only a TCP socket answers a TCP-level
	 * option (a UDP, raw, SCTP, UNIX or VSOCK socket refuses it, and so
	 * does anything that is not a socket), and TCP_IS_MPTCP is 0 for
	 * plain TCP.  An MPTCP socket, a kernel without the option and every
	 * refusal go the long way, which also says precisely what is wrong. */
	if (proto == IPPROTO_TCP) {
		int mptcp = -1;

		if (getsockopt(fd, IPPROTO_TCP, TCP_IS_MPTCP, &mptcp, &il) == 0 && il == sizeof(int) &&
		    mptcp == 0)
			goto connected;
		il = sizeof(int);
	}
	/* ENOTSOCK for anything but a socket, EBADF for an O_PATH descriptor
	 * of a socket inode (no socket we can use): no fstat() needed. */
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &il) < 0) {
		(void)snprintf(why, len, "passed descriptor is not a socket");
		return -ENOTSOCK;
	}
	if (type != (proto == IPPROTO_UDP ? SOCK_DGRAM : SOCK_STREAM)) {
		(void)snprintf(why, len, "passed socket is not a %s socket",
			       proto == IPPROTO_UDP ? "datagram (DTLS needs UDP)" : "stream (TLS needs TCP)");
		return -EPROTOTYPE;
	}
	il = sizeof(int);
	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &il) < 0 || protocol != proto) {
		(void)snprintf(why, len, "passed socket is not a %s socket",
			       proto == IPPROTO_UDP ? "UDP" : "TCP");
		return -EPROTONOSUPPORT;
	}
connected:
	if (getpeername(fd, (struct sockaddr *)ret_peer, &sl) < 0) {
		(void)snprintf(why, len, "passed socket is not connected");
		return -ENOTCONN;
	}
	return 0;
}

/* The caller set up fd and may keep a duplicate: take back what could
 * stall the daemon.  SO_RCVLOWAT above 1 would keep epoll from ever
 * reporting a partial record, so it goes back to 1 here.  The rest is not
 * set at admission, as the caller could change it again through its
 * duplicate anyway: every send and recv says MSG_DONTWAIT (O_NONBLOCK is
 * not relied on, nor set), SO_SNDTIMEO and SO_RCVTIMEO do not matter with
 * MSG_DONTWAIT, SO_LINGER is set just before the daemon's close
 * (passclose.h), and SIGIO is ignored (main.c) should O_ASYNC name the
 * daemon.  Runs before anything can close fd, the refusal path included.
 * Errors are ignored: a descriptor that is not a socket is refused by
 * start_check_fd() next. */
void start_take_options(int fd)
{
	int one = 1;

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof(one));
}

int start_check_request(const struct tk_msg *m, char *why, size_t len)
{
	const uint32_t server_only = TLSKEY_FLAG_NO_REQUIRE_PEER_CERT | TLSKEY_FLAG_NO_REQUEST_PEER_CERT;
	const uint32_t client_only = TLSKEY_FLAG_NO_LOCAL_CERT;

	if (m->role != TK_ROLE_CLIENT && m->role != TK_ROLE_SERVER) {
		(void)snprintf(why, len, "unknown role %u", m->role);
		return -EINVAL;
	}
	if (m->proto != IPPROTO_TCP && m->proto != IPPROTO_UDP) {
		(void)snprintf(why, len, "unsupported protocol %u", m->proto);
		return -EPROTONOSUPPORT;
	}
	if (m->flags & ~(uint32_t)TLSKEY_FLAGS_ALL) {
		(void)snprintf(why, len, "unknown flags 0x%x", m->flags & ~(uint32_t)TLSKEY_FLAGS_ALL);
		return -EINVAL;
	}
	if ((m->role == TK_ROLE_CLIENT && (m->flags & server_only)) ||
	    (m->role == TK_ROLE_SERVER && (m->flags & client_only))) {
		char names[160];

		(void)tk_flags_format(m->flags & (m->role == TK_ROLE_CLIENT ? server_only : client_only),
				      names, sizeof(names));
		(void)snprintf(why, len, "flags %s do not apply to this role", names);
		return -EINVAL;
	}
	if (tk_namelist_is_multi(m->myname)) {
		if (m->role != TK_ROLE_SERVER || tk_namelist_validate(m->myname) < 0) {
			(void)snprintf(why, len, m->role != TK_ROLE_SERVER
					       ? "a list of local names needs the server role"
					       : "invalid list of local names");
			return -EINVAL;
		}
	} else if (tk_name_validate(m->myname, strlen(m->myname)) < 0) {
		(void)snprintf(why, len, "invalid local identity name");
		return -EINVAL;
	}
	if (TK_HAS(m, TK_TAG_SNINAME) &&
	    (m->role != TK_ROLE_CLIENT || tk_name_validate(m->sniname, strlen(m->sniname)) < 0)) {
		(void)snprintf(why, len, "invalid server name indication");
		return -EINVAL;
	}
	if (m->timeout_ms > 3600u * 1000u) {
		(void)snprintf(why, len, "handshake timer over one hour");
		return -EINVAL;
	}
	if (m->allow_hs_timeout && (m->role != TK_ROLE_SERVER || m->timeout_ms == 0)) {
		(void)snprintf(why, len, "allow-handshake-timeout needs the server role and a timer");
		return -EINVAL;
	}
	if (m->checksni && m->role != TK_ROLE_SERVER) {
		(void)snprintf(why, len, "SNI checking applies to the server role only");
		return -EINVAL;
	}
	return alpn_check_request(m, why, len);
}
