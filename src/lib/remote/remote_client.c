/* remote_client.c — portreg serve's HTTP+JSON client (see remote_client.h): configuration from
 * options and the environment, one libcurl easy handle kept alive across calls, and the answers
 * decoded with jansson. libcurl is loaded with dlopen (util/curl_loader.h) only by the commands
 * that talk to a server. */
#include "remote/remote_client.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "util/curl_loader.h"

/* ---- configuration ---- */

static bool printable_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            return false;
    return true;
}

/* host[:port] or [v6][:port]: a host, and a port 1-65535 when one is given */
static bool authority_valid(const char *authority, size_t len)
{
    if (len == 0)
        return false;
    const char *end = authority + len, *port = NULL;
    if (authority[0] == '[') {
        const char *close = memchr(authority, ']', len);
        if (!close || close == authority + 1)
            return false;
        if (close + 1 < end) {
            if (close[1] != ':')
                return false;
            port = close + 2;
        }
    } else {
        const char *colon = memchr(authority, ':', len);
        if (colon) {
            if (colon == authority || memchr(colon + 1, ':', (size_t)(end - colon - 1)))
                return false;   /* no host, or an IPv6 address without brackets */
            port = colon + 1;
        }
    }
    if (port) {
        if (port == end || end - port > 5)
            return false;
        unsigned value = 0;
        for (const char *p = port; p < end; p++) {
            if (*p < '0' || *p > '9')
                return false;
            value = value * 10 + (unsigned)(*p - '0');
        }
        if (value == 0 || value > 65535)
            return false;
    }
    return true;
}

static int server_url_set(struct remote_config *cfg, const char *text, const char *from, struct pr_error *err)
{
    const char *rest = text;
    const char *scheme = "http://";
    const char *sep = strstr(text, "://");
    if (sep) {
        size_t scheme_len = (size_t)(sep - text);
        if (scheme_len == 4 && strncasecmp(text, "http", 4) == 0)
            scheme = "http://";
        else if (scheme_len == 5 && strncasecmp(text, "https", 5) == 0)
            scheme = "https://";
        else
            goto bad;
        rest = sep + 3;
    }
    if (!printable_ascii(rest) || strpbrk(rest, "?#@\\"))
        goto bad;
    size_t authority_len = strcspn(rest, "/");
    if (!authority_valid(rest, authority_len))
        goto bad;
    int n = snprintf(cfg->server, sizeof cfg->server, "%s%s", scheme, rest);
    if (n < 0 || (size_t)n >= sizeof cfg->server)
        goto bad;
    size_t len = (size_t)n;
    while (len > strlen(scheme) + authority_len && cfg->server[len - 1] == '/')
        cfg->server[--len] = '\0';
    cfg->server_from = from;
    return 0;
bad:
    pr_error_set(err, -EINVAL, "\"%s\" is not a server URL: http://HOST[:PORT] or https://HOST[:PORT] "
                 "(IPv6 as [::1]), without user@, ? or #", text);
    pr_error_set_path(err, from);
    return -EINVAL;
}

static const char *given(const char *value)
{
    return value && value[0] ? value : NULL;
}

int remote_config_init(struct remote_config *cfg, const char *server_option, const char *token_option,
                       const char *cacert_option, const char *server_env, const char *token_env,
                       const char *cacert_env, struct pr_error *err)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->timeout_seconds = 60;
    int r;
    if (server_option)
        r = server_url_set(cfg, server_option, "--server", err);
    else if (given(server_env))
        r = server_url_set(cfg, server_env, "PORTREG_SERVER", err);
    else
        r = server_url_set(cfg, REMOTE_DEFAULT_SERVER, "the default", err);
    if (r < 0)
        return r;
    const char *token = token_option ? token_option : given(token_env);
    const char *token_from = token_option ? "--token" : "PORTREG_TOKEN";
    if (token) {
        /* the token goes into a header: no spaces, controls or line breaks; never echoed */
        if (!token[0] || strlen(token) >= sizeof cfg->token || !printable_ascii(token)) {
            pr_error_set(err, -EINVAL, "the token is not one: tokens are printable ASCII without spaces "
                         "(from 'portreg serve token create')");
            pr_error_set_path(err, token_from);
            return -EINVAL;
        }
        snprintf(cfg->token, sizeof cfg->token, "%s", token);
    }
    const char *cacert = cacert_option ? cacert_option : given(cacert_env);
    if (cacert) {
        if (!cacert[0] || strlen(cacert) >= sizeof cfg->cacert) {
            pr_error_set(err, -EINVAL, "not a file name");
            pr_error_set_path(err, cacert_option ? "--cacert" : "PORTREG_CACERT");
            return -EINVAL;
        }
        snprintf(cfg->cacert, sizeof cfg->cacert, "%s", cacert);
    }
    return 0;
}

