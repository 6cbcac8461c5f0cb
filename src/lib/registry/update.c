/* update.c — fetch, validate and install a new IANA registry (see update.h).
 * Order matters for "nothing half-written": download to memory (64 MiB at most), parse it
 * all, compare with the registry in use, stage the CSV and the index compiled from it beside
 * the old ones, then install both together or neither. */
#include "registry/update.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "registry/iana_csv.h"
#include "util/curl_loader.h"
#include "util/file_io.h"

/* the same cap for a download and a local file (/dev/zero would grow without end) */
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
        return pr_error_set(err, -EFBIG, "larger than %u MiB: not an IANA registry",
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

/* The registry in use now, whatever its source (a previous IANA CSV, Wireshark's services,
 * /etc/services): its primary source's records and path; -1 when there is none. Opening it
 * is what any lookup does (it may rebuild a stale index). */
static long current_registry_records(const struct registry_paths *paths, char *source,
                                     size_t source_size)
{
    struct registry_index *ix = NULL;
    struct registry_open_report report;
    long records = -1;
    source[0] = '\0';
    if (registry_open(paths, &ix, &report, NULL) < 0)
        return -1;
    for (uint32_t i = 0; i < registry_index_source_count(ix); i++) {
        struct registry_source_info info;
        registry_index_source(ix, i, &info);
        if (info.role == REGISTRY_ROLE_PRIMARY) {
            records = (long)info.record_count;
            snprintf(source, source_size, "%s", info.path);
        }
    }
    registry_index_close(ix);
    return records;
}

/* Stage the new CSV and the index compiled from it in the state directory, then install both
 * together (file_output_commit_pair): a failure anywhere (a full disk included) leaves both
 * old files in place. */
static int install(const struct registry_paths *paths, const struct file_buffer *csv,
                   struct pr_error *err)
{
    const char *csv_path = paths->candidate[REGISTRY_CANDIDATE_IANA_CSV];
    int r;
    if ((r = registry_state_file_check(csv_path, REGISTRY_STATE_IANA_CSV, err)) < 0 ||
        (r = registry_state_file_check(paths->index, REGISTRY_STATE_INDEX, err)) < 0 ||
        (r = dir_create_path(paths->state_dir, err)) < 0)
        return r;
    struct file_output csv_out, index_out;
    if ((r = file_output_open(&csv_out, csv_path, FILE_OUTPUT_STATE, err)) < 0)
        return r;
    struct stat st;
    if ((r = file_output_write(&csv_out, csv->data, csv->size, err)) < 0 ||
        (fstat(csv_out.fd, &st) < 0 && (r = pr_error_set(err, -errno, "cannot stat: %s", strerror(errno))) < 0)) {
        file_output_discard(&csv_out);
        return r;
    }
    /* the index records the CSV's mtime and size: those of the staged file, kept by rename */
    struct registry_iana_text text = {
        .data = csv->data, .size = csv->size,
        .mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec,
        .file_size = (int64_t)st.st_size,
    };
    void *image = NULL;
    size_t image_size = 0;
    if ((r = registry_compile(paths, &text, &image, &image_size, err)) < 0) {
        file_output_discard(&csv_out);
        return r;
    }
    if ((r = file_output_open(&index_out, paths->index, FILE_OUTPUT_STATE, err)) < 0) {
        free(image);
        file_output_discard(&csv_out);
        return r;
    }
    r = file_output_write(&index_out, image, image_size, err);
    free(image);
    if (r < 0) {
        file_output_discard(&index_out);
        file_output_discard(&csv_out);
        return r;
    }
    return file_output_commit_pair(&csv_out, &index_out, err);
}

int registry_update(const struct registry_paths *paths, const struct registry_update_options *opt,
                    struct registry_update_result *result, struct pr_error *err)
{
    const char *source = opt->source ? opt->source : REGISTRY_DEFAULT_URL;
    struct file_buffer buf;
    memset(result, 0, sizeof *result);
    result->previous_records = -1;
    int r = registry_state_dir_check(paths->state_dir, err);
    if (r < 0)
        return r;
    if (strstr(source, "://"))
        r = fetch_url(source, opt, &buf, err);
    else if ((r = file_read_all_limited(source, REGISTRY_MAX_DOWNLOAD, &buf, err)) == -EFBIG)
        r = pr_error_set(err, -EFBIG, "larger than %u MiB: not an IANA registry",
                         REGISTRY_MAX_DOWNLOAD >> 20);
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
    if (!has_assignment) {
        file_buffer_free(&buf);
        pr_error_set_path(err, source);
        return pr_error_set(err, -EINVAL, "no port assignment in this file: not an IANA registry");
    }
    result->previous_records = current_registry_records(paths, result->previous_source,
                                                        sizeof result->previous_source);
    if (!opt->force && result->previous_records > 0 && n * 2 < result->previous_records) {
        file_buffer_free(&buf);
        pr_error_set_path(err, source);
        return pr_error_set(err, -EINVAL,
                            "has %ld records, the registry in use %ld (%s): refusing a registry "
                            "less than half the size (truncated download?); --force accepts it",
                            n, result->previous_records, result->previous_source);
    }
    r = install(paths, &buf, err);
    file_buffer_free(&buf);
    return r;
}
