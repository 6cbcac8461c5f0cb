/* http_conditional.h — If-None-Match and Accept-Encoding read for cacheable answers
 * (http_conditional.c): no other dependency, so unit tests and the fuzzer link it alone. */
#ifndef PORTREG_SERVER_HTTP_CONDITIONAL_H
#define PORTREG_SERVER_HTTP_CONDITIONAL_H

#include <stdbool.h>

/* Does an If-None-Match header (NULL: absent) name etag ("\"...\"", quotes included): one of
 * a comma-separated list, a W/ form of it, or "*"? */
bool http_etag_matches(const char *if_none_match, const char *etag);
/* Does an Accept-Encoding header (NULL: absent) take gzip: "gzip" or "*" without q=0? */
bool http_accepts_gzip(const char *accept_encoding);

#endif
