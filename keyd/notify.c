#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "keyd/log.h"
#include "keyd/notify.h"

void keyd_notify(const char *state)
{
	static int reported;
	int r = sd_notify(0, state);
	const char *name, *where;

	if (r >= 0 || reported)
		return;
	reported = 1;
	name = strerrorname_np(-r);
	where = getenv("NOTIFY_SOCKET");
	keyd_log(LOG_ERR, "cannot notify the service manager at NOTIFY_SOCKET=%s: %s (%s); it will "
		 "not see READY=1, STATUS= or WATCHDOG=1 (further failures are not logged)",
		 where ? where : "(unset)", strerror(-r), name ? name : "?");
}

void keyd_notifyf(const char *fmt, ...)
{
	char state[1024];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(state, sizeof(state), fmt, ap);
	va_end(ap);
	keyd_notify(state);
}
