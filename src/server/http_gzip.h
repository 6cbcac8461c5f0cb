/* http_gzip.h — the gzip form of an answer's bytes (http_gzip.c, zlib's deflate with the gzip
 * wrapper): made once for bytes kept while the process runs (the registry's map), or for each
 * answer (a host's portmap) when the client's Accept-Encoding takes gzip. */
#ifndef PORTREG_SERVER_HTTP_GZIP_H
#define PORTREG_SERVER_HTTP_GZIP_H

#include <stddef.h>

/* in[0..len) gzip'd at level (zlib's 1-9) into a malloc'd buffer (*out_len bytes); NULL when
 * out of memory. */
unsigned char *http_gzip_bytes(const unsigned char *in, size_t len, int level, size_t *out_len);

#endif
