/* socket_filter.c — --user and --port values (socket_filter.h): getpwnam_r for names, the
 * registry's name lookup (registry/lookup.h) as the resolver of util/portspec.c. */
#include "net/socket_filter.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry/lookup.h"
#include "registry/record.h"

int socket_filter_parse_user(const char *text, uint32_t *uid, struct pr_error *err)
{
    if (!text[0])
        return pr_error_set(err, -EINVAL, "empty user");
    /* digits only: strtoul alone would also take " 12", "+12" and "-1" (wrapped) as uids */
    if (strspn(text, "0123456789") == strlen(text)) {
        errno = 0;
        unsigned long long value = strtoull(text, NULL, 10);
        if (errno == 0 && value <= UINT32_MAX) {
            *uid = (uint32_t)value;
            return 0;
        }
    }
    struct passwd pw, *found = NULL;
    char buf[16384];
    int r = getpwnam_r(text, &pw, buf, sizeof buf, &found);
    if (r == 0 && found) {
        *uid = (uint32_t)pw.pw_uid;
        return 0;
    }
    if (r != 0 && r != ENOENT && r != ESRCH && r != EBADF && r != EPERM)
        return pr_error_set(err, -r, "\"%s\": cannot read the user database: %s", text, strerror(r));
    return pr_error_set(err, -ENOENT, "\"%s\": no such user", text);
}

/* The portspec resolver: name[0..len) (for proto, or ANY) to the ports of its records. */
static int resolve_service_name(void *ctx, const char *name, size_t len, uint8_t proto,
                                struct portspec *out)
{
    struct socket_filter_registry *registry = ctx;
    if (len > 255)   /* no service name is this long; the query text below would cut it */
        return -ENOENT;
    if (!registry->ix) {
        if (!registry->open)
            return -ENOENT;
        int r = registry->open(registry->user, &registry->ix);
        if (r < 0 || !registry->ix)
            return r < 0 ? r : -EIO;
    }
    char text[300];
    snprintf(text, sizeof text, "%.*s%s%s", (int)len, name, proto ? "/" : "",
             proto ? registry_proto_name(proto) : "");
    struct lookup_query q;
    if (lookup_query_parse(registry->ix, text, REGISTRY_PROTO_ANY, &q, NULL) < 0)
        return -ENOENT;
    if (q.kind != LOOKUP_KIND_NAME) {
        lookup_query_free(&q);
        return -ENOENT;
    }
    struct lookup_result res;
    int rc = lookup_run(registry->ix, &q, &res);
    size_t before = out->count;
    for (size_t i = 0; rc == 0 && i < res.count; i++) {
        struct registry_record rec;
        if (registry_index_record(registry->ix, res.records[i], &rec) && rec.has_port)
            rc = portspec_add(out, rec.port_first, rec.port_last, proto ? proto : rec.proto);
    }
    lookup_result_free(&res);
    lookup_query_free(&q);
    return rc < 0 ? rc : out->count > before ? 0 : -ENOENT;
}

int socket_filter_parse_ports(const char *text, struct socket_filter_registry *registry,
                              struct portspec *spec, struct pr_error *err)
{
    return portspec_parse(text, registry ? resolve_service_name : NULL, registry, spec, err);
}
