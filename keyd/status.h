/* STATUS: a snapshot of the daemon's counters (keyd/stats.h) rendered as
 * text, JSON or Prometheus text exposition (doc/status.md), and the reply
 * that carries it (a sealed memfd). */
#ifndef TLSKEY_KEYD_STATUS_H
#define TLSKEY_KEYD_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include "keyd/keyd.h"

/* The largest document STATUS answers with: about 3000 identities in the
 * Prometheus format.  Beyond it, identities are left out and counted
 * (identities_omitted). */
#define STATUS_MAX (8u * 1024 * 1024)

/* Render k's status in format (TK_FORMAT_*).  Pure apart from the clock.
 * Returns 0 and a malloc'd document (*ret, *ret_len, no NUL counted), or
 * -EINVAL (format) / -ENOMEM. */
int status_render(const struct keyd *k, unsigned format, char **ret, size_t *ret_len);

/* Quote s for a Prometheus label value (backslash, double quote and
 * newline escaped) or a JSON string (json != 0: every control character
 * and DEL escaped as \u00XX), into out (always NUL-terminated, cut at
 * len).  Returns out. */
char *status_escape(const char *s, int json, char *out, size_t len);

/* Answer a STATUS request on ctlfd: a RESULT with errno 0 and doc in a
 * sealed memfd attached.  Returns 0 or a negative errno (nothing sent). */
int status_send(int ctlfd, const char *doc, size_t len);

/* The same for any answer: a message of type (its errno 0) carrying a
 * sealed memfd named name with the len bytes of data. */
int status_send_memfd(int ctlfd, uint8_t type, const char *name, const void *data, size_t len);

#endif
