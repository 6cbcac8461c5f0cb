/* xml_loader.c — dlopen()/dlsym() of libxml2's xmlTextWriter (see xml_loader.h). */
#include "util/xml_loader.h"

#include <string.h>

#include "util/dl_symbols.h"

static const char *const xml_sonames[] = { "libxml2.so.2" };
static const struct dl_library xml_library = {
    "libxml2", "libxml2", xml_sonames, sizeof xml_sonames / sizeof xml_sonames[0]
};

int xml_api_load(struct xml_api *api, struct pr_error *err)
{
    memset(api, 0, sizeof *api);
    const struct dl_symbol symbols[] = {
        DL_SYMBOL(&api->set_indent, xmlTextWriterSetIndent),
        DL_SYMBOL(&api->start_document, xmlTextWriterStartDocument),
        DL_SYMBOL(&api->start_dtd, xmlTextWriterStartDTD),
        DL_SYMBOL(&api->end_dtd, xmlTextWriterEndDTD),
        DL_SYMBOL(&api->start_element, xmlTextWriterStartElement),
        DL_SYMBOL(&api->write_attribute, xmlTextWriterWriteAttribute),
        DL_SYMBOL(&api->end_element, xmlTextWriterEndElement),
        DL_SYMBOL(&api->end_document, xmlTextWriterEndDocument),
        DL_SYMBOL(&api->free_writer, xmlFreeTextWriter),
        DL_SYMBOL(&api->output_buffer_create_fd, xmlOutputBufferCreateFd),
        DL_SYMBOL(&api->new_writer, xmlNewTextWriter),
        DL_SYMBOL(&api->cleanup_parser, xmlCleanupParser),
    };
    /* kept mapped on failure too: see xml_api_unload */
    return dl_symbols_load(&xml_library, symbols, sizeof symbols / sizeof symbols[0], 1,
                           &api->handle, err);
}

void xml_api_unload(struct xml_api *api)
{
    if (api->cleanup_parser)
        api->cleanup_parser();
    /* not dlclose()d: libxml2 keeps per-thread state that LeakSanitizer would then report
     * without symbols; the library stays mapped until exit, as it would if linked */
    memset(api, 0, sizeof *api);
}
