/* fuzz_suggest_exclude.c — libFuzzer harness for the pure parsers of `portreg suggest`: the
 * exclude file (suggest_exclude_parse) and the sysctl.d drop-in (reserved_ports_dropin_parse,
 * then reserved_ports_dropin_render and a re-parse). Checks that an error carries a line and a
 * column and appends nothing, that parsed ranges are ordered, and that a rendered drop-in parses
 * back to exactly the list written. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "doctor/reserved_ports.h"
#include "doctor/suggest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check_error(int r, const struct pr_error *err)
{
    if (r != -EINVAL || err->code != r || err->line == 0 || err->column == 0 || !err->message[0])
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;

    struct portspec spec = { 0 };
    if (portspec_add(&spec, 7, 7, 0) < 0)
        return 0;
    struct pr_error err = { 0 };
    int r = suggest_exclude_parse(text, size, &spec, &err);
    if (r < 0) {
        fuzz_check_error(r, &err);
        if (spec.count != 1)
            abort();
    } else {
        for (size_t i = 0; i < spec.count; i++)
            if (spec.ranges[i].first > spec.ranges[i].last)
                abort();
    }
    portspec_free(&spec);

    struct port_set *ports = malloc(2 * sizeof *ports);
    if (!ports)
        return 0;
    bool found = false;
    memset(&err, 0, sizeof err);
    r = reserved_ports_dropin_parse(text, size, &ports[0], &found, &err);
    if (r < 0) {
        fuzz_check_error(r, &err);
    } else {
        char *rendered = reserved_ports_dropin_render(text, size, "1-2,9");
        if (rendered) {
            memset(&err, 0, sizeof err);
            if (reserved_ports_dropin_parse(rendered, strlen(rendered), &ports[1], &found, &err) < 0 ||
                !found || port_set_count(&ports[1]) != 3 || !port_set_has(&ports[1], 9))
                abort();
            free(rendered);
        }
    }
    free(ports);
    return 0;
}
