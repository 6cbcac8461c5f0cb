/* xml_loader.h — libxml2's xmlTextWriter, loaded with dlopen() only when `scan -oX` writes XML.
 * Debian's libxml2 pulls ICU and libstdc++ into every process that links it, which made a
 * `portreg lookup` slower than getent; it is loaded the way libcurl is (curl_loader.h). */
#ifndef PORTREG_UTIL_XML_LOADER_H
#define PORTREG_UTIL_XML_LOADER_H

#include <libxml/xmlwriter.h>

#include "util/error.h"

struct xml_api {
    void *handle;
    /* the types are the library header's own (dl_symbols.h) */
    __typeof__(&xmlTextWriterSetIndent) set_indent;
    __typeof__(&xmlTextWriterStartDocument) start_document;
    __typeof__(&xmlTextWriterStartDTD) start_dtd;
    __typeof__(&xmlTextWriterEndDTD) end_dtd;
    __typeof__(&xmlTextWriterStartElement) start_element;
    __typeof__(&xmlTextWriterWriteAttribute) write_attribute;
    __typeof__(&xmlTextWriterEndElement) end_element;
    __typeof__(&xmlTextWriterEndDocument) end_document;
    __typeof__(&xmlFreeTextWriter) free_writer;
    /* writing into a file descriptor of ours (util/file_io.h's file_output): not closed */
    __typeof__(&xmlOutputBufferCreateFd) output_buffer_create_fd;
    __typeof__(&xmlNewTextWriter) new_writer;
    __typeof__(&xmlCleanupParser) cleanup_parser;   /* frees libxml2's global state */
};

/* -ENOPKG with a message naming the package when libxml2 is not installed. */
int xml_api_load(struct xml_api *api, struct pr_error *err);
void xml_api_unload(struct xml_api *api);

#endif
