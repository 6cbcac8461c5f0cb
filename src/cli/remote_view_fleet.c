/* remote_view_fleet.c — how `portreg remote drift` and `remote observations` show the fleet:
 * drift as one row per finding (HOST KIND SOURCE PORT PROTO ADDRESS SERVICE PROCESS UNIT
 * EXPLANATION) after a line per stale agent, listeners as HOST PROTO ADDRESS PORT NETNS
 * PROCESS PID UNIT. Aligned on a terminal, tab-separated when piped; server text escaped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remote_view.h"
#include "util/text_escape.h"

/* A field as text, escaped (malloc'd): "-" when absent or null. */
static char *field(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    char number[32];
    if (json_is_integer(v)) {
        snprintf(number, sizeof number, "%lld", (long long)json_integer_value(v));
        return strdup(number);
    }
    if (json_is_string(v) && json_string_length(v))
        return text_escape_dup(json_string_value(v), json_string_length(v));
    return strdup("-");
}

static void add(struct cli_table *table, const json_t *o, const char *const *keys, size_t n, const char *first)
{
    char *cells[12] = { 0 };
    for (size_t c = 0; c < n; c++)
        cells[c] = c == 0 && first ? text_escape_dup(first, strlen(first)) : field(o, keys[c]);
    cli_table_add_row(table, (const char *const *)cells);
    for (size_t c = 0; c < n; c++)
        free(cells[c]);
}

void remote_view_drift(const struct cli_context *ctx, json_t *doc)
{
    static const char *const headers[] = { "HOST", "KIND", "SOURCE", "PORT", "PROTO", "ADDRESS", "SERVICE",
                                           "PROCESS", "UNIT", "EXPLANATION" };
    static const char *const keys[] = { "host", "kind", "source", "port", "proto", "address", "service",
                                        "process", "unit", "explanation" };
    struct cli_table *table = cli_table_new(10, headers);
    size_t i, j;
    json_t *h, *item;
    json_array_foreach(json_object_get(doc, "hosts"), i, h) {
        const char *host = json_string_value(json_object_get(h, "host"));
        json_t *agent = json_object_get(h, "agent");
        if (json_is_true(json_object_get(agent, "stale"))) {
            json_t *row = json_pack("{s:s, s:s, s:I}", "kind", "stale", "source", "agent", "explanation",
                                    json_integer_value(json_object_get(agent, "age_s")));
            char text[96];
            snprintf(text, sizeof text, "no report for %llds (interval %llds)",
                     (long long)json_integer_value(json_object_get(agent, "age_s")),
                     (long long)json_integer_value(json_object_get(agent, "interval_s")));
            json_object_set_new(row, "explanation", json_string(text));
            add(table, row, keys, 10, host ? host : "");
            json_decref(row);
        }
        json_array_foreach(json_object_get(h, "items"), j, item)
            if (strcmp(json_string_value(json_object_get(item, "kind")) ? json_string_value(json_object_get(item, "kind"))
                                                                        : "", "present") != 0)
                add(table, item, keys, 10, host ? host : "");
    }
    cli_table_print(table, ctx, stdout);
    cli_table_free(table);
    if (ctx->stdout_is_tty)
        printf("%lld drift finding%s\n", (long long)json_integer_value(json_object_get(doc, "drift")),
               json_integer_value(json_object_get(doc, "drift")) == 1 ? "" : "s");
}

void remote_view_observations(const struct cli_context *ctx, json_t *doc)
{
    static const char *const headers[] = { "HOST", "PROTO", "ADDRESS", "PORT", "NETNS", "PROCESS", "PID", "UNIT" };
    static const char *const keys[] = { "host", "proto", "local_address", "local_port", "netns", "process", "pid",
                                        "unit" };
    struct cli_table *table = cli_table_new(8, headers);
    json_t *items = json_object_get(doc, "items");
    json_t *one = items ? NULL : json_pack("[O]", doc);
    size_t i, j;
    json_t *o, *l;
    json_array_foreach(items ? items : one, i, o) {
        const char *host = json_string_value(json_object_get(o, "host"));
        json_array_foreach(json_object_get(o, "listeners"), j, l)
            add(table, l, keys, 8, host ? host : "");
    }
    json_decref(one);
    cli_table_print(table, ctx, stdout);
    cli_table_free(table);
}
