/* process_info.c — a process's name, uid and cgroup identity (see process_info.h). The parser
 * checks every "ID:CONTROLLERS:PATH" line, takes the v2 line (else name=systemd, else the first)
 * and reads its path component by component: systemd units, container scopes and directories
 * (docker, podman, containerd, CRI-O, LXC), Kubernetes pod slices. process_info_read() uses plain
 * open/read into stack buffers; a uid that cannot be read is UINT32_MAX. */
#include "net/process_info.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/text_escape.h"

#define PROCESS_INFO_STATUS_MAX 4096u   /* "Uid:" is within the first dozen lines */
#define PROCESS_INFO_CGROUP_MAX 8192u   /* a v1 host: a dozen lines of long paths */
#define PROCESS_INFO_PATH_MAX 512u

struct cgroup_span {
    const char *start;
    size_t length;
};

static bool cgroup_span_equals(struct cgroup_span span, const char *literal)
{
    size_t length = strlen(literal);
    return span.length == length && memcmp(span.start, literal, length) == 0;
}

static bool cgroup_span_has_prefix(struct cgroup_span span, const char *prefix)
{
    size_t length = strlen(prefix);
    return span.length >= length && memcmp(span.start, prefix, length) == 0;
}

static bool cgroup_span_has_suffix(struct cgroup_span span, const char *suffix)
{
    size_t length = strlen(suffix);
    return span.length >= length && memcmp(span.start + span.length - length, suffix, length) == 0;
}

static bool cgroup_span_contains(struct cgroup_span span, char c)
{
    return span.length > 0 && memchr(span.start, c, span.length) != NULL;
}

static void cgroup_span_copy(char *out, size_t size, struct cgroup_span span)
{
    /* a long path is cut between characters, not inside one */
    size_t length = span.length < size - 1 ? span.length : text_utf8_cut(span.start, size - 1);
    memcpy(out, span.start, length);
    out[length] = '\0';
}

static bool cgroup_is_alnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool cgroup_is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A container id as docker, podman, containerd and CRI-O write them: at least 12 hex digits
 * (64 in practice), fitting the field. */
static bool cgroup_is_container_id(struct cgroup_span id, size_t field_size)
{
    if (id.length < 12 || id.length >= field_size)
        return false;
    for (size_t i = 0; i < id.length; i++)
        if (!cgroup_is_hex(id.start[i]))
            return false;
    return true;
}

/* An LXC or containerd container name: letters, digits, '-', '_' and '.'. */
static bool cgroup_is_container_name(struct cgroup_span name, size_t field_size)
{
    if (name.length == 0 || name.length >= field_size)
        return false;
    for (size_t i = 0; i < name.length; i++) {
        char c = name.start[i];
        if (!cgroup_is_alnum(c) && c != '-' && c != '_' && c != '.')
            return false;
    }
    return true;
}

/* "<prefix><id>.scope" (systemd driver) or "<prefix><id>" (cgroupfs driver) naming a container:
 * docker-, libpod- (not libpod-conmon-), cri-containerd-, crio- (not crio-conmon-). */
static bool cgroup_container_scope(struct cgroup_span component, size_t id_size,
                                   const char **runtime, struct cgroup_span *id)
{
    static const struct {
        const char *prefix, *runtime, *not_prefix;
    } scopes[] = {
        { "docker-", "docker", NULL },
        { "libpod-", "podman", "libpod-conmon-" },
        { "cri-containerd-", "containerd", NULL },
        { "crio-", "cri-o", "crio-conmon-" },
    };
    struct cgroup_span rest = component;
    if (cgroup_span_has_suffix(rest, ".scope"))
        rest.length -= sizeof ".scope" - 1;
    else if (cgroup_span_contains(rest, '.'))
        return false;
    for (size_t i = 0; i < sizeof scopes / sizeof scopes[0]; i++) {
        if (!cgroup_span_has_prefix(rest, scopes[i].prefix))
            continue;
        if (scopes[i].not_prefix && cgroup_span_has_prefix(rest, scopes[i].not_prefix))
            return false;
        size_t skip = strlen(scopes[i].prefix);
        struct cgroup_span candidate = { rest.start + skip, rest.length - skip };
        if (!cgroup_is_container_id(candidate, id_size))
            return false;
        *runtime = scopes[i].runtime;
        *id = candidate;
        return true;
    }
    return false;
}

