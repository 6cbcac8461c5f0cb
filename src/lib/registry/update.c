/* update.c — fetch, validate and install a new IANA registry (see update.h).
 * Order matters for "nothing half-written": download to memory, parse it all, compare with
 * the current copy, then rename the CSV into place and rebuild the index (also renamed). */
#include "registry/update.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry/iana_csv.h"
#include "util/curl_loader.h"
#include "util/file_io.h"

#define REGISTRY_MAX_DOWNLOAD (64u * 1024u * 1024u)

struct download {
    struct file_buffer buf;
    size_t capacity;
    bool too_big;
    const struct registry_update_options *opt;
};

static size_t download_write(char *data, size_t size, size_t count, void *ctx_ptr)
{
    struct download *d = ctx_ptr;
    size_t n = size * count;
    if (d->buf.size + n + 1 > REGISTRY_MAX_DOWNLOAD) {
        d->too_big = true;
        return 0;
    }
    if (d->buf.size + n + 1 > d->capacity) {
        size_t capacity = d->capacity ? d->capacity : 1u << 20;
        while (capacity < d->buf.size + n + 1)
            capacity *= 2;
        char *grown = realloc(d->buf.data, capacity);
        if (!grown)
            return 0;
        d->buf.data = grown;
        d->capacity = capacity;
    }
    memcpy(d->buf.data + d->buf.size, data, n);
    d->buf.size += n;
    d->buf.data[d->buf.size] = '\0';
    return n;
}

static int download_progress(void *ctx_ptr, curl_off_t total, curl_off_t done, curl_off_t up_total,
                             curl_off_t up_done)
{
    (void)up_total;
    (void)up_done;
    struct download *d = ctx_ptr;
    if (d->opt->progress)
        d->opt->progress(d->opt->progress_ctx, (uint64_t)done, (uint64_t)total);
    return 0;
}

static int fetch_url(const char *url, const struct registry_update_options *opt,
                     struct file_buffer *out, struct pr_error *err)
{
    struct download d = { .opt = opt };
    char curl_message[CURL_ERROR_SIZE] = "";
    struct curl_api api;
    if (curl_api_load(&api, err) < 0)
        return err ? err->code : -ENOPKG;
    if (api.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        curl_api_unload(&api);
        return pr_error_set(err, -EIO, "cannot initialise libcurl");
    }
    CURL *curl = api.easy_init();
    if (!curl) {
        api.global_cleanup();
        curl_api_unload(&api);
        return pr_error_set(err, -ENOMEM, "cannot initialise libcurl");
    }
    api.easy_setopt(curl, CURLOPT_URL, url);
    api.easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
    api.easy_setopt(curl, CURLOPT_FAILONERROR, 1L);
    api.easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 20L);
    api.easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 100L);
    api.easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, 60L);
    api.easy_setopt(curl, CURLOPT_USERAGENT, "portreg/" PORTREG_VERSION);
    api.easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_message);
    api.easy_setopt(curl, CURLOPT_WRITEFUNCTION, download_write);
    api.easy_setopt(curl, CURLOPT_WRITEDATA, &d);
    api.easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, download_progress);
    api.easy_setopt(curl, CURLOPT_XFERINFODATA, &d);
    api.easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    CURLcode rc = api.easy_perform(curl);
    const char *curl_reason = api.easy_strerror(rc);
    char reason[CURL_ERROR_SIZE];
    snprintf(reason, sizeof reason, "%s", curl_message[0] ? curl_message : curl_reason);
    api.easy_cleanup(curl);
    api.global_cleanup();
    curl_api_unload(&api);
    pr_error_set_path(err, url);
    if (d.too_big) {
        free(d.buf.data);
        return pr_error_set(err, -EFBIG, "download exceeds %u MiB: not an IANA registry",
                            REGISTRY_MAX_DOWNLOAD >> 20);
    }
    if (rc != CURLE_OK) {
        free(d.buf.data);
        return pr_error_set(err, rc == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EIO, "download failed: %s",
                            reason);
    }
    if (!d.buf.data) {
        d.buf.data = calloc(1, 1);
        if (!d.buf.data)
            return pr_error_set(err, -ENOMEM, "out of memory");
    }
    *out = d.buf;
    return 0;
}

/* Records in the IANA copy currently installed, or -1. */
static long current_record_count(const char *path)
{
    struct file_buffer buf;
    struct registry_records records = { 0 };
    if (file_read_all(path, &buf, NULL) < 0)
        return -1;
    long n = iana_csv_parse(buf.data, buf.size, &records, NULL);
    file_buffer_free(&buf);
    registry_records_free(&records);
    return n;
}

int registry_update(const struct registry_paths *paths, const struct registry_update_options *opt,
                    struct registry_update_result *result, struct pr_error *err)
{
    const char *source = opt->source ? opt->source : REGISTRY_DEFAULT_URL;
    struct file_buffer buf;
    memset(result, 0, sizeof *result);
    int r = strstr(source, "://") ? fetch_url(source, opt, &buf, err) : file_read_all(source, &buf, err);
    if (r < 0)
        return r;
    result->bytes = buf.size;

    struct registry_records records = { 0 };
    long n = iana_csv_parse(buf.data, buf.size, &records, err);
    if (n < 0) {
        pr_error_set_path(err, source);
        file_buffer_free(&buf);
        registry_records_free(&records);
        return (int)n;
    }
    bool has_assignment = false;
    for (size_t i = 0; i < records.count && !has_assignment; i++)
        has_assignment = records.items[i].has_port && records.items[i].status == REGISTRY_STATUS_ASSIGNED;
    registry_records_free(&records);
    result->records = n;
    result->previous_records = current_record_count(paths->candidate[REGISTRY_CANDIDATE_IANA_CSV]);
    if (!has_assignment) {
        file_buffer_free(&buf);
        pr_error_set_path(err, source);
        return pr_error_set(err, -EINVAL, "no port assignment in this file: not an IANA registry");
    }
    if (!opt->force && result->previous_records > 0 && n * 2 < result->previous_records) {
        file_buffer_free(&buf);
        pr_error_set_path(err, source);
        return pr_error_set(err, -EINVAL,
                            "has %ld records, the installed registry %ld: refusing a registry less "
                            "than half the size (truncated download?); --force accepts it",
                            n, result->previous_records);
    }
    r = dir_create_path(paths->state_dir, err);
    if (r == 0)
        r = file_write_atomic(paths->candidate[REGISTRY_CANDIDATE_IANA_CSV], buf.data, buf.size, err);
    file_buffer_free(&buf);
    if (r < 0)
        return r;

    struct registry_index *ix = NULL;
    struct registry_open_report report;
    memset(&report, 0, sizeof report);
    r = registry_rebuild(paths, &ix, &report, err);
    registry_index_close(ix);
    if (r == 0 && !report.index_saved) {
        *err = report.index_error;
        return report.index_error.code ? report.index_error.code : -EIO;
    }
    return r;
}
