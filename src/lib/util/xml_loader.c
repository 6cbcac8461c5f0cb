/* xml_loader.c — dlopen()/dlsym() of libxml2's xmlTextWriter (see xml_loader.h). */
#include "util/xml_loader.h"

#include <dlfcn.h>
#include <errno.h>
#include <string.h>

int xml_api_load(struct xml_api *api, struct pr_error *err)
{
    memset(api, 0, sizeof *api);
    api->handle = dlopen("libxml2.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!api->handle)
        return pr_error_set(err, -ENOPKG, "libxml2 is not installed (Debian package libxml2): %s",
                            dlerror());
    struct { void **slot; const char *name; } symbols[] = {
        { (void **)&api->new_writer_filename, "xmlNewTextWriterFilename" },
        { (void **)&api->set_indent, "xmlTextWriterSetIndent" },
        { (void **)&api->start_document, "xmlTextWriterStartDocument" },
        { (void **)&api->start_dtd, "xmlTextWriterStartDTD" },
        { (void **)&api->end_dtd, "xmlTextWriterEndDTD" },
        { (void **)&api->start_element, "xmlTextWriterStartElement" },
        { (void **)&api->write_attribute, "xmlTextWriterWriteAttribute" },
        { (void **)&api->end_element, "xmlTextWriterEndElement" },
        { (void **)&api->end_document, "xmlTextWriterEndDocument" },
        { (void **)&api->free_writer, "xmlFreeTextWriter" },
        { (void **)&api->output_buffer_create_fd, "xmlOutputBufferCreateFd" },
        { (void **)&api->new_writer, "xmlNewTextWriter" },
        { (void **)&api->cleanup_parser, "xmlCleanupParser" },
    };
    for (size_t i = 0; i < sizeof symbols / sizeof symbols[0]; i++) {
        *symbols[i].slot = dlsym(api->handle, symbols[i].name);
        if (!*symbols[i].slot) {
            int r = pr_error_set(err, -ENOPKG, "libxml2 lacks %s: %s", symbols[i].name, dlerror());
            xml_api_unload(api);
            return r;
        }
    }
    return 0;
}

void xml_api_unload(struct xml_api *api)
{
    if (api->cleanup_parser)
        api->cleanup_parser();
    /* not dlclose()d: libxml2 keeps per-thread state that LeakSanitizer would then report
     * without symbols; the library stays mapped until exit, as it would if linked */
    memset(api, 0, sizeof *api);
}