/* Percent-encoding by hand: a query is built before libcurl is loaded (and in unit tests
 * without it); curl_easy_escape needs an easy handle. */
int remote_query_append(char *path, size_t size, const char *name, const char *value, struct pr_error *err)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t len = strlen(path);
    const char *sepc = strchr(path, '?') ? "&" : "?";
    char buf[4096];
    size_t n = 0;
    for (const char *parts[] = { sepc, name, "=", value }, **part = parts; part < parts + 4; part++) {
        bool literal = part == parts || part == parts + 2;
        for (const unsigned char *p = (const unsigned char *)*part; *p; p++) {
            if (n + 4 > sizeof buf)
                goto too_long;
            if (literal || isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
                buf[n++] = (char)*p;
            } else {
                buf[n++] = '%';
                buf[n++] = hex[*p >> 4];
                buf[n++] = hex[*p & 15];
            }
        }
    }
    if (len + n + 1 > size)
        goto too_long;
    memcpy(path + len, buf, n);
    path[len + n] = '\0';
    return 0;
too_long:
    pr_error_set(err, -ENAMETOOLONG, "the query is too long");
    pr_error_set_path(err, name);
    return -ENAMETOOLONG;
}

/* ---- answers ---- */

enum remote_outcome remote_status_outcome(long status)
{
    if (status >= 200 && status < 300)
        return REMOTE_OK;
    switch (status) {
    case 404: case 409: case 412:
        return REMOTE_NO;
    case 400: case 405: case 413: case 415: case 422:
        return REMOTE_BAD_INPUT;
    case 401: case 403:
        return REMOTE_AUTH;
    default:
        return REMOTE_FAILURE;
    }
}

static void copy_member(char *out, size_t size, json_t *object, const char *key)
{
    const char *text = json_string_value(json_object_get(object, key));
    snprintf(out, size, "%s", text ? text : "");
}

static bool json_content_type(const char *content_type, const char *body, size_t len)
{
    if (content_type && content_type[0]) {
        size_t type_len = strcspn(content_type, "; ");
        return type_len == 16 && strncasecmp(content_type, "application/json", 16) == 0;
    }
    size_t i = 0;
    while (i < len && isspace((unsigned char)body[i]))
        i++;
    return i < len && (body[i] == '{' || body[i] == '[');
}

int remote_response_decode(long status, const char *content_type, const char *body, size_t len,
                           struct remote_response *resp, struct pr_error *err)
{
    memset(resp, 0, sizeof *resp);
    resp->status = status;
    snprintf(resp->content_type, sizeof resp->content_type, "%s", content_type ? content_type : "");
    resp->body = malloc(len + 1);
    if (!resp->body)
        return pr_error_set(err, -ENOMEM, "out of memory");
    if (len)
        memcpy(resp->body, body, len);
    resp->body[len] = '\0';
    resp->body_len = len;
    if (!json_content_type(content_type, resp->body, len))
        return 0;
    json_error_t jerr;
    resp->json = json_loadb(resp->body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!resp->json) {
        pr_error_set_at(err, -EBADMSG, (unsigned)(jerr.line > 0 ? jerr.line : 0),
                        (unsigned)(jerr.column > 0 ? jerr.column : 0),
                        "the answer (HTTP %ld) is not JSON: %s", status, jerr.text);
        return -EBADMSG;
    }
    json_t *error = json_object_get(resp->json, "error");
    if (status >= 400 && json_is_object(error)) {
        resp->has_error = true;
        copy_member(resp->error.code, sizeof resp->error.code, error, "code");
        copy_member(resp->error.message, sizeof resp->error.message, error, "message");
        copy_member(resp->error.field, sizeof resp->error.field, error, "field");
        json_t *conflict = json_object_get(error, "conflict");
        if (json_is_object(conflict))
            resp->error.conflict = json_incref(conflict);
        json_t *diagnostics = json_object_get(resp->json, "diagnostics");
        if (json_is_array(diagnostics))
            resp->error.diagnostics = json_incref(diagnostics);
    }
    return 0;
}

void remote_response_free(struct remote_response *resp)
{
    free(resp->body);
    json_decref(resp->json);
    json_decref(resp->error.conflict);
    json_decref(resp->error.diagnostics);
    memset(resp, 0, sizeof *resp);
}

/* ---- transport ---- */

struct remote_client {
    struct curl_api api;
    CURL *curl;
    struct remote_config cfg;
    char curl_message[CURL_ERROR_SIZE];
    /* the answer being received */
    char *body;
    size_t body_len, body_capacity;
    bool too_big;
    char request_id[80];
};

