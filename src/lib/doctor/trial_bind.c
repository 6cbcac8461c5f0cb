/* trial_bind.c — the trial bind (see trial_bind.h). As root for another uid the attempt runs
 * in a forked child after setresuid() (which clears every capability, as for a service
 * started as that user) and reports through a pipe; otherwise in this process, the socket
 * created while the filesystem uid is the planned uid when that is possible (the kernel stamps
 * sk_uid from it). Flags are set as the plan says, IPV6_V6ONLY off explicitly for dual-stack. */
#include "doctor/trial_bind.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "registry/record.h"

enum trial_step { STEP_NONE = 0, STEP_SOCKET, STEP_SETSOCKOPT, STEP_BIND, STEP_SETRESUID };

static const char *trial_step_name(enum trial_step step)
{
    static const char *const names[] = { NULL, "socket", "setsockopt", "bind", "setresuid" };
    return names[step];
}

static int set_flag(int fd, int level, int name, int value)
{
    return setsockopt(fd, level, name, &value, sizeof value);
}

/* socket, flags, bind, close in the calling process: 0 or the errno of the failed step. */
static int trial_attempt(const struct bindsim_plan *plan, enum trial_step *step)
{
    *step = STEP_SOCKET;
    int type = (plan->proto == REGISTRY_PROTO_TCP ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC;
    int fd = socket(plan->family, type, 0);
    if (fd < 0)
        return errno;
    *step = STEP_SETSOCKOPT;
    int rc = 0;
    if (plan->reuseaddr)
        rc = set_flag(fd, SOL_SOCKET, SO_REUSEADDR, 1);
    if (rc == 0 && plan->reuseport)
        rc = set_flag(fd, SOL_SOCKET, SO_REUSEPORT, 1);
    if (rc == 0 && plan->family == AF_INET6)
        rc = set_flag(fd, IPPROTO_IPV6, IPV6_V6ONLY, plan->v6only ? 1 : 0);
    if (rc == 0 && plan->device_ifindex)
        rc = set_flag(fd, SOL_SOCKET, SO_BINDTOIFINDEX, (int)plan->device_ifindex);
    if (rc == 0) {
        *step = STEP_BIND;
        if (plan->family == AF_INET6) {
            struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(plan->port) };
            memcpy(&a.sin6_addr, plan->address, 16);
            rc = bind(fd, (struct sockaddr *)&a, sizeof a);
        } else {
            struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(plan->port) };
            memcpy(&a.sin_addr, plan->address, 4);
            rc = bind(fd, (struct sockaddr *)&a, sizeof a);
        }
    }
    int saved = rc < 0 ? errno : 0;
    close(fd);
    if (!saved)
        *step = STEP_NONE;
    return saved;
}

struct trial_report {
    int bind_errno;
    int step;
};

/* Root, another uid: the attempt in a child that became that uid. */
static int trial_in_child(const struct bindsim_plan *plan, struct trial_bind_result *out, struct pr_error *err)
{
    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) < 0)
        return pr_error_set(err, -errno, "cannot create a pipe for the trial bind: %s", strerror(errno));
    pid_t child = fork();
    if (child < 0) {
        int code = -errno;
        close(pipe_fds[0]);
        close(pipe_fds[1]);
        return pr_error_set(err, code, "cannot fork for the trial bind: %s", strerror(-code));
    }
    if (child == 0) {
        struct trial_report report = { 0, STEP_SETRESUID };
        enum trial_step step = STEP_SETRESUID;
        if (setresuid((uid_t)plan->uid, (uid_t)plan->uid, (uid_t)plan->uid) < 0)
            report.bind_errno = errno;
        else
            report.bind_errno = trial_attempt(plan, &step);
        report.step = (int)step;
        ssize_t written = write(pipe_fds[1], &report, sizeof report);
        _exit(written == (ssize_t)sizeof report ? 0 : 1);
    }
    close(pipe_fds[1]);
    struct trial_report report;
    ssize_t got;
    do
        got = read(pipe_fds[0], &report, sizeof report);
    while (got < 0 && errno == EINTR);
    close(pipe_fds[0]);
    int status;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR)
        ;
    if (got != (ssize_t)sizeof report || report.step < STEP_NONE || report.step > STEP_SETRESUID)
        return pr_error_set(err, -EIO, "the trial bind's child process did not report");
    out->bind_errno = report.bind_errno;
    out->step = trial_step_name((enum trial_step)report.step);
    out->uid = plan->uid;
    out->as_planned_uid = true;
    out->without_capabilities = true;
    return 0;
}

int trial_bind_run(const struct bindsim_plan *plan, struct trial_bind_result *out, struct pr_error *err)
{
    memset(out, 0, sizeof *out);
    if (geteuid() == 0 && plan->uid != 0)
        return trial_in_child(plan, out, err);
    /* not root (or root for root): the fsuid switch works only for our own uid, but try */
    uid_t previous = (uid_t)setfsuid((uid_t)-1);
    bool switched = false;
    if (plan->uid != previous) {
        setfsuid((uid_t)plan->uid);
        switched = (uint32_t)setfsuid((uid_t)-1) == plan->uid;
    }
    enum trial_step step;
    int e = trial_attempt(plan, &step);
    if (switched)
        setfsuid(previous);
    out->uid = switched ? plan->uid : (uint32_t)previous;
    out->as_planned_uid = out->uid == plan->uid;
    if (e == EAFNOSUPPORT && step == STEP_SOCKET)
        return pr_error_set(err, -e, "this host has no %s sockets", plan->family == AF_INET6 ? "IPv6" : "IPv4");
    out->bind_errno = e;
    out->step = trial_step_name(step);
    return 0;
}

enum bindsim_verdict trial_bind_verdict(const struct trial_bind_result *r)
{
    if (r->bind_errno == 0)
        return BINDSIM_FREE;
    return r->bind_errno == EADDRINUSE ? BINDSIM_BLOCKED : BINDSIM_UNKNOWN;
}
