/* ledger_observation_body.c — the agent report's bytes to a checked JSON object: gzip bodies
 * inflated with zlib under a size cap, then every field of the contract
 * (/work notes: agent-protocol, docs/API.md "Observations") checked, the bad one named as a
 * JSON path. Pure: the fuzzer (fuzz/fuzz_observation_body.c) sees what the server sees. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "ledger/ledger_body.h"
#include "ledger/ledger_fleet.h"

int ledger_gunzip(const char *data, size_t len, size_t max, char **out, size_t *out_len, struct ledger_error *lerr)
{
    z_stream zs = { 0 };
    /* 16 + MAX_WBITS: a gzip header and trailer (zlib checks the CRC) */
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
        return ledger_fail(lerr, LEDGER_INTERNAL, "zlib", "", "zlib could not start");
    size_t cap = len * 4 + 1024 < max + 1 ? len * 4 + 1024 : max + 1;
    char *buf = malloc(cap + 1);
    if (!buf) {
        inflateEnd(&zs);
        return ledger_fail(lerr, LEDGER_INTERNAL, "out-of-memory", "", "out of memory");
    }
    zs.next_in = (Bytef *)(uintptr_t)data;
    zs.avail_in = (uInt)len;
    size_t used = 0;
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
        if (used == cap) {
            if (cap > max) {
                free(buf);
                inflateEnd(&zs);
                return ledger_fail(lerr, LEDGER_BAD_REQUEST, "too-large", "",
                                   "the decompressed body is larger than %zu bytes", max);
            }
            size_t grown_cap = cap * 2 < max + 1 ? cap * 2 : max + 1;
            char *grown = realloc(buf, grown_cap + 1);
            if (!grown) {
                free(buf);
                inflateEnd(&zs);
                return ledger_fail(lerr, LEDGER_INTERNAL, "out-of-memory", "", "out of memory");
            }
            buf = grown;
            cap = grown_cap;
        }
        zs.next_out = (Bytef *)(buf + used);
        zs.avail_out = (uInt)(cap - used);
        rc = inflate(&zs, Z_NO_FLUSH);
        used = cap - zs.avail_out;
        if (rc == Z_BUF_ERROR && zs.avail_in == 0)
            break;
        if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
            break;
    }
    inflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        free(buf);
        return ledger_fail(lerr, LEDGER_BAD_REQUEST, "bad-gzip", "", "the body is not a complete gzip stream");
    }
    if (used > max) {
        free(buf);
        return ledger_fail(lerr, LEDGER_BAD_REQUEST, "too-large", "", "the decompressed body is larger than %zu bytes",
                           max);
    }
    buf[used] = '\0';
    *out = buf;
    *out_len = used;
    return 0;
}

const char *ledger_listener_key(const json_t *listener, char *buf, size_t size)
{
    const char *proto = json_string_value(json_object_get(listener, "proto"));
    const char *address = json_string_value(json_object_get(listener, "local_address"));
    const char *netns = json_string_value(json_object_get(listener, "netns"));
    snprintf(buf, size, "%s|%s|%lld|%s", proto ? proto : "", address ? address : "",
             (long long)json_integer_value(json_object_get(listener, "local_port")), netns ? netns : "host");
    return buf;
}

static int bad(struct ledger_error *lerr, const char *field, const char *what)
{
    return ledger_fail(lerr, LEDGER_BAD_REQUEST, "bad-value", field, "%s: %s", field, what);
}

static bool optional_string(const json_t *v, size_t max)
{
    return !v || json_is_null(v) || (json_is_string(v) && json_string_length(v) <= max);
}

