/* fuzz_capabilities.c — libFuzzer harness for capabilities_parse_status()
 * (src/lib/util/capabilities.c) over a NUL-terminated copy of the input: it returns 0 with a
 * set or -EINVAL with a message, an error's line lies inside the text, and the output is
 * untouched on error. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/capabilities.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    uint64_t effective = 0x5a5a5a5a5a5a5a5aull;
    struct pr_error err = { 0 };
    int r = capabilities_parse_status(text, &effective, &err);
    if (r < 0) {
        unsigned lines = 1;
        for (const char *p = text; *p; p++)
            lines += *p == '\n';
        if (r != -EINVAL || err.code != r || err.message[0] == '\0' || err.line > lines ||
            effective != 0x5a5a5a5a5a5a5a5aull)
            abort();
    } else if (r != 0 || !strstr(text, "CapEff:")) {
        abort();
    }
    free(text);
    return 0;
}
