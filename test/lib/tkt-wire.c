/* tkt: raw wire-protocol messages, for the helpers that talk to the daemon
 * without the client library (hostile clients, floods). */
#include "config.h"

#include <netinet/in.h>

#include "common/wire.h"
#include "test/lib/tkt.h"

size_t tkt_start_msg(uint8_t *buf, size_t cap, const char *myname)
{
	struct tk_msg m = { .type = TK_MSG_START, .role = TK_ROLE_CLIENT, .proto = IPPROTO_TCP };
	size_t len = 0;

	m.present = (1u << TK_TAG_ROLE) | (1u << TK_TAG_PROTO) | (1u << TK_TAG_FLAGS);
	if (tk_msg_set_str(&m, TK_TAG_MYNAME, myname) < 0 || tk_msg_encode(&m, buf, cap, &len) < 0)
		tkt_dief("cannot encode START");
	return len;
}
