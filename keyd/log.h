/* Daemon logging: stderr for now, one line per event, never secrets. */
#ifndef TLSKEY_KEYD_LOG_H
#define TLSKEY_KEYD_LOG_H

#include <syslog.h>

void keyd_log_set_level(int max_prio);
void keyd_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
