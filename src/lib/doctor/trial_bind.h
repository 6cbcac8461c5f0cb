/* trial_bind.h — confirm the simulator with the kernel: create the planned socket, set its
 * flags, bind() it and close it at once. Run as root for another uid, the trial happens in a
 * forked child that switched to that uid (setresuid), so it has the uid's SO_REUSEPORT group
 * and none of root's capabilities: a privileged port fails with EACCES as it will for the
 * service. Nothing listens and no packet is sent; a UDP socket with SO_REUSEPORT joins its
 * group for the microseconds between bind and close. */
#ifndef PORTREG_DOCTOR_TRIAL_BIND_H
#define PORTREG_DOCTOR_TRIAL_BIND_H

#include <stdbool.h>
#include <stdint.h>

#include "doctor/bindsim.h"
#include "util/error.h"

struct trial_bind_result {
    int bind_errno;          /* 0: bind() succeeded; else its errno (EADDRINUSE, EACCES...) */
    const char *step;        /* "socket", "setsockopt", "bind" or NULL on success */
    uint32_t uid;            /* the uid the socket was created as */
    bool as_planned_uid;     /* uid == plan->uid */
    bool without_capabilities; /* ran in a child as plan->uid: root's capabilities dropped */
};

/* Run the trial. Returns 0 with the outcome in out (a failed bind is an outcome, not an
 * error); -errno only when the trial could not be attempted at all (err says why). */
int trial_bind_run(const struct bindsim_plan *plan, struct trial_bind_result *out, struct pr_error *err);
/* The verdict a trial outcome means: FREE on success, BLOCKED on EADDRINUSE, UNKNOWN on any
 * other errno (the bind fails for a reason the simulator does not judge). */
enum bindsim_verdict trial_bind_verdict(const struct trial_bind_result *r);

#endif
