/* libFuzzer harness: the request/answer decoder (common/wire.c). */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "common/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tk_msg m;
	uint8_t out[TK_WIRE_MAX_MSG];
	size_t len;

	if (tk_msg_decode(data, size, &m) == 0) {
		/* Whatever decodes must re-encode to something that decodes
		 * to the same message. */
		struct tk_msg again;
		if (tk_msg_encode(&m, out, sizeof(out), &len) != 0)
			__builtin_trap();
		if (tk_msg_decode(out, len, &again) != 0 || again.present != m.present ||
		    again.flags != m.flags || strcmp(again.myname, m.myname) != 0 ||
		    again.alpn_len != m.alpn_len || memcmp(again.alpn, m.alpn, m.alpn_len) != 0)
			__builtin_trap();
	}
	return 0;
}
