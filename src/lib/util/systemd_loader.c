/* systemd_loader.c — dlopen()/dlsym() of libsystemd's sd-daemon calls (see systemd_loader.h). */
#include "util/systemd_loader.h"

#include <dlfcn.h>
#include <string.h>

#include "util/dl_symbols.h"

static const char *const systemd_sonames[] = { "libsystemd.so.0" };
static const struct dl_library systemd_library = {
    "libsystemd", "libsystemd0", systemd_sonames, sizeof systemd_sonames / sizeof systemd_sonames[0]
};

int systemd_api_load(struct systemd_api *api, struct pr_error *err)
{
    memset(api, 0, sizeof *api);
    const struct dl_symbol symbols[] = {
        DL_SYMBOL(&api->listen_fds, sd_listen_fds),
        DL_SYMBOL(&api->is_socket, sd_is_socket),
        DL_SYMBOL(&api->notify, sd_notify),
    };
    return dl_symbols_load(&systemd_library, symbols, sizeof symbols / sizeof symbols[0], 0,
                           &api->handle, err);
}

void systemd_api_unload(struct systemd_api *api)
{
    if (api->handle)
        dlclose(api->handle);
    memset(api, 0, sizeof *api);
}
