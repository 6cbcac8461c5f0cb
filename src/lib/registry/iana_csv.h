/* iana_csv.h — parser for IANA's service-names-port-numbers.csv (RFC 6335 §8.1.1 columns).
 * RFC 4180 quoting (fields spanning lines, doubled quotes), ranges "225-241", empty service
 * names, empty protocol (= every protocol), empty port (name-only registrations).
 * Pure: buffer in, records out; fuzzed in fuzz/fuzz_iana_csv.c. */
#ifndef PORTREG_REGISTRY_IANA_CSV_H
#define PORTREG_REGISTRY_IANA_CSV_H

#include <stddef.h>

#include "registry/record.h"
#include "util/error.h"

/* Parse buf[0..len) and append one record per row to out. The first row must be the IANA
 * header (12 columns, names compared case-insensitively). Returns the number of records
 * appended (>= 0), or a negative code: -EINVAL for bad input with err->line/column at the
 * place (broken quote, wrong column count, bad port or protocol, NUL byte / binary data,
 * missing header), -ENOMEM. On error out holds no record from this call. */
long iana_csv_parse(const char *buf, size_t len, struct registry_records *out,
                    struct pr_error *err);

#endif