static size_t on_body(char *data, size_t size, size_t count, void *user)
{
    struct remote_client *c = user;
    size_t n = size * count;
    if (c->body_len + n + 1 > REMOTE_MAX_RESPONSE) {
        c->too_big = true;
        return 0;
    }
    if (c->body_len + n + 1 > c->body_capacity) {
        size_t capacity = c->body_capacity ? c->body_capacity : 16384;
        while (capacity < c->body_len + n + 1)
            capacity *= 2;
        char *grown = realloc(c->body, capacity);
        if (!grown)
            return 0;
        c->body = grown;
        c->body_capacity = capacity;
    }
    memcpy(c->body + c->body_len, data, n);
    c->body_len += n;
    return n;
}

static size_t on_header(char *data, size_t size, size_t count, void *user)
{
    struct remote_client *c = user;
    size_t n = size * count;
    static const char name[] = "x-request-id:";
    if (n > sizeof name - 1 && strncasecmp(data, name, sizeof name - 1) == 0) {
        const char *value = data + sizeof name - 1;
        size_t len = n - (sizeof name - 1);
        while (len && (*value == ' ' || *value == '\t'))
            value++, len--;
        while (len && (value[len - 1] == '\r' || value[len - 1] == '\n' || value[len - 1] == ' '))
            len--;
        if (len >= sizeof c->request_id)
            len = sizeof c->request_id - 1;
        memcpy(c->request_id, value, len);
        c->request_id[len] = '\0';
    }
    return n;
}

int remote_client_open(struct remote_client **out, const struct remote_config *cfg, struct pr_error *err)
{
    *out = NULL;
    if (cfg->cacert[0] && access(cfg->cacert, R_OK) < 0) {
        int code = -errno;
        pr_error_set(err, code, "cannot read the CA certificate: %s", strerror(errno));
        pr_error_set_path(err, cfg->cacert);
        return code;
    }
    struct remote_client *c = calloc(1, sizeof *c);
    if (!c)
        return pr_error_set(err, -ENOMEM, "out of memory");
    c->cfg = *cfg;
    if (curl_api_load(&c->api, err) < 0) {
        int code = err ? err->code : -ENOPKG;
        free(c);
        return code;
    }
    if (c->api.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(c->curl = c->api.easy_init())) {
        curl_api_unload(&c->api);
        free(c);
        return pr_error_set(err, -EIO, "cannot initialise libcurl");
    }
    *out = c;
    return 0;
}

void remote_client_close(struct remote_client *c)
{
    if (!c)
        return;
    c->api.easy_cleanup(c->curl);
    c->api.global_cleanup();
    /* libcurl is not dlclose()d: GnuTLS, which it pulls in, keeps thread-local state, and
     * unmapping a library with live TLS blocks made LeakSanitizer crash walking the dynamic TLS
     * vector at exit (every ASan run of portreg remote aborted); it goes with the process. */
    free(c->body);
    explicit_bzero(c->cfg.token, sizeof c->cfg.token);
    free(c);
}

/* libcurl's progress callback (about once a second while it waits, more often while data
 * moves): non-zero aborts the exchange (CURLE_ABORTED_BY_CALLBACK). */
static int on_progress(void *data, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    const struct remote_client *c = data;
    return c->cfg.stop && *c->cfg.stop ? 1 : 0;
}

static int curl_failure(struct remote_client *c, CURLcode rc, struct pr_error *err)
{
    const char *reason = c->curl_message[0] ? c->curl_message : c->api.easy_strerror(rc);
    int code;
    const char *what;
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
        code = -ECONNREFUSED, what = "cannot connect";
        break;
    case CURLE_COULDNT_RESOLVE_HOST: case CURLE_COULDNT_RESOLVE_PROXY:
        code = -EHOSTUNREACH, what = "cannot find the server";
        break;
    case CURLE_OPERATION_TIMEDOUT:
        code = -ETIMEDOUT, what = "no answer in time";
        break;
    case CURLE_SSL_CONNECT_ERROR: case CURLE_PEER_FAILED_VERIFICATION: case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM: case CURLE_SSL_CIPHER: case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE: case CURLE_SSL_ENGINE_INITFAILED: case CURLE_USE_SSL_FAILED:
        code = -EPROTO, what = "TLS failed";
        break;
    case CURLE_OUT_OF_MEMORY:
        code = -ENOMEM, what = "out of memory";
        break;
    case CURLE_ABORTED_BY_CALLBACK:
        return pr_error_set(err, -EINTR, "%s: stopped before the server answered", c->cfg.server);
    default:
        if (c->too_big)
            return pr_error_set(err, -EFBIG, "%s: the answer is larger than %u MiB", c->cfg.server,
                                REMOTE_MAX_RESPONSE >> 20);
        code = -EIO, what = "the exchange failed";
        break;
    }
    pr_error_set(err, code, "%s: %s: %s", c->cfg.server, what, reason);
    return code;
}

