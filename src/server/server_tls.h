/* server_tls.h — the certificate and key of `portreg serve --tls-cert --tls-key`, read and
 * checked before any socket is served (server_tls.c). */
#ifndef PORTREG_SERVER_SERVER_TLS_H
#define PORTREG_SERVER_SERVER_TLS_H

#include "util/error.h"

struct server_tls {
    char *cert_pem;   /* NUL-terminated PEM: the certificate (chain) */
    char *key_pem;    /* its private key */
};

/* Read both files and check that GnuTLS accepts the pair. Errors name the option and the
 * file: a file that cannot be read keeps its -errno (-ENOENT, -EACCES...); a file that is not
 * PEM, a bad certificate or key, or a key of another certificate is -EINVAL. */
int server_tls_load(const char *cert_path, const char *key_path, struct server_tls *out, struct pr_error *err);
/* Wipes the key. */
void server_tls_free(struct server_tls *tls);

#endif
