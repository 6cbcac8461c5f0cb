/* nft_loader.h — libnftables, loaded with dlopen() only by the firewall commands.
 * Linking libnftables (and through it libnftnl, libmnl's users, libjansson, libgmp, libxtables)
 * into every process costs ~0.3 ms of start-up that `portreg lookup` cannot afford; this loads
 * the few nft_ctx_* functions portreg uses, as curl_loader.h does for libcurl. */
#ifndef PORTREG_UTIL_NFT_LOADER_H
#define PORTREG_UTIL_NFT_LOADER_H

#include <stdbool.h>
#include <stdint.h>

#include <nftables/libnftables.h>

#include "util/error.h"

struct nft_api {
    void *handle;
    /* the types are the library header's own (dl_symbols.h) */
    __typeof__(&nft_ctx_new) ctx_new;
    __typeof__(&nft_ctx_free) ctx_free;
    __typeof__(&nft_ctx_set_dry_run) ctx_set_dry_run;
    __typeof__(&nft_ctx_output_set_flags) ctx_output_set_flags;
    __typeof__(&nft_ctx_buffer_output) ctx_buffer_output;
    __typeof__(&nft_ctx_get_output_buffer) ctx_get_output_buffer;
    __typeof__(&nft_ctx_buffer_error) ctx_buffer_error;
    __typeof__(&nft_ctx_get_error_buffer) ctx_get_error_buffer;
    __typeof__(&nft_run_cmd_from_filename) run_cmd_from_filename;
};

/* Load libnftables.so.1. -ENOPKG with a message naming the Debian package when missing. */
int nft_api_load(struct nft_api *api, struct pr_error *err);
void nft_api_unload(struct nft_api *api);

/* Run commands (one nft script: one transaction, read from a memfd so errors carry their
 * line) in a fresh context with output_flags
 * (NFT_CTX_OUTPUT_*). *output (may be NULL) receives a malloc'd copy of what nft printed.
 * On failure: -EPERM without CAP_NET_ADMIN, -EINVAL otherwise, and err holds nft's first error
 * message with its line and column in commands. */
int nft_api_run(const struct nft_api *api, const char *commands, bool dry_run,
                unsigned int output_flags, char **output, struct pr_error *err);

#endif
