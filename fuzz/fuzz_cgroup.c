/* fuzz_cgroup.c — libFuzzer harness for cgroup_identity_parse() (src/lib/net/process_info.c)
 * over a NUL-terminated copy of the input. Checks that errors carry a line and column inside the
 * text and leave the output untouched, and that a parsed identity holds terminated strings that
 * are consistent: a runtime implies an id, a pod uid has no underscores, the id comes from the
 * text, and path and unit are escaped (util/text_escape.h: UTF-8, no control byte); text
 * without a byte to escape gives them as they are in the text. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/process_info.h"
#include "util/text_escape.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check_terminated(const char *field, size_t size)
{
    if (memchr(field, '\0', size) == NULL)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    struct cgroup_identity identity;
    memset(&identity, 0x5a, sizeof identity);   /* detects writes on error */
    struct pr_error err = { 0 };
    int r = cgroup_identity_parse(text, &identity, &err);
    if (r < 0) {
        unsigned lines = 1;
        for (const char *p = text; *p; p++)
            lines += *p == '\n';
        if (r != -EINVAL || err.code != r || err.line == 0 || err.line > lines ||
            err.column == 0 || err.message[0] == '\0')
            abort();
        for (size_t i = 0; i < sizeof identity; i++)
            if (((const unsigned char *)&identity)[i] != 0x5a)
                abort();
    } else {
        if (r != 0)
            abort();
        fuzz_check_terminated(identity.path, sizeof identity.path);
        fuzz_check_terminated(identity.unit, sizeof identity.unit);
        fuzz_check_terminated(identity.container_runtime, sizeof identity.container_runtime);
        fuzz_check_terminated(identity.container_id, sizeof identity.container_id);
        fuzz_check_terminated(identity.pod_uid, sizeof identity.pod_uid);
        if (identity.container_runtime[0] && !identity.container_id[0])
            abort();
        if (strchr(identity.pod_uid, '_') || strchr(identity.unit, '/') ||
            strchr(identity.container_id, '/'))
            abort();
        /* the id is copied out of the text; path and unit are shown escaped */
        if (!strstr(text, identity.container_id))
            abort();
        const char *shown[] = { identity.path, identity.unit };
        for (size_t k = 0; k < 2; k++) {
            if (!text_utf8_valid(shown[k], strlen(shown[k])))
                abort();
            for (const char *p = shown[k]; *p; p++)
                if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
                    abort();
        }
        if (!text_escape_needed(text, size) &&
            (!strstr(text, identity.path) || !strstr(text, identity.unit)))
            abort();
    }
    free(text);
    return 0;
}
