/* plan.c — the port plan's model helpers (see plan.h): defaults, lookups by name, host
 * membership, formatting, and the diagnostics list that the loader (plan_yaml.c) and the
 * checker (plan_check.c) fill. Everything of a plan lives in its arena; a diagnostics list
 * copies what it keeps into its own arena so it can outlive the plan. */
#include "plan/plan.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "registry/record.h"

void plan_init(struct plan *plan)
{
    memset(plan, 0, sizeof *plan);
    plan->policy.static_range = (struct plan_range){ .first = 1024, .last = 49151 };
    plan->policy.auto_range = plan->policy.static_range;
}

void plan_free(struct plan *plan)
{
    arena_free(&plan->arena);
    memset(plan, 0, sizeof *plan);
}

const struct plan_host *plan_find_host(const struct plan *plan, const char *name)
{
    for (size_t i = 0; i < plan->host_count; i++)
        if (plan->hosts[i].name && strcmp(plan->hosts[i].name, name) == 0)
            return &plan->hosts[i];
    return NULL;
}

const struct plan_network *plan_find_network(const struct plan *plan, const char *name)
{
    for (size_t i = 0; i < plan->network_count; i++)
        if (plan->networks[i].name && strcmp(plan->networks[i].name, name) == 0)
            return &plan->networks[i];
    return NULL;
}

static bool plan_host_in_group(const struct plan_host *host, const char *group)
{
    for (size_t g = 0; g < host->group_count; g++)
        if (strcmp(host->groups[g], group) == 0)
            return true;
    return false;
}

bool plan_is_group(const struct plan *plan, const char *name)
{
    for (size_t i = 0; i < plan->host_count; i++)
        if (plan_host_in_group(&plan->hosts[i], name))
            return true;
    return false;
}

bool plan_service_on_host(const struct plan *plan, const struct plan_service *service,
                          const struct plan_host *host)
{
    (void)plan;
    for (size_t i = 0; i < service->host_count; i++) {
        const char *ref = service->hosts[i];
        if ((host->name && strcmp(ref, host->name) == 0) || plan_host_in_group(host, ref))
            return true;
    }
    return false;
}

