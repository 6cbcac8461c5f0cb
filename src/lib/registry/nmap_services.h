/* nmap_services.h — parser for nmap-services (nmap-common: /usr/share/nmap/nmap-services):
 * "name<TAB>port/proto<TAB>open-frequency[<TAB># comment]". Gives how often a port is found
 * open, which orders --top-ports. Pure: buffer in, records (with .frequency) out. */
#ifndef PORTREG_REGISTRY_NMAP_SERVICES_H
#define PORTREG_REGISTRY_NMAP_SERVICES_H

#include <stddef.h>

#include "registry/record.h"
#include "util/error.h"

/* Parse buf[0..len) and append one record per line (service "unknown" kept as nmap writes it;
 * the comment becomes the description). Returns records appended (>= 0), or -EINVAL with
 * err->line/column (bad port, protocol, frequency not a number in [0,1], NUL byte), -ENOMEM.
 * On error out holds no record from this call. */
long nmap_services_parse(const char *buf, size_t len, struct registry_records *out,
                         struct pr_error *err);

#endif
