/* reserved_ports.c — adding ports to net.ipv4.ip_local_reserved_ports at run time and in a
 * sysctl.d drop-in (see reserved_ports.h). Reads the current list with the parser of
 * net/local_ports.c, merges with port_set bitmaps, writes the sysctl with one write(2) and reads
 * it back; the drop-in goes through file_write_atomic. Never replaces a list, only extends it. */
#include "doctor/reserved_ports.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/local_ports.h"
#include "util/file_io.h"
#include "util/text_scan.h"

#define RESERVED_PORTS_DROPIN_HEADER                                                         \
    "# Ports kept out of the ephemeral range (ip_local_port_range), written by\n"           \
    "# `portreg suggest --persist`. portreg merges new ports into this list; the value\n"   \
    "# replaces the kernel's list when systemd-sysctl applies it at boot.\n"

void reserved_ports_change_free(struct reserved_ports_change *change)
{
    free(change->before);
    free(change->after);
    free(change->added);
    change->before = change->after = change->added = NULL;
}

char *reserved_ports_format(const struct port_set *set)
{
    size_t capacity = 64, used = 0;
    char *out = malloc(capacity);
    if (!out)
        return NULL;
    out[0] = '\0';
    uint32_t port = 0;
    while (port <= 65535u) {
        if (!port_set_has(set, (uint16_t)port)) {
            port++;
            continue;
        }
        uint32_t last = port;
        while (last < 65535u && port_set_has(set, (uint16_t)(last + 1)))
            last++;
        if (capacity - used < 16) {
            capacity *= 2;
            char *grown = realloc(out, capacity);
            if (!grown) {
                free(out);
                return NULL;
            }
            out = grown;
        }
        int n = last == port
                    ? snprintf(out + used, capacity - used, "%s%u", used ? "," : "", port)
                    : snprintf(out + used, capacity - used, "%s%u-%u", used ? "," : "", port, last);
        used += (size_t)n;
        port = last + 1;
    }
    return out;
}

unsigned reserved_ports_merge(const struct port_set *existing, const struct port_set *add,
                              struct port_set *merged, struct port_set *added)
{
    unsigned count = 0;
    for (size_t i = 0; i < 65536 / 64; i++) {
        uint64_t fresh = add->bits[i] & ~existing->bits[i];
        count += (unsigned)__builtin_popcountll(fresh);
        if (merged)
            merged->bits[i] = existing->bits[i] | add->bits[i];
        if (added)
            added->bits[i] = fresh;
    }
    return count;
}

/* Fill before/after/added of change from the three sets; -ENOMEM. */
static int reserved_ports_describe(struct reserved_ports_change *change,
                                   const struct port_set *before, const struct port_set *after,
                                   const struct port_set *added, struct pr_error *err)
{
    change->before = reserved_ports_format(before);
    change->after = reserved_ports_format(after);
    change->added = reserved_ports_format(added);
    change->added_count = port_set_count(added);
    if (!change->before || !change->after || !change->added) {
        reserved_ports_change_free(change);
        return pr_error_set(err, -ENOMEM, "out of memory");
    }
    return 0;
}

/* Read and parse the sysctl file at path into *set. */
static int reserved_ports_read_sysctl(const char *path, struct port_set *set,
                                      struct pr_error *err)
{
    struct file_buffer buf;
    int r = file_read_all(path, &buf, err);
    if (r < 0) {
        pr_error_set_path(err, path);
        if (r == -ENOENT)
            return pr_error_set(err, r, "no such sysctl (is this Linux with IPv4?)");
        return r;
    }
    r = reserved_ports_parse(buf.data, set, err);
    file_buffer_free(&buf);
    if (r < 0)
        pr_error_set_path(err, path);
    return r;
}

/* Write text to the sysctl at path in one write(2), as the kernel wants it. */
static int reserved_ports_write_sysctl(const char *path, const char *text, struct pr_error *err)
{
    pr_error_set_path(err, path);
    int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int code = errno;
        if (code == EACCES || code == EPERM || code == EROFS)
            return pr_error_set(err, -code,
                                "cannot write: %s (reserving ports needs root, or CAP_NET_ADMIN "
                                "over the network namespace)", strerror(code));
        return pr_error_set(err, -code, "cannot open for writing: %s", strerror(code));
    }
    size_t len = strlen(text);
    ssize_t n;
    do {
        n = write(fd, text, len);
    } while (n < 0 && errno == EINTR);
    int code = n < 0 ? errno : 0;
    if (close(fd) < 0 && code == 0)
        code = errno;
    if (code)
        return pr_error_set(err, -code, "cannot write: %s%s", strerror(code),
                            code == EPERM || code == EACCES
                                ? " (reserving ports needs root, or CAP_NET_ADMIN)" : "");
    if ((size_t)n != len)
        return pr_error_set(err, -EIO, "short write (%zd of %zu bytes)", n, len);
    pr_error_set_path(err, "");
    return 0;
}

