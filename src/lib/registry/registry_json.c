/* registry_json.c — build the registry's JSON documents with jansson (see registry_json.h).
 * Strings that are empty in the source become null, so scripts can test for presence. Text
 * from the registry files goes through json_text: a field that is not UTF-8 is written in its
 * text_escape form, never left out (json_string returns NULL on it and the key was dropped). */
#include "registry/registry_json.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "registry/range_class.h"
#include "util/json_writer.h"

static json_t *string_or_null(const char *s)
{
    return s && s[0] ? json_text(s) : json_null();
}

static json_t *aliases_json(const char *aliases)
{
    json_t *array = json_array();
    const char *p = aliases;
    while (*p) {
        while (*p == ' ')
            p++;
        const char *end = p;
        while (*end && *end != ' ')
            end++;
        if (end > p)
            json_array_append_new(array, json_textn(p, (size_t)(end - p)));
        p = end;
    }
    return array;
}

bool registry_record_from_iana(const struct registry_index *ix, uint32_t id)
{
    struct registry_source_info src;
    registry_index_source(ix, registry_index_record_source(ix, id), &src);
    return src.role == REGISTRY_ROLE_PRIMARY;
}

uint16_t registry_record_frequency_port(const struct registry_record *rec, uint16_t port)
{
    if (port && port >= rec->port_first && port <= rec->port_last)
        return port;
    return rec->port_first;
}

json_t *registry_record_json(const struct registry_index *ix, uint32_t id)
{
    return registry_record_json_at(ix, id, 0);
}

json_t *registry_record_json_at(const struct registry_index *ix, uint32_t id, uint16_t port)
{
    struct registry_record rec;
    struct registry_source_info src;
    if (!registry_index_record(ix, id, &rec))
        return json_null();
    registry_index_source(ix, registry_index_record_source(ix, id), &src);
    json_t *o = json_object();
    json_object_set_new(o, "service", string_or_null(rec.service));
    json_object_set_new(o, "port", rec.has_port ? json_integer(rec.port_first) : json_null());
    json_object_set_new(o, "port_last", rec.has_port ? json_integer(rec.port_last) : json_null());
    json_object_set_new(o, "protocol", json_string(registry_proto_name(rec.proto)));
    json_object_set_new(o, "status", json_string(registry_status_name(rec.status)));
    json_object_set_new(o, "iana", json_boolean(src.role == REGISTRY_ROLE_PRIMARY));
    json_object_set_new(o, "description", string_or_null(rec.description));
    json_object_set_new(o, "assignee", string_or_null(rec.assignee));
    json_object_set_new(o, "contact", string_or_null(rec.contact));
    json_object_set_new(o, "registration_date", string_or_null(rec.registration_date));
    json_object_set_new(o, "modification_date", string_or_null(rec.modification_date));
    json_object_set_new(o, "reference", string_or_null(rec.reference));
    json_object_set_new(o, "service_code", string_or_null(rec.service_code));
    json_object_set_new(o, "unauthorized_use_reported", string_or_null(rec.unauthorized_use));
    json_object_set_new(o, "assignment_notes", string_or_null(rec.assignment_notes));
    json_object_set_new(o, "aliases", aliases_json(rec.aliases));
    json_object_set_new(o, "range_class",
                        rec.has_port ? json_string(port_range_class_id(port_range_class_of(rec.port_first)))
                                     : json_null());
    if (rec.has_port && rec.proto != REGISTRY_PROTO_ANY) {
        const char *nmap_name;
        uint32_t rank;
        uint16_t at = registry_record_frequency_port(&rec, port);
        double f = registry_index_frequency(ix, at, rec.proto, &nmap_name, &rank);
        json_object_set_new(o, "open_frequency", rank ? json_real(f) : json_null());
        json_object_set_new(o, "open_frequency_rank", rank ? json_integer(rank) : json_null());
        json_object_set_new(o, "open_frequency_port", rank ? json_integer(at) : json_null());
    } else {
        json_object_set_new(o, "open_frequency", json_null());
        json_object_set_new(o, "open_frequency_rank", json_null());
        json_object_set_new(o, "open_frequency_port", json_null());
    }
    json_t *source = json_object();
    json_object_set_new(source, "kind", json_string(registry_source_kind_name(src.kind)));
    json_object_set_new(source, "path", json_text(src.path));
    json_object_set_new(source, "role", json_string(registry_source_role_name(src.role)));
    json_object_set_new(source, "line", json_integer(rec.line));
    json_object_set_new(o, "source", source);
    return o;
}

static const char *query_kind_name(const struct lookup_query *q)
{
    switch (q->kind) {
    case LOOKUP_KIND_NAME: return "name";
    case LOOKUP_KIND_SEARCH: return "search";
    case LOOKUP_KIND_PORTS: return q->single_port ? "port" : "ports";
    }
    return "?";
}

