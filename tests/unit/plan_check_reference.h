/* plan_check_reference.h — the checker before the O(n log n) pass (plan_check_reference.c),
 * the reference test_plan_check holds plan_check to on random plans. */
#ifndef PORTREG_TESTS_PLAN_CHECK_REFERENCE_H
#define PORTREG_TESTS_PLAN_CHECK_REFERENCE_H

#include "plan/plan_check.h"

/* plan_check as of commit 4624c3b: same contract, same diagnostics, quadratic. */
int plan_check_reference(struct plan *plan, const struct plan_check_context *ctx,
                         struct plan_diagnostics *diag, struct pr_error *err);

#endif
