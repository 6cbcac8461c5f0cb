/* bpf_loader.h — libbpf, loaded with dlopen() only when the BPF socket-owner collector runs.
 * Linking libbpf (and its libelf and zlib) into every process would slow down `portreg lookup`
 * for a feature only root uses; curl_loader.h does the same for libcurl. The function pointers
 * have the exact types of the libbpf 1.x declarations in <bpf/libbpf.h> and <bpf/bpf.h>. */
#ifndef PORTREG_UTIL_BPF_LOADER_H
#define PORTREG_UTIL_BPF_LOADER_H

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "util/error.h"

struct bpf_api {
    void *handle;
    /* the types are the library header's own (dl_symbols.h) */
    __typeof__(&bpf_object__open_mem) object_open_mem;
    __typeof__(&bpf_object__load) object_load;
    __typeof__(&bpf_object__find_program_by_name) object_find_program_by_name;
    __typeof__(&bpf_object__find_map_by_name) object_find_map_by_name;
    __typeof__(&bpf_object__close) object_close;
    __typeof__(&bpf_program__attach_iter) program_attach_iter;
    __typeof__(&bpf_link__fd) link_fd;
    __typeof__(&bpf_link__destroy) link_destroy;
    __typeof__(&bpf_map__fd) map_fd;
    __typeof__(&bpf_map_update_elem) map_update_elem;
    __typeof__(&bpf_map_update_batch) map_update_batch;
    __typeof__(&bpf_iter_create) iter_create;
    __typeof__(&libbpf_set_print) set_print;
};

/* Load libbpf.so.1 (Debian package libbpf1). -ENOPKG with a message that names the package
 * when it is not installed or lacks a function. libbpf 1.x reports errors as NULL or a negative
 * return with errno set, so libbpf_get_error() is not needed. */
int bpf_api_load(struct bpf_api *api, struct pr_error *err);
void bpf_api_unload(struct bpf_api *api);

#endif
