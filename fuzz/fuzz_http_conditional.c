/* fuzz_http_conditional.c — If-None-Match and Accept-Encoding as a client sends them
 * (src/server/http_conditional.c): any bytes, split at the first NUL into header and ETag. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/http_conditional.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 2);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    text[size + 1] = '\0';
    const char *etag = text + strlen(text) + 1;
    (void)http_etag_matches(text, etag[0] ? etag : "\"x\"");
    (void)http_accepts_gzip(text);
    free(text);
    return 0;
}
