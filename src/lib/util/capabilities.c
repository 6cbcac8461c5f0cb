/* capabilities.c — the CapEff line of a status file (see capabilities.h). libcap's
 * cap_get_pid() asks the kernel (capget) and cannot be pointed at a fixture tree; the line is
 * one hex number, so a few lines of parsing keep the reads testable without a new library. */
#include "util/capabilities.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int capabilities_parse_status(const char *status_text, uint64_t *effective, struct pr_error *err)
{
    static const char key[] = "CapEff:";
    unsigned line = 1;
    for (const char *p = status_text; *p;) {
        const char *eol = strchr(p, '\n');
        if (strncmp(p, key, sizeof key - 1) == 0) {
            const char *value = p + sizeof key - 1;
            while (*value == ' ' || *value == '\t')
                value++;
            char *end;
            errno = 0;
            unsigned long long set = strtoull(value, &end, 16);
            if (end == value || errno == ERANGE || (*end != '\n' && *end != '\0' && *end != ' '))
                return pr_error_set_at(err, -EINVAL, line, (unsigned)(value - p) + 1,
                                       "CapEff is not a hexadecimal capability set");
            *effective = (uint64_t)set;
            return 0;
        }
        if (!eol)
            break;
        p = eol + 1;
        line++;
    }
    return pr_error_set(err, -EINVAL, "no CapEff line");
}

int capabilities_read_effective(const char *proc_root, uint32_t pid, uint64_t *effective, struct pr_error *err)
{
    char path[4096];
    char pid_text[16] = "self";
    if (pid)
        snprintf(pid_text, sizeof pid_text, "%u", pid);
    int written = snprintf(path, sizeof path, "%s/%s/status", proc_root ? proc_root : "/proc", pid_text);
    if (written < 0 || (size_t)written >= sizeof path)
        return pr_error_set(err, -ENAMETOOLONG, "proc root is too long");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int code = -errno;
        pr_error_set(err, code, "cannot read the process status: %s", strerror(errno));
        pr_error_set_path(err, path);
        return code;
    }
    /* a status file is ~1.5 KiB; CapEff comes in its first half */
    char text[8192];
    size_t used = 0;
    ssize_t got;
    while (used < sizeof text - 1 && (got = read(fd, text + used, sizeof text - 1 - used)) > 0)
        used += (size_t)got;
    close(fd);
    text[used] = '\0';
    int r = capabilities_parse_status(text, effective, err);
    if (r < 0)
        pr_error_set_path(err, path);
    return r;
}

bool capabilities_has(uint64_t set, unsigned capability)
{
    return capability < 64 && ((set >> capability) & 1u);
}

bool capabilities_planned_user_has(uint32_t planned_uid, uint32_t self_euid, uint64_t self_effective,
                                   unsigned capability)
{
    if (planned_uid == 0)
        return true;
    if (planned_uid == self_euid)
        return capabilities_has(self_effective, capability);
    return false;
}
