/* fuzz_local_ports.c — libFuzzer harness for both sysctl parsers of src/lib/net/local_ports.c:
 * local_port_range_parse() ("32768\t60999\n") and reserved_ports_parse() ("1000-1002,8080\n"),
 * each over a NUL-terminated copy of the input. Checks that a parsed range is ordered, that
 * errors carry a line and column, and that a failed parse leaves its output untouched. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/local_ports.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check_error(int r, const struct pr_error *err)
{
    if (r != -EINVAL || err->code != r || err->line == 0 || err->column == 0 ||
        err->message[0] == '\0')
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    struct local_port_range range = { 7, 3 };   /* impossible as a result: detects writes */
    struct pr_error err = { 0 };
    int r = local_port_range_parse(text, &range, &err);
    if (r == 0) {
        if (range.first > range.last)
            abort();
    } else {
        fuzz_check_error(r, &err);
        if (range.first != 7 || range.last != 3)
            abort();
    }

    struct port_set *set = malloc(sizeof *set);
    if (set) {
        port_set_clear(set);
        port_set_add(set, 7);
        memset(&err, 0, sizeof err);
        r = reserved_ports_parse(text, set, &err);
        if (r < 0) {
            fuzz_check_error(r, &err);
            if (port_set_count(set) != 1 || !port_set_has(set, 7))
                abort();
        } else if (r != 0) {
            abort();
        } else if (port_set_count(set) != 0 && strpbrk(text, "0123456789") == NULL) {
            abort();   /* ports cannot come from text without digits */
        }
        free(set);
    }
    free(text);
    return 0;
}