int remote_call(struct remote_client *c, const struct remote_request *request, struct remote_response *resp,
                struct pr_error *err)
{
    memset(resp, 0, sizeof *resp);
    if (request->idempotency_key && (!request->idempotency_key[0] || strlen(request->idempotency_key) > 128 ||
                                     strpbrk(request->idempotency_key, "\r\n") ||
                                     !printable_ascii(request->idempotency_key))) {
        pr_error_set(err, -EINVAL, "1-128 printable characters without spaces");
        pr_error_set_path(err, "Idempotency-Key");
        return -EINVAL;
    }
    char url[8192];
    int n = snprintf(url, sizeof url, "%s%s", c->cfg.server, request->path);
    if (n < 0 || (size_t)n >= sizeof url)
        return pr_error_set(err, -ENAMETOOLONG, "the URL is too long");

    struct curl_slist *headers = NULL;
    char line[512];
    const struct curl_api *api = &c->api;
    bool ok = (headers = api->slist_append(headers, "Accept: application/json")) != NULL;
    ok = ok && (headers = api->slist_append(headers, "Expect:")) != NULL;   /* no 100-continue wait */
    if (ok && c->cfg.token[0]) {
        snprintf(line, sizeof line, "Authorization: Bearer %s", c->cfg.token);
        ok = (headers = api->slist_append(headers, line)) != NULL;
        explicit_bzero(line, sizeof line);
    }
    if (ok && request->body) {
        snprintf(line, sizeof line, "Content-Type: %s",
                 request->content_type ? request->content_type : "application/json");
        ok = (headers = api->slist_append(headers, line)) != NULL;
    }
    if (ok && request->body && request->content_encoding) {
        snprintf(line, sizeof line, "Content-Encoding: %s", request->content_encoding);
        ok = (headers = api->slist_append(headers, line)) != NULL;
    }
    if (ok && request->idempotency_key) {
        snprintf(line, sizeof line, "Idempotency-Key: %s", request->idempotency_key);
        ok = (headers = api->slist_append(headers, line)) != NULL;
    }
    if (!ok) {
        api->slist_free_all(headers);
        return pr_error_set(err, -ENOMEM, "out of memory");
    }

    CURL *curl = c->curl;
    c->curl_message[0] = '\0';
    c->body_len = 0;
    c->too_big = false;
    c->request_id[0] = '\0';
    api->easy_setopt(curl, CURLOPT_URL, url);
    api->easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    api->easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);   /* never hand the token to another place */
    api->easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    api->easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
    api->easy_setopt(curl, CURLOPT_TIMEOUT, c->cfg.timeout_seconds);
    api->easy_setopt(curl, CURLOPT_USERAGENT, "portreg/" PORTREG_VERSION);
    api->easy_setopt(curl, CURLOPT_ERRORBUFFER, c->curl_message);
    api->easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    api->easy_setopt(curl, CURLOPT_WRITEDATA, c);
    api->easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    api->easy_setopt(curl, CURLOPT_HEADERDATA, c);
    api->easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    api->easy_setopt(curl, CURLOPT_NOPROGRESS, c->cfg.stop ? 0L : 1L);
    api->easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    api->easy_setopt(curl, CURLOPT_XFERINFODATA, c);
    if (c->cfg.cacert[0])
        api->easy_setopt(curl, CURLOPT_CAINFO, c->cfg.cacert);
    if (request->body || strcmp(request->method, "GET") != 0) {
        api->easy_setopt(curl, CURLOPT_POST, 1L);
        api->easy_setopt(curl, CURLOPT_POSTFIELDS, request->body ? request->body : "");
        api->easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(request->body ? request->body_len : 0));
        api->easy_setopt(curl, CURLOPT_CUSTOMREQUEST,
                         strcmp(request->method, "POST") == 0 ? NULL : request->method);
    } else {
        api->easy_setopt(curl, CURLOPT_CUSTOMREQUEST, NULL);
        api->easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    }
    CURLcode rc = api->easy_perform(curl);
    api->easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
    api->slist_free_all(headers);
    if (rc != CURLE_OK)
        return curl_failure(c, rc, err);
    long status = 0;
    char *content_type = NULL;
    api->easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    api->easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &content_type);
    int r = remote_response_decode(status, content_type, c->body ? c->body : "", c->body_len, resp, err);
    snprintf(resp->request_id, sizeof resp->request_id, "%s", c->request_id);
    if (r < 0)
        pr_error_set_path(err, c->cfg.server);
    return r;
}
