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
#include <strings.h>
#include <sys/socket.h>

#include "registry/record.h"

static void plan_names_free(struct plan_names *names);

void plan_init(struct plan *plan)
{
    memset(plan, 0, sizeof *plan);
    plan->policy.static_range = (struct plan_range){ .first = 1024, .last = 49151 };
    plan->policy.auto_range = plan->policy.static_range;
}

void plan_free(struct plan *plan)
{
    plan_names_free(&plan->names);
    arena_free(&plan->arena);
    memset(plan, 0, sizeof *plan);
}

int plan_add_host(struct plan *plan, const char *name, const struct plan_named_address *addresses,
                  size_t address_count, const char *const *groups, size_t group_count, const struct plan_pos *pos)
{
    if (plan->host_count == plan->host_capacity) {   /* grown by copying, as the loader does */
        size_t capacity = plan->host_capacity ? plan->host_capacity * 2 : 8;
        struct plan_host *grown = arena_alloc(&plan->arena, capacity * sizeof *grown);
        if (!grown)
            return -ENOMEM;
        if (plan->host_count)
            memcpy(grown, plan->hosts, plan->host_count * sizeof *grown);
        plan->hosts = grown;
        plan->host_capacity = capacity;
    }
    struct plan_host host;
    memset(&host, 0, sizeof host);
    host.name = arena_strdup(&plan->arena, name);
    host.pos = *pos;
    if (!host.name)
        return -ENOMEM;
    if (address_count) {
        host.addresses = arena_alloc(&plan->arena, address_count * sizeof *host.addresses);
        if (!host.addresses)
            return -ENOMEM;
        for (size_t i = 0; i < address_count; i++) {
            host.addresses[i] = addresses[i];
            host.addresses[i].name = arena_strdup(&plan->arena, addresses[i].name ? addresses[i].name : "");
            host.addresses[i].pos = host.pos;
            if (!host.addresses[i].name)
                return -ENOMEM;
        }
        host.address_count = address_count;
    }
    for (size_t g = 0; g < group_count; g++)
        if (plan_host_add_group(plan, &host, groups[g]) < 0)
            return -ENOMEM;
    plan->hosts[plan->host_count++] = host;
    return 0;
}

int plan_host_add_group(struct plan *plan, struct plan_host *host, const char *group)
{
    for (size_t g = 0; g < host->group_count; g++)
        if (strcmp(host->groups[g], group) == 0)
            return 0;
    const char **grown = arena_alloc(&plan->arena, (host->group_count + 1) * sizeof *grown);
    const char *copy = arena_strdup(&plan->arena, group);
    if (!grown || !copy)
        return -ENOMEM;
    if (host->group_count)
        memcpy(grown, host->groups, host->group_count * sizeof *grown);
    grown[host->group_count++] = copy;
    host->groups = grown;
    return 0;
}

/* ---- the by-name index ---- */

static void plan_names_free(struct plan_names *names)
{
    free(names->hosts);
    free(names->groups);
    free(names->networks);
    memset(names, 0, sizeof *names);
}

static int name_ref_compare(const void *x, const void *y)
{
    const struct plan_name_ref *a = x, *b = y;
    int c = strcmp(a->name, b->name);
    if (c)
        return c;
    return a->index < b->index ? -1 : a->index > b->index;
}

static bool plan_names_current(const struct plan *plan)
{
    return plan->names.built && plan->names.for_hosts == plan->host_count &&
           plan->names.for_networks == plan->network_count;
}

