/* Watching the CRL files (keyd/watch.c). */
#ifndef TLSKEY_KEYD_WATCH_H
#define TLSKEY_KEYD_WATCH_H

#include "keyd/keyd.h"

struct watch;

/* An inotify descriptor (O_CLOEXEC, non-blocking) for the accept thread's
 * epoll set, in *ret (watch_free).  Returns 0 or a negative errno. */
int watch_new(struct watch **ret);

/* Its descriptor, to add to the epoll set. */
int watch_fd(const struct watch *w);

/* Events are waiting on the descriptor: read them (bounded) and, if one
 * concerns a watched CRL file or directory, plan a reload. */
void watch_readable(struct watch *w);

/* Accept thread, every loop turn: watch the CRL files and directories of
 * the generation in force (again whenever it changed), and run a planned
 * reload once the files stayed quiet for a moment and the last one is at
 * least a second old (a writer that writes a file in pieces or a flood of
 * events cause one reload, not many).  The reload is the normal one, all
 * or nothing: an invalid new CRL keeps the old generation (logged). */
void watch_step(struct watch *w, struct keyd *k, unsigned long long now_ms);

/* Milliseconds until watch_step() has something to do, -1 if nothing. */
int watch_timeout(const struct watch *w, unsigned long long now_ms);

void watch_free(struct watch *w);

#endif
