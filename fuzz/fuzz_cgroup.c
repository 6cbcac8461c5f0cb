/* fuzz_cgroup.c — libFuzzer harness for cgroup_identity_parse() (src/lib/net/process_info.c)
 * over a NUL-terminated copy of the input. Checks that errors carry a line and column inside the
 * text and leave the output untouched, and that a parsed identity holds terminated strings that
 * are consistent: a runtime implies an id, a pod uid has no underscores, path, unit and id
 * come from the text. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/process_info.h"

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
        /* path, unit and id are copied out of the text */
        if (!strstr(text, identity.path) || !strstr(text, identity.unit) ||
            !strstr(text, identity.container_id))
            abort();
    }
    free(text);
    return 0;
}
