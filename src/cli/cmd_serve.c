/* cmd_serve.c — `portreg serve` in the portreg binary: loads the server module
 * (portreg-serve.so) and runs the command there. The server's libraries (libmicrohttpd,
 * SQLite, GnuTLS) live only in that module, so that `portreg lookup` and every other command
 * start without mapping them (linked into the binary they tripled lookup's start-up time), as
 * libcurl, libnftables and libxml2 are loaded only when needed. Where the module is: the
 * PORTREG_SERVE_MODULE environment variable, else beside this binary (the build tree), else
 * the installed module directory. */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#ifndef PORTREG_MODULE_DIR
#define PORTREG_MODULE_DIR "/usr/local/lib/portreg"
#endif
#define SERVE_MODULE_NAME "portreg-serve.so"
#define SERVE_MODULE_ENTRY "serve_command_run"

typedef int serve_entry_fn(int argc, char **argv, struct cli_context *ctx);

/* PATH of the module beside the running binary; false when /proc/self/exe cannot be read. */
static bool module_beside_binary(char *path, size_t size)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return false;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return false;
    *slash = '\0';
    int written = snprintf(path, size, "%s/%s", exe, SERVE_MODULE_NAME);
    return written > 0 && (size_t)written < size;
}

int cmd_serve(int argc, char **argv, struct cli_context *ctx)
{
    char beside[PATH_MAX];
    const char *candidates[3];
    size_t count = 0;
    const char *from_env = getenv("PORTREG_SERVE_MODULE");
    if (from_env && *from_env) {
        candidates[count++] = from_env;
    } else {
        if (module_beside_binary(beside, sizeof beside) && access(beside, R_OK) == 0)
            candidates[count++] = beside;
        candidates[count++] = PORTREG_MODULE_DIR "/" SERVE_MODULE_NAME;
    }
    void *module = NULL;
    const char *tried = candidates[count - 1];
    char why[512] = "";
    for (size_t i = 0; i < count && !module; i++) {
        tried = candidates[i];
        module = dlopen(tried, RTLD_NOW | RTLD_LOCAL);
        if (!module)
            snprintf(why, sizeof why, "%s", dlerror());
    }
    if (!module)
        return cli_error(CLI_EXIT_FAILURE, "serve", "cannot load the server module %s: %s (is portreg installed "
                         "completely? the module needs libmicrohttpd12, libsqlite3-0 and libgnutls30)", tried, why);
    serve_entry_fn *entry;
    *(void **)&entry = dlsym(module, SERVE_MODULE_ENTRY);
    if (!entry)
        return cli_error(CLI_EXIT_FAILURE, "serve", "%s has no %s: a module of another portreg version?", tried,
                         SERVE_MODULE_ENTRY);
    /* never dlclose()d: the server's libraries keep per-thread state until the process ends */
    return entry(argc, argv, ctx);
}