bool plan_cidr_contains(const struct plan_cidr *cidr, uint8_t family, const uint8_t bytes[16])
{
    if (cidr->family != family)
        return false;
    unsigned full = cidr->prefix / 8u, rest = cidr->prefix % 8u;
    if (memcmp(cidr->bytes, bytes, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xffu << (8u - rest));
    return (cidr->bytes[full] & mask) == (bytes[full] & mask);
}

const char *plan_proto_name(uint8_t proto)
{
    return proto == REGISTRY_PROTO_UDP ? "udp" : "tcp";
}

const char *plan_exposure_name(enum plan_exposure exposure)
{
    switch (exposure) {
    case PLAN_EXPOSURE_PUBLIC: return "public";
    case PLAN_EXPOSURE_INTERNAL: return "internal";
    case PLAN_EXPOSURE_LOOPBACK: return "loopback";
    }
    return "?";
}

const char *plan_bind_format(const struct plan_bind *bind, char *buf, size_t size)
{
    switch (bind->kind) {
    case PLAN_BIND_ANY: snprintf(buf, size, "any"); break;
    case PLAN_BIND_LOOPBACK: snprintf(buf, size, "loopback"); break;
    case PLAN_BIND_NAMED: snprintf(buf, size, "%s", bind->name ? bind->name : "?"); break;
    case PLAN_BIND_ADDRESS: {
        char text[INET6_ADDRSTRLEN];
        int af = bind->family == AF_INET6 ? AF_INET6 : AF_INET;
        if (!inet_ntop(af, bind->bytes, text, sizeof text))
            snprintf(text, sizeof text, "?");
        snprintf(buf, size, "%s", text);
        break;
    }
    }
    return buf;
}

/* ---- diagnostics ---- */

void plan_diagnostics_init(struct plan_diagnostics *diag)
{
    memset(diag, 0, sizeof *diag);
}

void plan_diagnostics_free(struct plan_diagnostics *diag)
{
    free(diag->items);
    arena_free(&diag->arena);
    memset(diag, 0, sizeof *diag);
}

/* Copy a position, its file name into the list's arena (the last copy is reused: findings
 * come in runs from one file). */
static int plan_diagnostics_copy_pos(struct plan_diagnostics *diag, const struct plan_pos *in,
                                     struct plan_pos *out)
{
    *out = (struct plan_pos){ 0 };
    if (!in)
        return 0;
    out->line = in->line;
    out->column = in->column;
    if (!in->file)
        return 0;
    for (size_t i = diag->count; i-- > 0 && i + 8 > diag->count;) {
        const struct plan_diagnostic *d = &diag->items[i];
        if (d->pos.file && strcmp(d->pos.file, in->file) == 0) {
            out->file = d->pos.file;
            return 0;
        }
    }
    out->file = arena_strdup(&diag->arena, in->file);
    return out->file ? 0 : -ENOMEM;
}

int plan_diagnostics_add(struct plan_diagnostics *diag, enum plan_severity severity,
                         const char *code, const struct plan_pos *pos, const char *field,
                         const struct plan_pos *related, const char *fix, const char *fmt, ...)
{
    if (diag->count == diag->capacity) {
        size_t capacity = diag->capacity ? diag->capacity * 2 : 16;
        struct plan_diagnostic *grown = realloc(diag->items, capacity * sizeof *grown);
        if (!grown)
            return -ENOMEM;
        diag->items = grown;
        diag->capacity = capacity;
    }
    struct plan_diagnostic d = { .severity = severity, .code = code ? code : "" };
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    if (plan_diagnostics_copy_pos(diag, pos, &d.pos) < 0 ||
        plan_diagnostics_copy_pos(diag, related, &d.related) < 0)
        return -ENOMEM;
    d.field = arena_strdup(&diag->arena, field ? field : "");
    d.message = arena_strdup(&diag->arena, message);
    d.fix = fix ? arena_strdup(&diag->arena, fix) : NULL;
    if (!d.field || !d.message || (fix && !d.fix))
        return -ENOMEM;
    diag->items[diag->count++] = d;
    if (severity == PLAN_SEVERITY_ERROR)
        diag->errors++;
    else if (severity == PLAN_SEVERITY_WARNING)
        diag->warnings++;
    else
        diag->infos++;
    return 0;
}

static int plan_diagnostic_compare(const struct plan_diagnostic *a,
                                   const struct plan_diagnostic *b)
{
    int c = strcmp(a->pos.file ? a->pos.file : "", b->pos.file ? b->pos.file : "");
    if (c)
        return c;
    if (a->pos.line != b->pos.line)
        return a->pos.line < b->pos.line ? -1 : 1;
    if (a->pos.column != b->pos.column)
        return a->pos.column < b->pos.column ? -1 : 1;
    return 0;
}

void plan_diagnostics_sort(struct plan_diagnostics *diag)
{
    /* insertion sort: stable, and lists are short and mostly in order already */
    for (size_t i = 1; i < diag->count; i++) {
        struct plan_diagnostic item = diag->items[i];
        size_t j = i;
        while (j > 0 && plan_diagnostic_compare(&diag->items[j - 1], &item) > 0) {
            diag->items[j] = diag->items[j - 1];
            j--;
        }
        diag->items[j] = item;
    }
}

const char *plan_severity_name(enum plan_severity severity)
{
    switch (severity) {
    case PLAN_SEVERITY_ERROR: return "error";
    case PLAN_SEVERITY_WARNING: return "warning";
    case PLAN_SEVERITY_INFO: return "info";
    }
    return "?";
}

const char *plan_diagnostic_format(const struct plan_diagnostic *d, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
#define PLAN_APPEND(...)                                                        \
    do {                                                                        \
        if (used < size) {                                                      \
            int n = snprintf(buf + used, size - used, __VA_ARGS__);             \
            used += n > 0 ? (size_t)n : 0;                                      \
        }                                                                       \
    } while (0)
    if (d->pos.file)
        PLAN_APPEND("%s:", d->pos.file);
    if (d->pos.line)
        PLAN_APPEND("%u:%u:", d->pos.line, d->pos.column);
    if (used)
        PLAN_APPEND(" ");
    PLAN_APPEND("%s: ", plan_severity_name(d->severity));
    if (d->field && d->field[0])
        PLAN_APPEND("%s: ", d->field);
    PLAN_APPEND("%s", d->message);
#undef PLAN_APPEND
    return buf;
}
