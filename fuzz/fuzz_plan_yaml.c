/* fuzz_plan_yaml.c — libFuzzer harness for the port plan: arbitrary bytes through
 * plan_load_buffer (libfyaml events, the section walkers, the cross-reference rules), then, when
 * the plan loaded, plan_check with a fixed fake IANA table and fixed host port facts (no DNS, no
 * I/O), then plan_render_resolved. Checks: a load error left an error diagnostic and a clean load
 * none; every diagnostic has a code and a message; autos are resolved inside the auto range or
 * reported; the rendered text differs from the input only where "auto" became digits. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "plan/plan.h"
#include "plan/plan_check.h"
#include "plan/plan_yaml.h"
#include "registry/record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t fuzz_iana(void *user, uint16_t port, uint8_t proto, const char **names, size_t max)
{
    (void)user;
    (void)proto;
    if (max == 0 || port % 7 != 0)   /* every seventh port is "assigned" */
        return 0;
    names[0] = port % 2 ? "odd" : "even";
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct plan plan;
    struct plan_diagnostics diag;
    struct pr_error err = { 0 };
    plan_init(&plan);
    plan_diagnostics_init(&diag);
    int r = plan_load_buffer(&plan, "fuzz.yaml", text, size, &diag, &err);
    if (r == -ENOMEM)
        goto out;
    if ((r == 0) != (diag.errors == 0))
        abort();
    for (size_t i = 0; i < diag.count; i++)
        if (!diag.items[i].code[0] || !diag.items[i].message[0] || !diag.items[i].field)
            abort();
    if (r == 0) {
        struct local_ports lp = { .ephemeral = { 32768, 60999 }, .have_ephemeral = true,
                                  .have_reserved = true };
        port_set_clear(&lp.reserved);
        port_set_add(&lp.reserved, 40000);
        struct plan_check_context ctx = { .iana_lookup = fuzz_iana, .local = &lp };
        if (plan_check(&plan, &ctx, &diag, &err) < 0)
            goto out;
        size_t autos = 0;
        for (size_t s = 0; s < plan.service_count; s++)
            for (size_t p = 0; p < plan.services[s].port_count; p++) {
                const struct plan_port *port = &plan.services[s].ports[p];
                if (!port->automatic || !port->port)
                    continue;
                if (port->port < plan.policy.auto_range.first ||
                    port->port > plan.policy.auto_range.last)
                    abort();
                if (port->auto_length)
                    autos++;
            }
        char *out = NULL;
        size_t out_len = 0, replaced = 0;
        if (plan_render_resolved(&plan, "fuzz.yaml", text, size, &out, &out_len, &replaced,
                                 &err) == 0) {
            if (replaced != autos || out_len < size || out_len > size + replaced)
                abort();
            free(out);
        }
    }
out:
    plan_diagnostics_free(&diag);
    plan_free(&plan);
    return 0;
}
