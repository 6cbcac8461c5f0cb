/* agent_report.c — the agent's report of its host from the inspector's data, and its JSON
 * (see agent_report.h). The labels follow `portreg ls --json` (src/cli/socket_view.c), which
 * the library cannot call: the namespace is "host" for init's, its /run/netns name, else its
 * inode; the container is the first holder's cgroup, else the namespace owner's. */
#include "agent/agent_report.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "net/exposure.h"
#include "registry/record.h"
#include "util/file_io.h"
#include "util/json_writer.h"
#include "util/text_escape.h"

int agent_listener_compare_key(const struct agent_listener *a, const struct agent_listener *b)
{
    if (a->proto != b->proto)
        return a->proto < b->proto ? -1 : 1;
    int c = strcmp(a->local_address, b->local_address);
    if (c)
        return c < 0 ? -1 : 1;
    if (a->local_port != b->local_port)
        return a->local_port < b->local_port ? -1 : 1;
    c = strcmp(a->netns, b->netns);
    return c < 0 ? -1 : c > 0;
}

bool agent_listener_equal(const struct agent_listener *a, const struct agent_listener *b)
{
    return agent_listener_compare_key(a, b) == 0 && a->pid == b->pid && strcmp(a->process, b->process) == 0 &&
           strcmp(a->user, b->user) == 0 && strcmp(a->unit, b->unit) == 0 &&
           strcmp(a->container, b->container) == 0 && strcmp(a->exposure, b->exposure) == 0;
}

static int compare_listeners(const void *x, const void *y)
{
    const struct agent_listener *a = x, *b = y;
    int c = agent_listener_compare_key(a, b);
    if (c)
        return c;
    /* one key, several sockets (SO_REUSEPORT): the lowest known pid first, unknown last */
    uint32_t pa = a->pid ? a->pid : UINT32_MAX, pb = b->pid ? b->pid : UINT32_MAX;
    return (pa > pb) - (pa < pb);
}

static void netns_label(const struct inspect_result *res, uint64_t inode, char *buf, size_t size)
{
    const struct inspected_netns *ns = inspect_netns(res, inode);
    if (ns && ns->name[0]) {
        text_escape(ns->name, strlen(ns->name), buf, size);
        return;
    }
    uint64_t host = res->netns_count ? res->netns[0].inode : 0;
    for (size_t k = 0; k < res->netns_count; k++)
        if (res->netns[k].pid == 1)
            host = res->netns[k].inode;
    if (inode == host || inode == 0)
        snprintf(buf, size, "host");
    else
        snprintf(buf, size, "%llu", (unsigned long long)inode);
}

static void user_name(uint32_t uid, char *buf, size_t size)
{
    struct passwd pw, *found = NULL;
    char scratch[1024];
    if (getpwuid_r((uid_t)uid, &pw, scratch, sizeof scratch, &found) == 0 && found)
        text_escape(pw.pw_name, strlen(pw.pw_name), buf, size);
    else
        snprintf(buf, size, "%u", uid);
}

static void fill_listener(const struct inspect_result *res, size_t i, struct agent_listener *l)
{
    const struct socket_entry *s = &res->sockets.items[i];
    memset(l, 0, sizeof *l);
    l->proto = s->proto;
    l->local_port = s->local_port;
    socket_address_text(s->family, s->local_addr, l->local_address, sizeof l->local_address);
    netns_label(res, s->netns, l->netns, sizeof l->netns);
    snprintf(l->exposure, sizeof l->exposure, "%s", socket_exposure_id(socket_exposure_of(s)));
    user_name(s->uid, l->user, sizeof l->user);
    const struct cgroup_identity *cg = NULL;
    if (res->processes_looked_up && res->holder_count && res->holder_count[i]) {
        const struct process_info *p = inspect_process(res, res->holders[res->holder_start[i]].pid);
        l->pid = res->holders[res->holder_start[i]].pid;
        if (p) {
            snprintf(l->process, sizeof l->process, "%s", p->comm);
            cg = &p->cgroup;
        }
    }
    if (!cg) {
        const struct inspected_netns *ns = inspect_netns(res, s->netns);
        if (ns && res->netns_count && ns != &res->netns[0])
            cg = &ns->owner;
    }
    if (cg && cg->container_id[0])
        snprintf(l->container, sizeof l->container, "%s:%s", cg->container_runtime[0] ? cg->container_runtime : "container",
                 cg->container_id);
    else if (cg && cg->pod_uid[0])
        snprintf(l->container, sizeof l->container, "pod:%s", cg->pod_uid);
    if (cg && cg->unit[0])
        snprintf(l->unit, sizeof l->unit, "%.*s", (int)text_escaped_prefix(cg->unit, strlen(cg->unit), sizeof l->unit - 1),
                 cg->unit);
}