int reserved_ports_reserve(const char *proc_root, const struct port_set *add,
                           struct reserved_ports_change *change, struct pr_error *err)
{
    memset(change, 0, sizeof *change);
    int written = snprintf(change->path, sizeof change->path,
                           "%s/sys/net/ipv4/ip_local_reserved_ports", proc_root ? proc_root : "/proc");
    if (written < 0 || (size_t)written >= sizeof change->path)
        return pr_error_set(err, -ENAMETOOLONG, "proc root is too long");

    struct port_set *sets = malloc(4 * sizeof *sets);   /* before, merged, added, read back */
    if (!sets)
        return pr_error_set(err, -ENOMEM, "out of memory");
    struct port_set *before = &sets[0], *merged = &sets[1], *added = &sets[2], *now = &sets[3];
    char *text = NULL;
    int r = reserved_ports_read_sysctl(change->path, before, err);
    if (r < 0)
        goto out;
    reserved_ports_merge(before, add, merged, added);
    *now = *before;
    if (port_set_count(added) > 0) {
        text = reserved_ports_format(merged);
        if (!text) {
            r = pr_error_set(err, -ENOMEM, "out of memory");
            goto out;
        }
        if ((r = reserved_ports_write_sysctl(change->path, text, err)) < 0)
            goto out;
        change->changed = true;
        if ((r = reserved_ports_read_sysctl(change->path, now, err)) < 0)
            goto out;
        for (size_t i = 0; i < 65536 / 64; i++)
            if ((now->bits[i] & merged->bits[i]) != merged->bits[i]) {
                pr_error_set_path(err, change->path);
                r = pr_error_set(err, -EIO, "the kernel did not keep the list written (another "
                                 "writer at the same time?)");
                goto out;
            }
    }
    r = reserved_ports_describe(change, before, now, added, err);
out:
    free(text);
    free(sets);
    return r;
}

/* A sysctl.d line's key without a leading '-', blanks cut; true when it names our sysctl
 * ('/' and '.' both separate). */
static bool reserved_ports_is_key(const char *start, const char *end)
{
    start = text_skip_blanks(start, end);
    if (start < end && *start == '-')
        start++;
    end = text_trim_trailing_blanks(start, end);
    static const char key[] = RESERVED_PORTS_SYSCTL_KEY;
    if ((size_t)(end - start) != sizeof key - 1)
        return false;
    for (size_t i = 0; i < sizeof key - 1; i++) {
        char c = start[i] == '/' ? '.' : start[i];
        if (c != key[i])
            return false;
    }
    return true;
}

/* Where a line's '=' is, or NULL for a blank or comment line. *bad is set for a line that is
 * neither (no '='). */
static const char *reserved_ports_dropin_assignment(const struct text_line *line, bool *bad)
{
    *bad = false;
    const char *p = text_skip_blanks(line->start, line->end);
    if (p == line->end || *p == '#' || *p == ';')
        return NULL;
    const char *eq = memchr(p, '=', (size_t)(line->end - p));
    if (!eq)
        *bad = true;
    return eq;
}

int reserved_ports_dropin_parse(const char *text, size_t len, struct port_set *ports,
                                bool *found, struct pr_error *err)
{
    port_set_clear(ports);
    *found = false;
    struct text_line_reader reader;
    int r = text_line_reader_open_text(&reader, text, len, err);
    if (r < 0)
        return r;
    struct text_line line;
    char value[8192];
    while (text_line_reader_next(&reader, &line)) {
        bool bad;
        const char *eq = reserved_ports_dropin_assignment(&line, &bad);
        if (bad)
            return text_error_at(err, &line, text_skip_blanks(line.start, line.end),
                                 "expected \"key = value\"");
        if (!eq || !reserved_ports_is_key(line.start, eq))
            continue;
        const char *value_start = text_skip_blanks(eq + 1, line.end);
        const char *value_end = text_trim_trailing_blanks(value_start, line.end);
        size_t value_len = (size_t)(value_end - value_start);
        if (value_len >= sizeof value)
            return text_error_at(err, &line, value_start, "value is longer than %zu bytes",
                                 sizeof value - 1);
        memcpy(value, value_start, value_len);
        value[value_len] = '\0';
        struct port_set one;
        struct pr_error value_err;
        pr_error_clear(&value_err);
        if (reserved_ports_parse(value, &one, &value_err) < 0) {
            unsigned column = value_err.column ? value_err.column : 1;
            const char *at = value_start + (column - 1 < value_len ? column - 1 : value_len);
            return text_error_at(err, &line, at, "%s", value_err.message);
        }
        reserved_ports_merge(ports, &one, ports, NULL);
        *found = true;
    }
    return 0;
}

