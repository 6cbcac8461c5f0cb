/* server_systemd.h — portreg serve as a systemd service: the listening sockets systemd passes
 * (socket activation: LISTEN_FDS/LISTEN_PID, read with sd_listen_fds) are served instead of
 * binding --listen, and Type=notify hears READY=1 once every daemon listens and STOPPING=1
 * when SIGTERM starts the drain. libsystemd is loaded with dlopen (util/systemd_loader.h) only
 * when those variables are set. */
#ifndef PORTREG_SERVER_SERVER_SYSTEMD_H
#define PORTREG_SERVER_SERVER_SYSTEMD_H

#include <stddef.h>

#include "util/error.h"

/* The sockets systemd passed: *count of them (0 when LISTEN_FDS is unset or not for this
 * process) into fds, each made non-blocking and close-on-exec, and its address as text
 * ("127.0.0.1:7678", "[::1]:7678") into names (static storage) for the log. The variables are
 * unset so no child inherits them. -EINVAL when a socket is not a listening TCP socket or
 * there are more than max; -ENOPKG (naming libsystemd0) when libsystemd cannot be loaded. */
int server_systemd_listen_fds(int *fds, const char **names, size_t max, size_t *count,
                              struct pr_error *err);

/* sd_notify(state) when NOTIFY_SOCKET is set ("READY=1\nSTATUS=...", "STOPPING=1"); 0 when
 * it is not set or the message went. -ENOPKG when libsystemd cannot be loaded. */
int server_systemd_notify(const char *state, struct pr_error *err);

#endif