static bool is_listener(const struct socket_entry *s)
{
    if (s->local_port == 0)
        return false;
    if (s->proto == REGISTRY_PROTO_TCP)
        return s->state == SOCKET_STATE_LISTEN;
    if (s->proto == REGISTRY_PROTO_UDP)
        return s->state == SOCKET_STATE_CLOSE;   /* bound, unconnected: a server's socket */
    return false;
}

int agent_report_build(const struct inspect_result *res, const struct local_ports *ports,
                       const char *reserved_text, const struct audit_report *audit,
                       struct agent_report *out, struct pr_error *err)
{
    memset(out, 0, sizeof *out);
    size_t n = 0;
    for (size_t i = 0; i < res->sockets.count; i++)
        n += is_listener(&res->sockets.items[i]);
    out->listeners = calloc(n ? n : 1, sizeof *out->listeners);
    if (!out->listeners)
        return pr_error_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < res->sockets.count; i++)
        if (is_listener(&res->sockets.items[i]))
            fill_listener(res, i, &out->listeners[out->listener_count++]);
    qsort(out->listeners, out->listener_count, sizeof *out->listeners, compare_listeners);
    size_t kept = 0;
    for (size_t i = 0; i < out->listener_count; i++)
        if (kept == 0 || agent_listener_compare_key(&out->listeners[kept - 1], &out->listeners[i]) != 0)
            out->listeners[kept++] = out->listeners[i];
    out->listener_count = kept;

    if (ports && ports->have_ephemeral) {
        out->have_ephemeral = true;
        out->ephemeral_lo = ports->ephemeral.first;
        out->ephemeral_hi = ports->ephemeral.last;
    }
    if (reserved_text) {
        size_t len = strlen(reserved_text);
        while (len && (reserved_text[len - 1] == '\n' || reserved_text[len - 1] == ' '))
            len--;
        text_escape(reserved_text, len, out->reserved, sizeof out->reserved);
    }
    if (audit && audit->count) {
        out->findings = calloc(audit->count, sizeof *out->findings);
        if (!out->findings) {
            agent_report_free(out);
            return pr_error_set(err, -ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < audit->count; i++) {
            const struct audit_finding *f = &audit->items[i];
            if (f->severity < AUDIT_LOW)
                continue;
            struct agent_finding *a = &out->findings[out->finding_count++];
            a->proto = f->kind == AUDIT_RESERVED_UNUSED ? 0 : f->proto;
            a->port = f->port;
            snprintf(a->severity, sizeof a->severity, "%s", audit_severity_name(f->severity));
            snprintf(a->code, sizeof a->code, "%s", audit_kind_id(f->kind));
            snprintf(a->message, sizeof a->message, "%s", f->title);
        }
    }
    return 0;
}

/* The socket table of one inspection: listeners (and the audit's TIME_WAIT piles) need every
 * TCP/UDP state. */
static int inspect_host(const struct agent_collect_options *opt, bool all_netns, struct inspect_result *res,
                        struct pr_error *err)
{
    struct inspect_options io = { .processes = true, .all_netns = all_netns, .proc_root = opt->proc_root };
    io.query.protos = (1u << REGISTRY_PROTO_TCP) | (1u << REGISTRY_PROTO_UDP);
    io.query.states = SOCKET_STATE_ALL;
    return inspect_run(&io, res, err);
}

