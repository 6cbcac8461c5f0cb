/* systemd_loader.h — libsystemd's sd-daemon calls (sd_listen_fds, sd_is_socket, sd_notify),
 * loaded with dlopen() only when systemd started portreg (LISTEN_FDS or NOTIFY_SOCKET is set):
 * nothing links libsystemd, and a run outside systemd never maps it. The way libcurl is loaded
 * (curl_loader.h); the types come from <systemd/sd-daemon.h>. */
#ifndef PORTREG_UTIL_SYSTEMD_LOADER_H
#define PORTREG_UTIL_SYSTEMD_LOADER_H

#include <systemd/sd-daemon.h>

#include "util/error.h"

struct systemd_api {
    void *handle;
    __typeof__(&sd_listen_fds) listen_fds;
    __typeof__(&sd_is_socket) is_socket;
    __typeof__(&sd_notify) notify;
};

/* Load libsystemd.so.0 (Debian package libsystemd0). -ENOPKG with a message naming the
 * package when it is not installed. */
int systemd_api_load(struct systemd_api *api, struct pr_error *err);
void systemd_api_unload(struct systemd_api *api);

#endif
