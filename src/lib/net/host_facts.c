/* host_facts.c — integer sysctls under a proc root (see host_facts.h). A sysctl file is one
 * short line, so one read() into a stack buffer and strtol() do; a file of another shape
 * (a directory, text, a number out of int range) is -EINVAL with its path. */
#include "net/host_facts.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HOST_FACTS_DEFAULT_PROC_ROOT "/proc"

int host_sysctl_read_int(const char *proc_root, const char *name, int *value, struct pr_error *err)
{
    char path[4096];
    int written = snprintf(path, sizeof path, "%s/sys/%s", proc_root ? proc_root : HOST_FACTS_DEFAULT_PROC_ROOT,
                           name);
    if (written < 0 || (size_t)written >= sizeof path)
        return pr_error_set(err, -ENAMETOOLONG, "proc root is too long");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int code = -errno;
        pr_error_set(err, code, "cannot read the sysctl: %s", strerror(errno));
        pr_error_set_path(err, path);
        return code;
    }
    char text[64];
    ssize_t got = read(fd, text, sizeof text - 1);
    int read_errno = errno;
    close(fd);
    if (got < 0) {
        pr_error_set(err, -read_errno, "cannot read the sysctl: %s", strerror(read_errno));
        pr_error_set_path(err, path);
        return -read_errno;
    }
    text[got] = '\0';
    char *end;
    errno = 0;
    long parsed = strtol(text, &end, 10);
    while (end != text && isspace((unsigned char)*end))
        end++;
    if (end == text || *end != '\0' || errno == ERANGE || parsed < INT_MIN || parsed > INT_MAX ||
        (size_t)got == sizeof text - 1) {
        pr_error_set(err, -EINVAL, "not an integer sysctl");
        pr_error_set_path(err, path);
        return -EINVAL;
    }
    *value = (int)parsed;
    return 0;
}

static int host_facts_read_one(const char *proc_root, const char *name)
{
    int value;
    return host_sysctl_read_int(proc_root, name, &value, NULL) == 0 ? value : -1;
}

void host_facts_read(const char *proc_root, struct host_facts *out)
{
    out->unprivileged_port_start = host_facts_read_one(proc_root, "net/ipv4/ip_unprivileged_port_start");
    out->tcp_fin_timeout = host_facts_read_one(proc_root, "net/ipv4/tcp_fin_timeout");
    out->bindv6only = host_facts_read_one(proc_root, "net/ipv6/bindv6only");
}
