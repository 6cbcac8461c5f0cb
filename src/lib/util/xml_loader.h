/* xml_loader.h — libxml2's xmlTextWriter, loaded with dlopen() only when `scan -oX` writes XML.
 * Debian's libxml2 pulls ICU and libstdc++ into every process that links it, which made a
 * `portreg lookup` slower than getent; it is loaded the way libcurl is (curl_loader.h). */
#ifndef PORTREG_UTIL_XML_LOADER_H
#define PORTREG_UTIL_XML_LOADER_H

#include <libxml/xmlwriter.h>

#include "util/error.h"

struct xml_api {
    void *handle;
    xmlTextWriterPtr (*new_writer_filename)(const char *uri, int compression);
    int (*set_indent)(xmlTextWriterPtr writer, int indent);
    int (*start_document)(xmlTextWriterPtr writer, const char *version, const char *encoding,
                          const char *standalone);
    int (*start_dtd)(xmlTextWriterPtr writer, const xmlChar *name, const xmlChar *pubid,
                     const xmlChar *sysid);
    int (*end_dtd)(xmlTextWriterPtr writer);
    int (*start_element)(xmlTextWriterPtr writer, const xmlChar *name);
    int (*write_attribute)(xmlTextWriterPtr writer, const xmlChar *name, const xmlChar *content);
    int (*end_element)(xmlTextWriterPtr writer);
    int (*end_document)(xmlTextWriterPtr writer);
    void (*free_writer)(xmlTextWriterPtr writer);
    /* writing into a file descriptor of ours (util/file_io.h's file_output): not closed */
    xmlOutputBufferPtr (*output_buffer_create_fd)(int fd, xmlCharEncodingHandlerPtr encoder);
    xmlTextWriterPtr (*new_writer)(xmlOutputBufferPtr out);
    void (*cleanup_parser)(void);   /* frees libxml2's global state before dlclose */
};

/* -ENOPKG with a message naming the package when libxml2 is not installed. */
int xml_api_load(struct xml_api *api, struct pr_error *err);
void xml_api_unload(struct xml_api *api);

#endif