json_t *lookup_answer_json(const struct registry_index *ix, const struct lookup_query *query,
                           const struct lookup_result *result,
                           const struct lookup_host_facts *host)
{
    json_t *o = json_object();
    json_object_set_new(o, "query", json_text(query->text));
    json_object_set_new(o, "kind", json_string(query_kind_name(query)));
    json_object_set_new(o, "protocol", query->proto == REGISTRY_PROTO_ANY
                                           ? json_null()
                                           : json_string(registry_proto_name(query->proto)));
    json_object_set_new(o, "found", json_boolean(result->found));
    if (query->kind == LOOKUP_KIND_PORTS && query->single_port) {
        uint16_t port = query->spec.ranges[0].first;
        enum port_range_class cls = port_range_class_of(port);
        json_object_set_new(o, "port", json_integer(port));
        json_t *range = json_object();
        json_object_set_new(range, "class", json_string(port_range_class_id(cls)));
        json_object_set_new(range, "first", json_integer(port_range_class_first(cls)));
        json_object_set_new(range, "last", json_integer(port_range_class_last(cls)));
        json_object_set_new(o, "range_class", range);
        if (host) {
            json_t *h = json_object();
            json_object_set_new(h, "ephemeral_range",
                                json_pack("[ii]", host->ephemeral_first, host->ephemeral_last));
            json_object_set_new(h, "ephemeral", json_boolean(host->ephemeral));
            json_object_set_new(h, "reserved", host->have_reserved ? json_boolean(host->reserved)
                                                                   : json_null());
            json_object_set_new(o, "host", h);
        }
    }
    uint16_t asked = query->kind == LOOKUP_KIND_PORTS && query->single_port
                         ? query->spec.ranges[0].first : 0;
    json_t *records = json_array();
    for (size_t i = 0; i < result->count; i++)
        json_array_append_new(records, registry_record_json_at(ix, result->records[i], asked));
    json_object_set_new(o, "records", records);
    return o;
}

void registry_format_time(int64_t seconds, char *buf, size_t size)
{
    time_t t = (time_t)seconds;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, size, "?");
}

json_t *registry_info_json(const struct registry_index *ix, const struct registry_paths *paths,
                           const struct registry_open_report *report)
{
    json_t *o = json_object();
    json_t *sources = json_array();
    for (uint32_t i = 0; i < registry_index_source_count(ix); i++) {
        struct registry_source_info s;
        registry_index_source(ix, i, &s);
        json_t *j = json_object();
        char when[32];
        json_object_set_new(j, "kind", json_string(registry_source_kind_name(s.kind)));
        json_object_set_new(j, "role", json_string(registry_source_role_name(s.role)));
        json_object_set_new(j, "path", string_or_null(s.path));
        if (s.size >= 0) {
            registry_format_time(s.mtime_ns / 1000000000, when, sizeof when);
            json_object_set_new(j, "modified", json_string(when));
            json_object_set_new(j, "size", json_integer(s.size));
        } else {
            json_object_set_new(j, "modified", json_null());
            json_object_set_new(j, "size", json_null());
        }
        json_object_set_new(j, "records", json_integer(s.record_count));
        json_t *per = json_object();
        for (int p = REGISTRY_PROTO_TCP; p < REGISTRY_PROTO_COUNT; p++)
            json_object_set_new(per, registry_proto_name((enum registry_proto)p), json_integer(s.per_proto[p]));
        json_object_set_new(per, "any", json_integer(s.per_proto[REGISTRY_PROTO_ANY]));
        json_object_set_new(j, "records_by_protocol", per);
        json_object_set_new(j, "newest_date", string_or_null(s.newest_date));
        json_object_set_new(j, "note", string_or_null(s.note));
        json_array_append_new(sources, j);
    }
    json_object_set_new(o, "sources", sources);
    json_object_set_new(o, "records", json_integer(registry_index_record_count(ix)));
    json_t *index = json_object();
    char when[32];
    registry_format_time(registry_index_built_at(ix), when, sizeof when);
    json_object_set_new(index, "path", json_text(paths->index));
    json_object_set_new(index, "built", json_string(when));
    json_object_set_new(index, "age_seconds", json_integer((json_int_t)(time(NULL) - registry_index_built_at(ix))));
    json_object_set_new(index, "size", json_integer((json_int_t)registry_index_image_size(ix)));
    json_object_set_new(index, "saved", json_boolean(report->index_saved));
    json_object_set_new(index, "rebuilt_now", json_boolean(report->rebuilt));
    json_object_set_new(index, "rebuild_reason", string_or_null(report->rebuild_reason));
    json_object_set_new(o, "index", index);
    json_object_set_new(o, "state_dir", json_text(paths->state_dir));
    return o;
}
