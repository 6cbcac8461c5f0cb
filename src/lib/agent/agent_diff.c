/* agent_diff.c — base vs current report: added, removed, changed host facts (see
 * agent_diff.h). */
#include "agent/agent_diff.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/json_writer.h"

static bool findings_equal(const struct agent_report *a, const struct agent_report *b)
{
    if (a->finding_count != b->finding_count)
        return false;
    for (size_t i = 0; i < a->finding_count; i++) {
        const struct agent_finding *x = &a->findings[i], *y = &b->findings[i];
        if (x->proto != y->proto || x->port != y->port || strcmp(x->severity, y->severity) ||
            strcmp(x->code, y->code) || strcmp(x->message, y->message))
            return false;
    }
    return true;
}

int agent_diff(const struct agent_report *base, const struct agent_report *current, struct agent_delta *out,
               struct pr_error *err)
{
    memset(out, 0, sizeof *out);
    out->added = malloc((current->listener_count ? current->listener_count : 1) * sizeof *out->added);
    out->removed = malloc((base->listener_count ? base->listener_count : 1) * sizeof *out->removed);
    if (!out->added || !out->removed) {
        agent_delta_free(out);
        return pr_error_set(err, -ENOMEM, "out of memory");
    }
    size_t i = 0, j = 0;
    while (i < base->listener_count || j < current->listener_count) {
        int c = i == base->listener_count ? 1
              : j == current->listener_count ? -1
              : agent_listener_compare_key(&base->listeners[i], &current->listeners[j]);
        if (c < 0) {
            out->removed[out->removed_count++] = i++;
        } else if (c > 0) {
            out->added[out->added_count++] = j++;
        } else {
            if (!agent_listener_equal(&base->listeners[i], &current->listeners[j]))
                out->added[out->added_count++] = j;
            i++, j++;
        }
    }
    out->ephemeral_changed = base->have_ephemeral != current->have_ephemeral ||
                             base->ephemeral_lo != current->ephemeral_lo || base->ephemeral_hi != current->ephemeral_hi;
    out->reserved_changed = strcmp(base->reserved, current->reserved) != 0;
    out->findings_changed = !findings_equal(base, current);
    return 0;
}

bool agent_delta_empty(const struct agent_delta *d)
{
    return !d->added_count && !d->removed_count && !d->ephemeral_changed && !d->reserved_changed &&
           !d->findings_changed;
}

void agent_delta_free(struct agent_delta *d)
{
    free(d->added);
    free(d->removed);
    memset(d, 0, sizeof *d);
}

json_t *agent_delta_json(const struct agent_delta *d, const struct agent_report *base,
                         const struct agent_report *current, const char *host, uint64_t seq, uint64_t base_seq)
{
    json_t *doc = json_object();
    json_object_set_new(doc, "host", json_text(host));
    json_object_set_new(doc, "seq", json_integer((json_int_t)seq));
    json_object_set_new(doc, "full", json_false());
    json_object_set_new(doc, "base", json_integer((json_int_t)base_seq));
    if (agent_delta_empty(d))
        return doc;   /* a heartbeat */
    json_t *added = json_array(), *removed = json_array();
    for (size_t k = 0; k < d->added_count; k++)
        json_array_append_new(added, agent_listener_json(&current->listeners[d->added[k]]));
    for (size_t k = 0; k < d->removed_count; k++)
        json_array_append_new(removed, agent_listener_key_json(&base->listeners[d->removed[k]]));
    json_object_set_new(doc, "added", added);
    json_object_set_new(doc, "removed", removed);
    if (d->ephemeral_changed)
        json_object_set_new(doc, "ephemeral", agent_ephemeral_json(current));
    if (d->reserved_changed)
        json_object_set_new(doc, "reserved", json_text(current->reserved));
    if (d->findings_changed)
        json_object_set_new(doc, "findings", agent_findings_json(current));
    return doc;
}
