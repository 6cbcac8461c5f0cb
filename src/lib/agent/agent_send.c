/* agent_send.c — gzip and POST one report, classify the answer (see agent_send.h). */
#include "agent/agent_send.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "util/dl_symbols.h"
#include "util/text_escape.h"

/* zlib through dlopen, as libcurl (which links it: the agent maps it anyway), so that the
 * portreg binary does not need it for its other commands (their start-up time). */
struct zlib_api {
    void *handle;
    __typeof__(&deflateInit2_) init2;
    __typeof__(&deflate) deflate;
    __typeof__(&deflateEnd) end;
    __typeof__(&deflateBound) bound;
};

static int zlib_api_load(struct zlib_api *api, struct pr_error *err)
{
    static const char *const sonames[] = { "libz.so.1" };
    static const struct dl_library library = { "zlib", "zlib1g", sonames, 1 };
    memset(api, 0, sizeof *api);
    const struct dl_symbol symbols[] = {
        DL_SYMBOL(&api->init2, deflateInit2_),
        DL_SYMBOL(&api->deflate, deflate),
        DL_SYMBOL(&api->end, deflateEnd),
        DL_SYMBOL(&api->bound, deflateBound),
    };
    return dl_symbols_load(&library, symbols, sizeof symbols / sizeof symbols[0], 0, &api->handle, err);
}

int agent_gzip(const void *data, size_t len, unsigned char **out, size_t *out_len, struct pr_error *err)
{
    *out = NULL;
    *out_len = 0;
    static struct zlib_api zlib;   /* loaded once, kept for the process's life */
    if (!zlib.handle) {
        int r = zlib_api_load(&zlib, err);
        if (r < 0)
            return r;
    }
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    /* windowBits 15 + 16: a gzip header and trailer, what Content-Encoding: gzip means
     * (deflateInit2 is a macro over deflateInit2_ with the header's version and size) */
    if (zlib.init2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION,
                   (int)sizeof zs) != Z_OK)
        return pr_error_set(err, -ENOMEM, "cannot initialise zlib");
    uLong bound = zlib.bound(&zs, (uLong)len);
    unsigned char *buf = malloc(bound ? bound : 1);
    if (!buf) {
        zlib.end(&zs);
        return pr_error_set(err, -ENOMEM, "out of memory");
    }
    zs.next_in = (Bytef *)(uintptr_t)data;
    zs.avail_in = (uInt)len;
    zs.next_out = buf;
    zs.avail_out = (uInt)bound;
    int z = zlib.deflate(&zs, Z_FINISH);
    size_t produced = zs.total_out;
    zlib.end(&zs);
    if (z != Z_STREAM_END) {
        free(buf);
        return pr_error_set(err, -EIO, "zlib could not compress the report");
    }
    *out = buf;
    *out_len = produced;
    return 0;
}

static void escaped(char *buf, size_t size, const char *text)
{
    text_escape(text, strlen(text), buf, size);
}

int agent_send_report(struct remote_client *client, const json_t *doc, uint64_t sent_seq, struct agent_answer *answer,
                      struct pr_error *err)
{
    memset(answer, 0, sizeof *answer);
    answer->listeners = -1;
    char *text = json_dumps(doc, JSON_COMPACT);
    if (!text)
        return pr_error_set(err, -ENOMEM, "out of memory");
    answer->body_bytes = strlen(text);
    unsigned char *gz;
    size_t gz_len;
    int r = agent_gzip(text, answer->body_bytes, &gz, &gz_len, err);
    free(text);
    if (r < 0)
        return r;
    answer->sent_bytes = gz_len;
    struct remote_request request = {
        .method = "POST", .path = AGENT_OBSERVATIONS_PATH, .content_type = "application/json",
        .body = (const char *)gz, .body_len = gz_len, .content_encoding = "gzip",
    };
    struct remote_response resp;
    struct pr_error call_err;
    pr_error_clear(&call_err);
    r = remote_call(client, &request, &resp, &call_err);
    free(gz);
    if (r == -ENOMEM || r == -ENOPKG) {
        if (err)
            *err = call_err;
        return r;
    }
    if (r < 0) {   /* no answer, or an answer that is not what it says it is */
        answer->kind = AGENT_ANSWER_UNAVAILABLE;
        escaped(answer->message, sizeof answer->message, call_err.message);
        return 0;
    }
    answer->status = resp.status;
    if (resp.status >= 200 && resp.status < 300) {
        answer->kind = AGENT_ANSWER_ACCEPTED;
        const json_t *seq = json_object_get(resp.json, "seq"), *n = json_object_get(resp.json, "listeners");
        answer->seq = json_is_integer(seq) && json_integer_value(seq) >= 0 ? (uint64_t)json_integer_value(seq) : sent_seq;
        if (json_is_integer(n))
            answer->listeners = json_integer_value(n);
    } else {
        const char *why = resp.has_error && resp.error.message[0] ? resp.error.message : "";
        char detail[600];
        escaped(detail, sizeof detail, why);
        if (resp.has_error && resp.error.field[0]) {
            char field[160];
            escaped(field, sizeof field, resp.error.field);
            snprintf(answer->message, sizeof answer->message, "%.500s (field %.150s)", detail, field);
        } else {
            snprintf(answer->message, sizeof answer->message, "%s", detail);
        }
        if (resp.status == 409)
            answer->kind = AGENT_ANSWER_RESYNC;
        else if (resp.status >= 400 && resp.status < 500 && resp.status != 408 && resp.status != 429)
            answer->kind = AGENT_ANSWER_REFUSED;
        else
            answer->kind = AGENT_ANSWER_UNAVAILABLE;
    }
    remote_response_free(&resp);
    return 0;
}
