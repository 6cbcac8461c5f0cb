/* dl_symbols.c — dlopen a library by its candidate sonames and resolve a symbol table (see
 * dl_symbols.h). */
#include "util/dl_symbols.h"

#include <dlfcn.h>
#include <errno.h>
#include <string.h>

/* dlsym's void * is stored into a function pointer: POSIX requires them to be the same size. */
_Static_assert(sizeof(void *) == sizeof(void (*)(void)), "function pointers are data-sized");

static void dl_clear(const struct dl_symbol *symbols, size_t count)
{
    void *none = NULL;
    for (size_t i = 0; i < count; i++)
        memcpy(symbols[i].slot, &none, sizeof none);
}

int dl_symbols_load(const struct dl_library *lib, const struct dl_symbol *symbols, size_t count,
                    int keep_mapped_on_failure, void **handle, struct pr_error *err)
{
    *handle = NULL;
    dl_clear(symbols, count);
    void *library = NULL;
    for (size_t i = 0; i < lib->soname_count && !library; i++)
        library = dlopen(lib->sonames[i], RTLD_NOW | RTLD_LOCAL);
    if (!library)
        return pr_error_set(err, -ENOPKG, "%s is not installed (Debian package %s): %s",
                            lib->name, lib->package, dlerror());
    for (size_t i = 0; i < count; i++) {
        dlerror();
        void *address = dlsym(library, symbols[i].name);
        if (!address) {
            const char *why = dlerror();
            int r = pr_error_set(err, -ENOPKG, "%s lacks %s (update the Debian package %s): %s",
                                 lib->name, symbols[i].name, lib->package,
                                 why ? why : "symbol is NULL");
            dl_clear(symbols, count);
            if (!keep_mapped_on_failure)
                dlclose(library);
            return r;
        }
        memcpy(symbols[i].slot, &address, sizeof address);
    }
    *handle = library;
    return 0;
}
