/* libFuzzer harness: the session document decoder (common/sessdoc.c),
 * which libtlskey runs on what the daemon sends. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/sessdoc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tk_sessdoc d, again;
	uint8_t *out;
	size_t need, len;

	if (tk_sessdoc_decode(data, size, &d) != 0)
		return 0;
	/* Whatever decodes must re-encode to a document that decodes the
	 * same. */
	need = tk_sessdoc_size(&d);
	out = malloc(need ? need : 1);
	if (!out)
		return 0;
	if (tk_sessdoc_encode(&d, out, need, &len) != 0 || len != need ||
	    tk_sessdoc_decode(out, len, &again) != 0 || again.n_certs != d.n_certs ||
	    again.n_ids != d.n_ids || again.bytes_in != d.bytes_in || strcmp(again.peer, d.peer) != 0)
		__builtin_trap();
	for (size_t i = 0; i < d.n_certs; i++)
		if (again.cert_len[i] != d.cert_len[i] || memcmp(again.cert[i], d.cert[i], d.cert_len[i]))
			__builtin_trap();
	free(out);
	return 0;
}
