/* fuzz_agent_state.c — libFuzzer harness for agent_report_from_json() (src/lib/agent/
 * agent_report.c), the reader of the agent's state file (the last acknowledged report). Any
 * JSON is parsed; an error is -EINVAL or -ENOMEM with a message; a success gives listeners in
 * key order without repeats, and writing it back and reading it again gives the same report. */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_diff.h"
#include "agent/agent_report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *doc = json_loadb((const char *)data, size, 0, NULL);
    if (!doc)
        return 0;
    struct agent_report report;
    struct pr_error err = { 0 };
    int r = agent_report_from_json(doc, &report, &err);
    json_decref(doc);
    if (r < 0) {
        if ((r != -EINVAL && r != -ENOMEM) || err.code != r || err.message[0] == '\0')
            abort();
        return 0;
    }
    for (size_t i = 1; i < report.listener_count; i++)
        if (agent_listener_compare_key(&report.listeners[i - 1], &report.listeners[i]) >= 0)
            abort();
    struct agent_identity id = { "fuzz", "0", 1000 };
    json_t *again = agent_report_full_json(&report, &id, 1);
    struct agent_report back;
    if (agent_report_from_json(again, &back, &err) != 0)
        abort();
    json_decref(again);
    struct agent_delta delta;
    if (agent_diff(&report, &back, &delta, &err) != 0 || !agent_delta_empty(&delta))
        abort();
    agent_delta_free(&delta);
    agent_report_free(&back);
    agent_report_free(&report);
    return 0;
}
