/* fuzz_portspec.c — libFuzzer harness for portspec_parse() (src/lib/util/portspec.c).
 * Parses a NUL-terminated copy of the input twice: with a tiny resolver that knows "ssh" (22)
 * and "mysql" (3306), and with no resolver. Checks the parser's promises: ranges are ordered and
 * have valid protocols, errors carry a column and leave the output as it was. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "registry/record.h"
#include "util/portspec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fuzz_resolve(void *ctx, const char *name, size_t len, uint8_t proto,
                        struct portspec *out)
{
    (void)ctx;
    if (len == 3 && strncasecmp(name, "ssh", 3) == 0)
        return portspec_add(out, 22, 22, proto);
    if (len == 5 && strncasecmp(name, "mysql", 5) == 0)
        return portspec_add(out, 3306, 3306, proto);
    return -ENOENT;
}

static void fuzz_check_parse(const char *text, portspec_name_resolver resolve)
{
    struct portspec spec = { 0 };
    /* One range already there: an error must leave it, success must append after it. */
    if (portspec_add(&spec, 7, 9, REGISTRY_PROTO_DCCP) != 0)
        abort();
    struct pr_error err = { 0 };
    int r = portspec_parse(text, resolve, NULL, &spec, &err);
    if (r < 0) {
        if (r != err.code || err.column == 0 || err.line == 0 || err.message[0] == '\0')
            abort();
        if (r != -EINVAL && r != -ENOMEM)
            abort();
        if (spec.count != 1)
            abort();
    } else {
        if (r != 0 || spec.count < 2)
            abort();
        for (size_t i = 0; i < spec.count; i++) {
            const struct portspec_range *range = &spec.ranges[i];
            if (range->first > range->last || range->proto >= REGISTRY_PROTO_COUNT)
                abort();
            if (!portspec_contains(&spec, range->first, range->proto) ||
                !portspec_contains(&spec, range->last, REGISTRY_PROTO_ANY))
                abort();
        }
    }
    if (spec.ranges[0].first != 7 || spec.ranges[0].last != 9 ||
        spec.ranges[0].proto != REGISTRY_PROTO_DCCP)
        abort();
    portspec_free(&spec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    fuzz_check_parse(text, fuzz_resolve);
    fuzz_check_parse(text, NULL);
    free(text);
    return 0;
}
