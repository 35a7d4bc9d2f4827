#include "config.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "keyd/log.h"

static int log_max = LOG_INFO;

void keyd_log_set_level(int max_prio)
{
	log_max = max_prio;
}

void keyd_log(int prio, const char *fmt, ...)
{
	static const char *const names[] = { "emerg", "alert", "crit", "error", "warning",
					     "notice", "info", "debug" };
	char line[2048];
	va_list ap;
	int n;

	if (prio > log_max)
		return;
	/* Format into one buffer so that lines from several threads never
	 * interleave; the "<N>" prefix lets journald pick up the priority. */
	n = snprintf(line, sizeof(line), "<%d>tlskeyd: %s: ", prio, names[prio & 7]);
	va_start(ap, fmt);
	(void)vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	(void)strcat(line, "\n");
	(void)fputs(line, stderr);
}
