/* fuzz_agent_duration.c — libFuzzer harness for agent_duration_parse() (src/lib/agent/
 * agent_duration.c), the agent's --interval. Checks its promises: an error carries its code,
 * a column inside the text and a message, and leaves the output alone; a success is at most a
 * week and reads back the same from agent_duration_format(). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_duration.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    uint64_t ms = 4242;
    struct pr_error err = { 0 };
    int r = agent_duration_parse(text, &ms, &err);
    if (r < 0) {
        if (r != err.code || (r != -EINVAL && r != -ERANGE) || err.column == 0 || err.message[0] == '\0')
            abort();
        if (err.column > strlen(text) + 1 || ms != 4242)
            abort();
    } else {
        if (r != 0 || ms > AGENT_DURATION_MAX_MS)
            abort();
        char buf[64];
        uint64_t again = 0;
        if (agent_duration_parse(agent_duration_format(ms, buf, sizeof buf), &again, NULL) != 0 || again != ms)
            abort();
    }
    free(text);
    return 0;
}