/* One LISTENER (key_only: the four key fields of "removed"). */
static int check_listener(const json_t *l, const char *path, bool key_only, struct ledger_error *lerr)
{
    char field[128];
    if (!json_is_object(l))
        return bad(lerr, path, "must be an object");
    static const char *const keys[] = { "proto", "local_address", "local_port", "netns", "process", "pid",
                                        "user", "unit", "container", "exposure", NULL };
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)(uintptr_t)l, name, v) {
        size_t k = 0;
        while (keys[k] && strcmp(keys[k], name) != 0)
            k++;
        if (!keys[k] || (key_only && k >= 4)) {
            snprintf(field, sizeof field, "%s.%.60s", path, name);
            return ledger_fail(lerr, LEDGER_BAD_REQUEST, "unknown-field", field, "%s: unknown field", field);
        }
    }
    const char *proto = json_string_value(json_object_get(l, "proto"));
    snprintf(field, sizeof field, "%s.proto", path);
    if (!proto || !ledger_proto_valid(proto))
        return bad(lerr, field, "must be tcp, udp, sctp or dccp");
    const char *address = json_string_value(json_object_get(l, "local_address"));
    unsigned char bytes[16];
    snprintf(field, sizeof field, "%s.local_address", path);
    if (!address || (inet_pton(AF_INET, address, bytes) != 1 && inet_pton(AF_INET6, address, bytes) != 1))
        return bad(lerr, field, "must be an IPv4 or IPv6 address");
    json_t *port = json_object_get(l, "local_port");
    snprintf(field, sizeof field, "%s.local_port", path);
    if (!json_is_integer(port) || json_integer_value(port) < 0 || json_integer_value(port) > 65535)
        return bad(lerr, field, "must be a port 0-65535");
    json_t *netns = json_object_get(l, "netns");
    snprintf(field, sizeof field, "%s.netns", path);
    if (!json_is_string(netns) || json_string_length(netns) == 0 || json_string_length(netns) > 255)
        return bad(lerr, field, "must be \"host\" or a namespace name");
    if (key_only)
        return 0;
    static const char *const texts[] = { "process", "user", "unit", "container", "exposure", NULL };
    for (size_t i = 0; texts[i]; i++)
        if (!optional_string(json_object_get(l, texts[i]), 1024)) {
            snprintf(field, sizeof field, "%s.%s", path, texts[i]);
            return bad(lerr, field, "must be a string (at most 1024 bytes) or null");
        }
    json_t *pid = json_object_get(l, "pid");
    snprintf(field, sizeof field, "%s.pid", path);
    if (pid && !json_is_null(pid) && (!json_is_integer(pid) || json_integer_value(pid) < 1 ||
                                      json_integer_value(pid) > 4194304))
        return bad(lerr, field, "must be a process id or null");
    return 0;
}

static int check_listeners(const json_t *array, const char *name, bool key_only, struct ledger_error *lerr)
{
    if (!json_is_array(array))
        return bad(lerr, name, "must be an array");
    json_t *seen = json_object();
    size_t i;
    json_t *l;
    int r = 0;
    json_array_foreach(array, i, l) {
        char path[64], key[320];
        snprintf(path, sizeof path, "%s[%zu]", name, i);
        if ((r = check_listener(l, path, key_only, lerr)) < 0)
            break;
        ledger_listener_key(l, key, sizeof key);
        if (json_object_get(seen, key)) {
            r = ledger_fail(lerr, LEDGER_BAD_REQUEST, "duplicate", path, "%s: the same socket twice", path);
            break;
        }
        json_object_set_new(seen, key, json_true());
    }
    json_decref(seen);
    return r;
}

static int check_findings(const json_t *findings, struct ledger_error *lerr)
{
    if (!json_is_array(findings))
        return bad(lerr, "findings", "must be an array");
    size_t i;
    json_t *f;
    json_array_foreach(findings, i, f) {
        char path[64], field[128];
        snprintf(path, sizeof path, "findings[%zu]", i);
        if (!json_is_object(f))
            return bad(lerr, path, "must be an object");
        const char *name;
        json_t *v;
        json_object_foreach(f, name, v) {
            snprintf(field, sizeof field, "%s.%.40s", path, name);
            bool text = strcmp(name, "severity") == 0 || strcmp(name, "code") == 0 || strcmp(name, "message") == 0 ||
                        strcmp(name, "proto") == 0;
            if (text && !(json_is_string(v) && json_string_length(v) <= 2000))
                return bad(lerr, field, "must be a string");
            if (strcmp(name, "port") == 0 && !json_is_null(v) &&
                !(json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 65535))
                return bad(lerr, field, "must be a port or null");
            if (!text && strcmp(name, "port") != 0)
                return ledger_fail(lerr, LEDGER_BAD_REQUEST, "unknown-field", field, "%s: unknown field", field);
        }
    }
    return 0;
}

static int check_reserved(const json_t *v, struct ledger_error *lerr)
{
    if (!json_is_string(v) || json_string_length(v) > 65536)
        return bad(lerr, "reserved", "must be the text of ip_local_reserved_ports");
    for (const char *p = json_string_value(v); *p; p++)
        if (!((*p >= '0' && *p <= '9') || *p == ',' || *p == '-' || *p == ' ' || *p == '\n'))
            return bad(lerr, "reserved", "must be ports and ranges separated by commas");
    return 0;
}

