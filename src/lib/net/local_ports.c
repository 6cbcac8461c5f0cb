/* local_ports.c — the ephemeral range and reserved ports of this host (see local_ports.h).
 * Two small text parsers for the kernel's formats ("32768\t60999\n" and "1000-1002,8080\n"),
 * with 1-based line/column errors, and local_ports_read(), which reads both sysctls under a
 * proc root with plain open/read: a stack buffer for the usual few bytes, a heap buffer only
 * when a long reserved list does not fit. */
#include "net/local_ports.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOCAL_PORTS_PORT_MAX 65535u
#define LOCAL_PORTS_ECHO_MAX 64          /* longest number quoted back in a message */
#define LOCAL_PORTS_FILE_MAX (1u << 20)  /* a reserved list of every other port is ~200 KiB */

static bool local_ports_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool local_ports_is_digit(char c) { return c >= '0' && c <= '9'; }

/* Error at position at of text: line from the newlines before it, 1-based byte column. */
static int local_ports_fail_at(struct pr_error *err, const char *text, const char *at,
                               const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int local_ports_fail_at(struct pr_error *err, const char *text, const char *at,
                               const char *fmt, ...)
{
    unsigned line = 1;
    const char *line_start = text;
    for (const char *p = text; p < at; p++)
        if (*p == '\n') {
            line++;
            line_start = p + 1;
        }
    char message[sizeof err->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    return pr_error_set_at(err, -EINVAL, line, (unsigned)(at - line_start) + 1, "%s", message);
}

static int local_ports_fail_unexpected(struct pr_error *err, const char *text, const char *at)
{
    unsigned char c = (unsigned char)*at;
    if (c >= 0x20 && c < 0x7f)
        return local_ports_fail_at(err, text, at, "unexpected character '%c'", c);
    return local_ports_fail_at(err, text, at, "unexpected character '\\x%02x'", c);
}

/* A decimal port at *cursor; a digit must be there, else "expected a port number". */
static int local_ports_scan_port(const char *text, const char **cursor, uint16_t *port,
                                 struct pr_error *err)
{
    const char *start = *cursor;
    if (!local_ports_is_digit(*start)) {
        if (*start == '\0' || local_ports_is_space(*start) || *start == ',')
            return local_ports_fail_at(err, text, start, "expected a port number");
        return local_ports_fail_unexpected(err, text, start);
    }
    uint32_t value = 0;
    const char *p = start;
    for (; local_ports_is_digit(*p); p++)
        if (value <= LOCAL_PORTS_PORT_MAX)
            value = value * 10 + (uint32_t)(*p - '0');
    if (value > LOCAL_PORTS_PORT_MAX) {
        size_t len = (size_t)(p - start);
        int shown = len > LOCAL_PORTS_ECHO_MAX ? LOCAL_PORTS_ECHO_MAX : (int)len;
        return local_ports_fail_at(err, text, start, "port \"%.*s%s\" is out of range 0-65535",
                                   shown, start, len > LOCAL_PORTS_ECHO_MAX ? "..." : "");
    }
    *port = (uint16_t)value;
    *cursor = p;
    return 0;
}

int local_port_range_parse(const char *text, struct local_port_range *out, struct pr_error *err)
{
    if (!text)
        text = "";
    const char *p = text;
    while (local_ports_is_space(*p))
        p++;
    if (*p == '\0')
        return local_ports_fail_at(err, text, text, "empty port range");

    struct local_port_range range;
    const char *first_start = p;
    int r;
    if ((r = local_ports_scan_port(text, &p, &range.first, err)) < 0)
        return r;
    const char *gap = p;
    while (local_ports_is_space(*p))
        p++;
    if (*p == '\0')
        return local_ports_fail_at(err, text, gap, "missing the last port of the range");
    if (p == gap)
        return local_ports_fail_unexpected(err, text, p);
    if ((r = local_ports_scan_port(text, &p, &range.last, err)) < 0)
        return r;
    while (local_ports_is_space(*p))
        p++;
    if (*p != '\0')
        return local_ports_fail_unexpected(err, text, p);
    if (range.first > range.last)
        return local_ports_fail_at(err, text, first_start, "range %u-%u is reversed",
                                   (unsigned)range.first, (unsigned)range.last);
    *out = range;
    return 0;
}

int reserved_ports_parse(const char *text, struct port_set *out, struct pr_error *err)
{
    if (!text)
        text = "";
    struct port_set set;   /* built aside so that an error leaves out as it was */
    port_set_clear(&set);

    const char *p = text;
    while (local_ports_is_space(*p))
        p++;
    if (*p == '\0') {
        *out = set;
        return 0;
    }
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == ',' || *p == '\0' || *p == '\n' || *p == '\r')
            return local_ports_fail_at(err, text, p, "empty item");
        const char *item = p;
        uint16_t first, last;
        int r;
        if ((r = local_ports_scan_port(text, &p, &first, err)) < 0)
            return r;
        last = first;
        if (*p == '-') {
            p++;
            if ((r = local_ports_scan_port(text, &p, &last, err)) < 0)
                return r;
            if (first > last)
                return local_ports_fail_at(err, text, item, "range %u-%u is reversed",
                                           (unsigned)first, (unsigned)last);
        }
        port_set_add_range(&set, first, last);
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p != ',')
            break;
        p++;
    }
    while (local_ports_is_space(*p))
        p++;
    if (*p != '\0')
        return local_ports_fail_unexpected(err, text, p);
    *out = set;
    return 0;
}

