/* index.h — the compiled registry: build it from parsed sources, open it from a buffer or a
 * mapped file, and answer by port (O(1) through a 65,537-entry offset table), by name or alias
 * (binary search), and open-frequency per port (binary search) and by rank (top ports).
 * Opening validates magic, version, sizes and checksums of the header and block table; each
 * 16 KiB block is verified the first time it is read, and every offset is bounds-checked. */
#ifndef PORTREG_REGISTRY_INDEX_H
#define PORTREG_REGISTRY_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "registry/record.h"
#include "util/error.h"

enum registry_source_kind {
    REGISTRY_SOURCE_IANA_CSV = 0,   /* the IANA CSV fetched by `portreg registry update` */
    REGISTRY_SOURCE_SERVICES = 1,   /* a services(5) file */
    REGISTRY_SOURCE_NMAP = 2,       /* nmap-services: open-frequency */
};

enum registry_source_role {
    REGISTRY_ROLE_PRIMARY = 0,      /* the registry's records come from here */
    REGISTRY_ROLE_MERGED = 1,       /* host entries and aliases merged into the primary */
    REGISTRY_ROLE_FREQUENCY = 2,    /* open-frequency only */
    REGISTRY_ROLE_SUPERSEDED = 3,   /* present, but a preferred source covers it */
    REGISTRY_ROLE_ABSENT = 4,       /* looked for, not there */
    REGISTRY_ROLE_FAILED = 5,       /* there, but did not parse: note says why */
};

/* What the builder is given for each candidate source, in order of preference. */
struct registry_build_source {
    enum registry_source_kind kind;
    enum registry_source_role role;
    const char *path;
    const char *note;                       /* "" or NULL when nothing to say */
    int64_t mtime_ns;
    int64_t size;                           /* -1 when absent */
    const struct registry_records *records; /* NULL unless PRIMARY, MERGED or FREQUENCY */
};

/* A source as recorded in an index. */
struct registry_source_info {
    enum registry_source_kind kind;
    enum registry_source_role role;
    const char *path;
    const char *note;
    const char *newest_date;
    uint32_t record_count;
    uint32_t per_proto[REGISTRY_PROTO_COUNT];
    int64_t mtime_ns;
    int64_t size;
};

struct registry_index;

/* Compile sources into a new malloc'd index image (*out, *out_size). Records of the PRIMARY
 * source are kept; a MERGED source adds its aliases to the primary records with the same name,
 * port and protocol, and adds its other entries as records of its own; FREQUENCY sources fill
 * the open-frequency table. */
int registry_index_build(const struct registry_build_source *sources, size_t source_count,
                         int64_t built_at, void **out, size_t *out_size, struct pr_error *err);

/* Open an index image. The index refers to data (which must outlive it); owned_data, when not
 * NULL, is freed (free()) or unmapped (when mapped is true) by registry_index_close().
 * -EINVAL with a message naming the problem (magic, version, size, checksum). */
int registry_index_open(const void *data, size_t size, struct registry_index **out,
                        struct pr_error *err);
/* Hand ownership of the image to the index: malloc'd (mapped=false) or mmap'd (mapped=true). */
void registry_index_adopt_image(struct registry_index *ix, bool mapped);
/* Verify every block now (registry info does; lookups verify only what they read). */
int registry_index_verify_all(const struct registry_index *ix, struct pr_error *err);
/* NULL, or what damage a read found ("registry index is corrupted (...)"). A read of a damaged
 * block fails (a record is not found, a string is empty): callers that see damage after a
 * query rebuild the index and ask again. */
const char *registry_index_damage(const struct registry_index *ix);
void registry_index_close(struct registry_index *ix);

int64_t registry_index_built_at(const struct registry_index *ix);
size_t registry_index_image_size(const struct registry_index *ix);
uint32_t registry_index_record_count(const struct registry_index *ix);
/* Fill out with pointers into the index (valid while it is open). false if id is out of range. */
bool registry_index_record(const struct registry_index *ix, uint32_t id,
                           struct registry_record *out);
/* Source id of a record (index into the source table). */
uint32_t registry_index_record_source(const struct registry_index *ix, uint32_t id);

/* Record ids whose port range covers port, ordered by protocol, source, line. */
const uint32_t *registry_index_port_records(const struct registry_index *ix, uint16_t port,
                                            size_t *count);

/* Call visit for each record whose service name or alias equals name (ASCII case-insensitive).
 * Returns the number of matches. */
size_t registry_index_find_name(const struct registry_index *ix, const char *name,
                                void (*visit)(void *ctx, uint32_t record), void *ctx);

/* nmap open-frequency of port/proto (0 when unknown); *nmap_name (may be NULL) gets nmap's
 * name or "". *rank gets the 1-based rank among ports of that protocol (0 when unknown). */
double registry_index_frequency(const struct registry_index *ix, uint16_t port, uint8_t proto,
                                const char **nmap_name, uint32_t *rank);
/* The n-th most frequently open port of proto (n from 0); false past the end. */
bool registry_index_top_port(const struct registry_index *ix, uint8_t proto, uint32_t n,
                             uint16_t *port);

uint32_t registry_index_source_count(const struct registry_index *ix);
bool registry_index_source(const struct registry_index *ix, uint32_t id,
                           struct registry_source_info *out);

const char *registry_source_kind_name(enum registry_source_kind kind);
const char *registry_source_role_name(enum registry_source_role role);

#endif