/* A systemd unit that can hold processes: NAME.service, .scope, .socket, .mount, .swap. */
static bool cgroup_is_unit(struct cgroup_span component)
{
    static const char *const suffixes[] = { ".service", ".scope", ".socket", ".mount", ".swap" };
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++)
        if (component.length > strlen(suffixes[i]) &&
            cgroup_span_has_suffix(component, suffixes[i]))
            return true;
    return false;
}

/* "kubepods[-QOS]-pod<uid with underscores>.slice" (systemd driver) → uid with dashes. */
static bool cgroup_pod_slice(struct cgroup_span component, char *uid, size_t uid_size)
{
    if (!cgroup_span_has_prefix(component, "kubepods") ||
        !cgroup_span_has_suffix(component, ".slice"))
        return false;
    struct cgroup_span name = { component.start, component.length - (sizeof ".slice" - 1) };
    const char *marker = NULL;
    for (size_t i = 0; i + 4 <= name.length; i++)
        if (memcmp(name.start + i, "-pod", 4) == 0) {
            marker = name.start + i + 4;
            break;
        }
    if (!marker)
        return false;
    size_t length = (size_t)(name.start + name.length - marker);
    if (length == 0 || length >= uid_size)
        return false;
    for (size_t i = 0; i < length; i++)
        if (!cgroup_is_alnum(marker[i]) && marker[i] != '_' && marker[i] != '-')
            return false;
    for (size_t i = 0; i < length; i++)
        uid[i] = marker[i] == '_' ? '-' : marker[i];
    uid[length] = '\0';
    return true;
}

/* "pod<uid>" under a kubepods directory (cgroupfs driver). */
static bool cgroup_pod_directory(struct cgroup_span component, char *uid, size_t uid_size)
{
    if (!cgroup_span_has_prefix(component, "pod"))
        return false;
    struct cgroup_span rest = { component.start + 3, component.length - 3 };
    if (rest.length == 0 || rest.length >= uid_size)
        return false;
    for (size_t i = 0; i < rest.length; i++)
        if (!cgroup_is_alnum(rest.start[i]) && rest.start[i] != '-')
            return false;
    cgroup_span_copy(uid, uid_size, rest);
    return true;
}

static void cgroup_set_container(struct cgroup_identity *out, const char *runtime,
                                 struct cgroup_span id)
{
    snprintf(out->container_runtime, sizeof out->container_runtime, "%s", runtime);
    cgroup_span_copy(out->container_id, sizeof out->container_id, id);
}