int plan_index_names(struct plan *plan)
{
    plan_names_free(&plan->names);
    struct plan_names *names = &plan->names;
    size_t groups = 0;
    for (size_t h = 0; h < plan->host_count; h++)
        groups += plan->hosts[h].group_count;
    names->hosts = malloc((plan->host_count ? plan->host_count : 1) * sizeof *names->hosts);
    names->groups = malloc((groups ? groups : 1) * sizeof *names->groups);
    names->networks = malloc((plan->network_count ? plan->network_count : 1) *
                             sizeof *names->networks);
    if (!names->hosts || !names->groups || !names->networks) {
        plan_names_free(names);
        return -ENOMEM;
    }
    for (size_t h = 0; h < plan->host_count; h++) {
        const struct plan_host *host = &plan->hosts[h];
        if (host->name)
            names->hosts[names->host_count++] = (struct plan_name_ref){ host->name, h };
        for (size_t g = 0; g < host->group_count; g++)
            names->groups[names->group_count++] = (struct plan_name_ref){ host->groups[g], h };
    }
    for (size_t n = 0; n < plan->network_count; n++)
        if (plan->networks[n].name)
            names->networks[names->network_count++] =
                (struct plan_name_ref){ plan->networks[n].name, n };
    qsort(names->hosts, names->host_count, sizeof *names->hosts, name_ref_compare);
    qsort(names->groups, names->group_count, sizeof *names->groups, name_ref_compare);
    qsort(names->networks, names->network_count, sizeof *names->networks, name_ref_compare);
    names->built = true;
    names->for_hosts = plan->host_count;
    names->for_networks = plan->network_count;
    return 0;
}

