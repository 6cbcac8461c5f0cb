/* services_file.h — parser for services(5) files: /etc/services and the IANA-derived file of
 * Debian's libwireshark-data (/usr/share/wireshark/services), which also allows ranges and
 * several protocols ("x11  6000-6063/tcp/udp  # X Window System"). Aliases follow the port;
 * the comment after '#' becomes the description. Pure: buffer in, records out. */
#ifndef PORTREG_REGISTRY_SERVICES_FILE_H
#define PORTREG_REGISTRY_SERVICES_FILE_H

#include <stddef.h>

#include "registry/record.h"
#include "util/error.h"

/* Parse buf[0..len) and append one record per (line, protocol). Blank and comment lines are
 * skipped. Returns records appended (>= 0), or -EINVAL with err->line/column at the bad token
 * (missing port, port > 65535, unknown protocol, NUL byte), or -ENOMEM. On error out holds no
 * record from this call. */
long services_file_parse(const char *buf, size_t len, struct registry_records *out,
                         struct pr_error *err);

#endif
