/* lease_load.c — the load client of bench/serve_leases.sh: CLIENTS threads, each with its own
 * keep-alive libcurl handle, POST /api/v1/leases PER_CLIENT times in a row, timing each.
 * Every answer must be 201 with a port (else exit 1); the ports granted are written one a line
 * to PORTS_FILE (the script checks that none repeats), and one line is printed:
 *   LEASE_REPORT leases=N seconds=S rate=R p50_ms=A p90_ms=B p99_ms=C max_ms=D
 * Usage: lease_load URL TOKEN CLIENTS PER_CLIENT SERVICE_PREFIX HOST RANGE TTL PORTS_FILE
 * (client k asks for service SERVICE_PREFIX-k on HOST in RANGE, for TTL seconds).
 * LEASE_LOAD_RELEASE=1: each lease is released at once (POST .../ID/release, 200), a cycle
 * timed as one; the ports file then lists ports that were held, so repeats are expected. */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct client {
    pthread_t thread;
    unsigned index;
    double *latency_ms;
    unsigned *ports;
    unsigned done;
    char failure[512];
};

static const char *url, *token, *service_prefix, *host, *range;
static unsigned per_client, ttl;
static int release_each;

struct reply {
    char text[4096];
    size_t len;
};

static size_t on_body(char *data, size_t size, size_t count, void *userdata)
{
    struct reply *r = userdata;
    size_t n = size * count;
    size_t room = sizeof r->text - 1 - r->len;
    memcpy(r->text + r->len, data, n < room ? n : room);
    r->len += n < room ? n : room;
    r->text[r->len] = '\0';
    return n;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void *run_client(void *arg)
{
    struct client *c = arg;
    CURL *curl = curl_easy_init();
    if (!curl) {
        snprintf(c->failure, sizeof c->failure, "curl_easy_init failed");
        return NULL;
    }
    char auth[256], body[512];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    snprintf(body, sizeof body, "{\"service\":\"%s-%u\",\"host\":\"%s\",\"proto\":\"tcp\",\"range\":\"%s\",\"ttl\":%u}",
             service_prefix, c->index, host, range, ttl);
    struct curl_slist *headers = curl_slist_append(NULL, auth);
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Expect:");
    struct reply reply;
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply);
    curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    for (unsigned i = 0; i < per_client; i++) {
        reply.len = 0;
        reply.text[0] = '\0';
        double start = now_ms();
        CURLcode rc = curl_easy_perform(curl);
        c->latency_ms[i] = now_ms() - start;
        long status = 0;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        const char *port = strstr(reply.text, "\"port\":");
        if (rc != CURLE_OK || status != 201 || !port) {
            snprintf(c->failure, sizeof c->failure, "client %u, lease %u: %s, HTTP %ld: %.300s", c->index, i,
                     curl_easy_strerror(rc), status, reply.text);
            break;
        }
        c->ports[i] = (unsigned)strtoul(port + 7, NULL, 10);
        const char *id = strstr(reply.text, "\"id\":");
        if (release_each && id) {
            char release_url[512];
            snprintf(release_url, sizeof release_url, "%s/%lu/release", url, strtoul(id + 5, NULL, 10));
            reply.len = 0;
            curl_easy_setopt(curl, CURLOPT_URL, release_url);
            curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "{}");
            rc = curl_easy_perform(curl);
            curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
            curl_easy_setopt(curl, CURLOPT_URL, url);
            curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
            c->latency_ms[i] = now_ms() - start;
            if (rc != CURLE_OK || status != 200) {
                snprintf(c->failure, sizeof c->failure, "client %u, release %u: %s, HTTP %ld: %.300s", c->index, i,
                         curl_easy_strerror(rc), status, reply.text);
                break;
            }
        } else if (release_each) {
            snprintf(c->failure, sizeof c->failure, "client %u, lease %u: no id in %.300s", c->index, i, reply.text);
            break;
        }
        c->done++;
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return NULL;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc != 10) {
        fprintf(stderr, "usage: lease_load URL TOKEN CLIENTS PER_CLIENT SERVICE_PREFIX HOST RANGE TTL PORTS_FILE\n");
        return 2;
    }
    url = argv[1];
    token = argv[2];
    unsigned clients = (unsigned)strtoul(argv[3], NULL, 10);
    per_client = (unsigned)strtoul(argv[4], NULL, 10);
    service_prefix = argv[5];
    host = argv[6];
    range = argv[7];
    ttl = (unsigned)strtoul(argv[8], NULL, 10);
    release_each = getenv("LEASE_LOAD_RELEASE") && strcmp(getenv("LEASE_LOAD_RELEASE"), "1") == 0;
    if (clients == 0 || per_client == 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 2;
    struct client *all = calloc(clients, sizeof *all);
    double *latency = calloc((size_t)clients * per_client, sizeof *latency);
    unsigned *ports = calloc((size_t)clients * per_client, sizeof *ports);
    if (!all || !latency || !ports)
        return 2;
    double start = now_ms();
    for (unsigned k = 0; k < clients; k++) {
        all[k].index = k;
        all[k].latency_ms = latency + (size_t)k * per_client;
        all[k].ports = ports + (size_t)k * per_client;
        pthread_create(&all[k].thread, NULL, run_client, &all[k]);
    }
    for (unsigned k = 0; k < clients; k++)
        pthread_join(all[k].thread, NULL);
    double seconds = (now_ms() - start) / 1e3;
    int status = 0;
    size_t total = 0;
    FILE *out = fopen(argv[9], "w");
    for (unsigned k = 0; k < clients; k++) {
        if (all[k].failure[0]) {
            fprintf(stderr, "lease_load: %s\n", all[k].failure);
            status = 1;
        }
        for (unsigned i = 0; i < all[k].done; i++) {
            latency[total++] = all[k].latency_ms[i];
            if (out)
                fprintf(out, "%u\n", all[k].ports[i]);
        }
    }
    if (!out || fclose(out) != 0) {
        fprintf(stderr, "lease_load: cannot write %s\n", argv[9]);
        status = 1;
    }
    qsort(latency, total, sizeof *latency, compare_double);
#define PERCENTILE(p) (total ? latency[(size_t)((double)(total - 1) * (p))] : 0.0)
    printf("LEASE_REPORT leases=%zu seconds=%.3f rate=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f\n", total,
           seconds, (double)total / seconds, PERCENTILE(0.50), PERCENTILE(0.90), PERCENTILE(0.99), PERCENTILE(1.0));
    free(all);
    free(latency);
    free(ports);
    curl_global_cleanup();
    return status;
}