/* The first entry named name in a sorted list (the lowest index), or count when none. */
static size_t name_lower_bound(const struct plan_name_ref *refs, size_t count, const char *name)
{
    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(refs[mid].name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < count && strcmp(refs[lo].name, name) == 0 ? lo : count;
}

const struct plan_host *plan_find_host(const struct plan *plan, const char *name)
{
    if (plan_names_current(plan)) {
        size_t i = name_lower_bound(plan->names.hosts, plan->names.host_count, name);
        return i < plan->names.host_count ? &plan->hosts[plan->names.hosts[i].index] : NULL;
    }
    for (size_t i = 0; i < plan->host_count; i++)
        if (plan->hosts[i].name && strcmp(plan->hosts[i].name, name) == 0)
            return &plan->hosts[i];
    return NULL;
}

const struct plan_network *plan_find_network(const struct plan *plan, const char *name)
{
    if (plan_names_current(plan)) {
        size_t i = name_lower_bound(plan->names.networks, plan->names.network_count, name);
        return i < plan->names.network_count ? &plan->networks[plan->names.networks[i].index]
                                             : NULL;
    }
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

const struct plan_host *plan_group_first_host(const struct plan *plan, const char *name)
{
    if (plan_names_current(plan)) {
        size_t i = name_lower_bound(plan->names.groups, plan->names.group_count, name);
        return i < plan->names.group_count ? &plan->hosts[plan->names.groups[i].index] : NULL;
    }
    for (size_t i = 0; i < plan->host_count; i++)
        if (plan_host_in_group(&plan->hosts[i], name))
            return &plan->hosts[i];
    return NULL;
}

bool plan_is_group(const struct plan *plan, const char *name)
{
    return plan_group_first_host(plan, name) != NULL;
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

static int size_compare(const void *x, const void *y)
{
    size_t a = *(const size_t *)x, b = *(const size_t *)y;
    return a < b ? -1 : a > b;
}

int plan_service_host_indices(const struct plan *plan, const struct plan_service *service,
                              size_t **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    size_t n = 0, capacity = 0;
    size_t *list = NULL;
    if (!plan_names_current(plan)) {
        for (size_t h = 0; h < plan->host_count; h++) {
            if (!plan_service_on_host(plan, service, &plan->hosts[h]))
                continue;
            if (n == capacity) {
                capacity = capacity ? capacity * 2 : 8;
                size_t *grown = realloc(list, capacity * sizeof *list);
                if (!grown) {
                    free(list);
                    return -ENOMEM;
                }
                list = grown;
            }
            list[n++] = h;
        }
        *out = list;
        *count = n;
        return 0;
    }
    const struct plan_names *names = &plan->names;
    for (int pass = 0; pass < 2; pass++) {
        /* pass 0 counts, pass 1 fills */
        n = 0;
        for (size_t r = 0; r < service->host_count; r++) {
            const char *ref = service->hosts[r];
            for (size_t i = name_lower_bound(names->hosts, names->host_count, ref);
                 i < names->host_count && strcmp(names->hosts[i].name, ref) == 0; i++, n++)
                if (pass)
                    list[n] = names->hosts[i].index;
            for (size_t i = name_lower_bound(names->groups, names->group_count, ref);
                 i < names->group_count && strcmp(names->groups[i].name, ref) == 0; i++, n++)
                if (pass)
                    list[n] = names->groups[i].index;
        }
        if (!pass) {
            if (!n)
                return 0;
            if (!(list = malloc(n * sizeof *list)))
                return -ENOMEM;
        }
    }
    qsort(list, n, sizeof *list, size_compare);
    size_t unique = 0;
    for (size_t i = 0; i < n; i++)
        if (!unique || list[unique - 1] != list[i])
            list[unique++] = list[i];
    *out = list;
    *count = unique;
    return 0;
}

void plan_positions_in_file(const struct plan_pos *positions_of, size_t stride, size_t count,
                            size_t *out)
{
    /* a plan has a handful of files: a short list of (file, count seen) is enough */
    struct file_seen { const char *file; size_t seen; } files[16];
    size_t file_count = 0;
    for (size_t i = 0; i < count; i++) {
        const struct plan_pos *pos = (const struct plan_pos *)((const char *)positions_of +
                                                               i * stride);
        size_t f = 0;
        while (f < file_count && files[f].file != pos->file)
            f++;
        if (f == file_count) {
            if (file_count == sizeof files / sizeof files[0]) {
                /* more files than that: count the earlier elements of this one */
                size_t n = 0;
                for (size_t j = 0; j < i; j++) {
                    const struct plan_pos *pj = (const struct plan_pos *)(
                        (const char *)positions_of + j * stride);
                    n += pj->file == pos->file;
                }
                out[i] = n;
                continue;
            }
            files[file_count++] = (struct file_seen){ pos->file, 0 };
        }
        out[i] = files[f].seen++;
    }
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

/* Stable merge of the sorted runs [lo, mid) and [mid, hi) of from into to. */
static void diagnostics_merge(const struct plan_diagnostic *from, struct plan_diagnostic *to,
                              size_t lo, size_t mid, size_t hi)
{
    size_t i = lo, j = mid, k = lo;
    while (i < mid && j < hi)
        to[k++] = plan_diagnostic_compare(&from[j], &from[i]) < 0 ? from[j++] : from[i++];
    while (i < mid)
        to[k++] = from[i++];
    while (j < hi)
        to[k++] = from[j++];
}

void plan_diagnostics_sort(struct plan_diagnostics *diag)
{
    /* bottom-up merge sort: stable (qsort is not guaranteed to be) and O(n log n) — a large
     * plan has thousands of findings, and the checker's come out of file order */
    size_t n = diag->count;
    struct plan_diagnostic *buffer = n > 1 ? malloc(n * sizeof *buffer) : NULL;
    if (!buffer) {
        /* nothing to sort, or no memory: insertion sort in place (stable too) */
        for (size_t i = 1; i < n; i++) {
            struct plan_diagnostic item = diag->items[i];
            size_t j = i;
            while (j > 0 && plan_diagnostic_compare(&diag->items[j - 1], &item) > 0) {
                diag->items[j] = diag->items[j - 1];
                j--;
            }
            diag->items[j] = item;
        }
        return;
    }
    struct plan_diagnostic *from = diag->items, *to = buffer;
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            diagnostics_merge(from, to, lo, mid, hi);
        }
        struct plan_diagnostic *swap = from;
        from = to;
        to = swap;
    }
    if (from != diag->items)
        memcpy(diag->items, from, n * sizeof *from);
    free(buffer);
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

/* The length of name's first DNS label. */
static size_t first_label_length(const char *name)
{
    const char *dot = strchr(name, '.');
    return dot ? (size_t)(dot - name) : strlen(name);
}

bool plan_host_is_local(const struct plan_host *host, const char *hostname)
{
    if (host->has_local)
        return host->local;
    if (!host->name || !hostname || !hostname[0])
        return false;
    if (strcasecmp(host->name, hostname) == 0)
        return true;
    size_t name_label = first_label_length(host->name), host_label = first_label_length(hostname);
    /* "web1" and "web1.example.org", either way round */
    bool name_short = host->name[name_label] == '\0', host_short = hostname[host_label] == '\0';
    if (name_short == host_short)
        return false;
    return name_label == host_label && strncasecmp(host->name, hostname, name_label) == 0;
}
