/* firewall_apply.c — one libnftables transaction for a generated ruleset (see
 * firewall_apply.h). libnftables is loaded here, at apply time, never at start-up. */
#include "plan/firewall_apply.h"

#include <errno.h>

#include "util/nft_loader.h"

int firewall_apply_nft(const char *ruleset_text, bool dry_run, struct pr_error *err)
{
    struct nft_api api;
    int r = nft_api_load(&api, err);
    if (r < 0)
        return r;
    r = nft_api_run(&api, ruleset_text, dry_run, 0, NULL, err);
    nft_api_unload(&api);
    return r;
}