int ledger_observation_validate(const json_t *body, struct ledger_error *lerr)
{
    if (!json_is_object(body))
        return ledger_fail(lerr, LEDGER_BAD_REQUEST, "bad-json", "", "the body must be a JSON object");
    static const char *const known[] = { "host", "seq", "full", "base", "agent", "ephemeral", "reserved",
                                         "listeners", "added", "removed", "findings", NULL };
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)(uintptr_t)body, name, v) {
        size_t k = 0;
        while (known[k] && strcmp(known[k], name) != 0)
            k++;
        if (!known[k])
            return ledger_fail(lerr, LEDGER_BAD_REQUEST, "unknown-field", name, "%.60s: unknown field", name);
    }
    const char *host = json_string_value(json_object_get(body, "host"));
    if (!host || !ledger_name_valid(host))
        return bad(lerr, "host", "must be a host name");
    json_t *seq = json_object_get(body, "seq");
    if (!json_is_integer(seq) || json_integer_value(seq) < 0)
        return bad(lerr, "seq", "must be an integer >= 0");
    json_t *full = json_object_get(body, "full");
    if (!json_is_boolean(full))
        return bad(lerr, "full", "must be true or false");
    json_t *base = json_object_get(body, "base");
    if (json_is_true(full)) {
        if (base)
            return bad(lerr, "base", "only in a delta report (full false)");
        if (json_object_get(body, "added") || json_object_get(body, "removed"))
            return bad(lerr, json_object_get(body, "added") ? "added" : "removed",
                       "only in a delta report; a full report sends listeners");
        if (!json_object_get(body, "listeners"))
            return bad(lerr, "listeners", "a full report needs listeners");
    } else {
        if (!json_is_integer(base) || json_integer_value(base) < 0)
            return bad(lerr, "base", "a delta report needs base, the last acknowledged seq");
        if (json_integer_value(seq) <= json_integer_value(base))
            return bad(lerr, "seq", "must be greater than base");
        if (json_object_get(body, "listeners"))
            return bad(lerr, "listeners", "only in a full report; a delta sends added and removed");
    }
    json_t *agent = json_object_get(body, "agent");
    if (agent) {
        if (!json_is_object(agent))
            return bad(lerr, "agent", "must be an object");
        json_object_foreach(agent, name, v) {
            char field[96];
            snprintf(field, sizeof field, "agent.%.60s", name);
            if (strcmp(name, "version") == 0 ? !(json_is_string(v) && json_string_length(v) <= 64)
                : strcmp(name, "interval_s") == 0 ? !(json_is_integer(v) && json_integer_value(v) >= 1 &&
                                                      json_integer_value(v) <= 86400)
                : true)
                return bad(lerr, field, strcmp(name, "interval_s") == 0 ? "must be seconds, 1-86400"
                           : strcmp(name, "version") == 0 ? "must be a string" : "unknown field");
        }
    }
    json_t *eph = json_object_get(body, "ephemeral");
    if (eph) {
        json_t *lo = json_object_get(eph, "lo"), *hi = json_object_get(eph, "hi");
        if (!json_is_object(eph) || json_object_size(eph) != 2 || !json_is_integer(lo) || !json_is_integer(hi) ||
            json_integer_value(lo) < 1 || json_integer_value(hi) > 65535 || json_integer_value(lo) > json_integer_value(hi))
            return bad(lerr, "ephemeral", "must be {\"lo\":N,\"hi\":M}, 1 <= N <= M <= 65535");
    }
    if (json_object_get(body, "reserved") && check_reserved(json_object_get(body, "reserved"), lerr) < 0)
        return -1;
    if (json_object_get(body, "findings") && check_findings(json_object_get(body, "findings"), lerr) < 0)
        return -1;
    if (json_object_get(body, "listeners") && check_listeners(json_object_get(body, "listeners"), "listeners", false, lerr) < 0)
        return -1;
    if (json_object_get(body, "added") && check_listeners(json_object_get(body, "added"), "added", false, lerr) < 0)
        return -1;
    if (json_object_get(body, "removed") && check_listeners(json_object_get(body, "removed"), "removed", true, lerr) < 0)
        return -1;
    return 0;
}

int ledger_observation_parse(const char *data, size_t len, json_t **out, struct ledger_error *lerr)
{
    json_error_t jerr;
    json_t *body = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!body)
        return ledger_fail(lerr, LEDGER_BAD_REQUEST, "bad-json", "", "the body is not JSON: %s (line %d)", jerr.text,
                           jerr.line);
    if (ledger_observation_validate(body, lerr) < 0) {
        json_decref(body);
        return -1;
    }
    *out = body;
    return 0;
}
