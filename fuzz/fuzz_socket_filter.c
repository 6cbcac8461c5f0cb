/* fuzz_socket_filter.c — libFuzzer harness for socket_filter_parse_ports() and
 * socket_filter_parse_user() (src/lib/net/socket_filter.c): the input as a port spec whose
 * names resolve through the small in-memory registry of the unit tests, and as a user. Checks
 * that errors are values (a code, a message; a column for specs) and ranges are ordered. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/unit/index_fixture.h"
#include "net/socket_filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct index_fixture fixture;
static bool fixture_built;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fixture_built) {
        if (index_fixture_build(&fixture) < 0)
            abort();
        fixture_built = true;
    }
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    struct socket_filter_registry registry = { NULL, NULL, fixture.ix };
    struct portspec spec = { 0 };
    struct pr_error err = { 0 };
    int r = socket_filter_parse_ports(text, &registry, &spec, &err);
    if (r < 0 && (r != err.code || err.column == 0 || err.message[0] == '\0'))
        abort();
    for (size_t i = 0; r == 0 && i < spec.count; i++)
        if (spec.ranges[i].first > spec.ranges[i].last)
            abort();
    portspec_free(&spec);

    uint32_t uid = 12345;
    pr_error_clear(&err);
    r = socket_filter_parse_user(text, &uid, &err);
    if (r < 0 && (r != err.code || err.message[0] == '\0' || uid != 12345))
        abort();
    free(text);
    return 0;
}