int agent_report_collect(const struct agent_collect_options *opt, struct agent_report *out,
                         struct pr_error *err)
{
    memset(out, 0, sizeof *out);
    struct inspect_result own, every;
    int r = inspect_host(opt, false, &own, err);
    if (r < 0)
        return r;
    /* the audit's rules are about one namespace (a REUSEPORT group, a loopback pair): it
     * examines this one; --all-netns only widens the listeners */
    if (opt->all_netns && (r = inspect_host(opt, true, &every, err)) < 0) {
        inspect_result_free(&own);
        return r;
    }
    struct local_ports ports;
    if (local_ports_read(opt->proc_root, &ports, NULL) < 0)
        memset(&ports, 0, sizeof ports);
    char path[4096];
    snprintf(path, sizeof path, "%s/sys/net/ipv4/ip_local_reserved_ports", opt->proc_root ? opt->proc_root : "/proc");
    struct file_buffer reserved = { 0 };
    bool have_reserved = file_read_all_limited(path, 65536, &reserved, NULL) == 0;
    struct audit_options audit_opt = { .service = opt->service, .service_ctx = opt->service_ctx };
    struct audit_report audit;
    r = audit_run(&own, &ports, &audit_opt, &audit, err);
    if (r == 0) {
        r = agent_report_build(opt->all_netns ? &every : &own, &ports, have_reserved ? reserved.data : NULL,
                               &audit, out, err);
        audit_report_free(&audit);
    }
    if (have_reserved)
        file_buffer_free(&reserved);
    if (opt->all_netns)
        inspect_result_free(&every);
    inspect_result_free(&own);
    return r;
}

void agent_report_free(struct agent_report *report)
{
    free(report->listeners);
    free(report->findings);
    memset(report, 0, sizeof *report);
}

static json_t *text_or_null(const char *s)
{
    return s[0] ? json_text(s) : json_null();
}

json_t *agent_listener_key_json(const struct agent_listener *l)
{
    json_t *o = json_object();
    json_object_set_new(o, "proto", json_string(registry_proto_name(l->proto)));
    json_object_set_new(o, "local_address", json_text(l->local_address));
    json_object_set_new(o, "local_port", json_integer(l->local_port));
    json_object_set_new(o, "netns", json_text(l->netns));
    return o;
}

json_t *agent_listener_json(const struct agent_listener *l)
{
    json_t *o = agent_listener_key_json(l);
    json_object_set_new(o, "process", text_or_null(l->process));
    json_object_set_new(o, "pid", l->pid ? json_integer(l->pid) : json_null());
    json_object_set_new(o, "user", text_or_null(l->user));
    json_object_set_new(o, "unit", text_or_null(l->unit));
    json_object_set_new(o, "container", text_or_null(l->container));
    json_object_set_new(o, "exposure", json_text(l->exposure));
    return o;
}

json_t *agent_findings_json(const struct agent_report *report)
{
    json_t *a = json_array();
    for (size_t i = 0; i < report->finding_count; i++) {
        const struct agent_finding *f = &report->findings[i];
        json_t *o = json_object();
        json_object_set_new(o, "severity", json_text(f->severity));
        json_object_set_new(o, "code", json_text(f->code));
        json_object_set_new(o, "message", json_text(f->message));
        json_object_set_new(o, "port", json_integer(f->port));
        json_object_set_new(o, "proto", f->proto ? json_string(registry_proto_name(f->proto)) : json_null());
        json_array_append_new(a, o);
    }
    return a;
}

json_t *agent_ephemeral_json(const struct agent_report *report)
{
    if (!report->have_ephemeral)
        return json_null();
    return json_pack("{s:i,s:i}", "lo", (json_int_t)report->ephemeral_lo, "hi", (json_int_t)report->ephemeral_hi);
}

