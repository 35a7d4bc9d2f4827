#include "config.h"

#include <errno.h>
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