/* Read unit, container and pod from the components of one cgroup path. */
static void cgroup_identity_from_path(struct cgroup_span path, struct cgroup_identity *out)
{
    struct cgroup_span previous = { NULL, 0 };
    bool under_kubepods = false, after_pod_directory = false;
    const char *end = path.start + path.length;
    for (const char *cursor = path.start; cursor < end;) {
        const char *slash = memchr(cursor, '/', (size_t)(end - cursor));
        const char *stop = slash ? slash : end;
        struct cgroup_span component = { cursor, (size_t)(stop - cursor) };
        cursor = slash ? slash + 1 : end;
        if (component.length == 0)
            continue;

        const char *runtime;
        struct cgroup_span id;
        bool was_after_pod = after_pod_directory;
        after_pod_directory = false;
        static const char lxc_payload[] = "lxc.payload.";   /* LXC 4: lxc.payload.NAME */
        struct cgroup_span lxc_name = { NULL, 0 };
        if (cgroup_span_has_prefix(component, lxc_payload))
            lxc_name = (struct cgroup_span){ component.start + sizeof lxc_payload - 1,
                                             component.length - (sizeof lxc_payload - 1) };
        if (cgroup_container_scope(component, sizeof out->container_id, &runtime, &id)) {
            cgroup_set_container(out, runtime, id);
        } else if (lxc_name.start &&
                   cgroup_is_container_name(lxc_name, sizeof out->container_id)) {
            cgroup_set_container(out, "lxc", lxc_name);
        } else if (previous.start && (cgroup_span_equals(previous, "lxc") ||
                                      cgroup_span_equals(previous, "lxc.payload")) &&
                   cgroup_is_container_name(component, sizeof out->container_id)) {
            cgroup_set_container(out, "lxc", component);
        } else if (previous.start && cgroup_span_equals(previous, "docker") &&
                   cgroup_is_container_id(component, sizeof out->container_id)) {
            cgroup_set_container(out, "docker", component);
        } else if (previous.start && cgroup_span_equals(previous, "containerd") &&
                   cgroup_is_container_name(component, sizeof out->container_id)) {
            cgroup_set_container(out, "containerd", component);
        } else if (cgroup_pod_slice(component, out->pod_uid, sizeof out->pod_uid)) {
            /* recorded by the call */
        } else if (under_kubepods &&
                   cgroup_pod_directory(component, out->pod_uid, sizeof out->pod_uid)) {
            after_pod_directory = true;
        } else if (was_after_pod && cgroup_is_container_id(component, sizeof out->container_id)) {
            /* cgroupfs driver: pod<uid>/<container id>; the runtime is not in the name */
            out->container_runtime[0] = '\0';
            cgroup_span_copy(out->container_id, sizeof out->container_id, component);
        } else if (cgroup_is_unit(component)) {
            /* init.scope inside user@UID.service is that manager itself: keep the service */
            if (!(out->unit[0] && cgroup_span_equals(component, "init.scope")))
                cgroup_span_copy(out->unit, sizeof out->unit, component);
        }
        if (cgroup_span_has_prefix(component, "kubepods"))
            under_kubepods = true;
        previous = component;
    }
}

static int cgroup_fail(struct pr_error *err, unsigned line, unsigned column, const char *what)
{
    return pr_error_set_at(err, -EINVAL, line, column, "%s", what);
}

int cgroup_identity_parse(const char *text, struct cgroup_identity *out, struct pr_error *err)
{
    struct cgroup_span chosen = { NULL, 0 };
    int chosen_rank = 0;   /* 3 = v2 line, 2 = name=systemd, 1 = first line */
    unsigned line_number = 0;
    for (const char *line = text ? text : ""; *line;) {
        line_number++;
        const char *newline = strchr(line, '\n');
        const char *line_end = newline ? newline : line + strlen(line);
        const char *next_line = newline ? newline + 1 : line_end;
        if (line_end > line && line_end[-1] == '\r')
            line_end--;
        if (line_end == line) {
            line = next_line;
            continue;
        }
        size_t length = (size_t)(line_end - line);
        const char *first_colon = memchr(line, ':', length);
        if (!first_colon)
            return cgroup_fail(err, line_number, (unsigned)length + 1,
                               "expected ':' after the hierarchy ID");
        if (first_colon == line)
            return cgroup_fail(err, line_number, 1, "expected a hierarchy ID");
        for (const char *p = line; p < first_colon; p++)
            if (*p < '0' || *p > '9')
                return cgroup_fail(err, line_number, (unsigned)(p - line) + 1,
                                   "hierarchy ID must be a number");
        const char *second_colon =
            memchr(first_colon + 1, ':', (size_t)(line_end - first_colon - 1));
        if (!second_colon)
            return cgroup_fail(err, line_number, (unsigned)length + 1,
                               "expected ':' after the controller list");

        struct cgroup_span id = { line, (size_t)(first_colon - line) };
        struct cgroup_span controllers = { first_colon + 1,
                                           (size_t)(second_colon - first_colon - 1) };
        int rank = 1;
        if (cgroup_span_equals(id, "0") && controllers.length == 0) {
            rank = 3;
        } else {
            for (const char *c = controllers.start; c < controllers.start + controllers.length;) {
                const char *comma = memchr(c, ',', (size_t)(controllers.start +
                                                             controllers.length - c));
                const char *c_end = comma ? comma : controllers.start + controllers.length;
                if (cgroup_span_equals((struct cgroup_span){ c, (size_t)(c_end - c) },
                                       "name=systemd"))
                    rank = 2;
                c = comma ? comma + 1 : c_end;
            }
        }
        if (rank > chosen_rank) {
            chosen_rank = rank;
            chosen = (struct cgroup_span){ second_colon + 1,
                                           (size_t)(line_end - second_colon - 1) };
        }
        line = next_line;
    }

    memset(out, 0, sizeof *out);
    if (chosen.start) {
        cgroup_span_copy(out->path, sizeof out->path, chosen);
        cgroup_identity_from_path(chosen, out);
        /* cgroup names are chosen by whoever may create them (a user's own systemd units):
         * shown escaped. Container ids, names and pod uids are checked to be plain already. */
        text_escape_in_place(out->path, sizeof out->path);
        text_escape_in_place(out->unit, sizeof out->unit);
    }
    return 0;
}

