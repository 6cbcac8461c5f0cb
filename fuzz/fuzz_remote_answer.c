/* fuzz_remote_answer.c — libFuzzer harness for what portreg remote parses from outside
 * (src/lib/remote/remote_client.c): a server's answer (the first byte picks the status class
 * and the content type, the rest is the body) and a server URL and token from the environment
 * (the input cut at its first NUL). Checks: the decoder never crashes or leaks, the raw body is
 * kept byte for byte, an error document's texts are NUL-terminated, an accepted URL starts with
 * http:// or https:// and has no space, control byte, '@', '?' or '#'. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "remote/remote_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const long statuses[] = { 200, 201, 400, 404, 409, 422, 500, 502 };
    static const char *const types[] = { "application/json", "text/plain", NULL, "application/json; charset=utf-8" };
    long status = statuses[data[0] & 7];
    const char *type = types[(data[0] >> 3) & 3];
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    struct remote_response resp;
    struct pr_error err;
    remote_response_decode(status, type, body, len, &resp, &err);
    if (resp.body && (resp.body_len != len || memcmp(resp.body, body, len) != 0))
        abort();
    if (resp.has_error && (strlen(resp.error.code) >= sizeof resp.error.code ||
                           strlen(resp.error.message) >= sizeof resp.error.message))
        abort();
    remote_response_free(&resp);

    char *text = malloc(len + 1);
    if (!text)
        return 0;
    memcpy(text, body, len);
    text[len] = '\0';
    struct remote_config cfg;
    if (remote_config_init(&cfg, NULL, NULL, NULL, text, text, NULL, &err) == 0) {
        if (strncmp(cfg.server, "http://", 7) != 0 && strncmp(cfg.server, "https://", 8) != 0)
            abort();
        const char *rest = strstr(cfg.server, "://") + 3;
        for (const char *p = rest; *p; p++)
            if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '@' || *p == '?' || *p == '#')
                abort();
    }
    free(text);
    return 0;
}