json_t *agent_report_full_json(const struct agent_report *report, const struct agent_identity *id, uint64_t seq)
{
    json_t *doc = json_object();
    json_object_set_new(doc, "host", json_text(id->host));
    json_object_set_new(doc, "seq", json_integer((json_int_t)seq));
    json_object_set_new(doc, "full", json_true());
    json_t *agent = json_object();
    json_object_set_new(agent, "version", json_text(id->version));
    json_object_set_new(agent, "interval_s", json_integer((json_int_t)((id->interval_ms + 999) / 1000)));
    json_object_set_new(doc, "agent", agent);
    json_object_set_new(doc, "ephemeral", agent_ephemeral_json(report));
    json_object_set_new(doc, "reserved", json_text(report->reserved));
    json_t *listeners = json_array();
    for (size_t i = 0; i < report->listener_count; i++)
        json_array_append_new(listeners, agent_listener_json(&report->listeners[i]));
    json_object_set_new(doc, "listeners", listeners);
    json_object_set_new(doc, "findings", agent_findings_json(report));
    return doc;
}

/* Copy a string or null member; -EINVAL when it is something else or does not fit. */
static int read_text(const json_t *o, const char *key, bool nullable, char *buf, size_t size, const char *where,
                     struct pr_error *err)
{
    const json_t *v = json_object_get(o, key);
    if (nullable && (!v || json_is_null(v))) {
        buf[0] = '\0';
        return 0;
    }
    if (!json_is_string(v) || json_string_length(v) >= size) {
        pr_error_set(err, -EINVAL, "expected a string of at most %zu bytes", size - 1);
        char path[256];
        snprintf(path, sizeof path, "%s.%s", where, key);
        pr_error_set_path(err, path);
        return -EINVAL;
    }
    memcpy(buf, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

static int read_uint(const json_t *o, const char *key, bool nullable, json_int_t max, json_int_t *value,
                     const char *where, struct pr_error *err)
{
    const json_t *v = json_object_get(o, key);
    if (nullable && (!v || json_is_null(v))) {
        *value = 0;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max) {
        pr_error_set(err, -EINVAL, "expected an integer from 0 to %lld", (long long)max);
        char path[256];
        snprintf(path, sizeof path, "%s.%s", where, key);
        pr_error_set_path(err, path);
        return -EINVAL;
    }
    *value = json_integer_value(v);
    return 0;
}

static int read_proto(const json_t *o, bool nullable, uint8_t *proto, const char *where, struct pr_error *err)
{
    const json_t *v = json_object_get(o, "proto");
    if (nullable && (!v || json_is_null(v))) {
        *proto = 0;
        return 0;
    }
    int p = json_is_string(v) ? registry_proto_parse(json_string_value(v), json_string_length(v)) : -1;
    if (p <= 0) {
        pr_error_set(err, -EINVAL, "expected tcp or udp");
        char path[256];
        snprintf(path, sizeof path, "%s.proto", where);
        pr_error_set_path(err, path);
        return -EINVAL;
    }
    *proto = (uint8_t)p;
    return 0;
}

static int read_listener(const json_t *o, struct agent_listener *l, const char *where, struct pr_error *err)
{
    memset(l, 0, sizeof *l);
    json_int_t port, pid;
    if (!json_is_object(o)) {
        pr_error_set(err, -EINVAL, "expected an object");
        pr_error_set_path(err, where);
        return -EINVAL;
    }
    int r = read_proto(o, false, &l->proto, where, err);
    if (!r) r = read_text(o, "local_address", false, l->local_address, sizeof l->local_address, where, err);
    if (!r) r = read_uint(o, "local_port", false, 65535, &port, where, err);
    if (!r) r = read_text(o, "netns", false, l->netns, sizeof l->netns, where, err);
    if (!r) r = read_text(o, "process", true, l->process, sizeof l->process, where, err);
    if (!r) r = read_uint(o, "pid", true, UINT32_MAX, &pid, where, err);
    if (!r) r = read_text(o, "user", true, l->user, sizeof l->user, where, err);
    if (!r) r = read_text(o, "unit", true, l->unit, sizeof l->unit, where, err);
    if (!r) r = read_text(o, "container", true, l->container, sizeof l->container, where, err);
    if (!r) r = read_text(o, "exposure", false, l->exposure, sizeof l->exposure, where, err);
    if (r)
        return r;
    l->local_port = (uint16_t)port;
    l->pid = (uint32_t)pid;
    return 0;
}

int agent_report_from_json(const json_t *doc, struct agent_report *out, struct pr_error *err)
{
    memset(out, 0, sizeof *out);
    const json_t *listeners = json_object_get(doc, "listeners");
    const json_t *findings = json_object_get(doc, "findings");
    if (!json_is_object(doc) || !json_is_array(listeners) || !json_is_array(findings)) {
        pr_error_set(err, -EINVAL, "expected a full report with listeners and findings arrays");
        pr_error_set_path(err, !json_is_object(doc) ? "report" : !json_is_array(listeners) ? "listeners" : "findings");
        return -EINVAL;
    }
    size_t n = json_array_size(listeners), m = json_array_size(findings);
    out->listeners = calloc(n ? n : 1, sizeof *out->listeners);
    out->findings = calloc(m ? m : 1, sizeof *out->findings);
    if (!out->listeners || !out->findings) {
        agent_report_free(out);
        return pr_error_set(err, -ENOMEM, "out of memory");
    }
    char where[64];
    int r = 0;
    for (size_t i = 0; i < n && !r; i++) {
        snprintf(where, sizeof where, "listeners[%zu]", i);
        r = read_listener(json_array_get(listeners, i), &out->listeners[i], where, err);
        if (!r && i && agent_listener_compare_key(&out->listeners[i - 1], &out->listeners[i]) >= 0) {
            pr_error_set(err, -EINVAL, "listeners out of order or repeated");
            pr_error_set_path(err, where);
            r = -EINVAL;
        }
        out->listener_count = i + 1;
    }
    for (size_t i = 0; i < m && !r; i++) {
        const json_t *o = json_array_get(findings, i);
        struct agent_finding *f = &out->findings[i];
        json_int_t port;
        snprintf(where, sizeof where, "findings[%zu]", i);
        if (!json_is_object(o)) {
            pr_error_set(err, -EINVAL, "expected an object");
            pr_error_set_path(err, where);
            r = -EINVAL;
            break;
        }
        r = read_text(o, "severity", false, f->severity, sizeof f->severity, where, err);
        if (!r) r = read_text(o, "code", false, f->code, sizeof f->code, where, err);
        if (!r) r = read_text(o, "message", false, f->message, sizeof f->message, where, err);
        if (!r) r = read_uint(o, "port", false, 65535, &port, where, err);
        if (!r) r = read_proto(o, true, &f->proto, where, err);
        if (!r)
            f->port = (uint16_t)port;
        out->finding_count = i + 1;
    }
    const json_t *eph = json_object_get(doc, "ephemeral");
    if (!r && json_is_object(eph)) {
        json_int_t lo, hi;
        r = read_uint(eph, "lo", false, 65535, &lo, "ephemeral", err);
        if (!r) r = read_uint(eph, "hi", false, 65535, &hi, "ephemeral", err);
        if (!r) {
            out->have_ephemeral = true;
            out->ephemeral_lo = (uint16_t)lo;
            out->ephemeral_hi = (uint16_t)hi;
        }
    } else if (!r && eph && !json_is_null(eph)) {
        pr_error_set(err, -EINVAL, "expected {\"lo\",\"hi\"} or null");
        pr_error_set_path(err, "ephemeral");
        r = -EINVAL;
    }
    if (!r)
        r = read_text(doc, "reserved", true, out->reserved, sizeof out->reserved, "report", err);
    if (r)
        agent_report_free(out);
    return r;
}
