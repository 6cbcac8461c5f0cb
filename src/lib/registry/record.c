/* record.c — record list growth and status names (see record.h; protocol names: util/proto.c). */
#include "registry/record.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct registry_record *registry_records_append(struct registry_records *list)
{
    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? list->capacity * 2 : 1024;
        struct registry_record *items = realloc(list->items, capacity * sizeof *items);
        if (!items)
            return NULL;
        list->items = items;
        list->capacity = capacity;
    }
    struct registry_record *rec = &list->items[list->count++];
    memset(rec, 0, sizeof *rec);
    rec->service = rec->description = rec->assignee = rec->contact = "";
    rec->registration_date = rec->modification_date = rec->reference = "";
    rec->service_code = rec->unauthorized_use = rec->assignment_notes = rec->aliases = "";
    return rec;
}

void registry_records_free(struct registry_records *list)
{
    free(list->items);
    arena_free(&list->arena);
    memset(list, 0, sizeof *list);
}

const char *registry_status_name(enum registry_status status)
{
    switch (status) {
    case REGISTRY_STATUS_ASSIGNED: return "assigned";
    case REGISTRY_STATUS_RESERVED: return "reserved";
    case REGISTRY_STATUS_UNASSIGNED: return "unassigned";
    case REGISTRY_STATUS_REMOVED: return "removed";
    }
    return "?";
}

enum registry_status registry_status_classify(const char *service, const char *description)
{
    if (service[0])
        return REGISTRY_STATUS_ASSIGNED;
    if (strncasecmp(description, "Unassigned", 10) == 0)
        return REGISTRY_STATUS_UNASSIGNED;
    if (strncasecmp(description, "Reserved", 8) == 0 ||
        strncasecmp(description, "IANA Reserved", 13) == 0)
        return REGISTRY_STATUS_RESERVED;
    if (strncasecmp(description, "De-registered", 13) == 0 ||
        strncasecmp(description, "Removed", 7) == 0)
        return REGISTRY_STATUS_REMOVED;
    return REGISTRY_STATUS_ASSIGNED;
}
