/* server_tls.c — HTTPS for `portreg serve --tls-cert F --tls-key F`: both PEM files read
 * whole (a file that cannot be read is named), then the pair is checked with GnuTLS before
 * libmicrohttpd gets it, because MHD_start_daemon only says that it did not start. The PEM
 * text is handed to libmicrohttpd (MHD_OPTION_HTTPS_MEM_CERT/KEY), which does TLS with the
 * same GnuTLS. */
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_tls.h"
#include "util/file_io.h"

/* A certificate chain or a key is a few KiB; a larger file is not one. */
#define SERVER_TLS_FILE_MAX (1024 * 1024)

static int read_pem(const char *path, const char *option, struct file_buffer *out, struct pr_error *err)
{
    struct pr_error read_err;
    pr_error_clear(&read_err);
    int r = file_read_all_limited(path, SERVER_TLS_FILE_MAX, out, &read_err);
    if (r < 0)
        return pr_error_set(err, r, "--%s %s: %s", option, path, read_err.message);
    if (!strstr(out->data, "-----BEGIN ")) {
        file_buffer_free(out);
        return pr_error_set(err, -EINVAL, "--%s %s: not a PEM file (no -----BEGIN line)", option, path);
    }
    return 0;
}

int server_tls_load(const char *cert_path, const char *key_path, struct server_tls *out, struct pr_error *err)
{
    memset(out, 0, sizeof *out);
    if (!MHD_is_feature_supported(MHD_FEATURE_TLS))
        return pr_error_set(err, -ENOTSUP, "this libmicrohttpd was built without TLS");
    struct file_buffer cert = { 0 }, key = { 0 };
    int r = read_pem(cert_path, "tls-cert", &cert, err);
    if (r < 0)
        return r;
    r = read_pem(key_path, "tls-key", &key, err);
    if (r < 0) {
        file_buffer_free(&cert);
        return r;
    }
    /* the same check libmicrohttpd makes, with GnuTLS's reason: a bad certificate, a bad
     * key, or a key that does not belong to the certificate */
    gnutls_certificate_credentials_t credentials;
    if (gnutls_certificate_allocate_credentials(&credentials) < 0) {
        file_buffer_free(&cert);
        file_buffer_free(&key);
        return pr_error_set(err, -ENOMEM, "GnuTLS: cannot allocate credentials");
    }
    gnutls_datum_t cert_datum = { (unsigned char *)cert.data, (unsigned)cert.size };
    gnutls_datum_t key_datum = { (unsigned char *)key.data, (unsigned)key.size };
    int g = gnutls_certificate_set_x509_key_mem(credentials, &cert_datum, &key_datum, GNUTLS_X509_FMT_PEM);
    gnutls_certificate_free_credentials(credentials);
    if (g < 0) {
        const char *which = g == GNUTLS_E_CERTIFICATE_KEY_MISMATCH ? "the key does not belong to the certificate"
                            : "the certificate or the key cannot be used";
        r = pr_error_set(err, -EINVAL, "--tls-cert %s, --tls-key %s: %s (GnuTLS: %s)", cert_path, key_path, which,
                         gnutls_strerror(g));
        file_buffer_free(&cert);
        file_buffer_free(&key);
        return r;
    }
    out->cert_pem = cert.data;
    out->key_pem = key.data;
    return 0;
}

void server_tls_free(struct server_tls *tls)
{
    if (tls->key_pem)
        gnutls_memset(tls->key_pem, 0, strlen(tls->key_pem));
    free(tls->cert_pem);
    free(tls->key_pem);
    memset(tls, 0, sizeof *tls);
}