/* Read up to size - 1 bytes of name under dir_fd into buffer, NUL-terminated.
 * Returns the length or -errno. */
static ssize_t process_info_read_file(int dir_fd, const char *name, char *buffer, size_t size)
{
    int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t used = 0;
    while (used < size - 1) {
        ssize_t got = read(fd, buffer + used, size - 1 - used);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            int r = -errno;
            close(fd);
            return r;
        }
        if (got == 0)
            break;
        used += (size_t)got;
    }
    close(fd);
    buffer[used] = '\0';
    return (ssize_t)used;
}

static bool process_info_is_gone(ssize_t r)
{
    return r == -ENOENT || r == -ESRCH;
}

/* The first (real) uid of the "Uid:" line of /proc/PID/status. */
static bool process_info_parse_uid(const char *status, uint32_t *uid)
{
    const char *line = status;
    while (line && strncmp(line, "Uid:", 4) != 0) {
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    if (!line)
        return false;
    const char *p = line + 4;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p < '0' || *p > '9')
        return false;
    uint64_t value = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        value = value * 10 + (uint64_t)(*p - '0');
        if (value > UINT32_MAX)
            return false;
    }
    *uid = (uint32_t)value;
    return true;
}

int process_info_read(const char *proc_root, uint32_t pid, struct process_info *out,
                      struct pr_error *err)
{
    memset(out, 0, sizeof *out);
    out->pid = pid;
    out->uid = UINT32_MAX;
    char path[PROCESS_INFO_PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/%u", proc_root ? proc_root : "/proc", pid);
    if (n < 0 || (size_t)n >= sizeof path)
        return pr_error_set(err, -ENAMETOOLONG, "proc root path is too long");
    int dir_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0) {
        int r = -errno;
        pr_error_set_path(err, path);
        if (process_info_is_gone(r))
            return pr_error_set(err, -ENOENT, "process %u not found", pid);
        return pr_error_set(err, r, "cannot open %s: %s", path, strerror(-r));
    }

    ssize_t length = process_info_read_file(dir_fd, "comm", out->comm, sizeof out->comm);
    if (process_info_is_gone(length)) {
        close(dir_fd);
        pr_error_set_path(err, path);
        return pr_error_set(err, -ENOENT, "process %u not found", pid);
    }
    if (length > 0 && out->comm[length - 1] == '\n')
        out->comm[length - 1] = '\0';
    if (length < 0)
        out->comm[0] = '\0';
    /* any unprivileged process names itself (prctl, /proc/self/comm): escaped here, as ps
     * does, so no output shows its bytes raw (terminal escapes, tabs in TSV, bad UTF-8) */
    text_escape_in_place(out->comm, sizeof out->comm);

    char status[PROCESS_INFO_STATUS_MAX];
    if (process_info_read_file(dir_fd, "status", status, sizeof status) >= 0)
        process_info_parse_uid(status, &out->uid);

    char cgroup[PROCESS_INFO_CGROUP_MAX];
    length = process_info_read_file(dir_fd, "cgroup", cgroup, sizeof cgroup);
    if (length > 0) {
        if ((size_t)length == sizeof cgroup - 1) {
            char *last_newline = strrchr(cgroup, '\n');   /* drop a line cut short */
            if (last_newline)
                last_newline[1] = '\0';
        }
        if (cgroup_identity_parse(cgroup, &out->cgroup, NULL) < 0)
            memset(&out->cgroup, 0, sizeof out->cgroup);
    }
    close(dir_fd);
    return 0;
}
