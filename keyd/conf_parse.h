/* The configuration parser's private state and its setting tables, shared
 * by keyd/conf.c (lines and sections) and keyd/conf_settings.c (what each
 * setting means).  Not for use outside these two files. */
#ifndef TLSKEY_KEYD_CONF_PARSE_H
#define TLSKEY_KEYD_CONF_PARSE_H

#include <stddef.h>

#include "keyd/conf.h"

/* More than every known setting of one section; longer keys are unknown. */
#define CONF_MAX_KEYS 64
#define CONF_MAX_KEY 40

struct parser {
	const char *name;
	unsigned line;
	char *err;
	size_t errlen;
	struct keyd_conf *conf;
	struct keyd_identity *cur; /* current [identity] section or NULL */
	struct keyd_peer *peer;    /* current [peer] section or NULL */
	int size_set, ttl_set, expiry_set;
	unsigned dane_line; /* the first 'dane' that is not off, for check_dane() */
	unsigned n_errors;  /* each one a line of err: all are reported */
	int skip_section;   /* its header was bad: its settings are not read */
	/* Settings seen in the current section: each may appear once
	 * (tlskeyd.conf(5)); [peer] pins repeat on purpose and are not kept. */
	char seen[CONF_MAX_KEYS][CONF_MAX_KEY + 1];
	size_t n_seen;
};

/* Report an error at the current line; every call adds one line to the
 * report.  Returns -EINVAL. */
int conf_perr(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Store a copy of val in *dst; a second value for the same setting is an
 * error.  0, -EINVAL (reported) or -ENOMEM. */
int conf_set_str(struct parser *p, char **dst, const char *key, const char *val);

/* dane = require | opportunistic | off into *dst (global, [identity] or
 * [peer]).  0 or -EINVAL (reported). */
int conf_set_dane(struct parser *p, enum keyd_dane *dst, const char *val);

/* The same for an absolute path. */
int conf_set_path(struct parser *p, char **dst, const char *key, const char *val);

enum conf_kind {
	CONF_STR = 1, /* char *, any text */
	CONF_PATH,    /* char *, an absolute path */
	CONF_UINT,    /* unsigned, from min to max */
	CONF_CHOICE,  /* int: the index of val in choices (NULL-terminated) */
	CONF_BOOL,    /* int: yes 1, no 0 */
	CONF_FN       /* fn() does it; is_str: it stores a char * at off (freed with the rest) */
};

/* One setting: where its value goes in the section's struct (keyd_conf for
 * the global section, keyd_identity for [identity]) and how it is read.
 * Adding a setting is adding a row (doc/architecture.md). */
struct conf_setting {
	const char *key;
	enum conf_kind kind;
	size_t off;
	unsigned min, max;
	const char *const *choices;
	int (*fn)(struct parser *p, void *section, const char *key, const char *val);
	int is_str;
};

/* The rows of the global section and of [identity] sections. */
extern const struct conf_setting conf_global_settings[];
extern const size_t conf_n_global_settings;
extern const struct conf_setting conf_identity_settings[];
extern const size_t conf_n_identity_settings;

/* Apply key = val to section by the table's row for key.  Returns 0, a
 * negative errno (an error is reported), or 1: no such setting (not
 * reported: the caller names the section in its message). */
int conf_setting_apply(struct parser *p, const struct conf_setting *table, size_t n, void *section,
		       const char *key, const char *val);

/* Free every string a table's rows own in section. */
void conf_settings_free(const struct conf_setting *table, size_t n, void *section);

#endif
