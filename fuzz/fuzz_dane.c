/* libFuzzer harness: TLSA rdata from the network (keyd/dane_match.c).
 * Input: one byte of mode and status, then records as [length][rdata],
 * the rest as the peer's "certificate" (DER, leaf only). */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "keyd/dane_match.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *rd[DANE_MAX_RECORDS * 2 + 1];
	int len[DANE_MAX_RECORDS * 2];
	size_t n = 0, pos = 1;
	struct dane_answer *a = NULL;
	const char *why = NULL;
	gnutls_datum_t cert;

	if (size < 1)
		return 0;
	while (pos < size && n < DANE_MAX_RECORDS * 2 && data[pos] && pos + 1 + data[pos] <= size) {
		rd[n] = (char *)(uintptr_t)(data + pos + 1);
		len[n++] = data[pos];
		pos += 1u + data[pos];
	}
	rd[n] = NULL;
	if (dane_answer_new((enum dane_status)(1 + data[0] % 5), rd, len, data[0], "fuzz", &a) < 0)
		return 0;
	if (dane_decide((enum keyd_dane)(data[0] >> 6), a, &why) == 1) {
		cert.data = (unsigned char *)(uintptr_t)(data + pos);
		cert.size = (unsigned)(size - pos);
		(void)dane_chain_check(a, &cert, 1, "fuzz.example.test", &why);
	}
	dane_answer_unref(a);
	return 0;
}
