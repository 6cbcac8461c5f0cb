/* dl_symbols.h — the one loop behind every optional library loaded with dlopen (libcurl,
 * libbpf, libfyaml, libnftables, libxml2): open the first soname that loads, then resolve a
 * table of symbols into the caller's function pointers, whose types come from the library's
 * real header (__typeof__(&curl_easy_init)), so a prototype cannot drift from the library's.
 * A missing library or symbol is -ENOPKG with a message naming it and the Debian package. */
#ifndef PORTREG_UTIL_DL_SYMBOLS_H
#define PORTREG_UTIL_DL_SYMBOLS_H

#include <stddef.h>

#include "util/error.h"

struct dl_symbol {
    const char *name;          /* the library's symbol, "curl_easy_init" */
    void *slot;                /* the function pointer it is stored in */
};

/* One table row: slot is &api->member, fn the library's function (only its type and name are
 * used: nothing is linked). A member whose type is not exactly __typeof__(&fn) does not
 * compile: __builtin_choose_expr then yields void, which cannot initialise a pointer. */
#define DL_SYMBOL(slot, fn)                                                                  \
    { #fn, __builtin_choose_expr(                                                            \
               __builtin_types_compatible_p(__typeof__(*(slot)), __typeof__(&fn)),           \
               (void *)(slot), (void)0) }

struct dl_library {
    const char *name;                  /* "libcurl", for messages */
    const char *package;               /* "libcurl3-gnutls", the Debian package to install */
    const char *const *sonames;        /* tried in order: "libcurl-gnutls.so.4", ... */
    size_t soname_count;
};

/* dlopen (RTLD_NOW | RTLD_LOCAL) the first of lib's sonames that loads, then dlsym every
 * symbol into its slot. On success *handle is the library. On failure every slot is NULL,
 * the library is closed (kept mapped when keep_mapped_on_failure: see xml_loader.c) and
 * -ENOPKG names the library or the missing symbol, and the package. */
int dl_symbols_load(const struct dl_library *lib, const struct dl_symbol *symbols, size_t count,
                    int keep_mapped_on_failure, void **handle, struct pr_error *err);

#endif
