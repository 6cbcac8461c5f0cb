/* nft_loader.c — dlopen()/dlsym() of libnftables and one buffered run (see nft_loader.h). */
#include "util/nft_loader.h"

#include <dlfcn.h>
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/dl_symbols.h"

static const char *const nft_sonames[] = { "libnftables.so.1" };
static const struct dl_library nft_library = {
    "libnftables", "libnftables1", nft_sonames, sizeof nft_sonames / sizeof nft_sonames[0]
};

int nft_api_load(struct nft_api *api, struct pr_error *err)
{
    memset(api, 0, sizeof *api);
    const struct dl_symbol symbols[] = {
        DL_SYMBOL(&api->ctx_new, nft_ctx_new),
        DL_SYMBOL(&api->ctx_free, nft_ctx_free),
        DL_SYMBOL(&api->ctx_set_dry_run, nft_ctx_set_dry_run),
        DL_SYMBOL(&api->ctx_output_set_flags, nft_ctx_output_set_flags),
        DL_SYMBOL(&api->ctx_buffer_output, nft_ctx_buffer_output),
        DL_SYMBOL(&api->ctx_get_output_buffer, nft_ctx_get_output_buffer),
        DL_SYMBOL(&api->ctx_buffer_error, nft_ctx_buffer_error),
        DL_SYMBOL(&api->ctx_get_error_buffer, nft_ctx_get_error_buffer),
        DL_SYMBOL(&api->run_cmd_from_filename, nft_run_cmd_from_filename),
    };
    return dl_symbols_load(&nft_library, symbols, sizeof symbols / sizeof symbols[0], 0,
                           &api->handle, err);
}

void nft_api_unload(struct nft_api *api)
{
    if (api->handle)
        dlclose(api->handle);
    memset(api, 0, sizeof *api);
}

/* nft reports "<cmdline>:LINE:FIRST-LAST: Error: why" followed by the line and a caret mark;
 * keep the first error, its place and the message. */
static int report_nft_error(const char *text, struct pr_error *err)
{
    const char *start = text ? text : "";
    const char *error = strstr(start, "Error: ");
    const char *line_end = error ? strchr(error, '\n') : NULL;
    int code = strstr(start, "Operation not permitted") ? -EPERM : -EINVAL;
    unsigned line = 0, column = 0;
    if (error) {
        /* walk back to the start of this line for the location */
        const char *location = error;
        while (location > start && location[-1] != '\n')
            location--;
        const char *colon = memchr(location, ':', (size_t)(error - location));
        if (colon && sscanf(colon, ":%u:%u", &line, &column) < 1)
            line = column = 0;
    }
    char message[400];
    if (error) {
        size_t len = line_end ? (size_t)(line_end - error) : strlen(error);
        if (len >= sizeof message)
            len = sizeof message - 1;
        memcpy(message, error + 7, len > 7 ? len - 7 : 0);
        message[len > 7 ? len - 7 : 0] = '\0';
    } else {
        snprintf(message, sizeof message, "%s", start[0] ? start : "nft command failed");
        char *nl = strchr(message, '\n');
        if (nl)
            *nl = '\0';
    }
    pr_error_set_at(err, code, line, column, "nftables: %s", message);
    return code;
}

/* libnftables prints "Operation not permitted (you must be root)" on stderr by itself when
 * its netlink socket is refused; a library must not print, so ask the kernel first. */
static bool has_cap_net_admin(void)
{
    struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3 };
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capget, &header, data) != 0)
        return true;                   /* unknown: let nftables answer */
    return (data[CAP_NET_ADMIN / 32].effective & (1u << (CAP_NET_ADMIN % 32))) != 0;
}

int nft_api_run(const struct nft_api *api, const char *commands, bool dry_run,
                unsigned int output_flags, char **output, struct pr_error *err)
{
    if (output)
        *output = NULL;
    if (!has_cap_net_admin())
        return pr_error_set(err, -EPERM, "nftables needs CAP_NET_ADMIN (run as root)");
    /* Run from a file, not a buffer: libnftables 1.0.6 reports errors found by the kernel in a
     * multi-line buffer at the wrong line, but at the right line:column of a file. A memfd
     * keeps the text off the disk; nft still sends the whole file as one batch. */
    int fd = memfd_create("portreg.nft", MFD_CLOEXEC);
    if (fd < 0)
        return pr_error_set(err, -errno, "memfd_create: %s", strerror(errno));
    size_t length = strlen(commands), done = 0;
    while (done < length) {
        ssize_t n = write(fd, commands + done, length - done);
        if (n < 0) {
            int r = pr_error_set(err, -errno, "memfd write: %s", strerror(errno));
            close(fd);
            return r;
        }
        done += (size_t)n;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    struct nft_ctx *ctx = api->ctx_new(NFT_CTX_DEFAULT);
    if (!ctx) {
        close(fd);
        return pr_error_set(err, -ENOMEM, "nftables: cannot create a context");
    }
    api->ctx_output_set_flags(ctx, output_flags);
    api->ctx_set_dry_run(ctx, dry_run);
    int r = 0;
    if (api->ctx_buffer_output(ctx) != 0 || api->ctx_buffer_error(ctx) != 0) {
        r = pr_error_set(err, -ENOMEM, "nftables: cannot buffer output");
        goto out;
    }
    if (api->run_cmd_from_filename(ctx, path) != 0) {
        r = report_nft_error(api->ctx_get_error_buffer(ctx), err);
        goto out;
    }
    if (output) {
        const char *text = api->ctx_get_output_buffer(ctx);
        *output = strdup(text ? text : "");
        if (!*output)
            r = pr_error_set(err, -ENOMEM, "out of memory");
    }
out:
    api->ctx_free(ctx);
    close(fd);
    return r;
}