char *reserved_ports_dropin_render(const char *text, size_t len, const char *list)
{
    /* which line sets the key last */
    struct text_line_reader reader;
    struct text_line line;
    unsigned last_key_line = 0;
    text_line_reader_init(&reader, text, len);
    while (text_line_reader_next(&reader, &line)) {
        bool bad;
        const char *eq = reserved_ports_dropin_assignment(&line, &bad);
        if (eq && reserved_ports_is_key(line.start, eq))
            last_key_line = line.number;
    }
    size_t capacity = len + strlen(list) + sizeof RESERVED_PORTS_DROPIN_HEADER +
                      sizeof RESERVED_PORTS_SYSCTL_KEY + 16;
    char *out = malloc(capacity);
    if (!out)
        return NULL;
    size_t used = 0;
    bool has_content = false;
    text_line_reader_init(&reader, text, len);
    while (text_line_reader_next(&reader, &line)) {
        bool bad;
        const char *eq = reserved_ports_dropin_assignment(&line, &bad);
        if (eq && reserved_ports_is_key(line.start, eq)) {
            if (line.number == last_key_line)
                used += (size_t)snprintf(out + used, capacity - used, "%s = %s\n",
                                         RESERVED_PORTS_SYSCTL_KEY, list);
            continue;
        }
        size_t line_len = (size_t)(line.end - line.start);
        memcpy(out + used, line.start, line_len);
        used += line_len;
        out[used++] = '\n';
        if (text_skip_blanks(line.start, line.end) != line.end)
            has_content = true;
    }
    if (!last_key_line) {
        if (!has_content) {
            used = 0;
            memcpy(out, RESERVED_PORTS_DROPIN_HEADER, sizeof RESERVED_PORTS_DROPIN_HEADER - 1);
            used = sizeof RESERVED_PORTS_DROPIN_HEADER - 1;
        }
        used += (size_t)snprintf(out + used, capacity - used, "%s = %s\n",
                                 RESERVED_PORTS_SYSCTL_KEY, list);
    }
    out[used] = '\0';
    return out;
}

int reserved_ports_persist(const char *path, const struct port_set *add,
                           const struct port_set *base, struct reserved_ports_change *change,
                           struct pr_error *err)
{
    memset(change, 0, sizeof *change);
    if (snprintf(change->path, sizeof change->path, "%s", path) >= (int)sizeof change->path)
        return pr_error_set(err, -ENAMETOOLONG, "drop-in path is too long");

    struct file_buffer buf = { 0 };
    struct pr_error read_err;
    pr_error_clear(&read_err);
    int r = file_read_all(path, &buf, &read_err);
    if (r == -ENOENT) {
        change->created = true;
        buf.data = NULL;
        buf.size = 0;
    } else if (r < 0) {
        if (err)
            *err = read_err;
        pr_error_set_path(err, path);
        return r;
    }

    struct port_set *sets = malloc(4 * sizeof *sets);   /* before, wanted, merged, added */
    char *list = NULL, *text = NULL;
    if (!sets) {
        r = pr_error_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    struct port_set *before = &sets[0], *wanted = &sets[1], *merged = &sets[2], *added = &sets[3];
    bool found;
    if ((r = reserved_ports_dropin_parse(buf.data, buf.size, before, &found, err)) < 0) {
        pr_error_set_path(err, path);
        goto out;
    }
    *wanted = *add;
    if (base)
        reserved_ports_merge(wanted, base, wanted, NULL);
    reserved_ports_merge(before, wanted, merged, added);
    if (port_set_count(added) > 0 || (!found && port_set_count(merged) > 0)) {
        if (!(list = reserved_ports_format(merged)) ||
            !(text = reserved_ports_dropin_render(buf.data, buf.size, list))) {
            r = pr_error_set(err, -ENOMEM, "out of memory");
            goto out;
        }
        if ((r = file_write_atomic(path, text, strlen(text), err)) < 0)
            goto out;
        change->changed = true;
    } else {
        change->created = false;
    }
    r = reserved_ports_describe(change, before, change->changed ? merged : before, added, err);
out:
    free(text);
    free(list);
    free(sets);
    file_buffer_free(&buf);
    return r;
}
