/* index_format.h — on-disk layout of the compiled registry index (index.bin).
 * One file, written by index_build.c and mapped read-only by index_read.c: a header, then
 * fixed-size sections addressed by offsets, then a table of XXH3 checksums, one per 16 KiB
 * block of the sections. Native byte order (it is a per-host cache, rebuilt from its sources).
 * A reader verifies the header and the checksum table at once and each block the first time
 * it reads from it, so a lookup hashes the few blocks it touches, not the whole file. */
#ifndef PORTREG_REGISTRY_INDEX_FORMAT_H
#define PORTREG_REGISTRY_INDEX_FORMAT_H

#include <stdint.h>

#define REGISTRY_INDEX_MAGIC "PORTREG\x1a"
#define REGISTRY_INDEX_FORMAT_VERSION 4u   /* 4: nmap-services ports of frequency 0 kept (names) */
#define REGISTRY_INDEX_BLOCK_SIZE 16384u
#define REGISTRY_INDEX_BYTE_ORDER 0x01020304u

enum registry_field {
    REGISTRY_FIELD_SERVICE,
    REGISTRY_FIELD_DESCRIPTION,
    REGISTRY_FIELD_ASSIGNEE,
    REGISTRY_FIELD_CONTACT,
    REGISTRY_FIELD_REGISTRATION_DATE,
    REGISTRY_FIELD_MODIFICATION_DATE,
    REGISTRY_FIELD_REFERENCE,
    REGISTRY_FIELD_SERVICE_CODE,
    REGISTRY_FIELD_UNAUTHORIZED_USE,
    REGISTRY_FIELD_ASSIGNMENT_NOTES,
    REGISTRY_FIELD_ALIASES,
    REGISTRY_FIELD_COUNT
};

struct registry_index_header {
    char magic[8];
    uint32_t format_version;
    uint32_t byte_order;
    uint64_t file_size;
    uint64_t header_checksum;   /* XXH3_64bits of this header with this field zero */
    uint64_t checksum;          /* XXH3_64bits of the block checksum table */
    int64_t built_at;           /* seconds since the epoch */
    uint32_t source_count;
    uint32_t record_count;
    uint32_t port_entry_count;
    uint32_t name_entry_count;
    uint32_t frequency_count;
    uint32_t string_bytes;
    uint32_t off_sources;       /* struct registry_index_source[source_count] */
    uint32_t off_records;       /* struct registry_index_record[record_count] */
    uint32_t off_port_starts;   /* uint32_t[65537]: entries of port p are [starts[p], starts[p+1]) */
    uint32_t off_port_entries;  /* uint32_t record ids, per port by protocol, source, line */
    uint32_t off_names;         /* struct registry_index_name[], sorted by name (ASCII case-folded) */
    uint32_t off_frequencies;   /* struct registry_index_frequency[], sorted by (port, proto) */
    uint32_t off_frequency_rank;/* uint32_t[] into frequencies, by open-frequency descending */
    uint32_t off_strings;       /* NUL-terminated strings; offset 0 is "" */
    uint32_t off_block_checksums; /* uint64_t[block_count]: XXH3 of each block of the sections */
    uint32_t block_count;       /* blocks of REGISTRY_INDEX_BLOCK_SIZE from sizeof(header) */
    uint32_t reserved[2];
};

struct registry_index_source {
    uint32_t kind;              /* enum registry_source_kind */
    uint32_t role;              /* enum registry_source_role */
    uint32_t path;              /* string offsets */
    uint32_t note;
    uint32_t newest_date;
    uint32_t record_count;
    uint32_t per_proto[5];      /* indexed by enum registry_proto */
    uint32_t padding;
    int64_t mtime_ns;           /* of the source when the index was built; 0 when absent */
    int64_t size;               /* -1 when absent */
};

struct registry_index_record {
    uint32_t field[REGISTRY_FIELD_COUNT];   /* string offsets */
    uint32_t line;
    uint16_t port_first, port_last;
    uint8_t proto, status, source, has_port;
};

struct registry_index_name {
    uint32_t name;      /* string offset of the service name or alias */
    uint32_t record;
};

struct registry_index_frequency {
    uint16_t port;
    uint8_t proto;
    uint8_t padding;
    float frequency;
    uint32_t name;      /* nmap's name for the port (ports of frequency 0 are kept for it) */
    uint32_t rank;      /* 1-based rank among ports of the same protocol, by frequency; 0 for
                           frequency 0 (ranked last in off_frequency_rank, never a top port) */
};

#endif