/* Read a small file whole into *text (NUL-terminated). stack_buf is used when it fits, else a
 * heap buffer is returned in *heap_buf for the caller to free. Returns 0, -ENOENT when the file
 * cannot be seen (missing, not a directory on the way, no permission), or another -errno. */
static int local_ports_read_file(const char *path, char *stack_buf, size_t stack_size,
                                 const char **text, size_t *length, char **heap_buf,
                                 struct pr_error *err)
{
    *heap_buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int code = errno;
        if (code == ENOENT || code == ENOTDIR || code == EACCES || code == EPERM)
            return -ENOENT;
        pr_error_set(err, -code, "cannot open: %s", strerror(code));
        pr_error_set_path(err, path);
        return -code;
    }
    char *buf = stack_buf;
    size_t size = stack_size, used = 0;
    int r = 0;
    for (;;) {
        if (used + 1 >= size) {
            if (size >= LOCAL_PORTS_FILE_MAX) {
                r = pr_error_set(err, -EFBIG, "file is larger than %u bytes",
                                 LOCAL_PORTS_FILE_MAX);
                break;
            }
            size_t new_size = size * 2;
            char *grown = realloc(*heap_buf, new_size);
            if (!grown) {
                r = pr_error_set(err, -ENOMEM, "out of memory");
                break;
            }
            if (!*heap_buf)
                memcpy(grown, stack_buf, used);
            *heap_buf = buf = grown;
            size = new_size;
        }
        ssize_t n = read(fd, buf + used, size - 1 - used);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int code = errno;
            r = pr_error_set(err, -code, "cannot read: %s", strerror(code));
            break;
        }
        if (n == 0)
            break;
        used += (size_t)n;
    }
    close(fd);
    if (r < 0) {
        free(*heap_buf);
        *heap_buf = NULL;
        pr_error_set_path(err, path);
        return r;
    }
    buf[used] = '\0';
    *text = buf;
    *length = used;
    return 0;
}

/* Read and parse one sysctl file; *have says whether it was there. */
static int local_ports_read_sysctl(const char *proc_root, const char *name,
                                   struct local_ports *out, bool is_range, bool *have,
                                   struct pr_error *err)
{
    char path[4096];
    int written = snprintf(path, sizeof path, "%s/sys/net/ipv4/%s", proc_root, name);
    if (written < 0 || (size_t)written >= sizeof path)
        return pr_error_set(err, -ENAMETOOLONG, "proc root \"%s\" is too long", proc_root);

    char stack_buf[512];
    const char *text = NULL;
    size_t length = 0;
    char *heap_buf = NULL;
    int r = local_ports_read_file(path, stack_buf, sizeof stack_buf, &text, &length, &heap_buf,
                                  err);
    if (r == -ENOENT) {
        *have = false;
        return 0;
    }
    if (r < 0)
        return r;
    const char *nul = memchr(text, '\0', length);
    if (nul)
        r = local_ports_fail_at(err, text, nul, "unexpected character '\\x00'");
    else if (is_range)
        r = local_port_range_parse(text, &out->ephemeral, err);
    else
        r = reserved_ports_parse(text, &out->reserved, err);
    free(heap_buf);
    if (r < 0) {
        pr_error_set_path(err, path);
        return r;
    }
    *have = true;
    return 0;
}

int local_ports_read(const char *proc_root, struct local_ports *out, struct pr_error *err)
{
    if (!proc_root)
        proc_root = "/proc";
    memset(out, 0, sizeof *out);
    int r = local_ports_read_sysctl(proc_root, "ip_local_port_range", out, true,
                                    &out->have_ephemeral, err);
    if (r == 0)
        r = local_ports_read_sysctl(proc_root, "ip_local_reserved_ports", out, false,
                                    &out->have_reserved, err);
    if (r < 0)
        memset(out, 0, sizeof *out);
    return r;
}

void local_ports_kernel_default(struct local_ports *out)
{
    memset(out, 0, sizeof *out);
    out->ephemeral.first = LOCAL_PORTS_KERNEL_FIRST;
    out->ephemeral.last = LOCAL_PORTS_KERNEL_LAST;
    out->have_ephemeral = true;
    out->have_reserved = true;   /* known: nothing is reserved */
}

bool local_ports_is_ephemeral(const struct local_ports *lp, uint16_t port)
{
    return lp->have_ephemeral && port >= lp->ephemeral.first && port <= lp->ephemeral.last;
}

bool local_ports_is_reserved(const struct local_ports *lp, uint16_t port)
{
    return lp->have_reserved && port_set_has(&lp->reserved, port);
}
