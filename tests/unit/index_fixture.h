/* index_fixture.h — a small registry compiled in memory for test_index and test_lookup:
 * a primary (IANA-like) source, a host services file merged into it, and open-frequency. */
#ifndef PORTREG_TEST_INDEX_FIXTURE_H
#define PORTREG_TEST_INDEX_FIXTURE_H

#include <stdlib.h>
#include <string.h>

#include "registry/index.h"

struct index_fixture {
    struct registry_records primary, host, nmap;
    void *image;
    size_t size;
    struct registry_index *ix;
};

static struct registry_record *fixture_add(struct registry_records *list, const char *service,
                                           uint16_t first, uint16_t last, uint8_t proto,
                                           const char *description, uint32_t line)
{
    struct registry_record *r = registry_records_append(list);
    r->service = service;
    r->description = description;
    r->port_first = first;
    r->port_last = last;
    r->has_port = true;
    r->proto = proto;
    r->line = line;
    r->status = (uint8_t)registry_status_classify(service, description);
    return r;
}

static int index_fixture_build(struct index_fixture *f)
{
    memset(f, 0, sizeof *f);
    fixture_add(&f->primary, "", 0, 0, REGISTRY_PROTO_TCP, "Reserved", 2);
    fixture_add(&f->primary, "ssh", 22, 22, REGISTRY_PROTO_TCP, "The Secure Shell (SSH) Protocol", 3);
    fixture_add(&f->primary, "ssh", 22, 22, REGISTRY_PROTO_UDP, "The Secure Shell (SSH) Protocol", 4);
    fixture_add(&f->primary, "http", 80, 80, REGISTRY_PROTO_TCP, "World Wide Web HTTP", 5);
    fixture_add(&f->primary, "", 272, 279, REGISTRY_PROTO_ANY, "Unassigned", 6);
    fixture_add(&f->primary, "shilp", 2049, 2049, REGISTRY_PROTO_UDP, "", 7)->assignment_notes =
        "<== NOTE Conflict on 2049 !";
    fixture_add(&f->primary, "nfs", 2049, 2049, REGISTRY_PROTO_SCTP, "Network File System", 9);
    fixture_add(&f->primary, "nfs", 2049, 2049, REGISTRY_PROTO_TCP, "Network File System", 8);
    fixture_add(&f->primary, "mysql", 3306, 3306, REGISTRY_PROTO_TCP, "MySQL", 10);
    fixture_add(&f->primary, "x11", 6000, 6063, REGISTRY_PROTO_TCP, "X Window System", 11);
    fixture_add(&f->primary, "", 49151, 49151, REGISTRY_PROTO_ANY, "IANA Reserved", 12);
    struct registry_record *nameonly = fixture_add(&f->primary, "argus", 0, 0, REGISTRY_PROTO_ANY,
                                                   "ARGUS Protocol", 13);
    nameonly->has_port = false;

    fixture_add(&f->host, "http", 80, 80, REGISTRY_PROTO_TCP, "WorldWideWeb HTTP", 1)->aliases = "www";
    fixture_add(&f->host, "MySQL", 3306, 3306, REGISTRY_PROTO_TCP, "", 2)->aliases = "mariadb";
    fixture_add(&f->host, "localapp", 7777, 7777, REGISTRY_PROTO_TCP, "host-local", 3)->aliases = "lapp";

    fixture_add(&f->nmap, "http", 80, 80, REGISTRY_PROTO_TCP, "", 1)->frequency = 0.48;
    fixture_add(&f->nmap, "ssh", 22, 22, REGISTRY_PROTO_TCP, "", 2)->frequency = 0.18;
    fixture_add(&f->nmap, "mysql", 3306, 3306, REGISTRY_PROTO_TCP, "", 3)->frequency = 0.045;
    fixture_add(&f->nmap, "domain", 53, 53, REGISTRY_PROTO_UDP, "", 4)->frequency = 0.21;

    struct registry_build_source sources[] = {
        { REGISTRY_SOURCE_IANA_CSV, REGISTRY_ROLE_PRIMARY, "/state/iana.csv", "", 1, 100, &f->primary },
        { REGISTRY_SOURCE_SERVICES, REGISTRY_ROLE_SUPERSEDED, "/ws/services", "", 2, 200, NULL },
        { REGISTRY_SOURCE_SERVICES, REGISTRY_ROLE_MERGED, "/etc/services", "", 3, 300, &f->host },
        { REGISTRY_SOURCE_NMAP, REGISTRY_ROLE_FREQUENCY, "/nmap-services", "", 4, 400, &f->nmap },
    };
    int r = registry_index_build(sources, 4, 1700000000, &f->image, &f->size, NULL);
    if (r < 0)
        return r;
    return registry_index_open(f->image, f->size, &f->ix, NULL);
}

static void index_fixture_free(struct index_fixture *f)
{
    registry_index_close(f->ix);
    free(f->image);
    registry_records_free(&f->primary);
    registry_records_free(&f->host);
    registry_records_free(&f->nmap);
}

/* cmocka group setup/teardown that build and free the fixture index. */
static int index_fixture_setup(void **state)
{
    struct index_fixture *f = calloc(1, sizeof *f);
    if (!f || index_fixture_build(f) < 0)
        return -1;
    *state = f;
    return 0;
}

static int index_fixture_teardown(void **state)
{
    index_fixture_free(*state);
    free(*state);
    return 0;
}

#endif
