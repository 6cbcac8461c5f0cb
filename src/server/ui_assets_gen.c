/* ui_assets_gen.c — a build-time tool (meson custom_target): embed the web UI's files in C.
 * Usage: ui_assets_gen OUT.c INDEX.html ASSET... Each asset gets a content hash (XXH3-128,
 * libxxhash's header), a gzip copy (zlib, level 9) and the URL /ui/NAME.HASH16.EXT; in
 * INDEX.html every "@NAME@" is replaced by that URL, so a changed file is a new URL (cached
 * forever) while index.html itself is revalidated. Written in C: python3 is not a build
 * dependency, and xxd -i makes neither the hash nor the gzip copy. */
#define XXH_INLINE_ALL
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include <zlib.h>

struct asset {
    const char *path, *name, *type;
    unsigned char *bytes, *gzip;
    size_t len, gzip_len;
    char hash[33];
    char url[256];
};

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 65536, n = 0;
    unsigned char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            unsigned char *grown = realloc(buf, cap *= 2);
            if (!grown) {
                free(buf);
                buf = NULL;
            }
            buf = grown;
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

static unsigned char *gzip_bytes(const unsigned char *in, size_t len, size_t *out_len)
{
    z_stream z = { 0 };
    if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    uLong bound = deflateBound(&z, (uLong)len) + 64;
    unsigned char *out = malloc(bound);
    z.next_in = (Bytef *)(size_t)in;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)bound;
    if (!out || deflate(&z, Z_FINISH) != Z_STREAM_END) {
        free(out);
        deflateEnd(&z);
        return NULL;
    }
    *out_len = z.total_out;
    deflateEnd(&z);
    return out;
}

static const char *content_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (dot && strcmp(dot, ".html") == 0)
        return "text/html; charset=utf-8";
    if (dot && strcmp(dot, ".js") == 0)
        return "text/javascript; charset=utf-8";
    if (dot && strcmp(dot, ".css") == 0)
        return "text/css; charset=utf-8";
    if (dot && strcmp(dot, ".svg") == 0)
        return "image/svg+xml";
    return "application/octet-stream";
}

static void finish(struct asset *a)
{
    XXH128_hash_t h = XXH3_128bits(a->bytes, a->len);
    snprintf(a->hash, sizeof a->hash, "%016llx%016llx", (unsigned long long)h.high64, (unsigned long long)h.low64);
    a->gzip = gzip_bytes(a->bytes, a->len, &a->gzip_len);
}

/* index.html with every "@NAME@" of an asset replaced by its URL. */
static void substitute(struct asset *index, const struct asset *assets, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        char pattern[260];
        snprintf(pattern, sizeof pattern, "@%s@", assets[i].name);
        size_t plen = strlen(pattern), ulen = strlen(assets[i].url);
        for (;;) {
            unsigned char *at = memmem(index->bytes, index->len, pattern, plen);
            if (!at)
                break;
            size_t before = (size_t)(at - index->bytes), after = index->len - before - plen;
            unsigned char *next = malloc(before + ulen + after + 1);
            if (!next)
                exit(1);
            memcpy(next, index->bytes, before);
            memcpy(next + before, assets[i].url, ulen);
            memcpy(next + before + ulen, at + plen, after);
            free(index->bytes);
            index->bytes = next;
            index->len = before + ulen + after;
        }
    }
}

static void write_bytes(FILE *out, const char *var, const unsigned char *bytes, size_t len)
{
    fprintf(out, "static const unsigned char %s[%zu] = {", var, len ? len : 1);
    for (size_t i = 0; i < len; i++)
        fprintf(out, "%s%u,", i % 24 == 0 ? "\n    " : "", bytes[i]);
    fprintf(out, "%s\n};\n", len ? "" : "0");
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s OUT.c INDEX.html [ASSET...]\n", argv[0]);
        return 2;
    }
    size_t count = (size_t)argc - 2;
    struct asset *assets = calloc(count, sizeof *assets);
    if (!assets)
        return 1;
    for (size_t i = 0; i < count; i++) {
        struct asset *a = &assets[i];
        a->path = argv[i + 2];
        const char *slash = strrchr(a->path, '/');
        a->name = slash ? slash + 1 : a->path;
        a->type = content_type(a->name);
        if (!(a->bytes = read_file(a->path, &a->len))) {
            fprintf(stderr, "ui_assets_gen: cannot read %s\n", a->path);
            return 1;
        }
    }
    /* the assets first (their URLs go into index.html), index.html (assets[0]) last */
    for (size_t i = 1; i < count; i++) {
        struct asset *a = &assets[i];
        finish(a);
        const char *dot = strrchr(a->name, '.');
        int stem = dot ? (int)(dot - a->name) : (int)strlen(a->name);
        snprintf(a->url, sizeof a->url, "/ui/%.*s.%.16s%s", stem, a->name, a->hash, dot ? dot : "");
    }
    substitute(&assets[0], assets + 1, count - 1);
    finish(&assets[0]);
    snprintf(assets[0].url, sizeof assets[0].url, "/");
    FILE *out = fopen(argv[1], "w");
    if (!out)
        return 1;
    fprintf(out, "/* generated by ui_assets_gen from web/: do not edit */\n#include \"server/ui_assets.h\"\n\n");
    for (size_t i = 0; i < count; i++) {
        char var[32];
        snprintf(var, sizeof var, "asset_%zu", i);
        write_bytes(out, var, assets[i].bytes, assets[i].len);
        snprintf(var, sizeof var, "asset_%zu_gzip", i);
        write_bytes(out, var, assets[i].gzip, assets[i].gzip_len);
    }
    fprintf(out, "\nconst struct ui_asset ui_assets[] = {\n");
    for (size_t i = 0; i < count; i++)
        fprintf(out, "    { \"%s\", \"%s\", \"%s\", asset_%zu, asset_%zu_gzip, %zu, %zu, \"\\\"%s\\\"\", "
                "\"\\\"%s-gz\\\"\", %s },\n",
                assets[i].name, assets[i].url, assets[i].type, i, i, assets[i].len, assets[i].gzip_len,
                assets[i].hash, assets[i].hash, i == 0 ? "false" : "true");
    fprintf(out, "};\nconst size_t ui_asset_count = %zu;\n", count);
    int bad = ferror(out);
    if (fclose(out) != 0 || bad)
        return 1;
    for (size_t i = 0; i < count; i++) {
        free(assets[i].bytes);
        free(assets[i].gzip);
    }
    free(assets);
    return 0;
}
