/* bench_import.c — time parse + compile of an IANA CSV already in memory (the registry import
 * that `registry update` and every rebuild pay), median of N runs after a warm-up.
 * Usage: bench_import CSV [RUNS]. Prints "parse_ms compile_ms total_ms" medians. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "registry/iana_csv.h"
#include "registry/index.h"
#include "util/file_io.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_import CSV [RUNS]\n");
        return 2;
    }
    int runs = argc > 2 ? atoi(argv[2]) : 21;
    if (runs < 1)
        runs = 1;
    struct file_buffer buf;
    struct pr_error err;
    if (file_read_all(argv[1], &buf, &err) < 0) {
        fprintf(stderr, "bench_import: %s: %s\n", argv[1], err.message);
        return 3;
    }
    double *parse = calloc((size_t)runs, sizeof *parse), *compile = calloc((size_t)runs, sizeof *compile);
    double *total = calloc((size_t)runs, sizeof *total);
    long records = 0;
    for (int i = -1; i < runs; i++) {   /* run -1 is the warm-up */
        struct registry_records recs = { 0 };
        double t0 = now_ms();
        records = iana_csv_parse(buf.data, buf.size, &recs, &err);
        double t1 = now_ms();
        if (records < 0) {
            fprintf(stderr, "bench_import: %s:%u:%u: %s\n", argv[1], err.line, err.column, err.message);
            return 2;
        }
        struct registry_build_source src = { REGISTRY_SOURCE_IANA_CSV, REGISTRY_ROLE_PRIMARY, argv[1],
                                             "", 0, (int64_t)buf.size, &recs };
        void *image;
        size_t size;
        if (registry_index_build(&src, 1, 0, &image, &size, &err) < 0)
            return 3;
        double t2 = now_ms();
        free(image);
        registry_records_free(&recs);
        if (i >= 0) {
            parse[i] = t1 - t0;
            compile[i] = t2 - t1;
            total[i] = t2 - t0;
        }
    }
    qsort(parse, (size_t)runs, sizeof *parse, compare_double);
    qsort(compile, (size_t)runs, sizeof *compile, compare_double);
    qsort(total, (size_t)runs, sizeof *total, compare_double);
    printf("records %ld runs %d median parse_ms %.2f compile_ms %.2f total_ms %.2f\n", records, runs,
           parse[runs / 2], compile[runs / 2], total[runs / 2]);
    free(parse);
    free(compile);
    free(total);
    file_buffer_free(&buf);
    return 0;
}
