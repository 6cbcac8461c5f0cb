/* bpf_loader.c — dlopen()/dlsym() of the few libbpf functions portreg uses (see bpf_loader.h). */
#include "util/bpf_loader.h"

#include <dlfcn.h>
#include <string.h>

#include "util/dl_symbols.h"

static const char *const bpf_sonames[] = { "libbpf.so.1" };
static const struct dl_library bpf_library = {
    "libbpf", "libbpf1 (>= 1.0)", bpf_sonames, sizeof bpf_sonames / sizeof bpf_sonames[0]
};

int bpf_api_load(struct bpf_api *api, struct pr_error *err)
{
    memset(api, 0, sizeof *api);
    const struct dl_symbol symbols[] = {
        DL_SYMBOL(&api->object_open_mem, bpf_object__open_mem),
        DL_SYMBOL(&api->object_load, bpf_object__load),
        DL_SYMBOL(&api->object_find_program_by_name, bpf_object__find_program_by_name),
        DL_SYMBOL(&api->object_find_map_by_name, bpf_object__find_map_by_name),
        DL_SYMBOL(&api->object_close, bpf_object__close),
        DL_SYMBOL(&api->program_attach_iter, bpf_program__attach_iter),
        DL_SYMBOL(&api->link_fd, bpf_link__fd),
        DL_SYMBOL(&api->link_destroy, bpf_link__destroy),
        DL_SYMBOL(&api->map_fd, bpf_map__fd),
        DL_SYMBOL(&api->map_update_elem, bpf_map_update_elem),
        DL_SYMBOL(&api->map_update_batch, bpf_map_update_batch),
        DL_SYMBOL(&api->iter_create, bpf_iter_create),
        DL_SYMBOL(&api->set_print, libbpf_set_print),
    };
    return dl_symbols_load(&bpf_library, symbols, sizeof symbols / sizeof symbols[0], 0,
                           &api->handle, err);
}

void bpf_api_unload(struct bpf_api *api)
{
    if (api->handle)
        dlclose(api->handle);
    memset(api, 0, sizeof *api);
}
