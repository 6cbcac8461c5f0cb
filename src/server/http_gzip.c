/* http_gzip.c — the gzip form of an answer's bytes (http_gzip.h): one deflate call into a
 * buffer of deflateBound's size, so it never needs a second pass. */
#include <stdint.h>
#include <stdlib.h>
#include <zlib.h>

#include "server/http_gzip.h"

unsigned char *http_gzip_bytes(const unsigned char *in, size_t len, int level, size_t *out_len)
{
    z_stream z = { 0 };
    /* windowBits 15 + 16: the gzip wrapper (header and CRC32) rather than zlib's */
    if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    uLong bound = deflateBound(&z, (uLong)len) + 32;
    unsigned char *out = malloc(bound);
    if (out) {
        z.next_in = (Bytef *)(uintptr_t)in;
        z.avail_in = (uInt)len;
        z.next_out = out;
        z.avail_out = (uInt)bound;
        if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
            free(out);
            out = NULL;
        } else {
            *out_len = z.total_out;
        }
    }
    deflateEnd(&z);
    return out;
}
