/* bpf_loader.c — dlopen()/dlsym() of the few libbpf functions portreg uses (see bpf_loader.h). */
#include "util/bpf_loader.h"

#include <dlfcn.h>
#include <errno.h>
#include <string.h>

int bpf_api_load(struct bpf_api *api, struct pr_error *err)
{
    memset(api, 0, sizeof *api);
    api->handle = dlopen("libbpf.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!api->handle)
        return pr_error_set(err, -ENOPKG, "libbpf is not installed (Debian package libbpf1): %s",
                            dlerror());
    struct { void **slot; const char *name; } symbols[] = {
        { (void **)&api->object_open_mem, "bpf_object__open_mem" },
        { (void **)&api->object_load, "bpf_object__load" },
        { (void **)&api->object_find_program_by_name, "bpf_object__find_program_by_name" },
        { (void **)&api->object_find_map_by_name, "bpf_object__find_map_by_name" },
        { (void **)&api->object_close, "bpf_object__close" },
        { (void **)&api->program_attach_iter, "bpf_program__attach_iter" },
        { (void **)&api->link_fd, "bpf_link__fd" },
        { (void **)&api->link_destroy, "bpf_link__destroy" },
        { (void **)&api->map_fd, "bpf_map__fd" },
        { (void **)&api->map_update_elem, "bpf_map_update_elem" },
        { (void **)&api->map_update_batch, "bpf_map_update_batch" },
        { (void **)&api->iter_create, "bpf_iter_create" },
        { (void **)&api->set_print, "libbpf_set_print" },
    };
    for (size_t i = 0; i < sizeof symbols / sizeof symbols[0]; i++) {
        *symbols[i].slot = dlsym(api->handle, symbols[i].name);
        if (!*symbols[i].slot) {
            int r = pr_error_set(err, -ENOPKG, "libbpf lacks %s (Debian package libbpf1 >= 1.0): %s",
                                 symbols[i].name, dlerror());
            bpf_api_unload(api);
            return r;
        }
    }
    return 0;
}

void bpf_api_unload(struct bpf_api *api)
{
    if (api->handle)
        dlclose(api->handle);
    memset(api, 0, sizeof *api);
}
