/* process_info.h — what the inspector shows about a process: command name, uid, and from its
 * cgroup the systemd unit or the container (docker, podman, containerd/CRI-O id, Kubernetes
 * pod uid). cgroup_identity_parse() is a pure parser of /proc/PID/cgroup text (fuzzed);
 * process_info_read() is the I/O edge and takes a proc root for fixture trees. Names chosen by
 * other users (comm, cgroup path and unit) are kept in their util/text_escape.h form. */
#ifndef PORTREG_NET_PROCESS_INFO_H
#define PORTREG_NET_PROCESS_INFO_H

#include <stdint.h>

#include "util/error.h"

struct cgroup_identity {
    char path[512];            /* escaped (text_escape.h): the cgroup path of the v2 line ("/system.slice/nginx.service"),
                                  else of the name=systemd line, else of the first line */
    char unit[256];            /* escaped: "nginx.service", "session-3.scope", "user@1000.service"; "" */
    char container_runtime[16];/* "docker", "podman", "containerd", "cri-o", "lxc"; "" */
    char container_id[80];     /* full id as in the cgroup path; "" */
    char pod_uid[40];          /* Kubernetes pod uid with dashes, from kubepods...pod<uid>; "" */
};

struct process_info {
    uint32_t pid;
    uint32_t uid;              /* real uid from /proc/PID/status; UINT32_MAX when unreadable */
    char comm[64];             /* /proc/PID/comm without the newline, escaped (text_escape.h):
                                  15 bytes escape to at most 60 */
    struct cgroup_identity cgroup;
};

/* Parse /proc/PID/cgroup text. Unknown layouts give an identity with only path set.
 * -EINVAL with err->line/column on text that is not cgroup lines ("ID:CONTROLLERS:PATH"). */
int cgroup_identity_parse(const char *text, struct cgroup_identity *out, struct pr_error *err);
/* Read comm, status (Uid:) and cgroup of pid under proc_root (NULL = "/proc").
 * -ENOENT when the process is gone; fields that cannot be read are left empty. */
int process_info_read(const char *proc_root, uint32_t pid, struct process_info *out,
                      struct pr_error *err);

#endif
